"""A restart on the same data directory keeps every object and its resourceVersion.

Covers: a clean stop (SIGTERM) and restart keeps objects, their uids and resourceVersions, and
later writes get higher resourceVersions; a ``kill -9`` right after a burst of acknowledged writes,
then a restart, still has every one of them (SQLite WAL durability through the API).
Leaves out: crashes in the middle of a storage write (test/storage/test_sqlite_crash.py) and watch
resumption across a restart.
"""

from __future__ import annotations

import asyncio
import signal

import aiohttp
from apiserver_process import stop_process
from component_http import Api, configmap


async def _snapshot(api: Api, path: str) -> dict[str, tuple[str, str]]:
    listed = await api.ok("GET", path)
    return {i["metadata"]["name"]: (i["metadata"]["uid"], i["metadata"]["resourceVersion"])
            for i in listed["items"]}


async def test_objects_survive_a_clean_restart(server_factory) -> None:  # type: ignore[no-untyped-def]
    server = server_factory()
    base = "/api/v1/namespaces/default/configmaps"
    async with aiohttp.ClientSession() as session:
        api = Api(session, server.url)
        for i in range(10):
            await api.ok("POST", base, configmap(f"r{i}", {"i": str(i)}))
        await api.ok("PUT", f"{base}/r3", configmap("r3", {"i": "changed"}))
        before = await _snapshot(api, base)
        list_rv = (await api.ok("GET", base))["metadata"]["resourceVersion"]

    assert server.stop() == 0
    server.start()
    async with aiohttp.ClientSession() as session:
        api = Api(session, server.url)
        assert await _snapshot(api, base) == before
        assert (await api.ok("GET", f"{base}/r3"))["data"] == {"i": "changed"}
        assert int((await api.ok("GET", base))["metadata"]["resourceVersion"]) >= int(list_rv)
        later = await api.ok("POST", base, configmap("after"))
        assert int(later["metadata"]["resourceVersion"]) > max(int(rv) for _, rv in before.values())


async def test_acknowledged_writes_survive_kill_9(server_factory) -> None:  # type: ignore[no-untyped-def]
    server = server_factory()
    base = "/api/v1/namespaces/default/configmaps"
    async with aiohttp.ClientSession() as session:
        api = Api(session, server.url)

        async def write(i: int) -> tuple[str, str]:
            created = await api.ok("POST", base, configmap(f"k{i:03d}"))
            return created["metadata"]["name"], created["metadata"]["resourceVersion"]

        acknowledged = dict(await asyncio.gather(*(write(i) for i in range(200))))
    assert server.process is not None
    stop_process(server.process, sig=signal.SIGKILL)
    server.start()
    async with aiohttp.ClientSession() as session:
        api = Api(session, server.url)
        after = {name: rv for name, (_uid, rv) in (await _snapshot(api, base)).items()}
    assert after == acknowledged
