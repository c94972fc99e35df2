"""Overload protection against a real server process: priority and fairness, max-in-flight limits,
the request timeout, and LISTs that stream.

Covers: with priority and fairness (global-default shrunk to one seat by small in-flight flags), a
flood from tenant acme overflows its queues and gets 429 TooManyRequests Statuses with
``Retry-After: 1`` while tenant globex's request is queued, not refused, and served; system:admin is
exempt; watches take no seat; a client that hangs up while running gives its seat back, and one
that hangs up while queued is dropped ("cancelled") instead of taking a seat; the
``X-Kubernetes-PF-*`` headers and the flow-control metrics. With
``--enable-priority-and-fairness=false``, mutating and read-only requests are limited apart and
system:masters is served past the limit. ``--request-timeout`` answers upstream's 504 Timeout
Status and stores nothing. A LIST bigger than one chunk streams with an exact Content-Length and
stays correct as JSON, Table, YAML, with selectors and limit/continue.
Leaves out: fairness under sustained load and memory figures (bench/overload_bench.py), queue
ordering details (test/unit/test_flowcontrol_queueset.py).
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator

import aiohttp
import orjson
import pytest
import yaml
from apiserver_process import ApiServerProcess, ServerFactory
from component_http import Api, configmap
from flowcontrol_env import (
    NAMESPACE,
    SEEN,
    bearer,
    make_tenants,
    metric,
    raw_get,
    stalled_post,
    until_metric,
    write_token_file,
)

CM_PATH = f"/api/v1/namespaces/{NAMESPACE}/configmaps"


def tenant_path(tenant: str) -> str:
    """The ConfigMaps of ``tenant``'s namespace as the system admin addresses them."""
    return f"/api/v1/tenants/{tenant}/namespaces/{NAMESPACE}/configmaps"


REJECTED = "apiserver_flowcontrol_rejected_requests_total"
FLOW_SCHEMA_UID, LEVEL_UID = "X-Kubernetes-PF-FlowSchema-UID", "X-Kubernetes-PF-PriorityLevel-UID"
LEVEL = {"priority_level": "global-default", "flow_schema": "global-default"}
SEATS = "apiserver_flowcontrol_current_executing_seats"
IN_QUEUE = "apiserver_flowcontrol_current_inqueue_requests"
TOO_MANY = "Too many requests, please try again later."


def tenant_server(start: ServerFactory, tmp_path_factory: pytest.TempPathFactory,
                  *flags: str) -> ApiServerProcess:
    tokens = write_token_file(tmp_path_factory.mktemp("tokens"))
    server = start("--token-auth-file", str(tokens), *flags)
    asyncio.run(make_tenants(server.url))
    return server


@pytest.fixture(scope="module")
def fair_server(server_factory: ServerFactory, tmp_path_factory: pytest.TempPathFactory) -> ApiServerProcess:
    """1 + 1 in-flight seats: global-default gets one seat (ceil(2 x 20 / 245))."""
    return tenant_server(server_factory, tmp_path_factory, "--max-requests-inflight", "1",
                         "--max-mutating-requests-inflight", "1")


@pytest.fixture(scope="module")
def limited_server(server_factory: ServerFactory,
                   tmp_path_factory: pytest.TempPathFactory) -> ApiServerProcess:
    return tenant_server(server_factory, tmp_path_factory, "--enable-priority-and-fairness=false",
                         "--max-requests-inflight", "1", "--max-mutating-requests-inflight", "1")


@pytest.fixture
async def session() -> AsyncIterator[aiohttp.ClientSession]:
    connector = aiohttp.TCPConnector(limit=0)
    async with aiohttp.ClientSession(connector=connector, timeout=aiohttp.ClientTimeout(total=60)) as s:
        yield s


def assert_too_many_requests(status: int, headers: object, body: bytes) -> None:
    assert status == 429
    assert headers["Retry-After"] == "1"  # type: ignore[index]
    assert orjson.loads(body) == {
        "kind": "Status", "apiVersion": "v1", "metadata": {}, "status": "Failure", "message": TOO_MANY,
        "reason": "TooManyRequests", "details": {"retryAfterSeconds": 1}, "code": 429}


