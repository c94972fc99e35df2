"""Create, get and update over raw HTTP, checked against upstream's codes and Status texts.

Covers: create (201 with uid, creationTimestamp, resourceVersion, generation, Arktos's
metadata.tenant/hashKey; generateName), get, update with a stale resourceVersion (409 Conflict,
upstream's message), update without resourceVersion, update of a missing object (404), create twice
(409 AlreadyExists), create into a missing namespace (404), namespace mismatch body/path (400), name
mismatch on PUT (400), the Arktos tenant path form addressing the same object as the short path.
Leaves out: patch, delete, subresources, validation details (their own files and the unit tests).
"""

from __future__ import annotations

import re

from component_http import Api, assert_status, configmap, deployment

UID = re.compile(r"^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$")
TIMESTAMP = re.compile(r"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ$")


async def test_create_stamps_server_owned_metadata(api: Api, namespace: str) -> None:
    reply = await api.post(f"/apis/apps/v1/namespaces/{namespace}/deployments", deployment("web"))
    assert reply.status == 201, reply.raw
    meta = reply.body["metadata"]
    assert UID.match(meta["uid"])
    assert TIMESTAMP.match(meta["creationTimestamp"])
    assert int(meta["resourceVersion"]) > 0
    assert meta["generation"] == 1
    assert meta["tenant"] == "system"
    assert isinstance(meta["hashKey"], int) and 0 <= meta["hashKey"] < 2**63
    assert meta["namespace"] == namespace
    assert reply.body["kind"] == "Deployment" and reply.body["apiVersion"] == "apps/v1"

    got = await api.ok("GET", f"/apis/apps/v1/namespaces/{namespace}/deployments/web")
    assert got["metadata"] == meta


async def test_generate_name_gets_a_random_suffix(api: Api, namespace: str) -> None:
    body = configmap("")
    body["metadata"] = {"generateName": "cfg-"}
    first = await api.ok("POST", f"/api/v1/namespaces/{namespace}/configmaps", body)
    second = await api.ok("POST", f"/api/v1/namespaces/{namespace}/configmaps", body)
    for created in (first, second):
        assert re.match(r"^cfg-[a-z0-9]{5}$", created["metadata"]["name"])
        assert created["metadata"]["generateName"] == "cfg-"
    assert first["metadata"]["name"] != second["metadata"]["name"]


async def test_update_with_stale_resource_version_is_a_conflict(api: Api, namespace: str) -> None:
    path = f"/api/v1/namespaces/{namespace}/configmaps/c1"
    created = await api.ok("POST", f"/api/v1/namespaces/{namespace}/configmaps", configmap("c1"))
    fresh = dict(created, data={"k": "v2"})
    await api.ok("PUT", path, fresh)

    stale = dict(created, data={"k": "v3"})
    status = assert_status(await api.put(path, stale), 409, "Conflict")
    assert status["message"] == (
        'Operation cannot be fulfilled on configmaps "c1": the object has been modified; '
        "please apply your changes to the latest version and try again")
    assert status["details"]["name"] == "c1" and status["details"]["kind"] == "configmaps"
    assert (await api.ok("GET", path))["data"] == {"k": "v2"}


async def test_update_without_resource_version_overwrites(api: Api, namespace: str) -> None:
    path = f"/api/v1/namespaces/{namespace}/configmaps/c1"
    created = await api.ok("POST", f"/api/v1/namespaces/{namespace}/configmaps", configmap("c1"))
    updated = await api.ok("PUT", path, configmap("c1", {"k": "new"}))
    assert updated["data"] == {"k": "new"}
    assert updated["metadata"]["uid"] == created["metadata"]["uid"]
    assert updated["metadata"]["creationTimestamp"] == created["metadata"]["creationTimestamp"]
    assert int(updated["metadata"]["resourceVersion"]) > int(created["metadata"]["resourceVersion"])


async def test_update_of_a_missing_object_is_not_found(api: Api, namespace: str) -> None:
    reply = await api.put(f"/api/v1/namespaces/{namespace}/configmaps/nope", configmap("nope"))
    status = assert_status(reply, 404, "NotFound")
    assert status["message"] == 'configmaps "nope" not found'


async def test_create_twice_is_already_exists(api: Api, namespace: str) -> None:
    path = f"/api/v1/namespaces/{namespace}/configmaps"
    await api.ok("POST", path, configmap("dup"))
    status = assert_status(await api.post(path, configmap("dup")), 409, "AlreadyExists")
    assert status["message"] == 'configmaps "dup" already exists'
    assert status["details"] == {"name": "dup", "kind": "configmaps"}


async def test_create_into_a_missing_namespace_is_not_found(api: Api) -> None:
    reply = await api.post("/api/v1/namespaces/x/configmaps", configmap("c"))
    status = assert_status(reply, 404, "NotFound")
    assert status["message"] == 'namespaces "x" not found'


async def test_namespace_in_body_must_match_the_path(api: Api, namespace: str) -> None:
    reply = await api.post(f"/api/v1/namespaces/{namespace}/configmaps",
                           configmap("c", namespace="elsewhere"))
    status = assert_status(reply, 400, "BadRequest")
    assert "does not match the namespace" in status["message"]
    listed = await api.ok("GET", f"/api/v1/namespaces/{namespace}/configmaps")
    assert listed["items"] == []


async def test_name_in_body_must_match_the_path_on_put(api: Api, namespace: str) -> None:
    await api.ok("POST", f"/api/v1/namespaces/{namespace}/configmaps", configmap("a"))
    reply = await api.put(f"/api/v1/namespaces/{namespace}/configmaps/a", configmap("b"))
    status = assert_status(reply, 400, "BadRequest")
    assert "does not match the name on the URL" in status["message"]


async def test_get_of_a_missing_object_names_group_and_resource(api: Api, namespace: str) -> None:
    status = assert_status(await api.get(f"/apis/apps/v1/namespaces/{namespace}/deployments/gone"),
                           404, "NotFound")
    assert status["message"] == 'deployments.apps "gone" not found'
    assert status["details"] == {"name": "gone", "group": "apps", "kind": "deployments"}


async def test_tenant_path_addresses_the_same_object(api: Api, namespace: str) -> None:
    short = f"/api/v1/namespaces/{namespace}/configmaps"
    tenanted = f"/api/v1/tenants/system/namespaces/{namespace}/configmaps"
    created = await api.ok("POST", tenanted, configmap("t"))
    assert created["metadata"]["tenant"] == "system"
    assert (await api.ok("GET", f"{short}/t"))["metadata"]["uid"] == created["metadata"]["uid"]
    prefixed = await api.ok("GET", f"/tenants/system{short}/t")
    assert prefixed["metadata"]["uid"] == created["metadata"]["uid"]
    assert_status(await api.get(f"/api/v1/tenants/nobody/namespaces/{namespace}/configmaps/t"),
                  404, "NotFound")
