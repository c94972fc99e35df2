"""Kubernetes resource quantities (``100m``, ``1.5Gi``, ``1e3``): parse, add, compare, print.

Requests, limits, capacity and quota all travel as quantity strings, and everyone who sums or
compares them (quota, scheduler, kubelet) must agree with apimachinery's ``resource.Quantity``:
the three suffix families (binary ``Ki..Ei``, decimal ``n u m k M G T P E``, exponent ``e3``),
exact arithmetic, and the canonical form the server prints (``1.5Gi`` → ``1536Mi``,
``1000m`` → ``1``, ``0.5`` → ``500m``). Values are exact `Fraction`s; precision below one nano
(decimal) is rounded up, as upstream's ``Quantity`` does.
"""

from __future__ import annotations

import math
import re
from dataclasses import dataclass
from fractions import Fraction
from typing import Literal

QuantityFormat = Literal["BinarySI", "DecimalSI", "DecimalExponent"]

_BINARY_SUFFIXES: dict[str, int] = {"Ki": 10, "Mi": 20, "Gi": 30, "Ti": 40, "Pi": 50, "Ei": 60}
_DECIMAL_SUFFIXES: dict[str, int] = {"n": -9, "u": -6, "m": -3, "": 0, "k": 3, "M": 6, "G": 9,
                                     "T": 12, "P": 15, "E": 18}
_DECIMAL_BY_EXPONENT = {exponent: suffix for suffix, exponent in _DECIMAL_SUFFIXES.items()}
_BINARY_BY_EXPONENT = {exponent: suffix for suffix, exponent in _BINARY_SUFFIXES.items()}
_QUANTITY = re.compile(r"^([+-]?(?:[0-9]+(?:\.[0-9]*)?|\.[0-9]+))(.*)$")
_EXPONENT = re.compile(r"^[eE]([+-]?[0-9]{1,19})$")  # strconv.ParseInt(..., 64), as upstream
_NANO = Fraction(1, 10**9)
# Bounds that keep exact arithmetic cheap for any input (a client may send "1e999999999"):
# upstream's inf.Dec holds such values unexpanded and caps binary ones at 2^63-1; here every
# amount beyond 2^63-1 is capped so, anything below a nano is one nano (rounded up, as
# upstream), and a mantissa longer than this many characters is not a quantity.
MAX_AMOUNT = Fraction(2**63 - 1)
_MAX_MANTISSA_CHARS = 64
_MAX_DECIMAL_EXPONENT = 19


class QuantityError(ValueError):
    """A string that is not a quantity; the message is upstream's."""


@dataclass(frozen=True, slots=True)
class Quantity:
    """An exact amount plus the suffix family it prints in (kept from the first operand of sums,
    as ``Quantity.Add`` keeps the receiver's format)."""

    value: Fraction
    format: QuantityFormat = "DecimalSI"

    @classmethod
    def of(cls, amount: int | str | Quantity) -> Quantity:
        """A quantity from an int (a count), a quantity string, or a quantity."""
        if isinstance(amount, Quantity):
            return amount
        if isinstance(amount, int):
            return cls(Fraction(amount))
        return parse_quantity(amount)

    def __add__(self, other: Quantity) -> Quantity:
        return Quantity(self.value + other.value, other.format if self.value == 0 else self.format)

    def __sub__(self, other: Quantity) -> Quantity:
        return Quantity(self.value - other.value, self.format)

    def __lt__(self, other: Quantity) -> bool:
        return self.value < other.value

    def __le__(self, other: Quantity) -> bool:
        return self.value <= other.value

    def __gt__(self, other: Quantity) -> bool:
        return self.value > other.value

    def __ge__(self, other: Quantity) -> bool:
        return self.value >= other.value

    def __eq__(self, other: object) -> bool:
        """Equal amounts are equal quantities whatever their format (``1Ki == 1024``)."""
        return isinstance(other, Quantity) and self.value == other.value

    def __hash__(self) -> int:
        return hash(self.value)

    def __str__(self) -> str:
        return format_quantity(self)

    @property
    def milli_value(self) -> int:
        """The amount in thousandths, rounded up (``MilliValue``: CPU in the scheduler)."""
        return math.ceil(self.value * 1000)

    @property
    def integer_value(self) -> int:
        """The amount rounded up to a whole number (``Value``: bytes, counts)."""
        return math.ceil(self.value)


ZERO = Quantity(Fraction(0))


