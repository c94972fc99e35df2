"""``dryRun`` wherever upstream takes it: the answer shows the result, the store keeps nothing.

Covers: create, update (PUT), patch and delete with ``?dryRun=All``; delete with ``dryRun`` in the
DeleteOptions *body* (where ``kubectl delete --dry-run=server`` puts it), for a configmap and for
a pod bound to a node (graceful deletion); deletecollection with dryRun in the query and in the
body; the status and scale subresources. Each time the object (or its absence) and the
collection's resourceVersion are unchanged afterwards. Invalid values are refused with upstream's
422 (``CreateOptions.meta.k8s.io "" is invalid: dryRun: Unsupported value: ["Some"]: supported
values: "All"``), in the query and in the body, before anything is written; and, as upstream, a
non-empty DeleteOptions body replaces the query (a query ``dryRun`` beside a body is ignored).
Leaves out: dry runs of binding/eviction/action (their own tests) and of tenants (controllers).
"""

from __future__ import annotations

from component_http import Api, assert_status, configmap, deployment, pod

DRY = {"dryRun": "All"}
DRY_BODY = {"kind": "DeleteOptions", "apiVersion": "v1", "dryRun": ["All"]}


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


async def test_dry_run_in_the_delete_options_body_keeps_the_object(api: Api, namespace: str) -> None:
    base = f"/api/v1/namespaces/{namespace}/configmaps"
    created = await api.ok("POST", base, configmap("kept"))
    before = await _revision(api, base)
    answer = await api.ok("DELETE", f"{base}/kept", DRY_BODY)
    assert answer["status"] == "Success" and answer["details"]["name"] == "kept"
    stored = await api.ok("GET", f"{base}/kept")
    assert stored["metadata"]["uid"] == created["metadata"]["uid"]
    assert "deletionTimestamp" not in stored["metadata"]
    assert await _revision(api, base) == before


async def test_dry_run_graceful_pod_deletion_keeps_the_pod(api: Api, namespace: str) -> None:
    base = f"/api/v1/namespaces/{namespace}/pods"
    await api.ok("POST", base, pod("p", node="node-a"))
    before = await _revision(api, base)
    answer = await api.ok("DELETE", f"{base}/p", {**DRY_BODY, "gracePeriodSeconds": 30})
    assert answer["metadata"]["deletionTimestamp"], "the answer shows what the delete would do"
    stored = await api.ok("GET", f"{base}/p")
    assert "deletionTimestamp" not in stored["metadata"]
    assert await _revision(api, base) == before


async def test_dry_run_deletecollection_deletes_nothing(api: Api, namespace: str) -> None:
    base = f"/api/v1/namespaces/{namespace}/configmaps"
    for name in ("a", "b"):
        await api.ok("POST", base, configmap(name, labels={"set": "x"}))
    before = await _revision(api, base)
    by_query = await api.ok("DELETE", base, params={"labelSelector": "set=x", **DRY})
    assert sorted(item["metadata"]["name"] for item in by_query["items"]) == ["a", "b"]
    await api.ok("DELETE", base, DRY_BODY, params={"labelSelector": "set=x"})
    listed = await api.ok("GET", base)
    assert sorted(item["metadata"]["name"] for item in listed["items"]) == ["a", "b"]
    assert listed["metadata"]["resourceVersion"] == before


async def test_dry_run_status_and_scale_subresources(api: Api, namespace: str) -> None:
    base = f"/apis/apps/v1/namespaces/{namespace}/deployments"
    created = await api.ok("POST", base, deployment("web", replicas=1))
    before = created["metadata"]["resourceVersion"]
    created["status"] = {"replicas": 5, "observedGeneration": 9}
    status = await api.ok("PUT", f"{base}/web/status", created, params=DRY)
    assert status["status"]["replicas"] == 5
    scaled = await api.ok("PATCH", f"{base}/web/scale", {"spec": {"replicas": 7}}, params=DRY,
                          content_type="application/merge-patch+json")
    assert scaled["spec"]["replicas"] == 7
    stored = await api.ok("GET", f"{base}/web")
    assert stored["metadata"]["resourceVersion"] == before
    assert stored["spec"]["replicas"] == 1 and not stored.get("status", {}).get("replicas")


async def test_unsupported_dry_run_values_are_invalid(api: Api, namespace: str) -> None:
    base = f"/api/v1/namespaces/{namespace}/configmaps"
    status = assert_status(await api.post(base, configmap("x"), params={"dryRun": "Some"}),
                           422, "Invalid")
    assert status["message"] == ('CreateOptions.meta.k8s.io "" is invalid: dryRun: Unsupported value: '
                                 '["Some"]: supported values: "All"')
    assert status["details"] == {"kind": "CreateOptions", "group": "meta.k8s.io", "causes": [
        {"reason": "FieldValueNotSupported", "field": "dryRun",
         "message": 'Unsupported value: ["Some"]: supported values: "All"'}]}
    assert (await api.ok("GET", base))["items"] == []

    await api.ok("POST", base, configmap("y"))
    put = await api.put(f"{base}/y", configmap("y", {"k": "changed"}), params=[("dryRun", "All"),
                                                                             ("dryRun", "x")])
    assert assert_status(put, 422, "Invalid")["message"].startswith('UpdateOptions.meta.k8s.io "" is invalid')
    for reply in (await api.delete(f"{base}/y", {"dryRun": ["Nope"]}),
                  await api.delete(f"{base}/y", params={"dryRun": "Nope"}),
                  await api.delete(base, {"dryRun": ["Nope"]})):
        status = assert_status(reply, 422, "Invalid")
        assert status["message"] == ('DeleteOptions.meta.k8s.io "" is invalid: dryRun: Unsupported value: '
                                     '["Nope"]: supported values: "All"')
    assert (await api.ok("GET", f"{base}/y"))["data"] == {"k": "v"}


async def test_a_delete_options_body_replaces_the_query(api: Api, namespace: str) -> None:
    """Upstream reads DeleteOptions from the body when there is one, else from the query."""
    base = f"/api/v1/namespaces/{namespace}/configmaps"
    await api.ok("POST", base, configmap("gone"))
    await api.ok("DELETE", f"{base}/gone", {"kind": "DeleteOptions", "apiVersion": "v1"}, params=DRY)
    assert_status(await api.get(f"{base}/gone"), 404, "NotFound")
