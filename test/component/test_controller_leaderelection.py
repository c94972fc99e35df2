"""Leader election between ``python -m controllers`` replicas on a real server's Lease.

Covers: two replicas elect exactly one leader (only its log shows controllers starting); after
``kill -9`` of the leader the other takes the Lease and starts its controllers, neither before the
dead leader's last renewal has aged a lease duration (less the retry period an observation may be
back-dated by, client/leaderelection.py) nor much later (upstream's default timings:
lease 15 s, renew deadline 10 s, retry 2 s; judged from the Lease's own renewTime/acquireTime,
which the replicas write, so a busy machine's polling lag does not count); a graceful stop
releases the Lease so the standby takes over within a retry period; a leader whose Lease is taken
from it stops and exits with status 1, as kube-controller-manager does. Leaves out clock skew
between hosts (one host here) and API-server outages longer than the renew deadline.
"""

from __future__ import annotations

import asyncio
import os
import signal
import subprocess
import uuid
from collections.abc import Callable, Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
from apiserver_process import ApiServerProcess, log_tail, stop_process
from controller_harness import eventually, get_or_none, start_controller_manager

from apis.meta import parse_time
from client.config import config_for_url
from client.leaderelection import LEASES, micro_time
from client.rest import ApiClient

LEASE_S, RETRY_S = 15.0, 2.0  # upstream's defaults, which the replicas run with
# The standby wakes when the record it observed is a lease duration old, then reads and writes the
# Lease: a retry period covers a late observation, and 2 s more a busy 2-core machine's latency.
TAKEOVER_LATEST_S = LEASE_S + RETRY_S + 2.0


class Replica:
    def __init__(self, process: subprocess.Popen[bytes], log_path: Path) -> None:
        self.process = process
        self.log_path = log_path

    def log(self) -> str:
        return self.log_path.read_text(errors="replace")

    def leads_as(self, identity: str) -> bool:
        return f"{identity} became leader" in self.log()


StartReplica = Callable[..., Replica]
Replicas = tuple[str, StartReplica]


@pytest.fixture
def replicas(apiserver: ApiServerProcess, tmp_path: Path) -> Iterator[Replicas]:
    """A fresh Lease name and a function starting replicas that compete for it."""
    lease = f"kcm-{uuid.uuid4().hex[:6]}"
    started: list[Replica] = []

    def start(index: int, *timing: str) -> Replica:
        log_path = tmp_path / f"replica-{index}.log"
        process = start_controller_manager(apiserver.url, log_path, "--controllers", "serviceaccount",
                                           "--leader-elect-lease-name", lease, *timing)
        started.append(Replica(process, log_path))
        return started[-1]

    try:
        yield lease, start
    finally:
        for replica in started:
            stop_process(replica.process)


def seconds(micro_time_text: str) -> float:
    parsed = parse_time(micro_time_text)
    assert parsed is not None, micro_time_text
    return parsed.timestamp()


async def holder(client: ApiClient, lease: str) -> str:
    found = await get_or_none(client, LEASES, lease, namespace="kube-system")
    return str(((found or {}).get("spec") or {}).get("holderIdentity") or "")


async def elected(client: ApiClient, lease: str, first: Replica,
                  second: Replica) -> tuple[str, Replica, Replica]:
    identity = await eventually(lambda: holder(client, lease), "a leader", within=15)
    leader = await eventually(lambda: next((r for r in (first, second) if r.leads_as(identity)), None),
                              "the leader's log", within=5)
    standby = second if leader is first else first
    return identity, leader, standby


async def test_one_leader_and_failover_after_kill(apiserver: ApiServerProcess, replicas: Replicas) -> None:
    lease, start = replicas
    first, second = start(0), start(1)
    async with ApiClient(config_for_url(apiserver.url)) as client:
        identity, leader, standby = await elected(client, lease, first, second)
        await eventually(lambda: "starting controllers" in leader.log(), "leader's controllers started")
        await asyncio.sleep(3)  # a few renewals; the standby keeps waiting
        assert await holder(client, lease) == identity
        assert "starting controllers" not in standby.log(), standby.log()

        os.killpg(leader.process.pid, signal.SIGKILL)
        last_renewal = ""

        async def taken_over() -> dict[str, Any] | None:
            nonlocal last_renewal
            spec = (await client.get(LEASES, lease, tenant="system", namespace="kube-system"))["spec"]
            if spec.get("holderIdentity") == identity:
                last_renewal = spec["renewTime"]  # the dead leader's: polled far more often than renewed
                return None
            return spec if spec.get("holderIdentity") else None

        taken = await eventually(taken_over, "the standby taking the Lease", within=LEASE_S + 15)
        new_identity = taken["holderIdentity"]
        waited = seconds(taken["acquireTime"]) - seconds(last_renewal)
        assert LEASE_S - RETRY_S <= waited <= TAKEOVER_LATEST_S, f"taken {waited:.2f}s after the last renewal"
        await eventually(lambda: standby.leads_as(new_identity) and "starting controllers" in standby.log(),
                         "the new leader's controllers started", within=5)
        lease_obj = await client.get(LEASES, lease, tenant="system", namespace="kube-system")
        assert lease_obj["spec"]["leaseTransitions"] >= 1
        assert lease_obj["spec"]["leaseDurationSeconds"] == 15


async def test_graceful_stop_releases_the_lease(apiserver: ApiServerProcess, replicas: Replicas) -> None:
    lease, start = replicas
    first, second = start(0), start(1)
    async with ApiClient(config_for_url(apiserver.url)) as client:
        identity, leader, standby = await elected(client, lease, first, second)
        assert stop_process(leader.process) == 0, log_tail(leader.log_path)
        stopped = asyncio.get_running_loop().time()
        assert "released lease" in leader.log()

        async def taken_over() -> str | None:
            current = await holder(client, lease)
            return current if current and current != identity else None

        new_identity = await eventually(taken_over, "standby taking the released Lease", within=LEASE_S)
        # Within a retry period (its next poll), not a whole lease duration; 4 s for a busy machine.
        took = asyncio.get_running_loop().time() - stopped
        assert took < RETRY_S + 4.0 < LEASE_S, f"took {took:.1f}s"
        assert standby.leads_as(new_identity)


async def test_leader_whose_lease_is_taken_exits_nonzero(apiserver: ApiServerProcess,
                                                         replicas: Replicas) -> None:
    lease, start = replicas
    fast = ("--leader-elect-lease-duration", "3s", "--leader-elect-renew-deadline", "2s",
            "--leader-elect-retry-period", "500ms")
    replica = start(0, *fast)
    async with ApiClient(config_for_url(apiserver.url)) as client:
        await eventually(lambda: holder(client, lease), "leader", within=10)
        stolen = await client.get(LEASES, lease, tenant="system", namespace="kube-system")
        stolen["spec"].update(holderIdentity="intruder", leaseDurationSeconds=3600,
                              renewTime=micro_time(datetime.now(UTC)))
        await client.update(LEASES, stolen, tenant="system", namespace="kube-system")
        code = await asyncio.to_thread(replica.process.wait, 10)
        assert code == 1, replica.log()
        assert "leaderelection lost" in replica.log()
        assert await holder(client, lease) == "intruder"  # the ousted leader did not write back
