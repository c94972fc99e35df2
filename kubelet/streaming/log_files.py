"""Reading CRI container log files the way ``kubectl logs`` expects them.

Why this exists: containerd writes each container attempt's output to its own file, one record per line:
``<RFC3339Nano> <stdout|stderr> <P|F> <text>`` where ``P`` marks a partial line (the runtime split a long
line) and ``F`` the fragment that ends it.  Upstream's kubelet (pkg/kubelet/kuberuntime/logs) parses these,
applies ``sinceSeconds``/``sinceTime``, ``tailLines``, ``timestamps`` and ``limitBytes``, and with ``follow``
keeps reading until the container stops.  This module is the pure part: parsing records, joining partial
lines, selecting and formatting them; `logs_handler` does the HTTP and the following.
"""

from __future__ import annotations

import datetime as dt
import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass

from kubelet.streaming.errors import bad_request

_RFC3339 = re.compile(r"^(\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d)(\.\d+)?([Zz]|[+-]\d\d:\d\d)$")


@dataclass(frozen=True, slots=True)
class LogLine:
    """One complete output line (partial fragments joined), stamped with its first fragment's time."""

    timestamp: str
    seconds: float
    stream: str
    text: bytes  # including the trailing newline of an `F` record


@dataclass(frozen=True, slots=True)
class LogOptions:
    """The query of ``/containerLogs`` (upstream's PodLogOptions as the kubelet receives them)."""

    follow: bool = False
    tail_lines: int | None = None
    since_seconds: float | None = None  # an absolute time (epoch seconds) after parsing
    timestamps: bool = False
    previous: bool = False
    limit_bytes: int | None = None


def parse_rfc3339(text: str) -> float:
    """Epoch seconds of an RFC 3339 time with up to nanosecond fractions (``...09.669794202Z``)."""
    match = _RFC3339.match(text)
    if match is None:
        raise ValueError(f"not an RFC 3339 time: {text!r}")
    whole, fraction, zone = match.groups()
    stamp = dt.datetime.fromisoformat(whole + ("+00:00" if zone in ("Z", "z") else zone))
    return stamp.timestamp() + (float(fraction) if fraction else 0.0)


class CriLogParser:
    """Turns the bytes of one log file, fed in any pieces, into complete `LogLine`s."""

    def __init__(self) -> None:
        self._rest = b""
        self._partial: list[bytes] = []
        self._partial_head: tuple[str, float, str] | None = None

    def feed(self, data: bytes) -> list[LogLine]:
        self._rest += data
        *records, self._rest = self._rest.split(b"\n")
        lines: list[LogLine] = []
        for record in records:
            line = self._record(record)
            if line is not None:
                lines.append(line)
        return lines

    def _record(self, record: bytes) -> LogLine | None:
        parts = record.split(b" ", 3)
        if len(parts) < 3:
            return None  # not a CRI record (a torn write): upstream skips it too
        timestamp, stream, tag = (p.decode(errors="replace") for p in parts[:3])
        text = parts[3] if len(parts) == 4 else b""
        try:
            seconds = parse_rfc3339(timestamp)
        except ValueError:
            return None
        if self._partial_head is None:
            self._partial_head = (timestamp, seconds, stream)
        self._partial.append(text)
        if tag == "P":
            return None
        head, self._partial_head = self._partial_head, None
        joined, self._partial = b"".join(self._partial), []
        return LogLine(head[0], head[1], head[2], joined + b"\n")


def _flag(query: Mapping[str, str], name: str) -> bool:
    return query.get(name, "false").lower() in ("1", "true", "yes")


def _positive_int(query: Mapping[str, str], name: str) -> int | None:
    raw = query.get(name)
    if raw is None or raw == "":
        return None
    try:
        value = int(raw)
    except ValueError:
        raise bad_request(f"{name} must be an integer: {raw!r}") from None
    if value < 0 or (value == 0 and name != "tailLines"):
        raise bad_request(f"{name} must be a positive integer: {raw!r}")
    return value


def parse_log_options(query: Mapping[str, str], *, now: float) -> LogOptions:
    """The options of a ``/containerLogs`` query; 400 for values upstream's validation refuses."""
    since: float | None = None
    if query.get("sinceSeconds") and query.get("sinceTime"):
        raise bad_request("at most one of sinceTime or sinceSeconds may be specified")
    if (seconds := _positive_int(query, "sinceSeconds")) is not None:
        since = now - seconds
    elif raw := query.get("sinceTime"):
        try:
            since = parse_rfc3339(raw)
        except ValueError:
            raise bad_request(f"sinceTime is not an RFC 3339 time: {raw!r}") from None
    return LogOptions(follow=_flag(query, "follow"), tail_lines=_positive_int(query, "tailLines"),
                      since_seconds=since, timestamps=_flag(query, "timestamps"),
                      previous=_flag(query, "previous"), limit_bytes=_positive_int(query, "limitBytes"))


def select_lines(lines: Iterable[LogLine], options: LogOptions) -> list[LogLine]:
    """Apply ``since`` then ``tailLines`` to what the file already holds (upstream's order)."""
    since = options.since_seconds
    chosen = [line for line in lines if since is None or line.seconds >= since]
    if options.tail_lines is not None:
        chosen = chosen[len(chosen) - options.tail_lines:] if options.tail_lines else []
    return chosen


def render_line(line: LogLine, options: LogOptions) -> bytes:
    if options.timestamps:
        return line.timestamp.encode() + b" " + line.text
    return line.text


class ByteBudget:
    """``limitBytes``: how much more may be sent; the last line is cut short, as upstream does."""

    def __init__(self, limit: int | None) -> None:
        self.remaining = limit

    def take(self, data: bytes) -> bytes:
        if self.remaining is None:
            return data
        data = data[:self.remaining]
        self.remaining -= len(data)
        return data

    @property
    def exhausted(self) -> bool:
        return self.remaining is not None and self.remaining <= 0
