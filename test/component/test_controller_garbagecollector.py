"""The garbage collector against a real API server, run in-process.

Covers every propagation policy on Deployment → ReplicaSet → Pod chains whose ownerReferences the
test sets itself (no deployment/replicaset controller runs): Background deletes the chain after
the owner is gone, Foreground keeps owner and middle (finalizer ``foregroundDeletion``) until the
blocking dependents are gone, Orphan strips the reference and keeps the dependents; ConfigMaps
owned by a ConfigMap in another tenant; a dependent with one owner left keeps it and loses only
the reference to the deleted one; a dependent naming an owner uid that never existed is deleted;
a cluster-scoped owner (a Node) takes its namespaced dependent with it. Owners resolve only inside
the dependent's tenant: a dependent naming another tenant's object (same name in its own tenant
or not) is collected exactly like one naming a uid nobody has, one with an owner of its own loses
only the foreign reference, and the other tenant's foreground deletion neither waits for nor
deletes it; upstream's OwnerRefInvalidNamespace Warning event for an owner in another namespace
of the tenant, a cluster-scoped owner named from inside a tenant, and a tenant-scoped dependent
naming a namespaced kind (left alone, as upstream leaves a cluster-scoped one). Leaves out CRDs
added while running (discovery refresh is unit-level) and memory figures.
"""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator
from typing import Any

import pytest
from apiserver_process import ApiServerProcess
from controller_harness import eventually, get_or_none, new_namespace, running

from client.config import config_for_url
from client.events import EVENTS
from client.resources import CLUSTER_ROLES, CONFIGMAPS, NAMESPACES, TENANTS, ResourceRef
from client.rest import ApiClient
from controllers.garbagecollector import GarbageCollector

DEPLOYMENTS = ResourceRef("apps", "v1", "deployments", "Deployment")
REPLICA_SETS = ResourceRef("apps", "v1", "replicasets", "ReplicaSet")
PODS = ResourceRef("", "v1", "pods", "Pod")
NODES = ResourceRef("", "v1", "nodes", "Node")
HOLD = "test.arktos.io/hold"


@pytest.fixture
async def client(apiserver: ApiServerProcess) -> AsyncIterator[ApiClient]:
    async with running(apiserver.url, GarbageCollector) as test_client:
        yield test_client


def owner_ref(owner: dict[str, Any], *, block: bool = True) -> dict[str, Any]:
    return {"apiVersion": owner["apiVersion"], "kind": owner["kind"], "name": owner["metadata"]["name"],
            "uid": owner["metadata"]["uid"], "controller": True, "blockOwnerDeletion": block}


def template(labels: dict[str, str]) -> dict[str, Any]:
    return {"metadata": {"labels": labels}, "spec": {"containers": [{"name": "c", "image": "busybox"}]}}


async def chain(client: ApiClient, ns: str, *, pod_finalizers: list[str] | None = None
                ) -> tuple[dict[str, Any], dict[str, Any], dict[str, Any]]:
    """Deployment → ReplicaSet → Pod, linked by ownerReferences the test writes."""
    name = f"web-{uuid.uuid4().hex[:6]}"
    labels = {"app": name}
    deployment = await client.create(DEPLOYMENTS, {
        "apiVersion": "apps/v1", "kind": "Deployment", "metadata": {"name": name},
        "spec": {"replicas": 1, "selector": {"matchLabels": labels}, "template": template(labels)}},
        tenant="system", namespace=ns)
    replica_set = await client.create(REPLICA_SETS, {
        "apiVersion": "apps/v1", "kind": "ReplicaSet",
        "metadata": {"name": f"{name}-rs", "ownerReferences": [owner_ref(deployment)]},
        "spec": {"replicas": 1, "selector": {"matchLabels": labels}, "template": template(labels)}},
        tenant="system", namespace=ns)
    metadata: dict[str, Any] = {"name": f"{name}-pod", "labels": labels,
                                "ownerReferences": [owner_ref(replica_set)]}
    if pod_finalizers:
        metadata["finalizers"] = pod_finalizers
    pod = await client.create(PODS, {"apiVersion": "v1", "kind": "Pod", "metadata": metadata,
                                     "spec": template(labels)["spec"]}, tenant="system", namespace=ns)
    return deployment, replica_set, pod


async def gone(client: ApiClient, ref: ResourceRef, obj: dict[str, Any], *, tenant: str = "system") -> bool:
    metadata = obj["metadata"]
    return await get_or_none(client, ref, metadata["name"], tenant=tenant,
                             namespace=metadata.get("namespace")) is None


