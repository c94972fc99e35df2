"""Faults under load with several API servers on etcd (arktos-up: STORAGE_BACKEND=etcd, HAProxy).

Covers, each scenario printing what it did and what it found:
1. kill -9 of one of two API servers during 1,000 creates through the load balancer (100 in
   flight, retried as client libraries retry): every create answered 201 is stored with the uid
   of that answer, no name has two objects, the survivor answered creates while the other was
   down, the killed server is started again by its supervisor, and a watcher that was on the
   killed server resumes from its last resourceVersion through the balancer (no relist) and ends
   with exactly the stored state.
2. a three-member etcd with one member (the raft leader) killed during the same load: no
   acknowledged create lost, the API kept answering while the member was down, the member
   rejoins (healthy, at the same revision as the others), and a watcher through the balancer ends
   with exactly the stored state without relisting.
3. a single etcd killed and restarted: while it is down the API answers 503/504 Status (never a
   500, never past the request timeout), afterwards everything is served again, and a watcher that
   resumes from its last resourceVersion (as a reflector does) ends with exactly the stored state.
Scenarios 1 and 2 share one cluster (three etcd members, two servers), each in its own namespace.
Leaves out: SQLite (one server only), etcd data loss (a member's disk), network partitions.
"""

from __future__ import annotations

import asyncio
import json
import time
import urllib.request
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import Any

import aiohttp
import pytest
from several_cluster import SeveralCluster, running_several_cluster, several_cluster_env
from several_load import LoadResult, Reflected, check_nothing_lost, configmap, create_load, reflect, stored
from test_arktos_up import kubectl_sh

pytestmark = [pytest.mark.slow]

CREATES = 1000
IN_FLIGHT = 100
KILL_AFTER = 300
TIMEOUT = aiohttp.ClientTimeout(total=70)  # past the servers' 60 s request timeout


def namespace_url(cluster: SeveralCluster, name: str) -> str:
    made = kubectl_sh(cluster.env, "create", "namespace", name)
    assert made.returncode == 0, made.stderr
    return f"{cluster.url}/api/v1/namespaces/{name}/configmaps"


def session_for(cluster: SeveralCluster) -> aiohttp.ClientSession:
    connector = aiohttp.TCPConnector(ssl=cluster.ssl_context(), limit=IN_FLIGHT)
    return aiohttp.ClientSession(connector=connector, timeout=TIMEOUT)


async def load_with_kill(session: aiohttp.ClientSession, url: str,
                         kill: Callable[[], None]) -> tuple[LoadResult, float]:
    """The 1,000 creates; ``kill()`` once KILL_AFTER are answered. Returns the result, kill time."""
    result = LoadResult()
    load = asyncio.create_task(create_load(session, url, result, count=CREATES, in_flight=IN_FLIGHT))
    await wait_until(f"{KILL_AFTER} creates answered",
                     lambda: len(result.answered) >= KILL_AFTER or load.done())
    kill()
    killed_at = time.monotonic()
    await load
    return result, killed_at


async def wait_until(what: str, check: Callable[[], bool], *, timeout_s: float = 60.0,
                     report: Callable[[], str] = lambda: "") -> float:
    """Polls ``check`` without blocking the loop (the load or a watcher runs meanwhile); returns
    when it held (monotonic)."""
    deadline = time.monotonic() + timeout_s
    while not check():
        if time.monotonic() > deadline:
            raise AssertionError(f"{what} not within {timeout_s:.0f}s\n{report()}")
        await asyncio.sleep(0.1)
    return time.monotonic()


@pytest.fixture(scope="module")
def three_members(tmp_path_factory: pytest.TempPathFactory) -> Iterator[SeveralCluster]:
    env = several_cluster_env(tmp_path_factory.mktemp("three"), members=3, etcd_restart_delay=5)
    yield from running_several_cluster(env)


