"""The client runtime against a real API server process: ApiClient, watch, Informer, controllers.

Covers: CRUD through long tenant paths and the typed error tree (NotFound, AlreadyExists,
Conflict, Unprocessable); every patch type; delete_collection; paginated list_all; a watch's
events and its end on timeoutSeconds; Gone for a resourceVersion older than the server's history
(``--watch-history 3``); an informer that relists after 410 and one that converges under
concurrent writers; retries honouring Retry-After for 429/503 and giving up on a dead port (a
stub aiohttp server on loopback plays the failing server); a registered controller with N
workers whose failing reconciles are retried and which stops cleanly; the admin kubeconfig of a
TLS server (client certificate) works and a client without credentials is refused. Leaves out
token and service-account credentials and leader election (issue 4).
"""

from __future__ import annotations

import asyncio
import contextlib
import uuid
from collections.abc import AsyncIterator, Callable, Hashable
from typing import Any

import pytest
from aiohttp import web
from apiserver_process import ApiServerProcess, free_port, start_apiserver

from client import errors
from client.cache import ObjectKey
from client.config import ClientConfig, config_for_url, load_kubeconfig
from client.controller import Controller, ControllerRunner, RuntimeSettings, Watch
from client.informer import Informer
from client.informer_factory import InformerView
from client.resources import CONFIGMAPS, NAMESPACES, TENANTS, ResourceRef
from client.rest import ApiClient
from client.retry import RetryPolicy


@pytest.fixture
async def client(apiserver: ApiServerProcess) -> AsyncIterator[ApiClient]:
    async with ApiClient(config_for_url(apiserver.url)) as api_client:
        yield api_client


async def new_tenant_namespace(client: ApiClient) -> tuple[str, str]:
    """A fresh tenant with one namespace, so tests never see each other's objects."""
    tenant = f"rt-{uuid.uuid4().hex[:8]}"
    await client.create(TENANTS, {"apiVersion": "v1", "kind": "Tenant", "metadata": {"name": tenant}})
    await client.create(NAMESPACES, {"metadata": {"name": "work"}}, tenant=tenant)
    return tenant, "work"


async def poll_until(condition: Callable[[], bool], *, limit_s: float = 10.0) -> None:
    """Waits (bounded) until ``condition()`` holds, checking every 20 ms."""
    for _ in range(int(limit_s / 0.02)):
        if condition():
            return
        await asyncio.sleep(0.02)
    raise AssertionError(f"condition not reached within {limit_s}s")


def configmap(name: str, **data: str) -> dict[str, Any]:
    return {"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": name}, "data": data}


async def test_crud_through_long_tenant_paths(client: ApiClient) -> None:
    tenant, ns = await new_tenant_namespace(client)
    created = await client.create(CONFIGMAPS, configmap("web", a="1"), tenant=tenant, namespace=ns)
    assert created["metadata"]["tenant"] == tenant
    fetched = await client.get(CONFIGMAPS, "web", tenant=tenant, namespace=ns)
    fetched["data"]["a"] = "2"
    updated = await client.update(CONFIGMAPS, fetched)  # tenant and namespace from metadata
    assert updated["data"] == {"a": "2"}
    with pytest.raises(errors.Conflict) as conflict:
        await client.update(CONFIGMAPS, fetched)  # stale resourceVersion
    assert not isinstance(conflict.value, errors.AlreadyExists)
    merged = await client.patch(CONFIGMAPS, "web", {"data": {"b": "3"}}, tenant=tenant, namespace=ns)
    strategic = await client.patch(CONFIGMAPS, "web", {"metadata": {"labels": {"x": "y"}}},
                                   patch_type="strategic", tenant=tenant, namespace=ns)
    json_patched = await client.patch(CONFIGMAPS, "web", [{"op": "remove", "path": "/data/a"}],
                                      patch_type="json", tenant=tenant, namespace=ns)
    assert merged["data"] == {"a": "2", "b": "3"}
    assert strategic["metadata"]["labels"] == {"x": "y"}
    assert json_patched["data"] == {"b": "3"}
    with pytest.raises(errors.AlreadyExists):
        await client.create(CONFIGMAPS, configmap("web"), tenant=tenant, namespace=ns)
    with pytest.raises(errors.Unprocessable) as invalid:
        await client.create(CONFIGMAPS, configmap("Not_Valid"), tenant=tenant, namespace=ns)
    assert invalid.value.status["reason"] == "Invalid"
    await client.delete(CONFIGMAPS, "web", tenant=tenant, namespace=ns)
    with pytest.raises(errors.NotFound) as missing:
        await client.get(CONFIGMAPS, "web", tenant=tenant, namespace=ns)
    assert missing.value.details.get("name") == "web"