async def test_background_deletion_removes_the_whole_chain(client: ApiClient) -> None:
    ns = await new_namespace(client, prefix="gc-bg")
    deployment, replica_set, pod = await chain(client, ns)
    await client.delete(DEPLOYMENTS, deployment["metadata"]["name"], tenant="system", namespace=ns,
                        propagation_policy="Background")
    assert await gone(client, DEPLOYMENTS, deployment)  # background: the owner goes at once
    await eventually(lambda: gone(client, REPLICA_SETS, replica_set), "replicaset collected")
    await eventually(lambda: gone(client, PODS, pod), "pod collected")


async def test_foreground_deletion_waits_for_blocking_dependents(client: ApiClient) -> None:
    ns = await new_namespace(client, prefix="gc-fg")
    deployment, replica_set, pod = await chain(client, ns, pod_finalizers=[HOLD])
    await client.delete(DEPLOYMENTS, deployment["metadata"]["name"], tenant="system", namespace=ns,
                        propagation_policy="Foreground")

    async def pod_deleting() -> bool:
        current = await get_or_none(client, PODS, pod["metadata"]["name"], namespace=ns)
        return bool(current and current["metadata"].get("deletionTimestamp"))

    await eventually(pod_deleting, "pod marked for deletion")
    # The pod's own finalizer holds it; the blocked owners wait in foreground deletion.
    for ref, obj in ((DEPLOYMENTS, deployment), (REPLICA_SETS, replica_set)):
        current = await client.get(ref, obj["metadata"]["name"], tenant="system", namespace=ns)
        assert current["metadata"].get("deletionTimestamp"), current["metadata"]
        assert "foregroundDeletion" in current["metadata"]["finalizers"]
    held = await client.get(PODS, pod["metadata"]["name"], tenant="system", namespace=ns)
    held["metadata"]["finalizers"] = []
    await client.update(PODS, held, tenant="system", namespace=ns)
    await eventually(lambda: gone(client, PODS, pod), "pod gone")
    await eventually(lambda: gone(client, REPLICA_SETS, replica_set), "replicaset released and gone")
    await eventually(lambda: gone(client, DEPLOYMENTS, deployment), "deployment released and gone")


async def test_orphan_deletion_keeps_dependents_without_the_reference(client: ApiClient) -> None:
    ns = await new_namespace(client, prefix="gc-or")
    deployment, replica_set, pod = await chain(client, ns)
    await client.delete(DEPLOYMENTS, deployment["metadata"]["name"], tenant="system", namespace=ns,
                        propagation_policy="Orphan")
    await eventually(lambda: gone(client, DEPLOYMENTS, deployment), "deployment released and gone")
    orphan = await client.get(REPLICA_SETS, replica_set["metadata"]["name"], tenant="system", namespace=ns)
    assert not orphan["metadata"].get("ownerReferences"), orphan["metadata"]
    still = await client.get(PODS, pod["metadata"]["name"], tenant="system", namespace=ns)
    assert [r["uid"] for r in still["metadata"]["ownerReferences"]] == [replica_set["metadata"]["uid"]]


async def test_configmaps_owned_by_a_configmap_in_another_tenant(client: ApiClient) -> None:
    tenant = f"gc-{uuid.uuid4().hex[:6]}"
    await client.create(TENANTS, {"apiVersion": "v1", "kind": "Tenant", "metadata": {"name": tenant}})
    await client.create(NAMESPACES, {"metadata": {"name": "apps"}}, tenant=tenant)
    owner = await client.create(CONFIGMAPS, {"apiVersion": "v1", "kind": "ConfigMap",
                                             "metadata": {"name": "owner"}}, tenant=tenant, namespace="apps")
    other = await client.create(CONFIGMAPS, {"apiVersion": "v1", "kind": "ConfigMap",
                                             "metadata": {"name": "other"}}, tenant=tenant, namespace="apps")
    only = await client.create(CONFIGMAPS, {"apiVersion": "v1", "kind": "ConfigMap", "metadata": {
        "name": "only", "ownerReferences": [owner_ref(owner, block=False)]}}, tenant=tenant, namespace="apps")
    shared = await client.create(CONFIGMAPS, {"apiVersion": "v1", "kind": "ConfigMap", "metadata": {
        "name": "shared", "ownerReferences": [owner_ref(owner), {**owner_ref(other), "controller": False}]}},
        tenant=tenant, namespace="apps")
    await client.delete(CONFIGMAPS, "owner", tenant=tenant, namespace="apps")
    await eventually(lambda: gone(client, CONFIGMAPS, only, tenant=tenant), "sole dependent collected")

    async def only_other_owner_left() -> bool:
        current = await get_or_none(client, CONFIGMAPS, "shared", tenant=tenant, namespace="apps")
        assert current is not None, "a dependent with a living owner must stay"
        return [r["uid"] for r in current["metadata"].get("ownerReferences") or []] == \
            [other["metadata"]["uid"]]

    await eventually(only_other_owner_left, "dangling reference removed, living one kept")
    assert shared["metadata"]["uid"] == (await client.get(CONFIGMAPS, "shared", tenant=tenant,
                                                          namespace="apps"))["metadata"]["uid"]


