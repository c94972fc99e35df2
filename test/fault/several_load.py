"""Load and observation for the several-server fault scenarios: creates that retry as client
libraries do, and a watch that resumes as a reflector does.

Creates use fixed names, so a retried create can never make a second object: a 409 AlreadyExists
after a retry means an earlier attempt landed (its answer was lost) and the object is read back to
learn its uid. Retried, as client-go and the python client retry: connection errors (refused,
reset, a response lost) and 429/503/504, with exponential back-off (honouring Retry-After), until
a deadline. What is asserted afterwards: every create answered 201 is present with the uid of that
answer, and no name has two objects.

The watcher lists, then watches from the list's resourceVersion; when its stream ends or breaks it
watches again from the last resourceVersion it saw (client-go's reflector), and relists only on
410. It applies every event to its own copy of the objects, so "events seen = final state" is a
comparison of that copy with a fresh list.
"""

from __future__ import annotations

import asyncio
import json
import time
from dataclasses import dataclass, field
from typing import Any

import aiohttp

# What client-go retries (a 500 is an answer, not a transient failure: the test must see it).
RETRIED_STATUSES = frozenset({429, 502, 503, 504})
BACKOFF_START_S = 0.1
BACKOFF_MAX_S = 2.0


@dataclass
class LoadResult:
    answered: dict[str, str] = field(default_factory=dict)  # name -> uid of the 201 answer
    landed_unanswered: dict[str, str] = field(default_factory=dict)  # 409 after a retry: name -> uid
    retries: int = 0
    retried_statuses: dict[int, int] = field(default_factory=dict)
    connection_errors: int = 0
    failed: dict[str, str] = field(default_factory=dict)  # name -> last error, past the deadline
    answered_at: dict[str, float] = field(default_factory=dict)  # name -> monotonic time of its answer
    samples: list[str] = field(default_factory=list)  # the first retried answers, for the report

    def summary(self) -> str:
        return (f"{len(self.answered)} answered 201, {len(self.landed_unanswered)} landed with the "
                f"answer lost (409 on retry), {len(self.failed)} failed; {self.retries} retries "
                f"(statuses {dict(sorted(self.retried_statuses.items()))}, "
                f"{self.connection_errors} connection errors; e.g. {self.samples[:2]})")


def configmap(name: str) -> dict[str, Any]:
    return {"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": name}, "data": {"n": name}}


async def create_retrying(session: aiohttp.ClientSession, url: str, name: str, result: LoadResult,
                          *, deadline: float) -> None:
    backoff, attempt = BACKOFF_START_S, 0
    while True:
        attempt += 1
        wait = backoff
        try:
            async with session.post(url, json=configmap(name)) as answer:
                body = await answer.read()
                if answer.status == 201:
                    result.answered[name] = json.loads(body)["metadata"]["uid"]
                    result.answered_at[name] = time.monotonic()
                    return
                if answer.status == 409 and attempt > 1:
                    async with session.get(f"{url}/{name}") as got:
                        if got.status == 200:
                            result.landed_unanswered[name] = (await got.json())["metadata"]["uid"]
                            return
                if answer.status not in RETRIED_STATUSES:
                    result.failed[name] = f"{answer.status} {body[:200]!r}"
                    return
                result.retried_statuses[answer.status] = result.retried_statuses.get(answer.status, 0) + 1
                if len(result.samples) < 3:
                    result.samples.append(f"{answer.status} {body[:300]!r}")
                wait = max(wait, float(answer.headers.get("Retry-After", "0") or 0))
        except (aiohttp.ClientConnectionError, aiohttp.ClientPayloadError, TimeoutError) as e:
            result.connection_errors += 1
            result.failed[name] = repr(e)
        if time.monotonic() + wait > deadline:
            result.failed.setdefault(name, "deadline")
            return
        result.failed.pop(name, None)
        result.retries += 1
        await asyncio.sleep(wait)
        backoff = min(backoff * 2, BACKOFF_MAX_S)


async def create_load(session: aiohttp.ClientSession, url: str, result: LoadResult, *, count: int,
                      in_flight: int, deadline_s: float = 120.0, prefix: str = "load") -> LoadResult:
    """``count`` creates of ``prefix-NNNN``, ``in_flight`` at a time, each retried until the deadline;
    ``result`` fills up as they are answered (the caller watches the progress)."""
    names = iter(f"{prefix}-{i:04d}" for i in range(count))
    deadline = time.monotonic() + deadline_s

    async def worker() -> None:
        for name in names:
            await create_retrying(session, url, name, result, deadline=deadline)

    await asyncio.gather(*(worker() for _ in range(in_flight)))
    return result


