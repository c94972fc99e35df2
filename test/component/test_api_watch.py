"""WATCH semantics over raw HTTP, as upstream's "Efficient detection of changes".

Covers: ``?watch=true`` and the legacy ``/api/v1/watch/...`` paths; a watch from a resourceVersion
replays exactly the changes after it; from "0"/unset it starts with ADDED for the current state;
a label-selector watch turns a relabel into DELETED / ADDED; ``allowWatchBookmarks`` produces
BOOKMARK events (server interval 5 s); ``timeoutSeconds`` ends the stream; a too-old
resourceVersion answers one ERROR event carrying a 410 Expired Status (server with
``--watch-history 5``); a watcher that does not read is dropped while other watchers and writes
carry on; ``sendInitialEvents`` ends the initial state with the ``k8s.io/initial-events-end``
bookmark.
Leaves out: Table-form watches, watches across tenants, the client-side reflector.
"""

from __future__ import annotations

import asyncio
import socket
import time

import aiohttp
import pytest
from apiserver_process import ApiServerProcess
from component_http import Api, configmap, event_summary, watching


async def test_watch_from_a_resource_version_replays_later_changes(api: Api, namespace: str) -> None:
    base = f"/api/v1/namespaces/{namespace}/configmaps"
    created = await api.ok("POST", base, configmap("a"))
    await api.ok("PUT", f"{base}/a", configmap("a", {"k": "2"}))
    await api.ok("POST", base, configmap("b"))
    async with watching(api, base, {"resourceVersion": created["metadata"]["resourceVersion"]}) as watch:
        replayed = await watch.events(2)
        assert event_summary(replayed) == [("MODIFIED", "a"), ("ADDED", "b")]
        assert replayed[0]["object"]["data"] == {"k": "2"}
        await api.ok("DELETE", f"{base}/a")
        (deleted,) = await watch.events(1)
        assert event_summary([deleted]) == [("DELETED", "a")]
        revisions = [int(e["object"]["metadata"]["resourceVersion"]) for e in [*replayed, deleted]]
        assert revisions == sorted(revisions)


@pytest.mark.parametrize("resource_version", ["", "0"])
async def test_watch_without_a_version_starts_with_the_current_state(
        api: Api, namespace: str, resource_version: str) -> None:
    base = f"/api/v1/namespaces/{namespace}/configmaps"
    await api.ok("POST", base, configmap("x"))
    await api.ok("POST", base, configmap("y"))
    params = {"resourceVersion": resource_version} if resource_version else {}
    async with watching(api, base, params) as watch:
        assert sorted(event_summary(await watch.events(2))) == [("ADDED", "x"), ("ADDED", "y")]
        await api.ok("POST", base, configmap("z"))
        assert event_summary(await watch.events(1)) == [("ADDED", "z")]


async def test_legacy_watch_path(api: Api, namespace: str) -> None:
    base = f"/api/v1/namespaces/{namespace}/configmaps"
    await api.ok("POST", base, configmap("old"))
    async with watching(api, base, legacy=True) as watch:
        assert event_summary(await watch.events(1)) == [("ADDED", "old")]
        await api.ok("PATCH", f"{base}/old", {"data": {"k": "9"}},
                     content_type="application/merge-patch+json")
        (modified,) = await watch.events(1)
        assert modified["type"] == "MODIFIED" and modified["object"]["data"] == {"k": "9"}
    # One object by name on the legacy path.
    async with watching(api, f"{base}/old", legacy=True) as single:
        assert event_summary(await single.events(1)) == [("ADDED", "old")]


async def test_label_selector_watch_sees_relabels_as_delete_and_add(api: Api, namespace: str) -> None:
    base = f"/api/v1/namespaces/{namespace}/configmaps"
    await api.ok("POST", base, configmap("m", labels={"app": "x"}))
    await api.ok("POST", base, configmap("other", labels={"app": "y"}))
    async with watching(api, base, {"labelSelector": "app=x"}) as watch:
        assert event_summary(await watch.events(1)) == [("ADDED", "m")]
        relabel = {"metadata": {"labels": {"app": "y"}}}
        await api.ok("PATCH", f"{base}/m", relabel, content_type="application/merge-patch+json")
        await api.ok("PATCH", f"{base}/other", {"data": {"k": "changed"}},
                     content_type="application/merge-patch+json")
        await api.ok("PATCH", f"{base}/m", {"metadata": {"labels": {"app": "x"}}},
                     content_type="application/merge-patch+json")
        events = await watch.events(2)
        assert event_summary(events) == [("DELETED", "m"), ("ADDED", "m")]
        assert events[0]["object"]["metadata"]["labels"] == {"app": "y"}


async def test_bookmarks_arrive_when_allowed(api: Api, namespace: str) -> None:
    base = f"/api/v1/namespaces/{namespace}/configmaps"
    created = await api.ok("POST", base, configmap("b"))
    params = {"resourceVersion": created["metadata"]["resourceVersion"], "allowWatchBookmarks": "true"}
    async with watching(api, base, params) as watch:
        event = await watch.next(within=12)
        assert event is not None and event["type"] == "BOOKMARK"
        obj = event["object"]
        assert obj["kind"] == "ConfigMap" and obj["apiVersion"] == "v1"
        assert int(obj["metadata"]["resourceVersion"]) >= int(created["metadata"]["resourceVersion"])


