"""Replicated controllers (Arktos's controller framework) across real controller-manager processes.

Covers, against a real ``python -m server`` (with an audit log) and real ``python -m controllers``
processes running the deployment and replicaset controllers:
- the ControllerInstance resource itself: discovery (core/v1, cluster scope, short name ``co``),
  Arktos's table columns and ``kubectl explain`` (served OpenAPI) through stock kubectl 1.37,
  validation (422 with field causes);
- two instances split the hashKey space in halves; 2,000 Deployments in ten namespaces (created
  concurrently through one aiohttp session) each get exactly ONE ReplicaSet, and the audit log
  shows exactly one ReplicaSet create per Deployment and not a single refused (409) create — no Deployment was
  reconciled into a ReplicaSet by both instances; each instance's record counts the Deployments
  of its own range (``workloadNum``, checked against the Deployments' hashKeys), about half each,
  and its log says the same count;
- each hand-over in order, from the processes' logs: the giver restarts on its upper half, then
  unlocks the joiner, which only then starts on the lower half;
- two instances joining at the same moment (both claiming the whole space) settle on halves;
- fencing: a process whose record is deleted (as a dead instance's is) stops and exits 1;
- SIGKILL of one instance: the other owns the whole space within 30 s and reconciles new
  Deployments; a third instance joining takes the lower half of the survivor's range while
  Deployments keep being created, and still no ReplicaSet create is repeated or refused.
Fast path, said plainly: the Deployments have ``replicas: 0``, so no pods (no scheduler or kubelet);
the ReplicaSet controller runs too but has no pods to make. Timings are upstream's leader-election
defaults (lease 15 s, renew deadline 10 s, retry 2 s). Leaves out network partitions between a
controller manager and the server (fencing by the renew deadline is argued in
docs/design/replicated-controllers.md, not provoked here).
"""

from __future__ import annotations

import asyncio
import os
import signal
import subprocess
import time
import uuid
from collections import Counter
from datetime import datetime
from functools import partial
from pathlib import Path
from typing import Any

import aiohttp
import orjson
import pytest
from apiserver_process import ApiServerProcess, ServerFactory, stop_process
from component_http import Api, assert_status
from controller_harness import eventually, start_controller_manager
from kubectl_binaries import kubectl_binary

from client.config import config_for_url
from client.controller_instances import CONTROLLER_INSTANCES, InstanceTiming, Membership
from client.hash_ranges import HashRange, Member, assign
from client.informer import Informer
from client.rest import ApiClient

MAX = 2**63 - 1
DEPLOYMENTS = 2000
INSTANCES_PATH = "/api/v1/controllerinstances"
# Ten namespaces of 200: the deployment controller matches a Deployment's selector against every
# ReplicaSet of its namespace (as upstream), so one namespace of 2,000 would measure that instead.
NAMESPACES = [f"rc-{n}" for n in range(10)]


def deployment(name: str) -> dict[str, Any]:
    labels = {"app": name}
    return {"apiVersion": "apps/v1", "kind": "Deployment", "metadata": {"name": name},
            "spec": {"replicas": 0, "selector": {"matchLabels": labels},
                     "template": {"metadata": {"labels": labels},
                                  "spec": {"containers": [{"name": "c", "image": "busybox"}]}}}}


async def records(api: Api, controller_type: str) -> dict[str, dict[str, Any]]:
    items = (await api.ok("GET", INSTANCES_PATH))["items"]
    return {r["metadata"]["name"]: r for r in items if r["controllerType"] == controller_type}


async def settled(api: Api, count: int) -> dict[str, dict[str, Any]] | None:
    """The deployment records once there are ``count``, all unlocked."""
    found = await records(api, "deployment")
    if len(found) == count and not any(r.get("isLocked") for r in found.values()):
        return found
    return None


async def create_deployments(api: Api, prefix: str, count: int) -> list[dict[str, Any]]:
    """``count`` Deployments spread over the test's namespaces, 32 requests in flight."""
    gate = asyncio.Semaphore(32)

    async def one(n: int) -> dict[str, Any]:
        async with gate:
            body: dict[str, Any] = await api.ok(
                "POST", f"/apis/apps/v1/namespaces/{NAMESPACES[n % len(NAMESPACES)]}/deployments",
                deployment(f"{prefix}-{n}"))
            return body

    return list(await asyncio.gather(*(one(n) for n in range(count))))


