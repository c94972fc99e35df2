"""server/watchcache.py fan-out: filtered watchers sharing a selection, and the shared chunk framing.

Covers: watchers with equal selections get the same translation of one event (ADDED when an
object enters their selection, MODIFIED while it stays, DELETED when it leaves, nothing while it
is outside), computed once per selection and event; a watcher with another selection, or none
(not shared), is translated on its own; an event's chunk is framed once as HTTP/1.1 chunked
encoding frames a line. Leaves out the sockets (component tests: test_api_watch) and the cost
(a figure: bench/api_bench.py watch fan-out).
"""

from __future__ import annotations

from typing import Any

import orjson

from server.storage.interface import Event, KeyValue
from server.watchcache import ResourceCache, WatchEvent

KEY = "/registry/pods/system/ns/a"


def put(revision: int, labels: dict[str, str]) -> Event:
    obj = {"kind": "Pod", "apiVersion": "v1", "metadata": {"name": "a", "namespace": "ns", "labels": labels}}
    return Event("PUT", KeyValue(KEY, orjson.dumps(obj), 2, revision), None)


class Counting:
    """A predicate on the ``app`` label that counts its calls."""

    def __init__(self, app: str) -> None:
        self.app, self.calls = app, 0

    def __call__(self, obj: dict[str, Any]) -> bool:
        self.calls += 1
        return (obj["metadata"].get("labels") or {}).get("app") == self.app


def received(cache: ResourceCache, predicate: Counting, selection: object) -> list[tuple[str, int]]:
    seen: list[tuple[str, int]] = []

    def sink(event: WatchEvent) -> bool:
        seen.append((event.type, event.revision))
        return True

    watcher = cache.watch("/registry/pods/", after_revision=0, predicate=predicate, limit=10,
                          selection=selection)
    assert watcher.attach(sink)
    return seen


def test_equal_selections_share_one_translation_per_event() -> None:
    cache = ResourceCache("pods", 100)
    shared = Counting("web")
    first, second = received(cache, shared, "app=web"), received(cache, shared, "app=web")
    alone = received(cache, Counting("web"), None)
    other = received(cache, Counting("db"), "app=db")
    for revision, labels in ((3, {"app": "db"}), (4, {"app": "web"}), (5, {"app": "web", "v": "2"}),
                             (6, {"app": "db"})):
        cache.apply(put(revision, labels))
    expected = [("ADDED", 4), ("MODIFIED", 5), ("DELETED", 6)]
    assert first == second == alone == expected
    assert other == [("ADDED", 3), ("DELETED", 4), ("ADDED", 6)]
    assert shared.calls == 7  # once per event for both watchers: 1 + 2 + 2 + 2 (now and before)


def test_an_events_chunk_is_its_line_framed_once() -> None:
    cache = ResourceCache("pods", 100)
    cache.apply(put(3, {}))
    event = cache.history[-1]
    line = event.encoded()
    assert line.endswith(b"}\n") and orjson.loads(line)["type"] == "ADDED"
    assert event.chunked() == b"%x\r\n" % len(line) + line + b"\r\n"
    assert event.chunked() is event.chunked()