@dataclass
class KillUnderLoad:
    """What one kill during the 1,000 creates did and found."""

    name: str
    pid: int
    result: LoadResult
    items: list[dict[str, Any]]  # the load's objects, stored afterwards
    killed_at: float
    back_at: float
    watched: Reflected  # a reflector-like watcher through the kill
    watch_equals_store: bool

    @property
    def answered_while_down(self) -> int:
        return sum(1 for at in self.result.answered_at.values() if self.killed_at < at < self.back_at)

    def report(self) -> str:
        return (f"kill -9 {self.name} (pid {self.pid}) after {KILL_AFTER} of {CREATES} creates, "
                f"{IN_FLIGHT} in flight: {self.result.summary()}; {self.answered_while_down} answered in "
                f"the {self.back_at - self.killed_at:.1f} s until it was back; {len(self.items)} stored; "
                f"a watcher saw {self.watched.events} events, re-watched {self.watched.rewatches} time(s), "
                f"listed {self.watched.relists} time(s) and ends "
                f"{'equal to' if self.watch_equals_store else 'DIFFERENT FROM'} the store")

    def assert_nothing_lost(self) -> None:
        problems = check_nothing_lost(self.result, self.items)
        assert not self.result.failed, self.result.failed
        assert not problems, problems
        assert len(self.items) == CREATES
        assert self.answered_while_down, f"the API answered no create while {self.name} was down"
        assert self.watch_equals_store, "the watcher's state is not the stored state"
        assert self.watched.relists == 1, "the watcher could not resume from its resourceVersion"


async def kill_under_load(cluster: SeveralCluster, namespace: str, name: str,
                          back: Callable[[], bool], *, watch_first: str = "") -> KillUnderLoad:
    """The creates into ``namespace``, watched by a reflector (first on ``watch_first``, then through
    the balancer); component ``name`` killed after KILL_AFTER; waits until its supervisor's new
    process passes ``back()`` and the watcher caught up with the store."""
    url = namespace_url(cluster, namespace)
    victim = cluster.component(name)
    assert victim is not None
    async with session_for(cluster) as session:
        watched, stop = Reflected(), asyncio.Event()
        first = watch_first and f"{watch_first}{url.removeprefix(cluster.url)}"
        watcher = asyncio.create_task(reflect(session, url, watched, stop=stop, first_url=first))
        await wait_until("the watcher listed", lambda: watched.relists == 1)
        result, killed_at = await load_with_kill(session, url, victim.kill)
        back_at = await wait_until(f"{name} back", lambda: (
            (now := cluster.component(name)) is not None and now.pid != victim.pid and back()),
            report=lambda: cluster.report(name))
        async with session.get(url) as answer:
            final = await answer.json()
        await wait_until("the watcher at the final list", lambda: int(
            watched.last_revision or 0) >= int(final["metadata"]["resourceVersion"]), timeout_s=30)
        stop.set()
        watcher.cancel()
    state = {item["metadata"]["name"]: item["metadata"]["resourceVersion"] for item in final["items"]}
    reflected = {n: obj["metadata"]["resourceVersion"] for n, obj in watched.objects.items()}
    # Ours only: not the root-CA controller's kube-root-ca.crt.
    items = [item for item in final["items"] if item["metadata"]["name"].startswith("load-")]
    return KillUnderLoad(name, victim.pid, result, items, killed_at, back_at, watched, reflected == state)


async def test_kill_one_of_two_servers_during_creates(three_members: SeveralCluster) -> None:
    cluster = three_members
    found = await kill_under_load(cluster, "fault-server", cluster.server_name(0),
                                  lambda: cluster.ready(cluster.server_url(0)),
                                  watch_first=cluster.server_url(0))
    print(f"\n[scenario 1] {found.report()}; problems: "
          f"{check_nothing_lost(found.result, found.items) or 'none'}")
    found.assert_nothing_lost()


def etcd_leader(cluster: SeveralCluster) -> int:
    """The index of the member that leads raft (its v3 maintenance status says so)."""
    for index in range(cluster.members):
        request = urllib.request.Request(f"{cluster.etcd_url(index)}/v3/maintenance/status", method="POST",
                                         data=b"{}")
        with urllib.request.urlopen(request, timeout=3) as answer:
            status = json.loads(answer.read())
        if status["header"]["member_id"] == status["leader"]:
            return index
    raise AssertionError("no etcd member leads")


async def test_kill_the_etcd_leader_of_three_during_creates(three_members: SeveralCluster) -> None:
    cluster = three_members
    leader = etcd_leader(cluster)
    found = await kill_under_load(cluster, "fault-etcd-member", cluster.etcd_name(leader),
                                  lambda: cluster.etcd_healthy(leader))
    revisions = [cluster.etcd_revision(index) for index in range(cluster.members)]
    await wait_until("every member at the same revision", lambda: len(
        {cluster.etcd_revision(index) for index in range(cluster.members)}) == 1, timeout_s=30)
    print(f"\n[scenario 2: the raft leader] {found.report()}; member revisions right after "
          f"{revisions}, then equal; problems: {check_nothing_lost(found.result, found.items) or 'none'}")
    found.assert_nothing_lost()


