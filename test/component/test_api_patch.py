"""PATCH in its three upstream flavours on the main resource, over raw HTTP.

Covers: merge patch (RFC 7386: set and null-delete), JSON patch (RFC 6902, incl. a failing
``test`` op answered 422 and storing nothing), strategic merge patch on a deployment merging the
containers list by ``name``, a patch carrying a stale ``metadata.resourceVersion`` (409), a patch
of a missing object (404), an unknown patch content type (415); concurrent patches without a
resourceVersion all land (upstream's GuaranteedUpdate re-applies a patch that lost a race to the
newer object instead of answering 409).
Leaves out: the patch algorithms' corner cases (unit tests), server-side apply, status and scale
patches (their own files).
"""

from __future__ import annotations

import asyncio

from component_http import Api, assert_status, configmap, deployment


async def test_merge_patch_sets_and_removes_keys(api: Api, namespace: str) -> None:
    path = f"/api/v1/namespaces/{namespace}/configmaps/m"
    await api.ok("POST", f"/api/v1/namespaces/{namespace}/configmaps", configmap("m", {"a": "1", "b": "2"}))
    patched = await api.ok("PATCH", path, {"data": {"a": None, "c": "3"}},
                           content_type="application/merge-patch+json")
    assert patched["data"] == {"b": "2", "c": "3"}
    assert (await api.ok("GET", path))["data"] == {"b": "2", "c": "3"}


async def test_json_patch_applies_operations(api: Api, namespace: str) -> None:
    path = f"/api/v1/namespaces/{namespace}/configmaps/j"
    await api.ok("POST", f"/api/v1/namespaces/{namespace}/configmaps", configmap("j", {"a": "1"}))
    ops = [{"op": "test", "path": "/data/a", "value": "1"},
           {"op": "add", "path": "/data/b", "value": "2"},
           {"op": "replace", "path": "/data/a", "value": "9"},
           {"op": "add", "path": "/metadata/labels", "value": {"l": "v"}}]
    patched = await api.ok("PATCH", path, ops, content_type="application/json-patch+json")
    assert patched["data"] == {"a": "9", "b": "2"}
    assert patched["metadata"]["labels"] == {"l": "v"}


async def test_json_patch_failing_test_op_is_invalid_and_stores_nothing(api: Api, namespace: str) -> None:
    path = f"/api/v1/namespaces/{namespace}/configmaps/j"
    created = await api.ok("POST", f"/api/v1/namespaces/{namespace}/configmaps", configmap("j", {"a": "1"}))
    ops = [{"op": "replace", "path": "/data/a", "value": "2"},
           {"op": "test", "path": "/data/a", "value": "1"}]
    assert_status(await api.patch(path, ops, kind="json"), 422, "Invalid")
    stored = await api.ok("GET", path)
    assert stored["data"] == {"a": "1"}
    assert stored["metadata"]["resourceVersion"] == created["metadata"]["resourceVersion"]


async def test_strategic_merge_patch_merges_containers_by_name(api: Api, namespace: str) -> None:
    containers = [{"name": "web", "image": "nginx:1.27"}, {"name": "sidecar", "image": "busybox:1"}]
    path = f"/apis/apps/v1/namespaces/{namespace}/deployments/d"
    await api.ok("POST", f"/apis/apps/v1/namespaces/{namespace}/deployments",
                 deployment("d", containers=containers))
    patch = {"spec": {"template": {"spec": {"containers": [
        {"name": "sidecar", "image": "busybox:2"}, {"name": "extra", "image": "redis:7"}]}}}}
    patched = await api.ok("PATCH", path, patch, content_type="application/strategic-merge-patch+json")
    by_name = {c["name"]: c["image"] for c in patched["spec"]["template"]["spec"]["containers"]}
    assert by_name == {"web": "nginx:1.27", "sidecar": "busybox:2", "extra": "redis:7"}

    # The same body as a merge patch replaces the whole list (RFC 7386 has no list merging).
    merged = await api.ok("PATCH", path, {"spec": {"template": {"spec": {"containers": [
        {"name": "only", "image": "redis:7"}]}}}}, content_type="application/merge-patch+json")
    assert [c["name"] for c in merged["spec"]["template"]["spec"]["containers"]] == ["only"]

    deleted = await api.ok("PATCH", path, {"spec": {"template": {"spec": {"containers": [
        {"name": "only", "$patch": "delete"}, {"name": "new", "image": "busybox"}]}}}},
        content_type="application/strategic-merge-patch+json")
    assert [c["name"] for c in deleted["spec"]["template"]["spec"]["containers"]] == ["new"]


async def test_patch_with_stale_resource_version_is_a_conflict(api: Api, namespace: str) -> None:
    path = f"/api/v1/namespaces/{namespace}/configmaps/s"
    created = await api.ok("POST", f"/api/v1/namespaces/{namespace}/configmaps", configmap("s"))
    stale_rv = created["metadata"]["resourceVersion"]
    await api.ok("PATCH", path, {"data": {"k": "2"}}, content_type="application/merge-patch+json")
    reply = await api.patch(path, {"metadata": {"resourceVersion": stale_rv}, "data": {"k": "3"}})
    status = assert_status(reply, 409, "Conflict")
    assert "the object has been modified" in status["message"]
    assert (await api.ok("GET", path))["data"] == {"k": "2"}


async def test_concurrent_patches_without_a_version_all_land(api: Api, namespace: str) -> None:
    path = f"/api/v1/namespaces/{namespace}/configmaps/racing"
    await api.ok("POST", f"/api/v1/namespaces/{namespace}/configmaps", configmap("racing"))
    kinds = ("merge", "strategic")
    replies = await asyncio.gather(*(api.patch(path, {"data": {f"k{i}": str(i)}}, kind=kinds[i % 2])
                                     for i in range(40)))
    assert [reply.status for reply in replies] == [200] * 40, [r.raw for r in replies if r.status != 200]
    data = (await api.ok("GET", path))["data"]
    assert {f"k{i}" for i in range(40)} <= set(data)


async def test_patch_with_current_resource_version_succeeds(api: Api, namespace: str) -> None:
    path = f"/api/v1/namespaces/{namespace}/configmaps/s"
    created = await api.ok("POST", f"/api/v1/namespaces/{namespace}/configmaps", configmap("s"))
    patched = await api.ok("PATCH", path, {"metadata": {"resourceVersion": created["metadata"]
                                                        ["resourceVersion"]}, "data": {"k": "3"}},
                           content_type="application/merge-patch+json")
    assert patched["data"] == {"k": "3"}


async def test_patch_of_a_missing_object_is_not_found(api: Api, namespace: str) -> None:
    for kind in ("merge", "strategic"):
        reply = await api.patch(f"/api/v1/namespaces/{namespace}/configmaps/none", {"data": {}}, kind=kind)
        status = assert_status(reply, 404, "NotFound")
        assert status["message"] == 'configmaps "none" not found'
    reply = await api.patch(f"/api/v1/namespaces/{namespace}/configmaps/none",
                            [{"op": "add", "path": "/data", "value": {}}], kind="json")
    assert_status(reply, 404, "NotFound")


async def test_patch_with_an_unknown_content_type_is_unsupported(api: Api, namespace: str) -> None:
    await api.ok("POST", f"/api/v1/namespaces/{namespace}/configmaps", configmap("u"))
    reply = await api.request("PATCH", f"/api/v1/namespaces/{namespace}/configmaps/u", {"data": {}},
                              content_type="text/plain")
    assert_status(reply, 415, "UnsupportedMediaType")
