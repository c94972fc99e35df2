"""Lease leader election (client/leaderelection.py) against an in-memory Lease store.

Covers: the first candidate creates the Lease and leads; a second one waits while the leader
renews and takes over once renewals stop for the lease duration; a lost optimistic update (409)
is just a failed attempt; a leader that cannot renew within the renew deadline cancels its work
and raises LeadershipLost; a leader that finishes releases the Lease; timing validation, the
--leader-elect-* timing flags of the controller manager and the scheduler, and MicroTime parsing.
No sockets: the real server path is test/component/test_controller_leaderelection.py.
"""

from __future__ import annotations

import asyncio
import contextlib
import copy
from datetime import UTC, datetime
from typing import Any

import pytest

from apis.meta import parse_time
from client.errors import AlreadyExists, Conflict, NotFound, ServerError
from client.leaderelection import (
    LeaderElectionConfig,
    LeadershipLost,
    LeaseLeaderElection,
    micro_time,
)
from client.leaderelection_flags import election_config

# A Lease holds whole seconds, so 1 s is the shortest duration that means what it says.
FAST = {"lease_duration_s": 1.0, "renew_deadline_s": 0.5, "retry_period_s": 0.1}


class LeaseStore:
    """Just enough of ApiClient for one Lease: get/create/update with resourceVersion checks."""

    def __init__(self) -> None:
        self.lease: dict[str, Any] | None = None
        self.revision = 0
        self.broken = False

    def _check(self) -> None:
        if self.broken:
            raise ServerError(500, {"message": "down"})

    async def get(self, ref: Any, name: str, **_: Any) -> dict[str, Any]:
        self._check()
        if self.lease is None:
            raise NotFound(404, {})
        return copy.deepcopy(self.lease)

    async def create(self, ref: Any, body: dict[str, Any], **_: Any) -> dict[str, Any]:
        self._check()
        if self.lease is not None:
            raise AlreadyExists(409, {"reason": "AlreadyExists"})
        return self._store(body)

    async def update(self, ref: Any, body: dict[str, Any], **_: Any) -> dict[str, Any]:
        self._check()
        assert self.lease is not None
        if body["metadata"].get("resourceVersion") != self.lease["metadata"]["resourceVersion"]:
            raise Conflict(409, {"reason": "Conflict"})
        return self._store(body)

    def _store(self, body: dict[str, Any]) -> dict[str, Any]:
        self.revision += 1
        self.lease = copy.deepcopy(body)
        self.lease["metadata"]["resourceVersion"] = str(self.revision)
        return copy.deepcopy(self.lease)

    @property
    def holder(self) -> str:
        return str(((self.lease or {}).get("spec") or {}).get("holderIdentity") or "")


def elector(store: LeaseStore, identity: str) -> LeaseLeaderElection:
    return LeaseLeaderElection(store, LeaderElectionConfig(identity=identity, **FAST))  # type: ignore[arg-type]


async def test_first_candidate_leads_second_takes_over_after_expiry() -> None:
    store = LeaseStore()
    a, b = elector(store, "a"), elector(store, "b")
    a_leading, b_leading = asyncio.Event(), asyncio.Event()

    async def lead_a() -> None:
        a_leading.set()
        await asyncio.Event().wait()

    async def lead_b() -> None:
        b_leading.set()

    task_a = asyncio.create_task(a.run(lead_a))
    await asyncio.wait_for(a_leading.wait(), 1)
    task_b = asyncio.create_task(b.run(lead_b))
    await asyncio.sleep(1.5)  # longer than the lease duration: a keeps renewing
    assert store.holder == "a" and not b_leading.is_set()
    task_a.cancel()  # a dies without releasing (like kill -9)
    with contextlib.suppress(asyncio.CancelledError):
        await task_a
    assert store.lease is not None
    last_renewal = parse_time(store.lease["spec"]["renewTime"])
    await asyncio.wait_for(b_leading.wait(), 5)
    await task_b  # b's work returned: it released the Lease
    assert store.holder == "" and store.lease is not None
    assert store.lease["spec"]["leaseTransitions"] == 1
    # Judged from the Lease's own times, as the component test does: not before a's record has
    # aged a lease duration (less the retry period it may be back-dated by), nor much after it
    # (a retry period, and half a second for a busy machine's event loop).
    acquired = parse_time(store.lease["spec"]["acquireTime"])
    assert acquired is not None and last_renewal is not None
    waited = (acquired - last_renewal).total_seconds()
    lease, retry = FAST["lease_duration_s"], FAST["retry_period_s"]
    assert lease - retry <= waited <= lease + retry + 0.5, waited