async def test_dependent_of_an_owner_that_never_existed_is_deleted(client: ApiClient) -> None:
    ns = await new_namespace(client, prefix="gc-dang")
    real_owner = await client.create(CONFIGMAPS, {"apiVersion": "v1", "kind": "ConfigMap",
                                                  "metadata": {"name": "real"}},
                                     tenant="system", namespace=ns)
    ghost = {"apiVersion": "v1", "kind": "ConfigMap", "name": "ghost", "uid": str(uuid.uuid4())}
    dangling = await client.create(CONFIGMAPS, {"apiVersion": "v1", "kind": "ConfigMap", "metadata": {
        "name": "dangling", "ownerReferences": [ghost]}}, tenant="system", namespace=ns)
    kept = await client.create(CONFIGMAPS, {"apiVersion": "v1", "kind": "ConfigMap", "metadata": {
        "name": "kept", "ownerReferences": [owner_ref(real_owner)]}}, tenant="system", namespace=ns)
    await eventually(lambda: gone(client, CONFIGMAPS, dangling), "dependent of a ghost collected")
    assert not await gone(client, CONFIGMAPS, kept)


async def test_cluster_scoped_owner_takes_its_namespaced_dependent(client: ApiClient) -> None:
    ns = await new_namespace(client, prefix="gc-node")
    node = await client.create(NODES, {"apiVersion": "v1", "kind": "Node",
                                       "metadata": {"name": f"gc-node-{uuid.uuid4().hex[:6]}"}})
    dependent = await client.create(CONFIGMAPS, {"apiVersion": "v1", "kind": "ConfigMap", "metadata": {
        "name": "node-info", "ownerReferences": [owner_ref(node)]}}, tenant="system", namespace=ns)
    await client.delete(NODES, node["metadata"]["name"])
    await eventually(lambda: gone(client, CONFIGMAPS, dependent), "dependent of the deleted node collected")


async def new_tenant(client: ApiClient, prefix: str, *namespaces: str) -> str:
    tenant = f"{prefix}-{uuid.uuid4().hex[:6]}"
    await client.create(TENANTS, {"apiVersion": "v1", "kind": "Tenant", "metadata": {"name": tenant}})
    for ns in namespaces:
        await client.create(NAMESPACES, {"metadata": {"name": ns}}, tenant=tenant)
    return tenant


async def configmap(client: ApiClient, tenant: str, namespace: str, name: str,
                    refs: list[dict[str, Any]] | None = None,
                    finalizers: list[str] | None = None) -> dict[str, Any]:
    metadata: dict[str, Any] = {"name": name}
    if refs:
        metadata["ownerReferences"] = refs
    if finalizers:
        metadata["finalizers"] = finalizers
    created: dict[str, Any] = await client.create(
        CONFIGMAPS, {"apiVersion": "v1", "kind": "ConfigMap", "metadata": metadata}, tenant=tenant,
        namespace=namespace)
    return created


async def warnings(client: ApiClient, tenant: str, namespace: str) -> list[dict[str, Any]]:
    events = (await client.list(EVENTS, tenant=tenant, namespace=namespace))["items"]
    return [e for e in events if e.get("reason") == "OwnerRefInvalidNamespace"]