def parse_quantity(text: str | int | float) -> Quantity:
    """Parses ``text`` as upstream's ``resource.ParseQuantity``; raises `QuantityError`."""
    if isinstance(text, bool):
        raise QuantityError("quantities must match the regular expression "
                            "'^([+-]?[0-9.]+)([eEinumkKMGTP]*[-+]?[0-9]*)$'")
    if isinstance(text, int | float):  # JSON numbers are accepted where strings are expected
        if isinstance(text, float) and not math.isfinite(text):
            raise QuantityError("quantities must be finite numbers")
        return _rounded(Quantity(Fraction(str(text)), "DecimalSI"))
    match = _QUANTITY.match(text.strip()) if text else None
    if match is None or len(match.group(1)) > _MAX_MANTISSA_CHARS:
        raise QuantityError("quantities must match the regular expression "
                            "'^([+-]?[0-9.]+)([eEinumkKMGTP]*[-+]?[0-9]*)$'")
    number, suffix = Fraction(match.group(1)), match.group(2)
    if suffix in _BINARY_SUFFIXES:
        return _rounded(Quantity(number * (2 ** _BINARY_SUFFIXES[suffix]), "BinarySI"))
    if suffix in _DECIMAL_SUFFIXES:
        return _scaled(number, _DECIMAL_SUFFIXES[suffix], "DecimalSI")
    exponent = _EXPONENT.match(suffix)
    if exponent is not None:
        return _scaled(number, int(exponent.group(1)), "DecimalExponent")
    raise QuantityError("unable to parse quantity's suffix")


def _scaled(number: Fraction, exponent: int, fmt: QuantityFormat) -> Quantity:
    """number * 10^exponent without ever building a power beyond the bounds."""
    if number == 0:
        return Quantity(Fraction(0), fmt)
    if exponent > _MAX_DECIMAL_EXPONENT + _MAX_MANTISSA_CHARS:
        return _rounded(Quantity(MAX_AMOUNT if number > 0 else -MAX_AMOUNT, fmt))
    if exponent < -(9 + _MAX_MANTISSA_CHARS):
        return _rounded(Quantity(_NANO if number > 0 else -_NANO, fmt))
    return _rounded(Quantity(number * Fraction(10) ** exponent, fmt))


def _rounded(quantity: Quantity) -> Quantity:
    """Upstream keeps at most nano precision and rounds away the rest upward; amounts are capped
    at ±(2^63-1)."""
    if abs(quantity.value) > MAX_AMOUNT:
        return Quantity(MAX_AMOUNT if quantity.value > 0 else -MAX_AMOUNT, quantity.format)
    scaled = quantity.value / _NANO
    if scaled.denominator == 1:
        return quantity
    return Quantity(Fraction(math.ceil(scaled)) * _NANO, quantity.format)


def format_quantity(quantity: Quantity) -> str:
    """The canonical string (``Quantity.String``): the largest suffix that keeps an integer
    mantissa; binary amounts below 1024 or with a fraction print as decimal."""
    value = quantity.value
    if value == 0:
        return "0"
    fmt = quantity.format
    if fmt == "BinarySI":
        if -1024 < value < 1024 or value.denominator != 1:
            fmt = "DecimalSI"
        else:
            return _binary_string(int(value))
    sign = "-" if value < 0 else ""
    mantissa, exponent = _decimal_parts(abs(value))
    if fmt == "DecimalExponent":
        return f"{sign}{mantissa}" + (f"e{exponent}" if exponent else "")
    return f"{sign}{mantissa}{_DECIMAL_BY_EXPONENT[exponent]}"


def _binary_string(value: int) -> str:
    sign = "-" if value < 0 else ""
    magnitude, exponent = abs(value), 0
    while exponent < 60 and magnitude % 1024 == 0:
        magnitude //= 1024
        exponent += 10
    return f"{sign}{magnitude}{_BINARY_BY_EXPONENT.get(exponent, '')}"


def _decimal_parts(value: Fraction) -> tuple[int, int]:
    """(integer mantissa, exponent multiple of 3 in [-9, 18]) with the largest exponent possible."""
    exponent = -9
    mantissa = value * 10**9
    if mantissa.denominator != 1:  # cannot happen after `_rounded`, but never print a fraction
        mantissa = Fraction(math.ceil(mantissa))
    whole = int(mantissa)
    while exponent < 18 and whole % 1000 == 0:
        whole //= 1000
        exponent += 3
    return whole, exponent
