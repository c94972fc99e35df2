"""Leader election on a ``coordination.k8s.io/v1`` Lease, so only one replica reconciles at a time.

client-go's ``tools/leaderelection`` with a ``LeaseLock``: candidates read the Lease; one whose
holder is empty or whose record has not changed for ``leaseDurationSeconds`` takes it with an
optimistic update (the PUT carries the resourceVersion it read, so of two racing candidates the
server accepts one and answers 409 to the other). The leader renews every ``retry_period``; if it
cannot renew within ``renew_deadline`` of its last renewal it stops leading: `run` cancels the
leading coroutine and raises `LeadershipLost` (kube-controller-manager then exits non-zero). A
leader that stops on its own releases the Lease (``ReleaseOnCancel``) so a standby need not wait.

Expiry is judged, as upstream does, from *when this process saw the record change* (its own
monotonic clock), not from the holder's ``renewTime``, so clock skew cannot steal a Lease. One
refinement: the observation is back-dated by how old the ``renewTime`` already was, by at most
``retry_period`` — that removes the poll lag from a fail-over (a standby takes over ~15 s after
the leader's last renewal rather than up to 17 s) while a skewed clock can shorten the wait by no
more than ``retry_period``, which stays inside the margin between ``renew_deadline`` (10 s, when
the old leader stops) and ``lease_duration`` (15 s).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import socket
import time
import uuid
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from apis.meta import parse_time
from client.errors import AlreadyExists, ApiError, Conflict, NotFound
from client.resources import ResourceRef
from client.rest import ApiClient

log = logging.getLogger(__name__)

LEASES = ResourceRef("coordination.k8s.io", "v1", "leases", "Lease")


class LeadershipLost(Exception):
    """The Lease could not be renewed within the renew deadline: this process must stop leading."""


def default_identity() -> str:
    """``hostname_uuid``, as kube-controller-manager builds its holder identity."""
    return f"{socket.gethostname()}_{uuid.uuid4()}"


@dataclass(frozen=True, slots=True)
class LeaderElectionConfig:
    """Which Lease, who we are, and upstream's timings (``--leader-elect-*`` flags)."""

    lease_name: str = "kube-controller-manager"
    namespace: str = "kube-system"
    tenant: str = "system"
    identity: str = field(default_factory=default_identity)
    lease_duration_s: float = 15.0
    renew_deadline_s: float = 10.0
    retry_period_s: float = 2.0

    def __post_init__(self) -> None:
        # client-go's NewLeaderElector refuses the same inconsistent timings.
        if not self.lease_duration_s > self.renew_deadline_s > self.retry_period_s > 0:
            raise ValueError("need lease duration > renew deadline > retry period > 0")


def micro_time(at: datetime) -> str:
    """A metav1.MicroTime: RFC 3339 with microseconds."""
    return at.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%S.%fZ")


@dataclass(slots=True)
class _Observation:
    """The last Lease record seen and when (monotonic) it was seen to change."""

    record: tuple[Any, ...] = ()
    at: float = 0.0


