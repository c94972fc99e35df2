"""server.registry.store and the watch cache: writes that share decoded objects with the cache.

Covers: a created or updated object is handed to the watch cache instead of being decoded again,
and what the cache then serves equals the stored bytes decoded, while the write's answer stays
the caller's own (changing it changes nothing cached); a failed write hands nothing over.
Updates that start from the watch cache's copy (upstream's cached first guess): an update leaves
the watch cache's objects untouched however its mutation, its strategy or its caller treat the
objects they are handed (the cache's objects are shared by every reader); a fresh cache saves the
store read; a stale guess decides nothing by itself — a resourceVersion precondition, a
mutation's refusal, an unchanged object and a plain update all answer what an update from the
store's latest value answers. Leaves out HTTP (test/component/test_api_*), the SQLite backend
(the storage contract suite) and encryption's stale values (test/component/test_api_encryption.py)."""

from __future__ import annotations

import copy
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import orjson
import pytest
from builtin_records import record

from server.app import ApiServer, ServerConfig
from server.errors import ApiError, Conflict
from server.registry.keys import Scope, object_key
from server.registry.store import GenericStore, WriteOptions
from server.registry.strategy import Strategy
from server.storage.interface import KeyValue
from server.watchcache import CachedObject

PODS = record("", "pods")
SCOPE = Scope("system", "default")
OPTIONS = WriteOptions()


@pytest.fixture
async def server(tmp_path: Path) -> AsyncIterator[ApiServer]:
    # No service-account controller here to make the default account pods run as.
    api = ApiServer(ServerConfig(storage_url="memory://",
                                 disabled_admission_plugins=frozenset({"ServiceAccount"})))
    async with api.running():
        yield api


def pod(name: str) -> dict[str, Any]:
    return {"apiVersion": "v1", "kind": "Pod",
            "metadata": {"name": name, "namespace": "default", "labels": {"a": "1"}},
            "spec": {"containers": [{"name": "c", "image": "busybox"}]}}


def cached(server: ApiServer, name: str) -> CachedObject:
    return server.store.get(PODS, SCOPE, name)


class CountingReads:
    """Counts the store reads of one backend (wraps its ``get``)."""

    def __init__(self, store: GenericStore) -> None:
        self.count = 0
        backend = store._backend
        real = backend.get

        async def get(key: str, *, revision: int = 0) -> KeyValue | None:
            self.count += 1
            return await real(key, revision=revision)

        backend.get = get  # type: ignore[method-assign]


def label(value: str) -> Any:
    def mutate(obj: dict[str, Any]) -> dict[str, Any]:
        obj["metadata"]["labels"]["a"] = value
        return obj
    return mutate


async def test_an_update_never_changes_the_cached_object_it_started_from(server: ApiServer) -> None:
    await server.store.create(PODS, SCOPE, pod("p"), OPTIONS)
    before = cached(server, "p")
    snapshot = copy.deepcopy(before.obj)

    class Scribbling(Strategy):
        def prepare_for_update(self, new: dict[str, Any], old: dict[str, Any]) -> None:
            old["metadata"]["labels"]["scribbled"] = "old"  # a careless hook writes to old
            old["spec"]["containers"].clear()

    def mutate(obj: dict[str, Any]) -> dict[str, Any]:
        obj["metadata"]["labels"]["a"] = "2"
        obj["spec"]["containers"][0]["image"] = "nginx"
        return obj

    result = await server.store.guaranteed_update(PODS, SCOPE, "p", mutate, options=OPTIONS,
                                                  strategy=Scribbling(PODS))
    result.obj["metadata"]["labels"]["by-caller"] = "x"  # the answer is the caller's to change
    assert before.obj == snapshot and orjson.loads(before.raw) == snapshot
    after = cached(server, "p")
    assert after.obj["metadata"]["labels"] == {"a": "2"}
    assert after.obj["spec"]["containers"][0]["image"] == "nginx"
    assert orjson.loads(after.raw) == after.obj


async def test_an_update_from_a_fresh_cache_does_not_read_the_store(server: ApiServer) -> None:
    await server.store.create(PODS, SCOPE, pod("p"), OPTIONS)
    reads = CountingReads(server.store)
    result = await server.store.guaranteed_update(PODS, SCOPE, "p", label("2"), options=OPTIONS)
    assert reads.count == 0
    assert result.obj["metadata"]["labels"]["a"] == "2"


async def stale_guess(server: ApiServer) -> tuple[CachedObject, CachedObject]:
    """Stores p twice and puts the first version back into the cache: (stale, latest)."""
    await server.store.create(PODS, SCOPE, pod("p"), OPTIONS)
    stale = cached(server, "p")
    await server.store.guaranteed_update(PODS, SCOPE, "p", label("2"), options=OPTIONS)
    latest = cached(server, "p")
    server.cache.resource(PODS.key_segment).objects[object_key(PODS, SCOPE, "p")] = stale
    return stale, latest


