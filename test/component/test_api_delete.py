"""DELETE semantics over raw HTTP: preconditions, finalizers, graceful pod deletion, protection.

Covers: preconditions on uid and resourceVersion (409 with upstream's text); an object with
finalizers is kept with a deletionTimestamp until an update removes the last finalizer, then it is
gone; a pod bound to a node (via ``pods/{name}/binding``) gets deletionTimestamp and
deletionGracePeriodSeconds and stays until a delete with ``gracePeriodSeconds=0``; an unbound pod
goes at once; ``default`` and ``kube-system`` cannot be deleted (403); deletecollection with a
label selector; the answer is the object for pods and a Success Status for configmaps; delete of a
missing object (404).
Leaves out: propagationPolicy and garbage collection (no controllers yet), namespace content
cleanup, eviction (test_api_subresources.py).
"""

from __future__ import annotations

from datetime import datetime

from component_http import Api, assert_status, configmap, pod


def _seconds_between(first: str, second: str) -> float:
    def parse(stamp: str) -> datetime:
        return datetime.strptime(stamp, "%Y-%m-%dT%H:%M:%SZ")

    return (parse(second) - parse(first)).total_seconds()


async def test_preconditions_must_match(api: Api, namespace: str) -> None:
    path = f"/api/v1/namespaces/{namespace}/configmaps/p"
    created = await api.ok("POST", f"/api/v1/namespaces/{namespace}/configmaps", configmap("p"))
    uid, rv = created["metadata"]["uid"], created["metadata"]["resourceVersion"]
    wrong_uid = "00000000-0000-0000-0000-000000000000"

    status = assert_status(await api.delete(path, {"preconditions": {"uid": wrong_uid}}), 409, "Conflict")
    assert status["message"] == (f"Precondition failed: UID in precondition: {wrong_uid}, "
                                 f"UID in object meta: {uid}")
    status = assert_status(await api.delete(path, {"preconditions": {"resourceVersion": "1"}}),
                           409, "Conflict")
    assert status["message"] == (f"Precondition failed: ResourceVersion in precondition: 1, "
                                 f"ResourceVersion in object meta: {rv}")
    await api.ok("GET", path)
    await api.ok("DELETE", path, {"preconditions": {"uid": uid, "resourceVersion": rv}})
    assert_status(await api.get(path), 404, "NotFound")


async def test_finalizers_hold_the_object_until_the_last_is_removed(api: Api, namespace: str) -> None:
    path = f"/api/v1/namespaces/{namespace}/configmaps/f"
    await api.ok("POST", f"/api/v1/namespaces/{namespace}/configmaps",
                 configmap("f", finalizers=["example.com/a", "example.com/b"]))
    answer = await api.ok("DELETE", path)
    assert answer["kind"] == "ConfigMap"
    assert answer["metadata"]["deletionTimestamp"]
    held = await api.ok("GET", path)
    assert held["metadata"]["deletionTimestamp"] == answer["metadata"]["deletionTimestamp"]
    assert held["metadata"]["finalizers"] == ["example.com/a", "example.com/b"]

    held["metadata"]["finalizers"] = ["example.com/b"]
    still = await api.ok("PUT", path, held)
    assert still["metadata"]["finalizers"] == ["example.com/b"]
    await api.ok("GET", path)

    await api.ok("PATCH", path, {"metadata": {"finalizers": None}},
                 content_type="application/merge-patch+json")
    assert_status(await api.get(path), 404, "NotFound")


async def test_bound_pod_is_deleted_gracefully(api: Api, namespace: str) -> None:
    base = f"/api/v1/namespaces/{namespace}/pods"
    await api.ok("POST", base, pod("g"))
    binding = {"apiVersion": "v1", "kind": "Binding", "metadata": {"name": "g"},
               "target": {"apiVersion": "v1", "kind": "Node", "name": "node-1"}}
    await api.ok("POST", f"{base}/g/binding", binding)

    answer = await api.ok("DELETE", f"{base}/g")
    assert answer["kind"] == "Pod"
    assert answer["metadata"]["deletionTimestamp"]
    assert answer["metadata"]["deletionGracePeriodSeconds"] == 30
    lingering = await api.ok("GET", f"{base}/g")
    assert lingering["metadata"]["deletionGracePeriodSeconds"] == 30

    # A shorter grace period may be asked for later (never a longer one).
    shorter = await api.ok("DELETE", f"{base}/g", {"gracePeriodSeconds": 10})
    assert shorter["metadata"]["deletionGracePeriodSeconds"] == 10
    first, second = answer["metadata"]["deletionTimestamp"], shorter["metadata"]["deletionTimestamp"]
    assert _seconds_between(first, second) == -20  # upstream moves the deadline, not just the period
    longer = await api.ok("DELETE", f"{base}/g", {"gracePeriodSeconds": 60})
    assert longer["metadata"]["deletionGracePeriodSeconds"] == 10
    await api.ok("DELETE", f"{base}/g", params={"gracePeriodSeconds": "0"})
    assert_status(await api.get(f"{base}/g"), 404, "NotFound")


async def test_unbound_pod_is_deleted_at_once(api: Api, namespace: str) -> None:
    base = f"/api/v1/namespaces/{namespace}/pods"
    created = await api.ok("POST", base, pod("u"))
    answer = await api.ok("DELETE", f"{base}/u")
    assert answer["kind"] == "Pod" and answer["metadata"]["uid"] == created["metadata"]["uid"]
    assert_status(await api.get(f"{base}/u"), 404, "NotFound")


async def test_configmap_delete_answers_a_success_status(api: Api, namespace: str) -> None:
    created = await api.ok("POST", f"/api/v1/namespaces/{namespace}/configmaps", configmap("s"))
    answer = await api.ok("DELETE", f"/api/v1/namespaces/{namespace}/configmaps/s")
    assert answer["kind"] == "Status" and answer["apiVersion"] == "v1"
    assert answer["status"] == "Success"
    assert answer["details"]["name"] == "s" and answer["details"]["kind"] == "configmaps"
    assert answer["details"]["uid"] == created["metadata"]["uid"]


async def test_delete_of_a_missing_object_is_not_found(api: Api, namespace: str) -> None:
    status = assert_status(await api.delete(f"/api/v1/namespaces/{namespace}/configmaps/none"),
                           404, "NotFound")
    assert status["message"] == 'configmaps "none" not found'


async def test_system_namespaces_cannot_be_deleted(api: Api) -> None:
    for name in ("default", "kube-system"):
        status = assert_status(await api.delete(f"/api/v1/namespaces/{name}"), 403, "Forbidden")
        assert status["message"] == f'namespaces "{name}" is forbidden: this namespace may not be deleted'
        await api.ok("GET", f"/api/v1/namespaces/{name}")


async def test_delete_collection_with_a_label_selector(api: Api, namespace: str) -> None:
    base = f"/api/v1/namespaces/{namespace}/configmaps"
    await api.ok("POST", base, configmap("keep", labels={"app": "other"}))
    await api.ok("POST", base, configmap("go1", labels={"app": "gone"}))
    await api.ok("POST", base, configmap("go2", labels={"app": "gone"}))
    answer = await api.ok("DELETE", base, params={"labelSelector": "app=gone"})
    assert answer["kind"] == "ConfigMapList"
    assert sorted(item["metadata"]["name"] for item in answer["items"]) == ["go1", "go2"]
    remaining = await api.ok("GET", base)
    assert [item["metadata"]["name"] for item in remaining["items"]] == ["keep"]
