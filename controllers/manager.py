"""The controller-manager process: which controllers run, over which client, while leading.

kube-controller-manager runs a chosen subset of controllers (``--controllers``) over shared
informers, and only while it holds leadership (``--leader-elect``), so that two replicas never
reconcile the same objects at once. `ControllerManager` composes exactly that from the client
runtime: a `ControllerRunner` for the selected classes, wrapped by a `LeaderElection`
(`client.leaderelection.LeaseLeaderElection` on a Lease, or `AlwaysLeader` without election).
A stop requested while still waiting for the Lease abandons the wait; a lost Lease surfaces as
`client.leaderelection.LeadershipLost` from `run`, after every controller was cancelled.

With ``replication`` (Arktos's controller framework) the `REPLICATED` workload controllers do not
wait for the Lease: every process runs them at once, each on the hashKey range its
ControllerInstance owns (`client.replicated`); the rest stay single, under leader election.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Awaitable, Callable, Mapping, Sequence
from typing import Protocol

from client.controller import ClientFor, Controller, ControllerRunner, RuntimeSettings
from client.controller_instances import InstanceTiming
from client.partitions import Partition
from client.replicated import ReplicatedControllers
from client.rest import ApiClient

log = logging.getLogger(__name__)

# Controllers whose work splits by the primary object's hashKey (each reconcile touches one owner
# and its children), as Arktos's framework splits them. Namespace, garbage collector, node
# lifecycle, tenant, ... act across objects and stay single.
REPLICATED = frozenset({"deployment", "replicaset", "replicationcontroller", "statefulset", "daemonset",
                        "job", "cronjob", "ttl-after-finished", "network"})


class LeaderElection(Protocol):
    """Runs ``lead`` only while this process is the leader.

    An implementation acquires the lock, calls ``lead()``, renews the lock meanwhile, and cancels
    ``lead`` when leadership is lost (upstream exits the process then; either is fine as long as no
    reconcile runs without the lock).
    """

    async def run(self, lead: Callable[[], Awaitable[None]]) -> None: ...


class AlwaysLeader:
    """No election: the single replica leads from the start."""

    async def run(self, lead: Callable[[], Awaitable[None]]) -> None:
        await lead()


class ControllerManager:
    """Runs ``controllers`` against the API server behind ``client``."""

    def __init__(self, client: ApiClient, controllers: Sequence[type[Controller]], *,
                 settings: RuntimeSettings | None = None,
                 leader_election: LeaderElection | None = None,
                 client_for: ClientFor | None = None,
                 sources: Mapping[str, Sequence[Partition]] | None = None,
                 replication: InstanceTiming | None = None) -> None:
        if not controllers:
            raise ValueError("no controllers selected")
        self.client = client
        self.settings = settings or RuntimeSettings()
        self.controllers = [c for c in controllers if replication is None or c.name not in REPLICATED]
        replicated = [c for c in controllers if c not in self.controllers]
        self.replicated = None if not replicated else ReplicatedControllers(
            client, replicated, settings=self.settings, timing=replication, client_for=client_for,
            sources=sources)
        self.leader_election = leader_election or AlwaysLeader()
        # Each controller's own client (controllers.credentials); None: all act through ``client``.
        self.client_for = client_for
        self.sources = sources  # other partitions' clients (scale-out; `client.partitions`)
        self._runner: ControllerRunner | None = None
        self._stop_requested = asyncio.Event()

    async def run(self) -> None:
        """Runs until `stop` is called (or the task is cancelled); raises what the election
        raises (`LeadershipLost`), or `client.controller_instances.InstanceLost`, once the
        controllers are stopped."""
        if self.replicated is None:
            await self._run_elected()
            return
        parts = [asyncio.create_task(self._run_elected(), name="elected controllers"),
                 asyncio.create_task(self.replicated.run(), name="replicated controllers")]
        try:
            done, _ = await asyncio.wait(parts, return_when=asyncio.FIRST_EXCEPTION)
        except asyncio.CancelledError:
            for part in parts:
                part.cancel()
            raise
        failed = [p for p in done if p.exception() is not None]
        if failed:
            self.stop()
            await asyncio.gather(*parts, return_exceptions=True)
            failed[0].result()
        await asyncio.gather(*parts)

    async def _run_elected(self) -> None:
        if not self.controllers:
            await self._stop_requested.wait()  # every selected controller is replicated
            return
        election = asyncio.create_task(self.leader_election.run(self._lead), name="leader election")
        stop = asyncio.create_task(self._stop_requested.wait(), name="stop request")
        try:
            await asyncio.wait({election, stop}, return_when=asyncio.FIRST_COMPLETED)
        except asyncio.CancelledError:
            election.cancel()
            raise
        finally:
            stop.cancel()
        if not election.done() and self._runner is None:
            # Stop requested while waiting for the Lease: there is nothing to finish.
            election.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await election
            return
        await election  # leading: `stop` made the runner wind down; the election releases

    @property
    def stopping(self) -> bool:
        return self._stop_requested.is_set()

    def stop(self) -> None:
        """Graceful stop: in-flight reconciles finish, then `run` returns."""
        self._stop_requested.set()
        if self._runner is not None:
            self._runner.stop()
        if self.replicated is not None:
            self.replicated.stop()

    async def _lead(self) -> None:
        if self._stop_requested.is_set():
            return
        self._runner = ControllerRunner(self.client, self.controllers, self.settings,
                                        client_for=self.client_for, sources=self.sources)
        names = ", ".join(c.name for c in self.controllers)
        log.info("starting controllers: %s", names)
        await self._runner.run()
        log.info("controllers stopped")
