"""Command-line values as upstream's components take them: Go booleans and Go durations.

Every process here mirrors an upstream binary's flags (``--leader-elect=false``,
``--request-timeout=1m0s``), so they parse values the way Go's flag package and
``time.ParseDuration`` do; plain seconds (``90``) are accepted too. Both raise
``argparse.ArgumentTypeError``, so argparse reports a bad value against its flag.
"""

from __future__ import annotations

import argparse
import re

_TRUE = ("true", "1", "t", "yes")
_FALSE = ("false", "0", "f", "no")
_DURATION_PART = re.compile(r"(\d+(?:\.\d*)?|\.\d+)(ns|us|µs|ms|s|m|h)")
_DURATION_UNITS = {"ns": 1e-9, "us": 1e-6, "µs": 1e-6, "ms": 1e-3, "s": 1.0, "m": 60.0, "h": 3600.0}


def boolean(text: str) -> bool:
    value = text.strip().lower()
    if value in _TRUE:
        return True
    if value in _FALSE:
        return False
    raise argparse.ArgumentTypeError(f"not a boolean: {text!r}")


def duration(text: str) -> float:
    """Seconds of a Go duration (``60s``, ``1m0s``, ``1h30m``, ``500ms``) or of a plain number."""
    try:
        return float(text)
    except ValueError:
        pass
    parts = _DURATION_PART.findall(text)
    if not parts or "".join(number + unit for number, unit in parts) != text:
        raise argparse.ArgumentTypeError(f"not a duration: {text!r}")
    return sum(float(number) * _DURATION_UNITS[unit] for number, unit in parts)
