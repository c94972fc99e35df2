"""Flow-control metrics, named as upstream's so existing dashboards and alerts read them.

``apiserver_flowcontrol_rejected_requests_total`` (priority level, flow schema, reason: queue-full,
time-out, cancelled, concurrency-limit), ``..._dispatched_requests_total``,
``..._current_inqueue_requests``, ``..._current_executing_requests``, ``..._current_executing_seats``
and ``..._nominal_limit_seats``; with priority and fairness off, ``apiserver_current_inflight_requests``
and ``apiserver_dropped_requests_total`` by request kind (readOnly, mutating); and
``apiserver_request_terminations_total`` for requests the timeout ended (504). Ours:
``apiserver_list_memory_budget_bytes`` (capacity, in use) and the LISTs waiting for it. Counted in
plain dicts and rendered on scrape, as server.metrics does.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field

LevelSchema = tuple[str, str]  # priority level, flow schema


@dataclass(slots=True)
class LevelGauges:
    """What one priority level holds now (read from its queue set on scrape)."""

    nominal_seats: int
    seats_in_use: int
    waiting: int
    executing: int


@dataclass(slots=True)
class FlowControlMetrics:
    rejected: dict[tuple[str, str, str], int] = field(default_factory=dict)
    dispatched: dict[LevelSchema, int] = field(default_factory=dict)
    in_queue: dict[LevelSchema, int] = field(default_factory=dict)
    executing: dict[LevelSchema, int] = field(default_factory=dict)
    dropped: dict[str, int] = field(default_factory=dict)
    terminations: dict[tuple[str, str, str, str], int] = field(default_factory=dict)

    def reject(self, key: LevelSchema, reason: str) -> None:
        full = (*key, reason)
        self.rejected[full] = self.rejected.get(full, 0) + 1

    def add(self, gauge: dict[LevelSchema, int], key: LevelSchema, delta: int) -> None:
        gauge[key] = gauge.get(key, 0) + delta

    def drop(self, kind: str) -> None:
        self.dropped[kind] = self.dropped.get(kind, 0) + 1

    def terminate(self, verb: str, group: str, resource: str, code: int) -> None:
        key = (verb, group, resource, str(code))
        self.terminations[key] = self.terminations.get(key, 0) + 1

    def render(self, *, levels: Mapping[str, LevelGauges], in_flight: Mapping[str, int],
               budget: tuple[int, int, int]) -> bytes:
        """``in_flight``: by request kind (max-in-flight mode); ``budget``: capacity, in use, waiting."""
        lines: list[str] = []
        _family(lines, "apiserver_flowcontrol_rejected_requests_total", "counter",
                "Requests rejected by API Priority and Fairness.",
                ((f'priority_level="{pl}",flow_schema="{fs}",reason="{r}"', n)
                 for (pl, fs, r), n in sorted(self.rejected.items())))
        for name, gauge, kind, text in (
                ("dispatched_requests_total", self.dispatched, "counter", "Requests released for execution."),
                ("current_inqueue_requests", self.in_queue, "gauge", "Requests waiting in queues."),
                ("current_executing_requests", self.executing, "gauge", "Requests executing.")):
            _family(lines, f"apiserver_flowcontrol_{name}", kind, text,
                    ((f'priority_level="{pl}",flow_schema="{fs}"', n)
                     for (pl, fs), n in sorted(gauge.items())))
        for name, attribute, text in (
                ("nominal_limit_seats", "nominal_seats", "Seats of each priority level."),
                ("current_executing_seats", "seats_in_use", "Seats taken by executing requests.")):
            _family(lines, f"apiserver_flowcontrol_{name}", "gauge", text,
                    ((f'priority_level="{pl}"', getattr(g, attribute)) for pl, g in sorted(levels.items())))
        _family(lines, "apiserver_current_inflight_requests", "gauge",
                "Requests in flight, by kind (max-in-flight limits).",
                ((f'request_kind="{k}"', n) for k, n in sorted(in_flight.items())))
        _family(lines, "apiserver_dropped_requests_total", "counter",
                "Requests refused by the max-in-flight limits.",
                ((f'request_kind="{k}"', n) for k, n in sorted(self.dropped.items())))
        _family(lines, "apiserver_request_terminations_total", "counter",
                "Requests the server ended itself (request timeout).",
                ((f'verb="{v}",group="{g}",resource="{r}",code="{c}"', n)
                 for (v, g, r, c), n in sorted(self.terminations.items())))
        capacity, in_use, waiting = budget
        _family(lines, "apiserver_list_memory_budget_bytes", "gauge",
                "The LIST response memory budget and how much of it is taken.",
                (('state="capacity"', capacity), ('state="in_use"', in_use)))
        _family(lines, "apiserver_list_memory_budget_waiting_requests", "gauge",
                "LISTs waiting for the memory budget.", (("", waiting),))
        return ("\n".join(lines) + "\n").encode()


def _family(lines: list[str], name: str, kind: str, text: str, samples: Iterable[tuple[str, int]]) -> None:
    lines += [f"# HELP {name} {text}", f"# TYPE {name} {kind}"]
    lines += [f"{name}{{{labels}}} {value}" if labels else f"{name} {value}" for labels, value in samples]
