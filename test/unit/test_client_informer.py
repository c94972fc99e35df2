"""The informer's reflector loop against a scripted fake client (client/informer.py).

Covers: the first list fills the cache and sets has_synced; the watch starts from the list's
resourceVersion with bookmarks on; a watch that ends is resumed from the last resourceVersion
seen (events and bookmarks both advance it); a 410 Gone relists, and the relist's differences
reach handlers as ADDED/MODIFIED/DELETED; handlers see keys only, tombstones keep a deleted
object's last state; index lookups follow updates; connection failures are retried. No sockets:
the real HTTP path is covered by test/component/test_client_runtime.py.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncGenerator
from typing import Any

from client.cache import ObjectKey, by_namespace, namespace_index_value
from client.errors import ConnectionFailed, Gone
from client.informer import Informer
from client.resources import CONFIGMAPS
from client.retry import RetryPolicy


def cm(name: str, rv: int, *, namespace: str = "ns", tenant: str = "t1", data: str = "") -> dict[str, Any]:
    return {"apiVersion": "v1", "kind": "ConfigMap", "data": {"v": data},
            "metadata": {"name": name, "namespace": namespace, "tenant": tenant,
                         "resourceVersion": str(rv)}}


class ScriptedClient:
    """Answers lists from ``lists`` and watches from ``watches``, in order; records the calls."""

    def __init__(self, lists: list[Any], watches: list[list[Any]]) -> None:
        self.lists = lists
        self.watches = watches
        self.watch_calls: list[dict[str, Any]] = []
        self.list_calls = 0

    async def list_all(self, ref: Any, **kwargs: Any) -> dict[str, Any]:
        self.list_calls += 1
        answer = self.lists.pop(0)
        if isinstance(answer, Exception):
            raise answer
        items, rv = answer
        return {"kind": "ConfigMapList", "apiVersion": "v1", "metadata": {"resourceVersion": str(rv)},
                "items": items}

    async def watch(self, ref: Any, **kwargs: Any) -> AsyncGenerator[tuple[str, dict[str, Any]], None]:
        self.watch_calls.append(kwargs)
        if not self.watches:
            await asyncio.Event().wait()  # no more script: an idle watch
        for step in self.watches.pop(0):
            if isinstance(step, Exception):
                raise step
            yield step


async def run_until(informer: Informer, condition: Any, limit_s: float = 2.0) -> None:
    """Runs the informer until ``condition()`` holds (bounded: fails after ``limit_s``)."""
    task = asyncio.create_task(informer.run())
    try:
        for _ in range(int(limit_s / 0.005)):
            if condition():
                return
            await asyncio.sleep(0.005)
        raise AssertionError(f"condition not reached within {limit_s}s")
    finally:
        task.cancel()
        await asyncio.gather(task, return_exceptions=True)


def make_informer(client: ScriptedClient) -> tuple[Informer, list[tuple[str, ObjectKey]]]:
    informer = Informer(client, CONFIGMAPS, tenant="all",  # type: ignore[arg-type]
                        indexers={"namespace": by_namespace},
                        backoff=RetryPolicy(max_attempts=100, base_delay=0.001, max_delay=0.002))
    seen: list[tuple[str, ObjectKey]] = []
    informer.add_handler(lambda event, key: seen.append((event, key)))
    return informer, seen


async def test_list_then_watch_from_the_lists_resource_version() -> None:
    client = ScriptedClient([([cm("a", 5)], 7)], [[("ADDED", cm("b", 8)), ("MODIFIED", cm("a", 9))]])
    informer, seen = make_informer(client)
    await run_until(informer, lambda: informer.resource_version == "9")
    assert informer.has_synced
    assert client.watch_calls[0]["resource_version"] == "7"
    assert client.watch_calls[0]["allow_bookmarks"] is True
    assert seen == [("ADDED", ObjectKey("t1", "ns", "a")), ("ADDED", ObjectKey("t1", "ns", "b")),
                    ("MODIFIED", ObjectKey("t1", "ns", "a"))]
    assert informer.get(ObjectKey("t1", "ns", "a"))["metadata"]["resourceVersion"] == "9"


async def test_ended_watch_resumes_from_last_event_or_bookmark() -> None:
    bookmark = {"kind": "ConfigMap", "metadata": {"resourceVersion": "20"}}
    client = ScriptedClient([([], 3)], [[("ADDED", cm("a", 4))], [("BOOKMARK", bookmark)], []])
    informer, _ = make_informer(client)
    await run_until(informer, lambda: len(client.watch_calls) >= 4)
    assert [c["resource_version"] for c in client.watch_calls[:4]] == ["3", "4", "20", "20"]
    assert client.list_calls == 1  # an ended watch never relists


async def test_gone_relists_and_emits_the_differences() -> None:
    client = ScriptedClient(
        lists=[([cm("keep", 1), cm("change", 2), cm("drop", 3)], 3),
               ([cm("keep", 1), cm("change", 10), cm("new", 11)], 12)],
        watches=[[Gone(410, {"reason": "Expired"})]])
    informer, seen = make_informer(client)
    await run_until(informer, lambda: informer.resource_version == "12")
    assert informer.relists == 2
    assert seen[3:] == [("DELETED", ObjectKey("t1", "ns", "drop")),
                        ("MODIFIED", ObjectKey("t1", "ns", "change")),
                        ("ADDED", ObjectKey("t1", "ns", "new"))]
    assert informer.last_state(ObjectKey("t1", "ns", "drop"))["metadata"]["name"] == "drop"
    assert informer.get(ObjectKey("t1", "ns", "drop")) is None
    assert client.watch_calls[-1]["resource_version"] == "12"


async def test_deleted_event_leaves_a_tombstone_and_updates_indexes() -> None:
    client = ScriptedClient([([cm("a", 1), cm("b", 2, namespace="other")], 2)],
                            [[("DELETED", cm("a", 3, data="final"))]])
    informer, seen = make_informer(client)
    await run_until(informer, lambda: informer.resource_version == "3")
    assert seen[-1] == ("DELETED", ObjectKey("t1", "ns", "a"))
    assert informer.last_state(ObjectKey("t1", "ns", "a"))["data"] == {"v": "final"}
    assert informer.by_index("namespace", namespace_index_value("t1", "ns")) == []
    assert [o["metadata"]["name"] for o in
            informer.by_index("namespace", namespace_index_value("t1", "other"))] == ["b"]


async def test_same_name_in_two_tenants_are_two_objects() -> None:
    client = ScriptedClient([([cm("web", 1, tenant="acme"), cm("web", 2, tenant="globex")], 2)], [])
    informer, _ = make_informer(client)
    await run_until(informer, lambda: informer.has_synced)
    assert len(informer.objects()) == 2


async def test_connection_failure_is_retried_until_the_list_works() -> None:
    client = ScriptedClient([ConnectionFailed("refused"), ConnectionFailed("refused"), ([cm("a", 1)], 1)],
                            [])
    informer, _ = make_informer(client)
    await run_until(informer, lambda: informer.has_synced)
    assert client.list_calls == 3


async def test_failing_handler_does_not_stop_the_informer() -> None:
    client = ScriptedClient([([], 1)], [[("ADDED", cm("a", 2)), ("ADDED", cm("b", 3))]])
    informer, seen = make_informer(client)

    def broken(event: str, key: ObjectKey) -> None:
        raise RuntimeError("handler bug")

    informer.add_handler(broken)
    await run_until(informer, lambda: informer.resource_version == "3")
    assert [key.name for _, key in seen] == ["a", "b"]


async def test_late_handler_gets_existing_objects_replayed() -> None:
    client = ScriptedClient([([cm("a", 1)], 1)], [])
    informer, _ = make_informer(client)
    await run_until(informer, lambda: informer.has_synced)
    late: list[tuple[str, ObjectKey]] = []
    informer.add_handler(lambda event, key: late.append((event, key)))
    assert late == [("ADDED", ObjectKey("t1", "ns", "a"))]