async def test_an_object_of_another_tenant_is_no_owner(apiserver: ApiServerProcess) -> None:
    async with ApiClient(config_for_url(apiserver.url)) as setup:
        acme, globex = await new_tenant(setup, "acme", "apps"), await new_tenant(setup, "globex", "apps")
        foreign = await configmap(setup, globex, "apps", "owner")
        their_dependent = await configmap(setup, globex, "apps", "dep", [owner_ref(foreign)], [HOLD])
        mine = await configmap(setup, acme, "apps", "mine")
        await configmap(setup, acme, "apps", "owner")  # the same name in acme, another uid
        cross = await configmap(setup, acme, "apps", "cross", [owner_ref(foreign)])
        ghost = await configmap(setup, acme, "apps", "ghost",
                                [{**owner_ref(foreign), "uid": str(uuid.uuid4())}])
        held = await configmap(setup, acme, "apps", "held", [owner_ref(foreign)], [HOLD])
        mixed = await configmap(setup, acme, "apps", "mixed", [owner_ref(mine), owner_ref(foreign)])
        # Globex deletes its owner in the foreground before any collector ran.
        await setup.delete(CONFIGMAPS, "owner", tenant=globex, namespace="apps",
                           propagation_policy="Foreground")

    async with running(apiserver.url, GarbageCollector) as client:
        async def deleting(obj: dict[str, Any], tenant: str) -> bool:
            current = await get_or_none(client, CONFIGMAPS, obj["metadata"]["name"], tenant=tenant,
                                        namespace="apps")
            return bool(current and current["metadata"].get("deletionTimestamp"))

        # Globex's own dependent is deleted for its foreground owner; acme's objects are not.
        await eventually(lambda: deleting(their_dependent, globex), "globex's dependent being deleted")
        await release(client, their_dependent, globex)
        # The owner's foreground deletion waits for globex's dependent only, never for acme's `held`.
        await eventually(lambda: gone(client, CONFIGMAPS, foreign, tenant=globex), "globex's owner gone")
        # A foreign uid is no owner: collected exactly like a uid nobody has.
        await eventually(lambda: gone(client, CONFIGMAPS, cross, tenant=acme), "cross-tenant dependent gone")
        await eventually(lambda: gone(client, CONFIGMAPS, ghost, tenant=acme), "ghost dependent collected")
        await eventually(lambda: deleting(held, acme), "held dependent collected too")

        async def only_own_owner_left() -> bool:
            current = await client.get(CONFIGMAPS, "mixed", tenant=acme, namespace="apps")
            assert current["metadata"]["uid"] == mixed["metadata"]["uid"], "a dependent with an owner stays"
            return [r["uid"] for r in current["metadata"].get("ownerReferences") or []] == \
                [mine["metadata"]["uid"]]

        await eventually(only_own_owner_left, "the foreign reference removed, the own one kept")
        # Nothing tells acme that globex's uid exists: no event about it.
        assert not await warnings(client, acme, "apps")
        await release(client, held, acme)


async def release(client: ApiClient, obj: dict[str, Any], tenant: str) -> None:
    """Drops the test's finalizer so the object can go."""
    current = await get_or_none(client, CONFIGMAPS, obj["metadata"]["name"], tenant=tenant, namespace="apps")
    if current is not None:
        current["metadata"]["finalizers"] = []
        await client.update(CONFIGMAPS, current, tenant=tenant, namespace="apps")


async def test_invalid_owner_references_are_reported_as_upstream(client: ApiClient) -> None:
    acme = await new_tenant(client, "acme", "apps", "other", "default")  # events of tenant objects: default
    elsewhere = await configmap(client, acme, "other", "owner")
    node = await client.create(NODES, {"apiVersion": "v1", "kind": "Node",
                                       "metadata": {"name": f"gc-node-{uuid.uuid4().hex[:6]}"}})
    wrong_namespace = await configmap(client, acme, "apps", "wrong-ns", [owner_ref(elsewhere)])
    wrong_tenant = await configmap(client, acme, "apps", "node-owned", [owner_ref(node)])
    # A tenant-scoped object cannot be owned by a namespaced kind: upstream leaves such a
    # (cluster-scoped there) dependent alone rather than delete it.
    role = await client.create(CLUSTER_ROLES, {"metadata": {"name": "owned-role",
                                                            "ownerReferences": [owner_ref(elsewhere)]},
                                               "rules": []}, tenant=acme)
    await eventually(lambda: gone(client, CONFIGMAPS, wrong_namespace, tenant=acme), "wrong-namespace one")
    await eventually(lambda: gone(client, CONFIGMAPS, wrong_tenant, tenant=acme), "node-owned dependent")
    expected = {
        f'ownerRef [v1/ConfigMap, namespace: apps, name: owner, uid: {elsewhere["metadata"]["uid"]}] '
        'does not exist in namespace "apps"',
        f'ownerRef [v1/Node, namespace: apps, name: {node["metadata"]["name"]}, '
        f'uid: {node["metadata"]["uid"]}] does not exist in tenant "{acme}"',
    }

    async def reported() -> bool:
        events = await warnings(client, acme, "apps")
        assert all(e["type"] == "Warning" and e["involvedObject"]["kind"] == "ConfigMap" for e in events)
        return {e["message"] for e in events} == expected

    await eventually(reported, "OwnerRefInvalidNamespace events on the dependents")

    async def role_reported() -> bool:
        events = await warnings(client, acme, "default")
        return any(e["involvedObject"]["name"] == "owned-role" for e in events)

    await eventually(role_reported, "an event on the tenant-scoped dependent")
    still = await client.get(CLUSTER_ROLES, "owned-role", tenant=acme)
    assert still["metadata"]["uid"] == role["metadata"]["uid"]
    await client.delete(NODES, node["metadata"]["name"])
