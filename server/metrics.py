"""Prometheus metrics of the API server, named as upstream's (``apiserver_request_total``,
``apiserver_request_duration_seconds``) so existing dashboards read them.

Counted by hand rather than with prometheus-client: its per-sample locking cost more than the
rest of a cached GET, and one event loop thread needs no locks. The text exposition format is
rendered on scrape.
"""

from __future__ import annotations

import bisect
from dataclasses import dataclass, field

_BUCKETS = (0.001, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0, 60.0)

RequestKey = tuple[str, str, str, str, str]  # verb, group, resource, subresource, code


@dataclass(slots=True)
class _Histogram:
    counts: list[int] = field(default_factory=lambda: [0] * (len(_BUCKETS) + 1))
    total: float = 0.0
    samples: int = 0


class ServerMetrics:
    def __init__(self) -> None:
        self._requests: dict[RequestKey, int] = {}
        self._latency: dict[tuple[str, str, str], _Histogram] = {}

    def observe(self, verb: str, group: str, resource: str, subresource: str, code: int,
                seconds: float) -> None:
        key = (verb, group, resource, subresource, str(code))
        self._requests[key] = self._requests.get(key, 0) + 1
        if verb == "watch":
            return  # a watch lasts as long as the client wants: its duration says nothing
        histogram = self._latency.get(key[:3])
        if histogram is None:
            histogram = self._latency[key[:3]] = _Histogram()
        histogram.counts[bisect.bisect_left(_BUCKETS, seconds)] += 1
        histogram.total += seconds
        histogram.samples += 1

    def render(self) -> bytes:
        lines = ["# HELP apiserver_request_total Requests by verb, resource and HTTP code.",
                 "# TYPE apiserver_request_total counter"]
        for (verb, group, resource, subresource, code), count in sorted(self._requests.items()):
            labels = (f'verb="{verb}",group="{group}",resource="{resource}",'
                      f'subresource="{subresource}",code="{code}"')
            lines.append(f"apiserver_request_total{{{labels}}} {count}")
        lines += ["# HELP apiserver_request_duration_seconds Request latency by verb and resource.",
                  "# TYPE apiserver_request_duration_seconds histogram"]
        for (verb, group, resource), histogram in sorted(self._latency.items()):
            labels = f'verb="{verb}",group="{group}",resource="{resource}"'
            cumulative = 0
            for bound, count in zip(_BUCKETS, histogram.counts, strict=False):
                cumulative += count
                lines.append(f'apiserver_request_duration_seconds_bucket{{{labels},le="{bound}"}} '
                             f"{cumulative}")
            lines.append(f'apiserver_request_duration_seconds_bucket{{{labels},le="+Inf"}} '
                         f"{histogram.samples}")
            lines.append(f"apiserver_request_duration_seconds_sum{{{labels}}} {histogram.total}")
            lines.append(f"apiserver_request_duration_seconds_count{{{labels}}} {histogram.samples}")
        return ("\n".join(lines) + "\n").encode()
