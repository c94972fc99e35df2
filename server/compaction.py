"""One compactor for the whole cluster, however many API servers share the store.

Upstream's kube-apiserver compacts etcd every ``--etcd-compaction-interval`` (5 min) to the revision
it saw one interval earlier, so at least one interval of history stays for resuming watches and
continue tokens (k8s.io/apiserver ``storage/etcd3/compact.go``; it compacts nothing on its first
round). Several API servers on one etcd must not each run that loop on their own clock: the
cluster's history would shrink to whatever the most eager of them kept. So the servers elect one
compactor with a ``coordination.k8s.io/v1`` Lease, ``kube-apiserver-compactor`` in ``kube-system`` of
tenant ``system`` (visible with ``kubectl get lease``), by the protocol client-go's leader election
uses: a server takes the Lease when it is free or its record has not changed for
``leaseDurationSeconds`` as this server observed it (its own monotonic clock, so clock skew cannot
steal it), with a write guarded by the revision it read, so of two racing servers exactly one
wins. The holder renews it every round and compacts; the others only watch it. A holder that dies
is replaced once its Lease expires (three rounds); the new one compacts from its second round on.

The Lease is written through the registry like any object (the store's own create-if-absent and
guarded update), so it works on every backend; on SQLite, with its one server, that server is the
compactor.
"""

from __future__ import annotations

import asyncio
import logging
import math
import os
import socket
import time
import uuid
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from server.errors import AlreadyExists, ApiError, NotFound
from server.registry.catalogue import Catalogue
from server.registry.keys import SYSTEM_TENANT, Scope
from server.registry.store import GenericStore, WriteOptions
from server.storage.interface import Backend, StorageError

log = logging.getLogger(__name__)

LEASE_NAME = "kube-apiserver-compactor"
LEASE_NAMESPACE = "kube-system"
# Rounds a Lease lives without renewal before another server may take it.
LEASE_ROUNDS = 3


def server_identity() -> str:
    """Unique per process, readable in the Lease: host, pid and a random suffix."""
    return f"kube-apiserver-{socket.gethostname()}-{os.getpid()}-{uuid.uuid4().hex[:8]}"


def micro_time(at: datetime) -> str:
    """A metav1.MicroTime: RFC 3339 with microseconds."""
    return at.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%S.%fZ")


@dataclass(frozen=True, slots=True)
class CompactorConfig:
    """``interval``: seconds between rounds (0: no compaction at all, upstream's 0 interval)."""

    interval: float
    identity: str = field(default_factory=server_identity)

    @property
    def lease_duration(self) -> int:
        return max(1, math.ceil(LEASE_ROUNDS * self.interval))


class CompactionLease:
    """Holds, renews or watches the compactor Lease; `try_hold` is one round of the protocol."""

    def __init__(self, store: GenericStore, catalogue: Catalogue, config: CompactorConfig) -> None:
        self._store = store
        self._leases = catalogue.lookup("coordination.k8s.io", "v1", "leases")
        self._config = config
        self._scope = Scope(tenant=SYSTEM_TENANT, namespace=LEASE_NAMESPACE)
        # The Lease record last seen, and when (monotonic) it was first seen so.
        self._record: tuple[Any, ...] = ()
        self._record_seen_at = 0.0
        self.holder = ""

    async def try_hold(self) -> bool:
        """True when this server holds the Lease after the attempt (taken or renewed)."""
        if self._leases is None:
            return True  # no Lease resource served: nothing to coordinate with
        try:
            result = await self._store.guaranteed_update(self._leases, self._scope, LEASE_NAME,
                                                         self._claim, options=WriteOptions())
            spec = result.obj.get("spec") or {}
        except NotFound:
            spec = await self._create()
        self.holder = str(spec.get("holderIdentity") or "")
        return self.holder == self._config.identity

    async def _create(self) -> dict[str, Any]:
        body = {"apiVersion": "coordination.k8s.io/v1", "kind": "Lease",
                "metadata": {"name": LEASE_NAME, "namespace": LEASE_NAMESPACE},
                "spec": self._claimed({})}
        assert self._leases is not None
        try:
            created = await self._store.create(self._leases, self._scope, body, WriteOptions())
        except AlreadyExists:
            return {}  # another server created it first; we learn its holder next round
        return dict(created.obj.get("spec") or {})

    def _claim(self, lease: dict[str, Any]) -> dict[str, Any]:
        """The mutation of one update attempt: renew or take the Lease, or leave it as it is."""
        spec = lease.get("spec") or {}
        self._observe(spec)
        holder = spec.get("holderIdentity") or ""
        if holder and holder != self._config.identity and not self._expired(spec):
            return lease  # unchanged: no write
        lease["spec"] = self._claimed(spec)
        return lease

    def _claimed(self, spec: dict[str, Any]) -> dict[str, Any]:
        now = micro_time(datetime.now(UTC))
        holder = spec.get("holderIdentity") or ""
        claimed = dict(spec)
        if holder != self._config.identity:
            claimed["acquireTime"] = now
            claimed["leaseTransitions"] = int(spec.get("leaseTransitions") or 0) + (1 if holder else 0)
        claimed.update(holderIdentity=self._config.identity, renewTime=now,
                       leaseDurationSeconds=self._config.lease_duration)
        return claimed

    def _observe(self, spec: dict[str, Any]) -> None:
        record = (spec.get("holderIdentity"), spec.get("renewTime"), spec.get("leaseDurationSeconds"))
        if record != self._record:
            self._record, self._record_seen_at = record, time.monotonic()

    def _expired(self, spec: dict[str, Any]) -> bool:
        duration = float(spec.get("leaseDurationSeconds") or self._config.lease_duration)
        return time.monotonic() >= self._record_seen_at + duration


class Compactor:
    """The compaction loop; only the Lease holder compacts (see the module docstring)."""

    def __init__(self, backend: Backend, lease: CompactionLease, config: CompactorConfig) -> None:
        self._backend = backend
        self._lease = lease
        self.config = config
        self._previous = 0  # the revision seen last round while holding the Lease (0: none)
        self.compacted = 0  # the last revision this server compacted to

    async def run(self) -> None:
        """Rounds every ``interval`` until cancelled; a round that fails is logged and retried
        next round (the store may be down: compaction simply waits)."""
        if self.config.interval <= 0:
            return
        while True:
            await asyncio.sleep(self.config.interval)
            try:
                await self.round()
            except (ApiError, StorageError) as e:
                log.warning("compaction round failed: %s", e)
                self._previous = 0

    async def round(self) -> None:
        leading = await self._lease.try_hold()
        if not leading:
            self._previous = 0
            return
        current = await self._backend.current_revision()
        if self._previous:
            await self._backend.compact(self._previous)
            self.compacted = self._previous
            log.info("compacted the store to revision %d (lease holder %s)", self._previous,
                     self.config.identity)
        self._previous = current