async def test_timeout_seconds_ends_the_stream(api: Api, namespace: str) -> None:
    started = time.monotonic()
    async with watching(api, f"/api/v1/namespaces/{namespace}/configmaps",
                        {"timeoutSeconds": "2"}) as watch:
        assert await watch.next(within=8) is None
    assert 1.5 <= time.monotonic() - started < 8


async def test_initial_events_end_with_a_marked_bookmark(api: Api, namespace: str) -> None:
    base = f"/api/v1/namespaces/{namespace}/configmaps"
    for name in ("i1", "i2"):
        await api.ok("POST", base, configmap(name))
    params = {"sendInitialEvents": "true", "resourceVersionMatch": "NotOlderThan",
              "allowWatchBookmarks": "true", "resourceVersion": ""}
    async with watching(api, base, params) as watch:
        initial = [await watch.next(), await watch.next(), await watch.next()]
        assert sorted(event_summary(initial[:2])) == [("ADDED", "i1"), ("ADDED", "i2")]
        marker = initial[2]
        assert marker is not None and marker["type"] == "BOOKMARK"
        assert marker["object"]["metadata"]["annotations"] == {"k8s.io/initial-events-end": "true"}
        await api.ok("POST", base, configmap("i3"))
        assert event_summary(await watch.events(1)) == [("ADDED", "i3")]


@pytest.fixture(scope="module")
def short_history_server(server_factory) -> ApiServerProcess:  # type: ignore[no-untyped-def]
    return server_factory("--watch-history", "5")


async def test_too_old_resource_version_is_an_error_event(short_history_server: ApiServerProcess) -> None:
    async with aiohttp.ClientSession(timeout=aiohttp.ClientTimeout(total=30)) as session:
        api = Api(session, short_history_server.url)
        base = "/api/v1/namespaces/default/configmaps"
        first = await api.ok("POST", base, configmap("h0"))
        for i in range(1, 10):
            await api.ok("POST", base, configmap(f"h{i}"))
        async with watching(api, base, {"resourceVersion": first["metadata"]["resourceVersion"]}) as watch:
            event = await watch.next()
            assert event is not None and event["type"] == "ERROR", event
            status = event["object"]
            assert status["kind"] == "Status" and status["apiVersion"] == "v1"
            assert status["status"] == "Failure"
            assert status["code"] == 410 and status["reason"] == "Expired"
            assert status["message"].startswith("too old resource version: ")
            assert await watch.next() is None


def _open_stalled_watch(port: int, path: str) -> socket.socket:
    """A watch whose client never reads: a tiny receive buffer, so the server's writes back up."""
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4096)
    sock.connect(("127.0.0.1", port))
    sock.sendall(f"GET {path}?watch=true HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\n\r\n".encode())
    return sock


def _drain(sock: socket.socket, *, within: float) -> bytes:
    """Everything until the server closes the connection; fails if it does not within the time."""
    sock.settimeout(within)
    chunks = []
    deadline = time.monotonic() + within
    while time.monotonic() < deadline:
        chunk = sock.recv(1 << 20)
        if not chunk:
            return b"".join(chunks)
        chunks.append(chunk)
    raise AssertionError("the stalled watch was never closed by the server")


async def test_slow_watcher_is_dropped_without_blocking_others(
        api: Api, namespace: str, apiserver: ApiServerProcess) -> None:
    base = f"/api/v1/namespaces/{namespace}/configmaps"
    stalled = _open_stalled_watch(apiserver.port, base)
    writes, big = 5000, "x" * 2048
    try:
        await asyncio.sleep(0.2)
        async with watching(api, base) as healthy:
            async def write_all(worker: int) -> list[int]:
                codes = []
                for i in range(worker, writes, 16):
                    reply = await api.post(base, configmap(f"s{i:05d}", {"big": big}))
                    codes.append(reply.status)
                return codes

            async def read_all() -> set[str]:
                seen: set[str] = set()
                while len(seen) < writes:
                    for event in await healthy.events(1, within=20):
                        assert event["type"] == "ADDED"
                        seen.add(event["object"]["metadata"]["name"])
                return seen

            started = time.monotonic()
            reader = asyncio.create_task(read_all())
            results = await asyncio.gather(*(write_all(w) for w in range(16)))
            assert all(code == 201 for codes in results for code in codes)
            assert len(await asyncio.wait_for(reader, 60)) == writes
            assert time.monotonic() - started < 120
        received = await asyncio.to_thread(_drain, stalled, within=30)
    finally:
        stalled.close()
    assert received.startswith(b"HTTP/1.1 200")
    # The stalled stream was cut short: it carries far fewer than all the events.
    assert received.count(b'"type":"ADDED"') < writes