async def replica_sets_by_owner(api: Api) -> Counter[str]:
    items = (await api.ok("GET", "/apis/apps/v1/replicasets"))["items"]
    return Counter(ref["uid"] for rs in items for ref in rs["metadata"].get("ownerReferences") or ()
                   if ref.get("controller"))


async def each_has_one_replica_set(api: Api, created: list[dict[str, Any]], within: float) -> None:
    uids = {d["metadata"]["uid"] for d in created}

    async def done() -> bool:
        owners = await replica_sets_by_owner(api)
        return uids <= set(owners)

    await eventually(done, f"a ReplicaSet for each of {len(uids)} Deployments", within=within, interval=1.0)
    owners = await replica_sets_by_owner(api)
    assert all(owners[uid] == 1 for uid in uids), {u: n for u, n in owners.items() if n != 1}


def owned_counts(found: dict[str, dict[str, Any]], hash_keys: list[int]) -> dict[str, int]:
    """How many of ``hash_keys`` fall in each record's range (client.hash_ranges.assign)."""
    ranges = assign(Member(name, int(r["controllerKey"])) for name, r in found.items())
    return {name: sum(1 for key in hash_keys if key in span) for name, span in ranges.items()}


def replica_set_creates(audit_log: Path) -> Counter[int]:
    """Response codes of every ReplicaSet create the server saw."""
    codes: Counter[int] = Counter()
    for line in audit_log.read_bytes().splitlines():
        event = orjson.loads(line)
        if event["verb"] == "create" and event["path"].endswith("/replicasets"):
            codes[event["code"]] += 1
    return codes


class Instances:
    """The controller-manager processes of one test, stopped at its end."""

    def __init__(self, url: str, tmp_path: Path) -> None:
        self.url, self.tmp_path = url, tmp_path
        self.processes: dict[str, subprocess.Popen[bytes]] = {}

    def start(self, label: str) -> None:
        self.processes[label] = start_controller_manager(
            self.url, self.tmp_path / f"{label}.log", "--controllers", "deployment,replicaset")

    def log(self, label: str) -> str:
        return (self.tmp_path / f"{label}.log").read_text(errors="replace")

    def logged(self, label: str, text: str) -> bool:
        return text in self.log(label)

    def label_of(self, record_name: str) -> str:
        return next(label for label in self.processes if f"instance {record_name} " in self.log(label))

    def stop_all(self) -> None:
        for process in self.processes.values():
            stop_process(process)


@pytest.fixture
def audited(server_factory: ServerFactory, tmp_path: Path) -> tuple[ApiServerProcess, Path]:
    audit_log = tmp_path / "audit.log"
    return server_factory("--audit-log-path", str(audit_log)), audit_log


async def test_controller_instance_resource(api: Api, apiserver: ApiServerProcess) -> None:
    discovery = await api.ok("GET", "/api/v1")
    entry = next(r for r in discovery["resources"] if r["name"] == "controllerinstances")
    assert (entry["kind"], entry["namespaced"], entry["shortNames"]) == ("ControllerInstance", False, ["co"])
    name = f"deployment-{uuid.uuid4().hex[:8]}"
    await api.ok("POST", INSTANCES_PATH, {"apiVersion": "v1", "kind": "ControllerInstance",
                                          "metadata": {"name": name}, "controllerType": "deployment",
                                          "controllerKey": MAX, "workloadNum": 3, "isLocked": True})
    table = (await kubectl(apiserver, "get", "co", name)).splitlines()
    assert table[0].split() == ["NAME", "CONTROLLERTYPE", "UID", "CONTROLLERKEY", "WORKLOADNUM", "ISLOCKED"]
    assert table[1].split()[0:2] == [name, "deployment"] and table[1].split()[3:] == [str(MAX), "3", "true"]
    bad = await api.post(INSTANCES_PATH, {"apiVersion": "v1", "kind": "ControllerInstance",
                                          "metadata": {"name": "bad"}, "controllerType": "Not_A_Label",
                                          "controllerKey": -5, "workloadNum": -1})
    causes = {c["field"] for c in assert_status(bad, 422, "Invalid")["details"]["causes"]}
    assert causes == {"controllerType", "controllerKey", "workloadNum"}
    await api.ok("DELETE", f"{INSTANCES_PATH}/{name}")
    explained = await kubectl(apiserver, "explain", "controllerinstances.controllerKey")  # served OpenAPI
    assert "KIND:       ControllerInstance" in explained and "FIELD: controllerKey <integer>" in explained


