"""How component flags spell booleans and durations: Go's ``strconv.ParseBool`` and ``time.ParseDuration``.

Why this exists: the kubelet and the controller manager take upstream's flags with upstream's value
syntax (``--leader-elect=false``, ``--authorization-webhook-cache-authorized-ttl=5m0s``), and each
must read them the same way. These are argparse ``type=`` callables: a bad value becomes the usual
argparse usage error.
"""

from __future__ import annotations

import argparse
import re

_TRUE = frozenset({"1", "t", "true", "yes"})
_FALSE = frozenset({"0", "f", "false", "no"})
_DURATION_UNITS = {"ns": 1e-9, "us": 1e-6, "µs": 1e-6, "ms": 1e-3, "s": 1.0, "m": 60.0, "h": 3600.0}
_DURATION_PART = re.compile(r"(\d+(?:\.\d*)?|\.\d+)(ns|us|µs|ms|s|m|h)")


def parse_duration(text: str) -> float:
    """Seconds in a Go duration (``1h30m``, ``5m0s``, ``500ms``) or a plain number of seconds."""
    text = text.strip()
    try:
        return float(text)
    except ValueError:
        pass
    sign = -1.0 if text.startswith("-") else 1.0
    body = text.lstrip("+-")
    parts = _DURATION_PART.findall(body)
    if not body or "".join(number + unit for number, unit in parts) != body:
        raise ValueError(f"not a duration: {text!r}")
    return sign * sum(float(number) * _DURATION_UNITS[unit] for number, unit in parts)


def duration_flag(text: str) -> float:
    """argparse type: `parse_duration`."""
    try:
        return parse_duration(text)
    except ValueError as e:
        raise argparse.ArgumentTypeError(str(e)) from None


def boolean_flag(text: str) -> bool:
    """argparse type: ``true``/``false`` and Go's other spellings (``1``, ``t``, ``0``, ``f``, ...)."""
    lowered = text.strip().lower()
    if lowered in _TRUE:
        return True
    if lowered in _FALSE:
        return False
    raise argparse.ArgumentTypeError(f"not a boolean: {text!r}")