class LeaseLeaderElection:
    """Implements `controllers.manager.LeaderElection` on a Lease."""

    def __init__(self, client: ApiClient, config: LeaderElectionConfig, *,
                 on_new_leader: Callable[[str], None] | None = None) -> None:
        self.client = client
        self.config = config
        self.on_new_leader = on_new_leader
        self._observed = _Observation()
        self._leader = ""
        self._is_leader = False
        self._last_renew = 0.0

    @property
    def is_leader(self) -> bool:
        return self._is_leader

    @property
    def leader(self) -> str:
        """The holder last seen on the Lease ("" when none)."""
        return self._leader

    async def run(self, lead: Callable[[], Awaitable[None]]) -> None:
        """Waits for the Lease, then runs ``lead`` while renewing it.

        Returns when ``lead`` returns (the Lease is released); raises `LeadershipLost` (after
        cancelling ``lead``) when renewal fails for longer than the renew deadline.
        """
        await self._acquire()
        log.info("%s became leader of lease %s/%s", self.config.identity, self.config.namespace,
                 self.config.lease_name)
        lead_task = asyncio.create_task(_as_coroutine(lead), name="leading")
        renew_task = asyncio.create_task(self._renew_until_lost(), name="lease renewal")
        try:
            done, _ = await asyncio.wait({lead_task, renew_task}, return_when=asyncio.FIRST_COMPLETED)
        finally:
            for task in (lead_task, renew_task):
                if not task.done():
                    task.cancel()
                    with contextlib.suppress(asyncio.CancelledError):
                        await task
        if renew_task in done:
            self._is_leader = False
            renew_task.result()  # raises LeadershipLost
        lead_task.result()
        await self._release()

    # -- acquiring and renewing -----------------------------------------------------------------

    async def _acquire(self) -> None:
        while True:
            if await self._try_acquire_or_renew():
                return
            await asyncio.sleep(self._next_attempt_in())

    def _next_attempt_in(self) -> float:
        """Poll every retry period, but wake exactly when an observed Lease is due to expire."""
        if not self._leader:
            return self.config.retry_period_s
        due = self._observed.at + self._observed_duration() - time.monotonic()
        return max(0.05, min(self.config.retry_period_s, due + 0.01))

    async def _renew_until_lost(self) -> None:
        config = self.config
        while True:
            await asyncio.sleep(config.retry_period_s)
            deadline = self._last_renew + config.renew_deadline_s
            while not await self._attempt_within(deadline):
                if time.monotonic() >= deadline:
                    log.error("%s failed to renew lease %s/%s within %.0fs: leadership lost",
                              config.identity, config.namespace, config.lease_name,
                              config.renew_deadline_s)
                    raise LeadershipLost(config.lease_name)
                await asyncio.sleep(min(config.retry_period_s, max(0.0, deadline - time.monotonic())))

    async def _attempt_within(self, deadline: float) -> bool:
        remaining = deadline - time.monotonic()
        if remaining <= 0:
            return False
        try:
            async with asyncio.timeout(remaining):
                return await self._try_acquire_or_renew()
        except TimeoutError:
            return False

    async def _try_acquire_or_renew(self) -> bool:
        """One attempt (client-go ``tryAcquireOrRenew``); True when we hold the Lease after it."""
        config = self.config
        now = datetime.now(UTC)
        try:
            lease = await self.client.get(LEASES, config.lease_name, tenant=config.tenant,
                                          namespace=config.namespace)
        except NotFound:
            return await self._create(now)
        except ApiError as e:
            log.warning("cannot read lease %s: %s", config.lease_name, e)
            return False
        spec = lease.get("spec") or {}
        self._observe(spec, now)
        holder = str(spec.get("holderIdentity") or "")
        if holder and holder != config.identity and not self._observed_expired():
            return False
        new_spec = dict(spec)
        if holder != config.identity:
            new_spec["acquireTime"] = micro_time(now)
            new_spec["leaseTransitions"] = int(spec.get("leaseTransitions") or 0) + (1 if holder else 0)
        new_spec.update(holderIdentity=config.identity, renewTime=micro_time(now),
                        leaseDurationSeconds=_whole_seconds(config.lease_duration_s))
        try:
            updated = await self.client.update(LEASES, {**lease, "spec": new_spec}, tenant=config.tenant,
                                               namespace=config.namespace)
        except Conflict:
            return False  # someone else wrote first; read again next time
        except ApiError as e:
            log.warning("cannot update lease %s: %s", config.lease_name, e)
            return False
        self._succeeded(updated.get("spec") or new_spec)
        return True

    async def _create(self, now: datetime) -> bool:
        config = self.config
        spec = {"holderIdentity": config.identity,
                "leaseDurationSeconds": _whole_seconds(config.lease_duration_s),
                "acquireTime": micro_time(now), "renewTime": micro_time(now), "leaseTransitions": 0}
        body = {"apiVersion": "coordination.k8s.io/v1", "kind": "Lease",
                "metadata": {"name": config.lease_name, "namespace": config.namespace}, "spec": spec}
        try:
            created = await self.client.create(LEASES, body, tenant=config.tenant, namespace=config.namespace)
        except AlreadyExists:
            return False
        except ApiError as e:
            log.warning("cannot create lease %s: %s", config.lease_name, e)
            return False
        self._succeeded(created.get("spec") or spec)
        return True

    async def _release(self) -> None:
        """Gives the Lease up (upstream's ReleaseOnCancel) so a standby takes over at once."""
        config = self.config
        try:
            lease = await self.client.get(LEASES, config.lease_name, tenant=config.tenant,
                                          namespace=config.namespace)
            spec = dict(lease.get("spec") or {})
            if spec.get("holderIdentity") != config.identity:
                return
            spec.update(holderIdentity="", leaseDurationSeconds=1, renewTime=micro_time(datetime.now(UTC)))
            await self.client.update(LEASES, {**lease, "spec": spec}, tenant=config.tenant,
                                     namespace=config.namespace)
            log.info("%s released lease %s", config.identity, config.lease_name)
        except ApiError as e:
            log.warning("could not release lease %s: %s", config.lease_name, e)
        finally:
            self._is_leader = False

    # -- bookkeeping ----------------------------------------------------------------------------

    def _observe(self, spec: dict[str, Any], now: datetime) -> None:
        record = (spec.get("holderIdentity"), spec.get("renewTime"), spec.get("acquireTime"),
                  spec.get("leaseDurationSeconds"), spec.get("leaseTransitions"))
        if record != self._observed.record:
            self._observed = _Observation(record, time.monotonic() - self._renew_age(spec, now))
        self._set_leader(str(spec.get("holderIdentity") or ""))

    def _renew_age(self, spec: dict[str, Any], now: datetime) -> float:
        """How old the record's renewTime is by our clock, trusted up to one retry period."""
        renewed = parse_time(spec.get("renewTime"))
        if renewed is None:
            return 0.0
        return min(max(0.0, (now - renewed).total_seconds()), self.config.retry_period_s)

    def _observed_duration(self) -> float:
        """The holder's leaseDurationSeconds (whole seconds on the wire), else our own."""
        recorded = self._observed.record[3] if self._observed.record else None
        return float(recorded or self.config.lease_duration_s)

    def _observed_expired(self) -> bool:
        return time.monotonic() >= self._observed.at + self._observed_duration()

    def _succeeded(self, spec: dict[str, Any]) -> None:
        self._observed = _Observation(
            (spec.get("holderIdentity"), spec.get("renewTime"), spec.get("acquireTime"),
             spec.get("leaseDurationSeconds"), spec.get("leaseTransitions")), time.monotonic())
        self._last_renew = time.monotonic()
        self._is_leader = True
        self._set_leader(self.config.identity)

    def _set_leader(self, holder: str) -> None:
        if holder != self._leader:
            self._leader = holder
            if holder:
                log.info("new leader of lease %s: %s", self.config.lease_name, holder)
            if self.on_new_leader is not None and holder:
                self.on_new_leader(holder)


def _whole_seconds(seconds: float) -> int:
    return max(1, round(seconds))


async def _as_coroutine(lead: Callable[[], Awaitable[None]]) -> None:
    await lead()
