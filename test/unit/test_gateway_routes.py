"""The gateway's pure decisions: routes, composite versions and continue tokens, tenant assignment,
forwarded headers.

Covers the routing table (long, short and prefix paths; the Tenant collection and objects; nodes and
node leases; cross-tenant lists of the system tenant; cluster-scoped resources; refusals), the
composite resourceVersion/continue round trips and their refusals, the least-loaded choice and the
422 for a partition that does not exist, and that client ``X-Remote-*`` headers never pass.
Leaves out everything on the wire (test/e2e/test_gateway.py, test/component/test_gateway_streaming.py).
"""

from __future__ import annotations

from typing import Any

import pytest
from multidict import CIMultiDict

from apis.identity import CertificateSubject
from gateway.callers import Caller
from gateway.forwarding import forwarded_headers
from gateway.placement import Placement
from gateway.routes import Route, route
from gateway.status import BadRequest, Expired, Invalid
from gateway.tenant_creation import assign_partition
from gateway.versions import MergedContinue, compose, decompose
from gateway.watches import start_versions

ROUTES = [
    # (method, path, caller tenant, watch param, expected route)
    ("GET", "/healthz", "acme", False, Route("local")),
    ("GET", "/readyz/ping", "acme", False, Route("local")),
    ("GET", "/api", "acme", False, Route("tenant", "acme")),
    ("GET", "/apis/apps/v1", "system", False, Route("tenant", "system")),
    ("GET", "/version", "acme", False, Route("tenant", "acme")),
    ("GET", "/openapi/v3", "globex", False, Route("tenant", "globex")),
    ("GET", "/tenants/globex/api/v1/namespaces/default/pods", "system", False, Route("tenant", "globex")),
    ("GET", "/tenants/globex/openapi/v3", "acme", False, Route("tenant", "globex")),
    ("GET", "/api/v1/tenants/globex/namespaces/default/pods/p", "acme", False, Route("tenant", "globex")),
    ("POST", "/apis/apps/v1/tenants/globex/namespaces/ns/deployments", "system", False,
     Route("tenant", "globex")),
    ("GET", "/api/v1/namespaces/default/configmaps", "acme", False, Route("tenant", "acme")),
    ("GET", "/api/v1/pods", "acme", False, Route("tenant", "acme")),
    ("GET", "/api/v1/pods", "system", False, Route("tenant-partitions", collection="list")),
    ("GET", "/api/v1/pods", "system", True, Route("tenant-partitions", collection="watch")),
    ("GET", "/api/v1/watch/namespaces", "system", False, Route("tenant-partitions", collection="watch")),
    ("GET", "/api/v1/tenants/all/pods", "system", False, Route("tenant-partitions", collection="list")),
    ("GET", "/api/v1/namespaces/default/pods", "system", False, Route("tenant", "system")),
    ("GET", "/apis/scheduling.k8s.io/v1/priorityclasses", "system", False, Route("tenant", "system")),
    ("GET", "/apis/scheduling.k8s.io/v1/priorityclasses", "acme", False, Route("tenant", "system")),
    ("GET", "/api/v1/tenants", "system", False,
     Route("tenant-partitions", collection="list", tenants_list=True)),
    ("GET", "/api/v1/watch/tenants", "system", False,
     Route("tenant-partitions", collection="watch", tenants_list=True)),
    ("POST", "/api/v1/tenants", "system", False, Route("create-tenant")),
    ("GET", "/api/v1/tenants/globex", "system", False, Route("tenant", "globex")),
    ("PUT", "/api/v1/tenants/globex/finalize", "system", False, Route("tenant", "globex")),
    ("GET", "/api/v1/nodes", "system", False, Route("resource-partitions", collection="list")),
    ("GET", "/api/v1/nodes?watch=1", "system", True, Route("resource-partitions", collection="watch")),
    ("GET", "/api/v1/nodes/n1", "system", False, Route("node", "n1")),
    ("PATCH", "/api/v1/nodes/n1/status", "system", False, Route("node", "n1")),
    ("GET", "/api/v1/nodes/n1/proxy/metrics", "system", False, Route("node", "n1")),
    ("POST", "/api/v1/nodes", "system", False, Route("node", "")),
    ("PUT", "/apis/coordination.k8s.io/v1/namespaces/kube-node-lease/leases/n1", "system", False,
     Route("node", "n1")),
    ("GET", "/apis/coordination.k8s.io/v1/tenants/system/namespaces/kube-node-lease/leases/n1", "acme", False,
     Route("node", "n1")),
    ("GET", "/apis/coordination.k8s.io/v1/namespaces/kube-node-lease/leases", "system", False,
     Route("resource-partitions", collection="list")),
    # Another tenant's kube-node-lease namespace is that tenant's own business.
    ("GET", "/apis/coordination.k8s.io/v1/namespaces/kube-node-lease/leases/n1", "acme", False,
     Route("tenant", "acme")),
    ("GET", "/apis/coordination.k8s.io/v1/namespaces/kube-system/leases/x", "system", False,
     Route("tenant", "system")),
]