async def kubectl(apiserver: ApiServerProcess, *args: str) -> str:
    process = await asyncio.create_subprocess_exec(kubectl_binary("kubectl-1.37"), "-s", apiserver.url, *args,
                                                   stdout=asyncio.subprocess.PIPE)
    output, _ = await asyncio.wait_for(process.communicate(), timeout=60)
    assert process.returncode == 0, args
    return output.decode()


async def test_an_instance_whose_record_is_removed_stops_and_exits_1(api: Api, apiserver: ApiServerProcess,
                                                                      tmp_path: Path) -> None:
    """Fencing: a record deleted by others (as a dead instance's is) stops the process."""
    instances = Instances(apiserver.url, tmp_path)
    try:
        instances.start("lone")
        found = await eventually(lambda: settled(api, 1), "the instance's record", within=30)
        (name,) = found
        await api.ok("DELETE", f"{INSTANCES_PATH}/{name}")
        process = instances.processes["lone"]
        await eventually(lambda: process.poll() is not None, "the process to exit", within=15)
        assert process.returncode == 1
        assert f"controller instance lost: deployment instance {name} was removed" in instances.log("lone")
    finally:
        instances.stop_all()


async def test_simultaneous_first_joiners_settle_on_disjoint_halves(apiserver: ApiServerProcess) -> None:
    """Two instances that both saw no record both claim key 2^63-1: one joins again, they end as
    halves (in this process, so that both decide on the same empty view; a fresh controller type)."""
    controller_type = f"tie-{uuid.uuid4().hex[:6]}"
    timing = InstanceTiming(lease_duration_s=6.0, renew_deadline_s=4.0, retry_period_s=0.5)
    async with ApiClient(config_for_url(apiserver.url)) as client:
        informers = [Informer(client, CONTROLLER_INSTANCES) for _ in range(2)]
        members = [Membership(client, i, controller_type, timing=timing, workload_count=lambda: 0)
                   for i in informers]
        tasks = [asyncio.create_task(i.run()) for i in informers]
        try:
            await asyncio.gather(*(i.wait_for_sync() for i in informers))
            tasks += [asyncio.create_task(m.run()) for m in members]
            tasks += [asyncio.create_task(runs_nothing(m)) for m in members]

            async def halves() -> list[HashRange] | None:
                ranges = [m.assigned() for m in members]
                return [r for r in ranges if r is not None] if None not in ranges else None

            settled_ranges = await eventually(halves, "both unlocked", within=30)
            first, second = sorted(settled_ranges, key=lambda r: r.lower)
            assert (first, second) == (HashRange(-1, MAX // 2), HashRange(MAX // 2, MAX))
        finally:
            for task in tasks:
                task.cancel()
            await asyncio.gather(*tasks, return_exceptions=True)
            for member in members:
                await member.leave()


async def runs_nothing(member: Membership) -> None:
    """The follower's part without controllers: a runner restarted at once on each new range."""
    while True:
        member.acknowledge(member.assigned())
        await member.changed()


@pytest.mark.slow
async def test_two_then_three_instances_split_deployments(audited: tuple[ApiServerProcess, Path],
                                                          tmp_path: Path) -> None:
    server, audit_log = audited
    instances = Instances(server.url, tmp_path)
    timeout = aiohttp.ClientTimeout(total=60)
    try:
        async with aiohttp.ClientSession(timeout=timeout) as session:
            api = Api(session, server.url)
            await run_scenario(api, instances, audit_log)
    finally:
        instances.stop_all()


async def run_scenario(api: Api, instances: Instances, audit_log: Path) -> None:
    for namespace in NAMESPACES:
        await api.ok("POST", "/api/v1/namespaces", {"apiVersion": "v1", "kind": "Namespace",
                                                    "metadata": {"name": namespace}})
    instances.start("a")
    await eventually(lambda: settled(api, 1), "the first instance", within=30)
    instances.start("b")
    halves = await eventually(lambda: settled(api, 2), "two instances", within=30)
    assert sorted(int(r["controllerKey"]) for r in halves.values()) == [MAX // 2, MAX]
    first, second = sorted(halves, key=lambda name: int(halves[name]["controllerKey"]), reverse=True)
    handed_over_in_order(instances, giver=first, joiner=second)

    started = time.monotonic()
    created = await create_deployments(api, "d", DEPLOYMENTS)
    print(f"created {DEPLOYMENTS} Deployments in {time.monotonic() - started:.1f}s")
    await each_has_one_replica_set(api, created, within=240)
    print(f"every Deployment has its ReplicaSet {time.monotonic() - started:.1f}s after the first create")
    hash_keys = [int(d["metadata"]["hashKey"]) for d in created]
    expected = owned_counts(halves, hash_keys)
    assert all(0.4 * DEPLOYMENTS < n < 0.6 * DEPLOYMENTS for n in expected.values()), expected

    async def counted() -> dict[str, int] | None:
        found = await records(api, "deployment")
        counts = {name: int(r.get("workloadNum") or 0) for name, r in found.items()}
        return counts if counts == expected else None

    await eventually(counted, f"workloadNum = Deployments per range {expected}", within=20)
    for name, count in expected.items():  # the same split in each process's own log
        line = f"deployment instance {name} owns {count} objects in"
        await eventually(partial(instances.logged, instances.label_of(name), line), f"{name}'s log",
                         within=10)
    assert replica_set_creates(audit_log) == Counter({201: DEPLOYMENTS})

    await kill_one_and_take_over(api, instances, halves)
    await third_joins(api, instances, hash_keys)
    codes = replica_set_creates(audit_log)
    assert codes == Counter({201: DEPLOYMENTS + 20 + 200}), codes


async def kill_one_and_take_over(api: Api, instances: Instances, halves: dict[str, dict[str, Any]]) -> None:
    upper = next(name for name, r in halves.items() if int(r["controllerKey"]) == MAX)
    victim = instances.label_of(upper)
    os.killpg(instances.processes[victim].pid, signal.SIGKILL)
    killed_at = time.monotonic()

    async def alone() -> dict[str, dict[str, Any]] | None:
        found = await settled(api, 1)
        # Owning the top of the space, recorded: the survivor's key moves up to 2^63-1.
        return found if found and int(next(iter(found.values()))["controllerKey"]) == MAX else None

    (survivor,) = await eventually(alone, "the survivor alone, up to 2^63-1", within=30)
    assert survivor != upper
    await eventually(lambda: f"deployment instance {survivor} owns [0, {MAX}]"
                     in instances.log(instances.label_of(survivor)), "the survivor's log", within=5)
    print(f"survivor owns every range {time.monotonic() - killed_at:.1f}s after SIGKILL")
    assert time.monotonic() - killed_at < 30
    # The survivor first resyncs every Deployment of its new range (a fresh runner relists), then
    # these: a minute on a busy 2-core machine.
    more = await create_deployments(api, "after-kill", 20)
    await each_has_one_replica_set(api, more, within=90)


async def third_joins(api: Api, instances: Instances, hash_keys: list[int]) -> None:
    """The survivor hands the lower half of its range to a joiner while Deployments keep coming."""
    (survivor,) = await records(api, "deployment")

    async def trickle() -> list[dict[str, Any]]:
        made: list[dict[str, Any]] = []
        for batch in range(20):  # about 8 s: spans the joiner's start-up and the hand-over
            made += await create_deployments(api, f"during-join-{batch}", 10)
            await asyncio.sleep(0.4)
        return made

    creating = asyncio.create_task(trickle())
    instances.start("c")
    found = await eventually(lambda: settled(api, 2), "the third instance's share", within=30)
    more = await creating
    newcomer = next(name for name in found if name != survivor)
    assert instances.label_of(newcomer) == "c"
    assert int(found[newcomer]["controllerKey"]) == MAX // 2
    await each_has_one_replica_set(api, more, within=90)
    handed_over_in_order(instances, giver=survivor, joiner=newcomer)
    keys = hash_keys + [int(d["metadata"]["hashKey"]) for d in more]
    share = owned_counts(found, keys)[newcomer]
    assert 0.3 * len(keys) < share < 0.7 * len(keys), share


def logged_at(log: str, needle: str) -> datetime:
    """The time of the last log line containing ``needle`` (the processes' ``%(asctime)s``)."""
    line = next(line for line in reversed(log.splitlines()) if needle in line)
    return datetime.strptime(line[:23], "%Y-%m-%d %H:%M:%S,%f")


def handed_over_in_order(instances: Instances, *, giver: str, joiner: str) -> None:
    """The giver restarted on its upper half, then unlocked the joiner, which only then started."""
    giver_log = instances.log(instances.label_of(giver))
    joiner_log = instances.log(instances.label_of(joiner))
    shrunk = logged_at(giver_log, f"deployment instance {giver} owns ({MAX // 2}, {MAX}]")
    handed = logged_at(giver_log, f"deployment instance {giver} hands [0, {MAX // 2}] over to {joiner}")
    started = logged_at(joiner_log, f"deployment instance {joiner} owns [0, {MAX // 2}]")
    assert shrunk <= handed <= started, (shrunk, handed, started)