async def test_leader_that_cannot_renew_stops_and_raises() -> None:
    store = LeaseStore()
    election = elector(store, "a")
    cancelled = asyncio.Event()

    async def lead() -> None:
        try:
            await asyncio.Event().wait()
        except asyncio.CancelledError:
            cancelled.set()
            raise

    task = asyncio.create_task(election.run(lead))
    await asyncio.sleep(0.3)
    assert election.is_leader
    store.broken = True
    with pytest.raises(LeadershipLost):
        await asyncio.wait_for(task, 2)
    assert cancelled.is_set() and not election.is_leader


async def test_conflicting_update_is_a_failed_attempt() -> None:
    store = LeaseStore()
    election = elector(store, "a")
    await store.create(None, {"metadata": {"name": "kube-controller-manager"},
                              "spec": {"holderIdentity": "", "leaseDurationSeconds": 15}})
    real_update = store.update
    calls = 0

    async def racing_update(ref: Any, body: dict[str, Any], **kw: Any) -> dict[str, Any]:
        nonlocal calls
        calls += 1
        if calls == 1:  # someone else writes between our read and our write
            store._store({**store.lease, "spec": {"holderIdentity": "", "leaseDurationSeconds": 15}})  # type: ignore[dict-item]
        return await real_update(ref, body, **kw)

    store.update = racing_update  # type: ignore[method-assign]
    assert await election._try_acquire_or_renew() is False
    assert await election._try_acquire_or_renew() is True
    assert store.holder == "a"


def test_timings_must_leave_room_for_renewal() -> None:
    with pytest.raises(ValueError):
        LeaderElectionConfig(lease_duration_s=10, renew_deadline_s=10, retry_period_s=2)
    LeaderElectionConfig()  # upstream's 15/10/2


def test_micro_time_round_trip() -> None:
    now = datetime(2024, 5, 6, 7, 8, 9, 123456, tzinfo=UTC)
    assert micro_time(now) == "2024-05-06T07:08:09.123456Z"
    assert parse_time(micro_time(now)) == now
    assert parse_time("2024-05-06T07:08:09Z") == now.replace(microsecond=0)
    assert parse_time("garbage") is None and parse_time(None) is None


def timings(config: LeaderElectionConfig) -> tuple[float, float, float]:
    return config.lease_duration_s, config.renew_deadline_s, config.retry_period_s


def test_both_components_take_the_timing_flags() -> None:
    from controllers.__main__ import leader_election_for
    from controllers.__main__ import parse_args as controller_args
    from scheduler.__main__ import parse_args as scheduler_args

    flags = ["--leader-elect-lease-duration", "12s", "--leader-elect-renew-deadline", "8000ms",
             "--leader-elect-retry-period", "2"]
    parsed = [parse(["--master", "http://x", *flags]) for parse in (controller_args, scheduler_args)]
    for args in parsed:
        assert timings(election_config(args, lease_name="l")) == (12.0, 8.0, 2.0)
    defaults = election_config(scheduler_args(["--master", "http://x"]), lease_name="kube-scheduler")
    assert timings(defaults) == (15.0, 10.0, 2.0)
    election = leader_election_for(parsed[0], client=None)  # type: ignore[arg-type]
    assert isinstance(election, LeaseLeaderElection) and election.config.lease_duration_s == 12.0
    with pytest.raises(SystemExit):
        scheduler_args(["--master", "http://x", "--leader-elect-lease-duration", "soon"])