@pytest.mark.parametrize(("method", "path", "tenant", "watch", "expected"), ROUTES)
def test_route(method: str, path: str, tenant: str, watch: bool, expected: Route) -> None:
    assert route(method, path.split("?")[0], caller_tenant=tenant, watch_param=watch) == expected


@pytest.mark.parametrize(("method", "path"), [("DELETE", "/api/v1/tenants"), ("DELETE", "/api/v1/pods"),
                                              ("POST", "/api/v1/tenants/all/namespaces/x/pods")])
def test_requests_that_would_span_partitions_are_refused(method: str, path: str) -> None:
    found = route(method, path, caller_tenant="system")
    assert found.target == "refused" and found.reason


@pytest.mark.parametrize(("method", "path"), [
    ("DELETE", "/api/v1/tenants"), ("POST", "/api/v1/tenants"), ("GET", "/api/v1/tenants"),
    ("GET", "/api/v1/tenants/all/configmaps"), ("POST", "/api/v1/tenants/all/namespaces/x/pods"),
    ("PUT", "/api/v1/tenants/all/tenants/globex")])
def test_a_tenants_caller_is_never_merged_or_refused_but_answered_by_its_own_partition(
        method: str, path: str) -> None:
    # What one server answers a tenant's user here is a 403 (or its own objects): its TP says it.
    assert route(method, path, caller_tenant="acme") == Route("tenant", "acme")


def test_composite_versions_round_trip_and_refuse_a_changed_partition_set() -> None:
    assert compose(["12", "", "7"]) == "gw.12..7"
    assert decompose("gw.12..7", 3) == ["12", "", "7"]
    assert decompose("12", 3) is None
    with pytest.raises(Expired):
        decompose("gw.12.7", 3)


def test_a_watch_over_partitions_starts_from_composite_or_no_version_only() -> None:
    assert start_versions("gw.3.4", 2) == ["3", "4"]
    assert start_versions("", 2) == ["", ""] and start_versions("0", 2) == ["0", "0"]
    with pytest.raises(Expired):
        start_versions("42", 2)


def test_merged_continue_tokens_round_trip_and_bad_ones_are_refused() -> None:
    token = MergedContinue(1, "abc", ("5", "9"))
    assert MergedContinue.decode(token.encode(), 2) == token
    with pytest.raises(BadRequest):
        MergedContinue.decode("not-base64-json", 2)
    with pytest.raises(Expired):
        MergedContinue.decode(token.encode(), 3)


def _placement(tenants: dict[str, int], count: int = 3) -> Placement:
    placement = Placement(tenant_partitions=tuple(_Partition() for _ in range(count)),  # type: ignore[misc]
                          resource_partitions=(), watch_config=None, ca_file="")
    for name, index in tenants.items():
        placement.tenants.record(name, index)
    return placement


class _Partition:
    url = "https://127.0.0.1:1"


def test_a_tenant_without_a_partition_goes_to_the_least_loaded_one() -> None:
    placement = _placement({"system": 0, "a": 0, "b": 0, "c": 1, "d": 2})
    body: dict[str, Any] = {"metadata": {"name": "new"}}
    assert assign_partition(body, placement) == 1
    assert body["spec"]["storageClusterId"] == "1"
    assert assign_partition({"metadata": {"name": "x"}}, _placement({})) == 0  # ties: the lowest index


def test_a_named_partition_is_kept_and_one_that_does_not_exist_is_invalid() -> None:
    placement = _placement({})
    assert assign_partition({"metadata": {"name": "x"}, "spec": {"storageClusterId": "2"}}, placement) == 2
    for bad in ("3", "-1", "01", "one"):
        with pytest.raises(Invalid) as caught:
            assign_partition({"metadata": {"name": "x"}, "spec": {"storageClusterId": bad}}, placement)
        assert f'spec.storageClusterId: Invalid value: "{bad}"' in caught.value.message


def test_forwarded_headers_never_carry_a_clients_remote_headers() -> None:
    sent = CIMultiDict([("X-Remote-User", "system:admin"), ("x-remote-group", "system:masters"),
                        ("X-Remote-Extra-Scopes", "all"), ("Authorization", "Bearer t"), ("Accept", "a"),
                        ("Connection", "keep-alive"), ("Host", "gw")])
    as_token = forwarded_headers(sent, Caller("token", "acme"))
    assert sorted(as_token.items()) == [("Accept", "a"), ("Authorization", "Bearer t")]
    subject = CertificateSubject("admin", ("acme-devs",), "acme")
    as_cert = forwarded_headers(sent, Caller("certificate", "acme", subject))
    assert as_cert.getall("X-Remote-User") == ["admin"]
    assert as_cert.getall("X-Remote-Group") == ["acme-devs"]
    assert as_cert.getall("X-Remote-Tenant") == ["acme"]
    assert "Authorization" not in as_cert and "X-Remote-Extra-Scopes" not in as_cert
