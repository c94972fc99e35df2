"""Times as kubectl shows them: ``5s``, ``3m20s``, ``2d4h``, and RFC 3339 timestamps read and written.

Tables (AGE, LAST SEEN, DURATION, RESTARTS ``3 (2m ago)``) print durations with upstream's
``k8s.io/apimachinery/pkg/util/duration.HumanDuration`` rules: two units while the larger one is small,
one unit once it grows (seconds below 2 minutes, ``XmYs`` below 10 minutes, minutes below 3 hours,
``XhYm`` below 8 hours, hours below 2 days, ``XdYh`` below 8 days, days below 2 years, ``XyYd`` below
8 years, then years).
"""

from __future__ import annotations

import functools
from datetime import UTC, datetime

_UNKNOWN = "<unknown>"


def human_duration(seconds: float) -> str:
    """Upstream's HumanDuration for a duration in seconds."""
    whole = int(seconds)  # truncates toward zero, as Go's int(d.Seconds())
    # Up to 2 s in the future counts as now: clocks of client and server differ a little.
    if whole < -1:
        return "<invalid>"
    if whole < 0:
        return "0s"
    if whole < 120:
        return f"{whole}s"
    minutes = whole // 60
    if minutes < 10:
        rest = whole % 60
        return f"{minutes}m{rest}s" if rest else f"{minutes}m"
    if minutes < 180:
        return f"{minutes}m"
    hours = whole // 3600
    if hours < 8:
        rest = minutes % 60
        return f"{hours}h{rest}m" if rest else f"{hours}h"
    if hours < 48:
        return f"{hours}h"
    days = hours // 24
    if hours < 24 * 8:
        rest = hours % 24
        return f"{days}d{rest}h" if rest else f"{days}d"
    if hours < 24 * 365 * 2:
        return f"{days}d"
    years = days // 365
    if hours < 24 * 365 * 8:
        rest = days % 365
        return f"{years}y{rest}d" if rest else f"{years}y"
    return f"{years}y"


@functools.lru_cache(maxsize=16384)
def timestamp(text: str) -> float:
    """Seconds since the epoch of an RFC 3339 time (``2024-05-01T10:00:00Z``, with or without fraction).

    Cached: objects created together share their timestamps, and tables parse them for every row."""
    parsed = datetime.fromisoformat(text)
    if parsed.tzinfo is None:
        parsed = parsed.replace(tzinfo=UTC)
    return parsed.timestamp()


def timestamp_or_zero(text: str | None) -> float:
    """Like `timestamp`, but 0.0 (the zero time) for a missing or unreadable value."""
    if not text:
        return 0.0
    try:
        return timestamp(text)
    except ValueError:
        return 0.0


def age(created: str | None, now: float) -> str:
    """How long ago `created` was, or ``<unknown>`` for a missing or unreadable time (upstream's
    translateTimestampSince)."""
    if not created:
        return _UNKNOWN
    try:
        return human_duration(now - timestamp(created))
    except ValueError:
        return _UNKNOWN


def rfc3339(moment: datetime) -> str:
    """A UTC time as Kubernetes writes it: whole seconds, ``Z`` suffix."""
    return moment.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def epoch_seconds(moment: datetime | None) -> float:
    """`moment` (default: now) in seconds since the epoch; naive datetimes are taken as UTC."""
    if moment is None:
        return datetime.now(UTC).timestamp()
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=UTC)
    return moment.timestamp()