@pytest.fixture(scope="module")
def single_etcd(tmp_path_factory: pytest.TempPathFactory) -> Iterator[SeveralCluster]:
    env = several_cluster_env(tmp_path_factory.mktemp("single"), members=1, etcd_restart_delay=8)
    yield from running_several_cluster(env)


async def requests_while_down(session: aiohttp.ClientSession, url: str, cluster: SeveralCluster,
                              ) -> tuple[list[tuple[str, int, float, bool]], float]:
    """GETs and creates, one after the other, until etcd is healthy again: (what, status, seconds,
    answered while etcd was down) each, and when etcd came back (monotonic)."""
    answers: list[tuple[str, int, float, bool]] = []
    back_at = 0.0
    attempt = 0
    while not back_at:
        attempt += 1
        for what, method, target, body in (("list", "GET", url, None),
                                           ("create", "POST", url, configmap(f"down-{attempt}"))):
            started = time.monotonic()
            async with session.request(method, target, json=body) as answer:
                await answer.read()
                status = answer.status
            down = not cluster.etcd_healthy(0)
            answers.append((what, status, time.monotonic() - started, down))
        if cluster.etcd_healthy(0):
            back_at = time.monotonic()
        await asyncio.sleep(0.1)  # a client's pace, not a flood
    return answers, back_at


async def test_single_etcd_killed_and_restarted(single_etcd: SeveralCluster) -> None:
    cluster = single_etcd
    url = namespace_url(cluster, "fault-etcd")
    name = cluster.etcd_name(0)
    victim = cluster.component(name)
    assert victim is not None
    async with session_for(cluster) as session:
        seen, stop = Reflected(), asyncio.Event()
        watcher = asyncio.create_task(reflect(session, url, seen, stop=stop))
        for i in range(50):
            async with session.post(url, json=configmap(f"before-{i}")) as answer:
                assert answer.status == 201, await answer.text()
        victim.kill()
        killed_at = time.monotonic()
        answers, back_at = await requests_while_down(session, url, cluster)
        ready_at = await wait_until("the API ready again", cluster.ready, report=lambda: cluster.report(name))
        final_revision = await write_after(session, url)
        await wait_until("the watcher at the last write",
                         lambda: int(seen.last_revision or 0) >= final_revision, timeout_s=30)
        stop.set()
        watcher.cancel()
        items = await stored(session, url)
    down_codes = sorted({status for _, status, _, down in answers if down})
    slowest = max(seconds for _, _, seconds, _ in answers)
    state = {item["metadata"]["name"]: item["metadata"]["resourceVersion"] for item in items}
    reflected = {n: obj["metadata"]["resourceVersion"] for n, obj in seen.objects.items()}
    print(f"\n[scenario 3: kill -9 the only etcd (pid {victim.pid}), restarted after 8 s] "
          f"{len(answers)} requests while it was down: statuses {down_codes}, slowest {slowest:.1f} s; "
          f"etcd back after {back_at - killed_at:.1f} s, API ready {ready_at - back_at:.1f} s later; "
          f"watcher: {seen.events} events, {seen.rewatches} re-watches, {seen.relists} list(s), "
          f"errors {seen.errors[:5]}; its state {'equals' if reflected == state else 'DIFFERS FROM'} "
          f"the {len(state)} stored objects")
    assert down_codes and set(down_codes) <= {503, 504}, answers
    assert slowest < 65, "a request outlived the 60 s request timeout"
    assert reflected == state
    assert seen.relists == 1, "the watcher had to relist: it could not resume from its resourceVersion"


async def write_after(session: aiohttp.ClientSession, url: str) -> int:
    """Creates and deletes after the outage; the revision of a list made after the last of them."""
    for i in range(30):
        async with session.post(url, json=configmap(f"after-{i}")) as answer:
            assert answer.status == 201, await answer.text()
    for i in range(0, 30, 3):
        async with session.delete(f"{url}/after-{i}") as answer:
            assert answer.status == 200, await answer.text()
    async with session.get(url) as answer:
        assert answer.status == 200, await answer.text()
        return int((await answer.json())["metadata"]["resourceVersion"])
