"""Endpoints and EndpointSlices cannot point a Service at the node itself (upstream's
ValidateNonSpecialIP): a tenant writing the endpoints of its selectorless Service gets 422 for an
unspecified, loopback, link-local (the metadata address) or link-local multicast address, or an
address of the wrong family for the slice's addressType — and nothing is stored; ordinary addresses
are accepted."""

from __future__ import annotations

from typing import Any

import pytest
from component_http import Api, assert_status

ENDPOINTS = "/api/v1/namespaces/default/endpoints"
SLICES = "/apis/discovery.k8s.io/v1/namespaces/default/endpointslices"


def endpoints(name: str, ip: str) -> dict[str, Any]:
    return {"apiVersion": "v1", "kind": "Endpoints", "metadata": {"name": name},
            "subsets": [{"addresses": [{"ip": "10.1.2.3"}], "notReadyAddresses": [{"ip": ip}],
                         "ports": [{"port": 80}]}]}


def endpoint_slice(name: str, address: str, address_type: str = "IPv4") -> dict[str, Any]:
    return {"apiVersion": "discovery.k8s.io/v1", "kind": "EndpointSlice", "metadata": {"name": name},
            "addressType": address_type, "endpoints": [{"addresses": [address]}], "ports": [{"port": 80}]}


@pytest.mark.parametrize(("ip", "message"), [
    ("127.0.0.1", "may not be in the loopback range (127.0.0.0/8, ::1/128)"),
    ("0.0.0.0", "may not be unspecified (0.0.0.0)"),
    ("169.254.169.254", "may not be in the link-local range (169.254.0.0/16, fe80::/10)"),
    ("224.0.0.5", "may not be in the link-local multicast range (224.0.0.0/24, ff02::/10)"),
])
async def test_special_addresses_are_refused(api: Api, ip: str, message: str) -> None:
    reply = await api.request("POST", ENDPOINTS, endpoints("ep-special", ip))
    assert_status(reply, 422, "Invalid")
    assert reply.body["details"]["causes"] == [{
        "reason": "FieldValueInvalid", "field": "subsets[0].notReadyAddresses[0].ip",
        "message": f'Invalid value: "{ip}": {message}'}]
    reply = await api.request("POST", SLICES, endpoint_slice("slice-special", ip))
    assert_status(reply, 422, "Invalid")
    assert reply.body["details"]["causes"][0]["field"] == "endpoints[0].addresses[0]"
    assert message in reply.body["message"]
    for path in (f"{ENDPOINTS}/ep-special", f"{SLICES}/slice-special"):
        assert_status(await api.request("GET", path), 404, "NotFound")


async def test_wrong_family_for_the_slice_is_refused(api: Api) -> None:
    reply = await api.request("POST", SLICES, endpoint_slice("slice-v6", "fd00::1"))
    assert_status(reply, 422, "Invalid")
    assert 'endpoints[0].addresses[0]: Invalid value: "fd00::1": must be a valid IPv4 address' \
        in reply.body["message"]


async def test_ordinary_addresses_are_stored(api: Api) -> None:
    reply = await api.request("POST", ENDPOINTS, endpoints("ep-ok", "10.1.2.4"))
    assert reply.status == 201, reply.body
    reply = await api.request("POST", SLICES, endpoint_slice("slice-ok", "192.0.2.2"))
    assert reply.status == 201, reply.body
    reply = await api.request("POST", SLICES, endpoint_slice("slice-fqdn", "db.example.com", "FQDN"))
    assert reply.status == 201, reply.body
