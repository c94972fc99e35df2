"""The Endpoints and EndpointSlice controllers against a real API server, the test playing kubelet.

Covers: Endpoints follow pod readiness (not ready → ``notReadyAddresses``, ready → ``addresses``),
carry a targetRef and nodeName, resolve a named targetPort against container ports, drop pods
whose labels stop matching and finished pods, and go away with their Service; a Service without
a selector keeps its hand-written Endpoints; EndpointSlices carry the service-name and managed-by
labels, the Service as owner, addressType IPv4, the ready/serving/terminating conditions, and a
placeholder slice when no pod backs the Service; pods in another tenant's same-named namespace
never leak in.
Leaves out: more than 100 endpoints per slice (unit-tested in test_endpointslice_plan.py), IPv6,
topology hints and zones.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from typing import Any

import pytest
from apiserver_process import ApiServerProcess
from playing_kubelet import PODS, eventually, new_tenant_namespace, running, set_pod_status

from client import errors
from client.config import config_for_url
from client.resources import ResourceRef
from client.rest import ApiClient
from controllers.endpoint_pods import SERVICES
from controllers.endpoints import ENDPOINTS, EndpointsController
from controllers.endpointslice import ENDPOINT_SLICES, EndpointSliceController

NODES = ResourceRef("", "v1", "nodes", "Node")


@pytest.fixture
async def client(apiserver: ApiServerProcess) -> AsyncIterator[ApiClient]:
    async with ApiClient(config_for_url(apiserver.url)) as api_client:
        yield api_client


def pod_body(name: str, app: str = "web") -> dict[str, Any]:
    return {
        "apiVersion": "v1",
        "kind": "Pod",
        "metadata": {"name": name, "labels": {"app": app}},
        "spec": {
            "containers": [
                {"name": "c", "image": "nginx", "ports": [{"name": "http", "containerPort": 8080}]}
            ]
        },
    }


def service_body(name: str, selector: dict[str, str] | None = None) -> dict[str, Any]:
    spec: dict[str, Any] = {"ports": [{"name": "web", "port": 80, "targetPort": "http"}]}
    if selector is not None:
        spec["selector"] = selector
    return {
        "apiVersion": "v1",
        "kind": "Service",
        "metadata": {"name": name, "labels": {"tier": "front"}},
        "spec": spec,
    }


async def endpoints_matching(
    client: ApiClient, tenant: str, ns: str, name: str, want: dict[str, list[str]]
) -> dict[str, Any] | None:
    """The Endpoints once its (single) subset lists exactly ``want`` pod names per field."""
    try:
        endpoints = await client.get(ENDPOINTS, name, tenant=tenant, namespace=ns)
    except errors.NotFound:
        return None
    got: dict[str, list[str]] = {}
    for subset in endpoints.get("subsets") or []:
        for field in ("addresses", "notReadyAddresses"):
            got.setdefault(field, []).extend(a["targetRef"]["name"] for a in subset.get(field) or [])
    normalized = {k: sorted(v) for k, v in got.items() if v}
    return endpoints if normalized == want else None


async def slices_of(client: ApiClient, tenant: str, ns: str, service: str) -> list[dict[str, Any]]:
    listed = await client.list(
        ENDPOINT_SLICES, tenant=tenant, namespace=ns, label_selector=f"kubernetes.io/service-name={service}"
    )
    return list(listed.get("items") or [])


async def slice_conditions(
    client: ApiClient, tenant: str, ns: str, service: str, want: dict[str, dict[str, bool]]
) -> list[dict[str, Any]] | None:
    slices = await slices_of(client, tenant, ns, service)
    got = {e["targetRef"]["name"]: e["conditions"] for s in slices for e in s.get("endpoints") or []}
    return slices if got == want else None


async def test_endpoints_follow_pod_readiness(client: ApiClient) -> None:
    tenant, ns = await new_tenant_namespace(client, "ep")
    other_tenant, _ = await new_tenant_namespace(client, "ep")
    await client.create(NODES, {"apiVersion": "v1", "kind": "Node", "metadata": {"name": f"{tenant}-n1"}})
    async with running(client, EndpointsController):
        await client.create(SERVICES, service_body("web", {"app": "web"}), tenant=tenant, namespace=ns)
        await eventually(lambda: endpoints_matching(client, tenant, ns, "web", {}), "empty Endpoints")
        a = await client.create(PODS, pod_body("a"), tenant=tenant, namespace=ns)
        b = await client.create(PODS, pod_body("b"), tenant=tenant, namespace=ns)
        stranger = await client.create(PODS, pod_body("a"), tenant=other_tenant, namespace=ns)
        await set_pod_status(client, stranger, phase="Running", ready=True, ip="10.9.9.9")
        await client.request(
            "POST",
            f"/api/v1/tenants/{tenant}/namespaces/{ns}/pods/a/binding",
            body={
                "apiVersion": "v1",
                "kind": "Binding",
                "metadata": {"name": "a"},
                "target": {"kind": "Node", "name": f"{tenant}-n1"},
            },
        )
        await set_pod_status(client, a, phase="Running", ready=False, ip="10.0.0.1")
        await set_pod_status(client, b, phase="Running", ready=True, ip="10.0.0.2")
        endpoints = await eventually(
            lambda: endpoints_matching(
                client, tenant, ns, "web", {"addresses": ["b"], "notReadyAddresses": ["a"]}
            ),
            "a not ready, b ready",
        )
        subset = endpoints["subsets"][0]
        assert subset["ports"] == [{"name": "web", "port": 8080, "protocol": "TCP"}]
        assert subset["notReadyAddresses"][0]["ip"] == "10.0.0.1"
        assert subset["notReadyAddresses"][0]["nodeName"] == f"{tenant}-n1"
        assert subset["notReadyAddresses"][0]["targetRef"]["uid"] == a["metadata"]["uid"]
        assert endpoints["metadata"]["labels"] == {"tier": "front"}

        await set_pod_status(client, a, phase="Running", ready=True, ip="10.0.0.1")
        settled = await eventually(
            lambda: endpoints_matching(client, tenant, ns, "web", {"addresses": ["a", "b"]}), "both ready"
        )
        await asyncio.sleep(1.0)  # nothing changed: the controller must not rewrite the object
        again = await client.get(ENDPOINTS, "web", tenant=tenant, namespace=ns)
        assert again["metadata"]["resourceVersion"] == settled["metadata"]["resourceVersion"]
        await client.patch(PODS, "b", {"metadata": {"labels": {"app": "other"}}}, tenant=tenant, namespace=ns)
        await eventually(
            lambda: endpoints_matching(client, tenant, ns, "web", {"addresses": ["a"]}), "b relabelled away"
        )
        await set_pod_status(client, a, phase="Succeeded", ip="10.0.0.1")
        await eventually(lambda: endpoints_matching(client, tenant, ns, "web", {}), "finished pod dropped")

        await client.delete(SERVICES, "web", tenant=tenant, namespace=ns)

        async def endpoints_gone() -> bool:
            try:
                await client.get(ENDPOINTS, "web", tenant=tenant, namespace=ns)
            except errors.NotFound:
                return True
            return False

        await eventually(endpoints_gone, "Endpoints deleted with the Service")


async def test_selectorless_service_keeps_its_manual_endpoints(client: ApiClient) -> None:
    tenant, ns = await new_tenant_namespace(client, "ep")
    manual = {
        "apiVersion": "v1",
        "kind": "Endpoints",
        "metadata": {"name": "external"},
        "subsets": [{"addresses": [{"ip": "192.0.2.1"}], "ports": [{"port": 5432}]}],
    }
    async with running(client, EndpointsController):
        await client.create(ENDPOINTS, manual, tenant=tenant, namespace=ns)
        await client.create(SERVICES, service_body("external"), tenant=tenant, namespace=ns)
        witness = await client.create(
            SERVICES, service_body("witness", {"app": "none"}), tenant=tenant, namespace=ns
        )
        await eventually(lambda: endpoints_matching(client, tenant, ns, "witness", {}), "witness synced")
        kept = await client.get(ENDPOINTS, "external", tenant=tenant, namespace=ns)
        assert kept["subsets"][0]["addresses"] == [{"ip": "192.0.2.1"}]
        assert witness["metadata"]["name"] == "witness"


async def test_endpointslices_follow_pods(client: ApiClient) -> None:
    tenant, ns = await new_tenant_namespace(client, "eps")
    async with running(client, EndpointSliceController):
        service = await client.create(
            SERVICES, service_body("api", {"app": "api"}), tenant=tenant, namespace=ns
        )
        placeholder = await eventually(
            lambda: _slices_present(client, tenant, ns, "api"), "placeholder slice"
        )
        assert placeholder[0]["endpoints"] in (None, []) and not placeholder[0].get("ports")
        a = await client.create(PODS, pod_body("a", "api"), tenant=tenant, namespace=ns)
        b = await client.create(PODS, pod_body("b", "api"), tenant=tenant, namespace=ns)
        await set_pod_status(client, a, phase="Running", ready=True, ip="10.1.0.1")
        await set_pod_status(client, b, phase="Running", ready=False, ip="10.1.0.2")
        ready = {"ready": True, "serving": True, "terminating": False}
        not_ready = {"ready": False, "serving": False, "terminating": False}
        slices = await eventually(
            lambda: slice_conditions(client, tenant, ns, "api", {"a": ready, "b": not_ready}),
            "slice conditions",
        )
        assert len(slices) == 1
        slice_ = slices[0]
        assert slice_["addressType"] == "IPv4"
        assert (
            slice_["metadata"]["labels"]["endpointslice.kubernetes.io/managed-by"]
            == "endpointslice-controller.k8s.io"
        )
        assert slice_["metadata"]["labels"]["tier"] == "front"
        assert slice_["metadata"]["ownerReferences"][0]["uid"] == service["metadata"]["uid"]
        assert slice_["ports"] == [{"name": "web", "port": 8080, "protocol": "TCP"}]
        addresses = sorted(e["addresses"][0] for e in slice_["endpoints"])
        assert addresses == ["10.1.0.1", "10.1.0.2"]

        await set_pod_status(client, b, phase="Running", ready=True, ip="10.1.0.2")
        await eventually(
            lambda: slice_conditions(client, tenant, ns, "api", {"a": ready, "b": ready}), "b ready"
        )
        await client.delete(PODS, "a", tenant=tenant, namespace=ns, grace_period_seconds=0)
        slices = await eventually(
            lambda: slice_conditions(client, tenant, ns, "api", {"b": ready}), "a removed"
        )
        assert len(slices) == 1
        await client.delete(SERVICES, "api", tenant=tenant, namespace=ns)
        await eventually(lambda: _no_slices(client, tenant, ns, "api"), "slices deleted with the Service")


async def _slices_present(
    client: ApiClient, tenant: str, ns: str, service: str
) -> list[dict[str, Any]] | None:
    return await slices_of(client, tenant, ns, service) or None


async def _no_slices(client: ApiClient, tenant: str, ns: str, service: str) -> bool:
    return not await slices_of(client, tenant, ns, service)