async def test_same_name_in_two_tenants_and_paged_lists(client: ApiClient) -> None:
    first, ns = await new_tenant_namespace(client)
    second, _ = await new_tenant_namespace(client)
    await client.create(CONFIGMAPS, configmap("web", who="first"), tenant=first, namespace=ns)
    await client.create(CONFIGMAPS, configmap("web", who="second"), tenant=second, namespace=ns)
    assert (await client.get(CONFIGMAPS, "web", tenant=second, namespace=ns))["data"] == {"who": "second"}
    for index in range(7):
        await client.create(CONFIGMAPS, configmap(f"cm-{index}"), tenant=first, namespace=ns)
    listed = await client.list_all(CONFIGMAPS, tenant=first, namespace=ns, page_size=3)
    assert len(listed["items"]) == 8 and listed["metadata"]["resourceVersion"]
    await client.delete_collection(CONFIGMAPS, tenant=first, namespace=ns)
    assert (await client.list(CONFIGMAPS, tenant=first, namespace=ns))["items"] == []
    assert len((await client.list(CONFIGMAPS, tenant=second, namespace=ns))["items"]) == 1


async def test_watch_streams_events_and_ends_at_timeout(client: ApiClient) -> None:
    tenant, ns = await new_tenant_namespace(client)
    start_rv = (await client.list(CONFIGMAPS, tenant=tenant, namespace=ns))["metadata"]["resourceVersion"]
    await client.create(CONFIGMAPS, configmap("a"), tenant=tenant, namespace=ns)
    await client.patch(CONFIGMAPS, "a", {"data": {"k": "v"}}, tenant=tenant, namespace=ns)
    await client.delete(CONFIGMAPS, "a", tenant=tenant, namespace=ns)
    seen = []
    async with asyncio.timeout(10):
        async for event_type, obj in client.watch(CONFIGMAPS, tenant=tenant, namespace=ns,
                                                  resource_version=start_rv, timeout_seconds=1,
                                                  allow_bookmarks=False):
            seen.append((event_type, obj["metadata"]["name"]))
    assert seen == [("ADDED", "a"), ("MODIFIED", "a"), ("DELETED", "a")]


@pytest.fixture(scope="module")
def short_history_server(server_factory: Any) -> ApiServerProcess:
    server: ApiServerProcess = server_factory("--watch-history", "3")
    return server


async def test_watch_from_expired_resource_version_raises_gone(
        short_history_server: ApiServerProcess) -> None:
    async with ApiClient(config_for_url(short_history_server.url)) as client:
        tenant, ns = await new_tenant_namespace(client)
        first = await client.create(CONFIGMAPS, configmap("c0"), tenant=tenant, namespace=ns)
        for index in range(1, 8):
            await client.create(CONFIGMAPS, configmap(f"c{index}"), tenant=tenant, namespace=ns)
        with pytest.raises(errors.Gone):
            async with asyncio.timeout(10):
                async for _ in client.watch(CONFIGMAPS, tenant=tenant, namespace=ns,
                                            resource_version=first["metadata"]["resourceVersion"]):
                    pass