async def test_a_tenants_flood_is_refused_while_another_tenant_is_served(
        fair_server: ApiServerProcess, session: aiohttp.ClientSession) -> None:
    url, acme, globex = fair_server.url, Api(session, fair_server.url), Api(session, fair_server.url)
    holder = await stalled_post(fair_server.port, "acme", "held")
    await until_metric(url, SEATS, 1, priority_level="global-default")
    # acme's flow is dealt 6 of 128 queues of 50: 300 wait, the rest are refused at once.
    flood = [asyncio.create_task(acme.get(f"{CM_PATH}/{SEEN}", headers=bearer("acme"))) for _ in range(320)]
    await until_metric(url, IN_QUEUE, 300, **LEVEL)
    for _ in range(200):
        if sum(t.done() for t in flood) >= 20:
            break
        await asyncio.sleep(0.05)
    refused_tasks = [t for t in flood if t.done()]
    refused = [t.result() for t in refused_tasks]
    assert len(refused) == 20
    for reply in refused:
        assert_too_many_requests(reply.status, reply.headers, reply.raw)
        assert reply.headers[LEVEL_UID]
    assert await metric(url, REJECTED, **LEVEL, reason="queue-full") == 20
    # globex lands in its own queue: it waits for the seat like everyone, but is not refused.
    other = asyncio.create_task(globex.get(f"{CM_PATH}/{SEEN}", headers=bearer("globex")))
    await until_metric(url, IN_QUEUE, 301, **LEVEL)
    admin = await Api(session, url).get(tenant_path("acme") + f"/{SEEN}")  # exempt
    assert admin.status == 200 and not other.done()
    assert (await holder.finish())[0] == 201
    served = await other
    assert served.status == 200 and served.body["metadata"]["tenant"] == "globex"
    assert {(await t).status for t in flood if t not in refused_tasks} == {200}
    await until_metric(url, SEATS, 0, priority_level="global-default")


async def test_watches_take_no_seat(fair_server: ApiServerProcess, session: aiohttp.ClientSession) -> None:
    holder = await stalled_post(fair_server.port, "acme", "held-for-watches")
    await until_metric(fair_server.url, SEATS, 1, priority_level="global-default")
    watches = [await session.get(f"{fair_server.url}{CM_PATH}", headers=bearer(tenant),
                                 params={"watch": "true", "resourceVersion": "0"})
               for tenant in ("acme", "globex", "acme")]
    try:
        for watch in watches:
            assert watch.status == 200
            event = orjson.loads(await asyncio.wait_for(watch.content.readline(), 10))
            assert event["type"] == "ADDED" and event["object"]["kind"] == "ConfigMap"
    finally:
        for watch in watches:
            watch.close()
    assert (await holder.finish())[0] == 201


async def test_a_client_that_hangs_up_gives_its_seat_and_its_place_back(
        fair_server: ApiServerProcess, session: aiohttp.ClientSession) -> None:
    url = fair_server.url
    cancelled = await metric(url, REJECTED, **LEVEL, reason="cancelled")
    holder = await stalled_post(fair_server.port, "acme", "never")
    await until_metric(url, SEATS, 1, priority_level="global-default")
    queued = await raw_get(fair_server.port, "globex", f"{CM_PATH}/{SEEN}")
    await until_metric(url, IN_QUEUE, 1, **LEVEL)
    queued.hang_up()
    waiting = asyncio.create_task(Api(session, url).get(f"{CM_PATH}/{SEEN}", headers=bearer("acme")))
    await until_metric(url, IN_QUEUE, 2, **LEVEL)
    started = time.monotonic()
    holder.hang_up()  # the running create loses its client: its seat comes back at once
    assert (await waiting).status == 200
    assert time.monotonic() - started < 5  # not the 60 s request timeout
    assert await metric(url, REJECTED, **LEVEL, reason="cancelled") == cancelled + 1
    await until_metric(url, SEATS, 0, priority_level="global-default")
    assert (await Api(session, url).get(f"{CM_PATH}/never", headers=bearer("acme"))).status == 404


async def test_responses_name_their_flow_schema_and_priority_level(
        fair_server: ApiServerProcess, session: aiohttp.ClientSession) -> None:
    api = Api(session, fair_server.url)
    tenant = await api.get(f"{CM_PATH}/{SEEN}", headers=bearer("acme"))
    missing = await api.get(f"{CM_PATH}/absent", headers=bearer("acme"))
    admin = await api.get("/api/v1/namespaces/default")
    assert tenant.status == 200 and missing.status == 404
    assert tenant.headers[FLOW_SCHEMA_UID] == missing.headers[FLOW_SCHEMA_UID]
    assert tenant.headers[LEVEL_UID] != admin.headers[LEVEL_UID]
    assert "global-default" not in str(dict(tenant.headers))  # UIDs, never names (upstream)
    assert await metric(fair_server.url, "apiserver_flowcontrol_nominal_limit_seats",
                        priority_level="global-default") == 1


