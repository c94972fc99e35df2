"""Kubernetes quantities (`apis.quantity`): parsing every suffix family, canonical printing as the
API server prints, arithmetic keeping the first operand's format, and refusals.

Leaves out: the int64 overflow behaviour of upstream's fast path (we are exact).
"""

from __future__ import annotations

from fractions import Fraction

import pytest

from apis.quantity import Quantity, QuantityError, format_quantity, parse_quantity


@pytest.mark.parametrize(("text", "value"), [
    ("100m", Fraction(1, 10)), ("1.5Gi", Fraction(3 * 2**29)), ("1e3", Fraction(1000)),
    ("2", Fraction(2)), ("1Ki", Fraction(1024)), ("500M", Fraction(500 * 10**6)),
    ("0.5", Fraction(1, 2)), (".5", Fraction(1, 2)), ("-1", Fraction(-1)), ("1E-3", Fraction(1, 1000)),
    ("1n", Fraction(1, 10**9)), ("3u", Fraction(3, 10**6)), ("1k", Fraction(1000)),
])
def test_parses_each_suffix_family(text: str, value: Fraction) -> None:
    assert parse_quantity(text).value == value


@pytest.mark.parametrize(("text", "canonical"), [
    ("1.5Gi", "1536Mi"), ("1000m", "1"), ("0.5", "500m"), ("1500", "1500"), ("15000", "15k"),
    ("1024", "1024"), ("2048Ki", "2Mi"), ("512", "512"), ("0.5Ki", "512"), ("1e3", "1e3"),
    ("1.5e3", "1500"), ("0", "0"), ("100m", "100m"), ("1.1n", "2n"), ("-1500m", "-1500m"),
])
def test_prints_the_canonical_form(text: str, canonical: str) -> None:
    assert format_quantity(parse_quantity(text)) == canonical


def test_sums_keep_the_first_format_and_compare_by_value() -> None:
    memory = parse_quantity("1Gi") + parse_quantity("512Mi")
    assert str(memory) == "1536Mi"
    cpu = parse_quantity("500m") + parse_quantity("1")
    assert str(cpu) == "1500m"
    assert parse_quantity("1Ki") == parse_quantity("1024")
    assert parse_quantity("1") < parse_quantity("1001m")
    assert Quantity.of(3).integer_value == 3
    assert parse_quantity("250m").milli_value == 250


@pytest.mark.parametrize("bad", ["", "abc", "1.5.5", "1Gb", "Gi", "1 Gi x"])
def test_refuses_what_is_not_a_quantity(bad: str) -> None:
    with pytest.raises(QuantityError):
        parse_quantity(bad)


def test_json_numbers_are_quantities() -> None:
    assert parse_quantity(2).value == 2
    assert str(parse_quantity(0.25)) == "250m"


@pytest.mark.parametrize(("text", "canonical"), [
    ("1e999999999", "9223372036854775807"),
    ("-1e999999999", "-9223372036854775807"),
    ("1e-999999999", "1e-9"),
    ("999999999999Ei", "9223372036854775807"),
    (1e308, "9223372036854775807"),
])
def test_huge_and_tiny_amounts_are_bounded_not_expanded(text: str | float, canonical: str) -> None:
    """A client may send any exponent: the amount is capped at 2^63-1 (upstream caps binary
    amounts there) or rounded up to a nano, without computing 10^999999999."""
    assert format_quantity(parse_quantity(text)) == canonical


@pytest.mark.parametrize("text", ["9" * 70, "1e99999999999999999999", float("nan")])
def test_unbounded_spellings_are_not_quantities(text: str | float) -> None:
    with pytest.raises(QuantityError):
        parse_quantity(text)