class GatedWatchClient(ApiClient):
    """Holds the informer's first watch back until the test has pushed its RV out of history."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.gate = asyncio.Event()
        self.watch_requested = asyncio.Event()

    async def watch(self, ref: ResourceRef, **kwargs: Any) -> Any:  # type: ignore[override]
        self.watch_requested.set()
        await self.gate.wait()
        async for event in super().watch(ref, **kwargs):
            yield event


async def test_informer_relists_after_gone_and_catches_up(short_history_server: ApiServerProcess) -> None:
    async with GatedWatchClient(config_for_url(short_history_server.url)) as client:
        tenant, ns = await new_tenant_namespace(client)
        await client.create(CONFIGMAPS, configmap("before"), tenant=tenant, namespace=ns)
        informer = Informer(client, CONFIGMAPS, tenant=tenant, namespace=ns)
        task = asyncio.create_task(informer.run())
        try:
            await asyncio.wait_for(client.watch_requested.wait(), 10)
            assert informer.relists == 1 and len(informer.objects()) == 1
            for index in range(6):  # more events than the server keeps: the list's RV expires
                await client.create(CONFIGMAPS, configmap(f"while-away-{index}"), tenant=tenant, namespace=ns)
            await client.delete(CONFIGMAPS, "before", tenant=tenant, namespace=ns)
            client.gate.set()
            await poll_until(lambda: len(informer.objects()) == 6)
            assert informer.relists == 2
            assert informer.get(ObjectKey(tenant, ns, "before")) is None
        finally:
            task.cancel()
            await asyncio.gather(task, return_exceptions=True)


async def test_informer_converges_under_concurrent_writes(client: ApiClient) -> None:
    tenant, ns = await new_tenant_namespace(client)
    informer = Informer(client, CONFIGMAPS, tenant=tenant, namespace=ns, watch_timeout_s=1)
    task = asyncio.create_task(informer.run())

    async def writer(worker: int) -> None:
        for round_ in range(15):
            name = f"w{worker}-{round_ % 5}"
            try:
                await client.create(CONFIGMAPS, configmap(name, r=str(round_)), tenant=tenant, namespace=ns)
            except errors.AlreadyExists:
                if round_ % 3 == 0:
                    await client.delete(CONFIGMAPS, name, tenant=tenant, namespace=ns)
                else:
                    await client.patch(CONFIGMAPS, name, {"data": {"r": str(round_)}},
                                       tenant=tenant, namespace=ns)

    try:
        await informer.wait_for_sync()
        await asyncio.gather(*(writer(index) for index in range(8)))
        truth = await client.list_all(CONFIGMAPS, tenant=tenant, namespace=ns)
        expected = {ObjectKey.of(o): o["metadata"]["resourceVersion"] for o in truth["items"]}
        await poll_until(lambda: {ObjectKey.of(o): o["metadata"]["resourceVersion"]
                                  for o in informer.objects()} == expected)
        assert expected  # the writers left objects behind
    finally:
        task.cancel()
        await asyncio.gather(task, return_exceptions=True)


async def test_admin_kubeconfig_over_tls(tmp_path_factory: pytest.TempPathFactory) -> None:
    server = await asyncio.to_thread(start_apiserver, tmp_path_factory.mktemp("tls"), tls=True)
    try:
        config = load_kubeconfig(server.kubeconfig)
        assert config.is_tls and config.client_cert_file
        async with ApiClient(config) as client:
            names = [t["metadata"]["name"] for t in (await client.list(TENANTS))["items"]]
            assert "system" in names
        anonymous = ClientConfig(server=config.server, ca_file=config.ca_file, ca_data=config.ca_data)
        async with ApiClient(anonymous) as client:
            with pytest.raises((errors.Unauthorized, errors.Forbidden)):
                await client.list(TENANTS)
    finally:
        await asyncio.to_thread(server.stop)


@contextlib.asynccontextmanager
async def stub_server(handler: Any) -> AsyncIterator[str]:
    app = web.Application()
    app.router.add_route("*", "/{tail:.*}", handler)
    runner = web.AppRunner(app)
    await runner.setup()
    port = free_port()
    await web.TCPSite(runner, "127.0.0.1", port).start()
    try:
        yield f"http://127.0.0.1:{port}"
    finally:
        await runner.cleanup()


async def test_retries_honour_retry_after_then_succeed() -> None:
    answers = [(429, {"Retry-After": "0.3"}), (503, {"Retry-After": "0"}), (200, {})]
    times: list[float] = []

    async def handler(request: web.Request) -> web.Response:
        times.append(asyncio.get_running_loop().time())
        status, headers = answers.pop(0)
        body = b'{"kind":"ConfigMap","metadata":{"name":"x"}}' if status == 200 else \
            b'{"kind":"Status","code":%d,"reason":"TooManyRequests"}' % status
        return web.Response(status=status, headers=headers, body=body, content_type="application/json")

    async with stub_server(handler) as url, ApiClient(config_for_url(url)) as client:
        assert (await client.get(CONFIGMAPS, "x", namespace="n"))["metadata"]["name"] == "x"
    assert len(times) == 3
    assert times[1] - times[0] >= 0.29  # waited what Retry-After said


async def test_retries_are_bounded() -> None:
    async def handler(request: web.Request) -> web.Response:
        return web.Response(status=500, body=b"boom")

    async with stub_server(handler) as url, ApiClient(
            config_for_url(url), retry=RetryPolicy(max_attempts=2, base_delay=0.01)) as client:
        with pytest.raises(errors.ServerError):
            await client.get(CONFIGMAPS, "x", namespace="n")
    dead = config_for_url(f"http://127.0.0.1:{free_port()}")
    async with ApiClient(dead, retry=RetryPolicy(max_attempts=2, base_delay=0.01)) as client:
        with pytest.raises(errors.ConnectionFailed):
            await client.get(CONFIGMAPS, "x", namespace="n")


class MirrorController(Controller):
    """Test controller: each ConfigMap ``src-*`` gets a copy ``dst-*``; every first attempt fails."""

    name = "mirror"
    workers = 3
    view: InformerView
    attempts: dict[Hashable, int]

    async def reconcile(self, key: Hashable) -> None:
        assert isinstance(key, ObjectKey)
        if not key.name.startswith("src-"):
            return
        self.attempts[key] = self.attempts.get(key, 0) + 1
        if self.attempts[key] == 1:
            raise RuntimeError("first attempt fails on purpose")
        source = self.informer(self.view).get(key)
        if source is None:
            return
        copy = configmap("dst-" + key.name[4:], **(source.get("data") or {}))
        with contextlib.suppress(errors.AlreadyExists):
            await self.client.create(CONFIGMAPS, copy, tenant=key.tenant, namespace=key.namespace)


async def test_controller_workers_retry_failures_and_stop_cleanly(client: ApiClient) -> None:
    tenant, ns = await new_tenant_namespace(client)
    view = InformerView(CONFIGMAPS, tenant=tenant, namespace=ns)
    controller_class = type("Mirror", (MirrorController,), {"view": view, "watches": (Watch(view),),
                                                            "attempts": {}})
    runner = ControllerRunner(client, [controller_class], RuntimeSettings(reconcile_timeout_s=5))
    task = asyncio.create_task(runner.run())
    try:
        for index in range(5):
            await client.create(CONFIGMAPS, configmap(f"src-{index}", n=str(index)),
                                tenant=tenant, namespace=ns)
        for _ in range(300):
            if len((await client.list(CONFIGMAPS, tenant=tenant, namespace=ns))["items"]) == 10:
                break
            await asyncio.sleep(0.05)
        copy = await client.get(CONFIGMAPS, "dst-3", tenant=tenant, namespace=ns)
        assert copy["data"] == {"n": "3"}
        assert all(count >= 2 for count in controller_class.attempts.values())
    finally:
        runner.stop()
        await asyncio.wait_for(task, 10)  # returns by itself after stop()