async def stored(session: aiohttp.ClientSession, url: str) -> list[dict[str, Any]]:
    """Every object under ``url`` (a consistent list), retried while the API answers 5xx."""
    for _ in range(60):
        try:
            async with session.get(url) as answer:
                if answer.status == 200:
                    items: list[dict[str, Any]] = (await answer.json())["items"]
                    return items
        except aiohttp.ClientConnectionError:
            pass
        await asyncio.sleep(1)
    raise AssertionError(f"cannot list {url}")


def check_nothing_lost(result: LoadResult, items: list[dict[str, Any]]) -> list[str]:
    """What is wrong between the creates' answers and the stored objects ([] when nothing)."""
    problems = []
    by_name: dict[str, list[str]] = {}
    for item in items:
        by_name.setdefault(item["metadata"]["name"], []).append(item["metadata"]["uid"])
    for name, uid in {**result.answered, **result.landed_unanswered}.items():
        if by_name.get(name) != [uid]:
            problems.append(f"{name}: answered uid {uid}, stored {by_name.get(name)}")
    problems += [f"{name}: {len(uids)} objects" for name, uids in by_name.items() if len(uids) > 1]
    return problems


@dataclass
class Reflected:
    """What a reflector-like watcher saw: its copy of the objects and how it got it."""

    objects: dict[str, dict[str, Any]] = field(default_factory=dict)
    events: int = 0
    rewatches: int = 0
    relists: int = 0
    last_revision: str = ""
    errors: list[str] = field(default_factory=list)


async def reflect(session: aiohttp.ClientSession, url: str, into: Reflected, *, stop: asyncio.Event,
                  first_url: str = "") -> None:
    """List then watch ``url`` until ``stop`` is set, resuming (and relisting on 410) as client-go
    does. ``first_url``: where the first list and watch go (one server), ``url`` afterwards."""
    while not stop.is_set():
        target = url if into.rewatches else (first_url or url)
        if not into.last_revision:
            try:
                async with session.get(target) as answer:
                    if answer.status != 200:
                        into.errors.append(f"list {answer.status}")
                        await asyncio.sleep(0.5)
                        continue
                    listed = await answer.json()
            except aiohttp.ClientConnectionError as e:
                into.errors.append(f"list {e!r}")
                await asyncio.sleep(0.5)
                continue
            into.objects = {item["metadata"]["name"]: item for item in listed["items"]}
            into.last_revision = listed["metadata"]["resourceVersion"]
            into.relists += 1
        await watch_once(session, target, into, stop=stop)


async def watch_once(session: aiohttp.ClientSession, url: str, into: Reflected, *,
                     stop: asyncio.Event) -> None:
    params = {"watch": "true", "resourceVersion": into.last_revision, "allowWatchBookmarks": "true",
              "timeoutSeconds": "30"}
    try:
        async with session.get(url, params=params, timeout=aiohttp.ClientTimeout(total=None,
                                                                                  sock_read=40)) as answer:
            if answer.status == 410:
                into.last_revision = ""
                return
            if answer.status != 200:
                into.errors.append(f"watch {answer.status}")
                await asyncio.sleep(0.5)
                return
            async for line in answer.content:
                if stop.is_set():
                    return
                event = json.loads(line)
                apply(into, event)
    except (aiohttp.ClientConnectionError, aiohttp.ClientPayloadError, TimeoutError) as e:
        into.errors.append(f"watch {e!r}")
        await asyncio.sleep(0.2)
    into.rewatches += 1


def apply(into: Reflected, event: dict[str, Any]) -> None:
    kind, obj = event["type"], event["object"]
    if kind == "ERROR":
        if obj.get("code") == 410:
            into.last_revision = ""
        return
    into.last_revision = obj["metadata"]["resourceVersion"]
    if kind == "BOOKMARK":
        return
    into.events += 1
    if kind == "DELETED":
        into.objects.pop(obj["metadata"]["name"], None)
    else:
        into.objects[obj["metadata"]["name"]] = obj
