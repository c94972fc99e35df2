"""Upstream's ValidateNonSpecialIP for both families (the component test covers the wire)."""

from __future__ import annotations

import pytest

from server.schema.endpoint_rules import endpoint_slice_errors, non_special_ip_errors


@pytest.mark.parametrize(("ip", "fragment"), [
    ("::1", "loopback range"),
    ("::", "unspecified"),
    ("fe80::1", "link-local range"),
    ("ff02::1", "link-local multicast range"),
    ("127.5.6.7", "loopback range"),
    ("not-an-ip", "must be a valid IP address"),
])
def test_special_addresses(ip: str, fragment: str) -> None:
    errors = non_special_ip_errors(ip, "x")
    assert len(errors) == 1 and fragment in errors[0].message, errors


@pytest.mark.parametrize("ip", ["10.0.0.1", "192.0.2.2", "2001:db8::1", "ff05::1", "224.0.1.1"])
def test_ordinary_addresses(ip: str) -> None:
    assert non_special_ip_errors(ip, "x") == []


def test_slice_of_ipv6_refuses_ipv4() -> None:
    slice_ = {"addressType": "IPv6", "endpoints": [{"addresses": ["10.0.0.1"]}]}
    [error] = endpoint_slice_errors(slice_)
    assert error.field == "endpoints[0].addresses[0]" and "valid IPv6 address" in error.message
