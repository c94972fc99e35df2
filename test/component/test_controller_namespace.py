"""The namespace lifecycle controller against a real API server, run in-process.

Covers: deleting a namespace makes it Terminating (status.phase, deletionTimestamp, finalizer
``kubernetes`` kept), refuses new content in it (403, upstream's NamespaceLifecycle text), then
empties it — ConfigMaps, Secrets, a Deployment, a Pod, a Role — and finally removes the
namespace; a namespace of another tenant with the same name is untouched. Leaves out the
garbage collector's part (dependents of deleted owners: test_controller_garbagecollector).
"""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator
from typing import Any

import pytest
from apiserver_process import ApiServerProcess
from controller_harness import eventually, get_or_none, running

from client.errors import Forbidden
from client.resources import CONFIGMAPS, NAMESPACES, SECRETS, TENANTS, ResourceRef
from client.rest import ApiClient
from controllers.namespace import NamespaceController

DEPLOYMENTS = ResourceRef("apps", "v1", "deployments", "Deployment")
PODS = ResourceRef("", "v1", "pods", "Pod")
ROLES = ResourceRef("rbac.authorization.k8s.io", "v1", "roles", "Role")


@pytest.fixture
async def client(apiserver: ApiServerProcess) -> AsyncIterator[ApiClient]:
    async with running(apiserver.url, NamespaceController) as test_client:
        yield test_client


def contents() -> list[tuple[ResourceRef, dict[str, Any]]]:
    labels = {"app": "web"}
    return [
        (CONFIGMAPS, {"metadata": {"name": "cm"}, "data": {"k": "v"}}),
        (SECRETS, {"metadata": {"name": "s"}, "stringData": {"k": "v"}}),
        (DEPLOYMENTS, {"metadata": {"name": "web"}, "spec": {
            "selector": {"matchLabels": labels},
            "template": {"metadata": {"labels": labels},
                         "spec": {"containers": [{"name": "c", "image": "busybox"}]}}}}),
        (PODS, {"metadata": {"name": "p"}, "spec": {"containers": [{"name": "c", "image": "busybox"}]}}),
        (ROLES, {"metadata": {"name": "r"}, "rules": []}),
    ]


async def fill(client: ApiClient, tenant: str, namespace: str) -> None:
    await client.create(NAMESPACES, {"metadata": {"name": namespace}}, tenant=tenant)
    for ref, body in contents():
        await client.create(ref, body, tenant=tenant, namespace=namespace)


async def test_a_deleted_namespace_is_emptied_then_removed(client: ApiClient) -> None:
    other = f"ns-{uuid.uuid4().hex[:6]}"
    await client.create(TENANTS, {"apiVersion": "v1", "kind": "Tenant", "metadata": {"name": other}})
    name = f"doomed-{uuid.uuid4().hex[:6]}"
    await fill(client, "system", name)
    await fill(client, other, name)

    await client.delete(NAMESPACES, name, tenant="system")
    terminating = await client.get(NAMESPACES, name, tenant="system")
    assert terminating["status"]["phase"] == "Terminating"
    assert terminating["metadata"].get("deletionTimestamp")
    with pytest.raises(Forbidden) as refused:
        await client.create(CONFIGMAPS, {"metadata": {"name": "late"}}, tenant="system", namespace=name)
    assert "because it is being terminated" in refused.value.message

    await eventually(lambda: _gone(client, name), f"namespace {name} emptied and removed")
    for ref, body in contents():
        assert await get_or_none(client, ref, body["metadata"]["name"], tenant="system",
                                 namespace=name) is None
        kept = await get_or_none(client, ref, body["metadata"]["name"], tenant=other, namespace=name)
        assert kept is not None, f"{ref.plural} of tenant {other} must stay"


async def _gone(client: ApiClient, name: str) -> bool:
    return await get_or_none(client, NAMESPACES, name, tenant="system") is None
