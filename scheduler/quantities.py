"""Reading Kubernetes resource quantities (``500m``, ``1.5Gi``, ``2e3``) as the scheduler needs them.

The scheduler adds and compares requests against node allocatable, so it needs exact integers:
CPU in millicores and everything else (memory, ephemeral-storage, pods, extended resources) in
whole units, rounded up as upstream's ``resource.Quantity.MilliValue``/``Value`` round. Parsing
the same few strings thousands of times per second is cached. A malformed quantity counts as
zero (the API server validated the object already; the scheduler must not crash on it).
"""

from __future__ import annotations

import math
import re
from decimal import Decimal, InvalidOperation
from functools import lru_cache

_BINARY_SUFFIXES = {"Ki": 2**10, "Mi": 2**20, "Gi": 2**30, "Ti": 2**40, "Pi": 2**50, "Ei": 2**60}
_DECIMAL_SUFFIXES = {"n": Decimal("1e-9"), "u": Decimal("1e-6"), "m": Decimal("1e-3"), "": Decimal(1),
                     "k": Decimal("1e3"), "M": Decimal("1e6"), "G": Decimal("1e9"), "T": Decimal("1e12"),
                     "P": Decimal("1e15"), "E": Decimal("1e18")}
_QUANTITY = re.compile(r"^([+-]?[0-9.]+)(?:([eE][+-]?[0-9]+)|(Ki|Mi|Gi|Ti|Pi|Ei|[numkMGTPE]))?$")

CPU = "cpu"
MEMORY = "memory"
EPHEMERAL_STORAGE = "ephemeral-storage"
PODS = "pods"


@lru_cache(maxsize=4096)
def _decimal(text: str) -> Decimal:
    match = _QUANTITY.match(text.strip())
    if match is None:
        return Decimal(0)
    number, exponent, suffix = match.groups()
    try:
        value = Decimal(number)
    except InvalidOperation:
        return Decimal(0)
    if exponent:
        return value * (Decimal(10) ** int(exponent[1:]))
    if suffix in _BINARY_SUFFIXES:
        return value * _BINARY_SUFFIXES[suffix]
    return value * _DECIMAL_SUFFIXES[suffix or ""]


def _as_decimal(value: object) -> Decimal:
    if isinstance(value, bool):
        return Decimal(0)
    if isinstance(value, int):
        return Decimal(value)
    if isinstance(value, float):
        return Decimal(repr(value)) if math.isfinite(value) else Decimal(0)
    if isinstance(value, str):
        return _decimal(value)
    return Decimal(0)


def milli_value(value: object) -> int:
    """The quantity in thousandths, rounded up (``100m`` → 100, ``1`` → 1000, ``0.0001`` → 1)."""
    return int((_as_decimal(value) * 1000).to_integral_value(rounding="ROUND_CEILING"))


def whole_value(value: object) -> int:
    """The quantity in whole units, rounded up (``1Ki`` → 1024, ``1.5`` → 2)."""
    return int(_as_decimal(value).to_integral_value(rounding="ROUND_CEILING"))


def amount(resource: str, value: object) -> int:
    """``value`` of ``resource`` in the unit the scheduler accounts it in (millicores for cpu)."""
    return milli_value(value) if resource == CPU else whole_value(value)
