"""``dryRun=All`` on every write verb: the answer shows the result, the store keeps nothing.

Covers: create, update (PUT), patch and delete with ``dryRun=All`` — each answers as the real
write would, and afterwards the object (or its absence) and the list's resourceVersion are
unchanged; an unsupported dryRun value (400).
Leaves out: dry runs of subresources and of deletecollection.
"""

from __future__ import annotations

from component_http import Api, assert_status, configmap

DRY = {"dryRun": "All"}


async def _revision(api: Api, path: str) -> str:
    return str((await api.ok("GET", path))["metadata"]["resourceVersion"])


async def test_dry_run_create_stores_nothing(api: Api, namespace: str) -> None:
    base = f"/api/v1/namespaces/{namespace}/configmaps"
    before = await _revision(api, base)
    reply = await api.post(base, configmap("dry"), params=DRY)
    assert reply.status == 201, reply.raw
    assert reply.body["metadata"]["name"] == "dry" and reply.body["metadata"]["uid"]
    listed = await api.ok("GET", base)
    assert listed["items"] == []
    assert listed["metadata"]["resourceVersion"] == before
    assert_status(await api.get(f"{base}/dry"), 404, "NotFound")


async def test_dry_run_update_patch_and_delete_change_nothing(api: Api, namespace: str) -> None:
    base = f"/api/v1/namespaces/{namespace}/configmaps"
    created = await api.ok("POST", base, configmap("c", {"k": "v"}))
    before = await _revision(api, base)

    updated = await api.ok("PUT", f"{base}/c", configmap("c", {"k": "put"}), params=DRY)
    assert updated["data"] == {"k": "put"}
    patched = await api.ok("PATCH", f"{base}/c", {"data": {"k": "patch"}}, params=DRY,
                           content_type="application/merge-patch+json")
    assert patched["data"] == {"k": "patch"}
    deleted = await api.ok("DELETE", f"{base}/c", params=DRY)
    assert deleted["status"] == "Success"

    stored = await api.ok("GET", f"{base}/c")
    assert stored["data"] == {"k": "v"}
    assert stored["metadata"]["resourceVersion"] == created["metadata"]["resourceVersion"]
    assert await _revision(api, base) == before


async def test_unsupported_dry_run_value_is_bad_request(api: Api, namespace: str) -> None:
    reply = await api.post(f"/api/v1/namespaces/{namespace}/configmaps", configmap("x"),
                           params={"dryRun": "Some"})
    assert_status(reply, 400, "BadRequest")
    assert (await api.ok("GET", f"/api/v1/namespaces/{namespace}/configmaps"))["items"] == []