async def test_mutating_and_read_only_requests_are_limited_apart(
        limited_server: ApiServerProcess, session: aiohttp.ClientSession) -> None:
    url, api = limited_server.url, Api(session, limited_server.url)
    inflight = "apiserver_current_inflight_requests"
    holder = await stalled_post(limited_server.port, "acme", "held")
    await until_metric(url, inflight, 1, request_kind="mutating")
    refused = await api.post(CM_PATH, configmap("second"), headers=bearer("globex"))
    assert_too_many_requests(refused.status, refused.headers, refused.raw)
    assert (await api.get(f"{CM_PATH}/{SEEN}", headers=bearer("globex"))).status == 200
    assert (await api.post(tenant_path("globex"), configmap("by-admin"))).status == 201
    # A LIST at a revision the store has not reached waits (3 s) for it, holding a read-only slot.
    reader = asyncio.create_task(api.get(CM_PATH, headers=bearer("acme"),
                                         params={"resourceVersion": "999999999"}))
    await until_metric(url, inflight, 1, request_kind="readOnly")
    refused = await api.get(f"{CM_PATH}/{SEEN}", headers=bearer("globex"))
    assert_too_many_requests(refused.status, refused.headers, refused.raw)
    assert (await api.get(tenant_path("globex") + f"/{SEEN}")).status == 200  # system:masters
    async with session.get(f"{url}{CM_PATH}", headers=bearer("globex"),
                           params={"watch": "true", "resourceVersion": "0"}) as watch:
        assert watch.status == 200  # long-running: not counted
        assert orjson.loads(await asyncio.wait_for(watch.content.readline(), 10))["type"] == "ADDED"
    assert (await reader).status == 504
    assert (await holder.finish())[0] == 201
    assert (await api.post(CM_PATH, configmap("second"), headers=bearer("globex"))).status == 201
    assert await metric(url, "apiserver_dropped_requests_total", request_kind="mutating") == 1
    assert await metric(url, "apiserver_dropped_requests_total", request_kind="readOnly") == 1


async def test_a_request_past_the_request_timeout_is_answered_504(
        server_factory: ServerFactory, tmp_path_factory: pytest.TempPathFactory,
        session: aiohttp.ClientSession) -> None:
    server = await asyncio.to_thread(tenant_server, server_factory, tmp_path_factory,
                                     "--request-timeout", "2s")
    started = time.monotonic()
    stalled = await stalled_post(server.port, "acme", "too-slow")
    status, body = await asyncio.wait_for(stalled.response(), 20)
    assert 1.5 < time.monotonic() - started < 15
    assert status == 504
    assert orjson.loads(body) == {
        "kind": "Status", "apiVersion": "v1", "metadata": {}, "status": "Failure",
        "message": "Timeout: request did not complete within the allotted timeout", "reason": "Timeout",
        "details": {}, "code": 504}
    api = Api(session, server.url)
    assert (await api.get(f"{CM_PATH}/too-slow", headers=bearer("acme"))).status == 404
    assert await metric(server.url, "apiserver_request_terminations_total", verb="create", group="",
                        resource="configmaps", code="504") == 1


async def test_a_list_bigger_than_a_chunk_streams_and_stays_correct(
        fair_server: ApiServerProcess, session: aiohttp.ClientSession) -> None:
    api, base = Api(session, fair_server.url), tenant_path("globex")
    await asyncio.gather(*(api.ok("POST", base, configmap(f"big-{i:03}", {"k": "x" * 2048},
                                                          labels={"half": str(i % 2)}))
                           for i in range(150)))
    async with session.get(fair_server.url + base) as response:
        raw = await response.read()
        assert response.headers["Content-Length"] == str(len(raw)) and len(raw) > 300_000
    listed = orjson.loads(raw)
    names = [o["metadata"]["name"] for o in listed["items"]]
    assert listed["kind"] == "ConfigMapList" and names == sorted(names) and len(names) == 151
    revision = listed["metadata"]["resourceVersion"]
    table = await api.ok("GET", base, headers={"Accept": "application/json;as=Table;v=v1;g=meta.k8s.io"})
    assert [row["cells"][0] for row in table["rows"]] == names
    assert table["metadata"]["resourceVersion"] == revision
    as_yaml = await api.get(base, headers={"Accept": "application/yaml"})
    assert [o["metadata"]["name"] for o in yaml.safe_load(as_yaml.raw)["items"]] == names
    half = await api.ok("GET", base, params={"labelSelector": "half=1"})
    assert len(half["items"]) == 75
    paged, token = [], ""
    while True:
        page = await api.ok("GET", base, params={"limit": "40", **({"continue": token} if token else {})})
        paged += [o["metadata"]["name"] for o in page["items"]]
        assert page["metadata"]["resourceVersion"] == revision
        token = page["metadata"].get("continue", "")
        if not token:
            break
    assert paged == names