async def test_a_precondition_on_the_latest_version_holds_despite_a_stale_guess(server: ApiServer) -> None:
    _stale, latest = await stale_guess(server)

    def pinned(obj: dict[str, Any]) -> dict[str, Any]:
        obj["metadata"]["resourceVersion"] = str(latest.revision)
        obj["metadata"]["labels"]["b"] = "1"
        return obj

    result = await server.store.guaranteed_update(PODS, SCOPE, "p", pinned, options=OPTIONS)
    assert result.obj["metadata"]["labels"] == {"a": "2", "b": "1"}


async def test_a_precondition_on_an_older_version_is_a_conflict(server: ApiServer) -> None:
    stale, _latest = await stale_guess(server)

    def pinned(obj: dict[str, Any]) -> dict[str, Any]:
        obj["metadata"]["resourceVersion"] = str(stale.revision)
        return obj

    with pytest.raises(Conflict):
        await server.store.guaranteed_update(PODS, SCOPE, "p", pinned, options=OPTIONS)


async def test_a_refusal_is_judged_on_the_latest_version(server: ApiServer) -> None:
    await stale_guess(server)
    seen: list[str] = []

    def refuses_unless_latest(obj: dict[str, Any]) -> dict[str, Any]:
        seen.append(obj["metadata"]["labels"]["a"])
        if obj["metadata"]["labels"]["a"] != "2":
            raise Conflict("not the latest")
        obj["metadata"]["labels"]["a"] = "3"
        return obj

    result = await server.store.guaranteed_update(PODS, SCOPE, "p", refuses_unless_latest, options=OPTIONS)
    assert seen == ["1", "2"] and result.obj["metadata"]["labels"]["a"] == "3"


async def test_an_unchanged_object_is_answered_from_the_store(server: ApiServer) -> None:
    _stale, latest = await stale_guess(server)
    result = await server.store.guaranteed_update(PODS, SCOPE, "p", label("1"), options=OPTIONS)
    # Unchanged against the stale guess, but a change against the store: it is written.
    assert result.obj["metadata"]["labels"]["a"] == "1"
    assert int(result.obj["metadata"]["resourceVersion"]) > latest.revision
    again = await server.store.guaranteed_update(PODS, SCOPE, "p", label("1"), options=OPTIONS)
    assert again.obj["metadata"]["resourceVersion"] == result.obj["metadata"]["resourceVersion"]


async def test_a_plain_update_keeps_the_latest_version_changes(server: ApiServer) -> None:
    await stale_guess(server)

    def add_b(obj: dict[str, Any]) -> dict[str, Any]:
        obj["metadata"]["labels"]["b"] = "1"
        return obj

    result = await server.store.guaranteed_update(PODS, SCOPE, "p", add_b, options=OPTIONS)
    assert result.obj["metadata"]["labels"] == {"a": "2", "b": "1"}
    kv = await server.backend.get(object_key(PODS, SCOPE, "p"))
    assert kv is not None and orjson.loads(kv.value)["metadata"]["labels"] == {"a": "2", "b": "1"}


async def test_a_create_hands_its_object_to_the_cache_and_answers_a_private_copy(server: ApiServer) -> None:
    body = pod("p")
    result = await server.store.create(PODS, SCOPE, body, OPTIONS)
    served = cached(server, "p")
    assert served.obj is body  # adopted, not decoded again
    kv = await server.backend.get(object_key(PODS, SCOPE, "p"))
    assert kv is not None
    stored = orjson.loads(kv.value)
    stored["metadata"]["resourceVersion"] = str(kv.mod_revision)
    assert served.obj == stored and served.raw == orjson.dumps(stored) and result.raw == served.raw
    result.obj["metadata"]["labels"]["by-caller"] = "x"
    result.obj["spec"]["containers"].clear()
    assert cached(server, "p").obj == stored and orjson.loads(served.raw) == stored


async def test_an_update_answer_is_the_caller_s_own(server: ApiServer) -> None:
    await server.store.create(PODS, SCOPE, pod("p"), OPTIONS)
    result = await server.store.guaranteed_update(PODS, SCOPE, "p", label("2"), options=OPTIONS)
    snapshot = copy.deepcopy(cached(server, "p").obj)
    assert result.obj == snapshot
    result.obj["metadata"]["labels"]["a"] = "by-caller"
    assert cached(server, "p").obj == snapshot


async def test_a_failed_write_hands_nothing_over(server: ApiServer) -> None:
    await server.store.create(PODS, SCOPE, pod("p"), OPTIONS)
    with pytest.raises(ApiError):
        await server.store.create(PODS, SCOPE, pod("p"), OPTIONS)
    assert server.cache._expected == {}
