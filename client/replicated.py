"""Running a controller on the hashKey range its instance owns, restarted as the range changes.

Arktos's controller framework runs the workload controllers in every controller-manager process
at once: each process's `client.controller_instances.Membership` holds a range of
``metadata.hashKey``; the controller's *primary* informer (its first `Watch`: Deployments for the
deployment controller, ReplicaSets for the replicaset controller) lists and watches with Arktos's
filter ``metadata.hashkey=gt:<lo>,metadata.hashkey=lte:<hi>``, so reconcile only ever finds
objects of that range in its cache. Secondary objects (ReplicaSets of a Deployment, Pods of a
ReplicaSet) are watched whole and map to their owner's key as before, except that a child whose
controller reference carries a hashKey outside the range enqueues nothing (`owner_in`); an owner
outside the range is not in the cache either, which every controller treats as "nothing to do".

When the range changes, `ReplicatedController` stops the runner (in-flight reconciles finish,
upstream's graceful queue shutdown) and only then starts a new one on the new range and
acknowledges it to the membership — the old owner stops before the new owner starts.
Each restart relists the controller's informers: range changes are rare (an instance joins or
dies), and a runner per range keeps the hand-over a plain stop/start.
"""

from __future__ import annotations

import asyncio
import dataclasses
import logging
from collections.abc import Iterable, Mapping, Sequence
from functools import partial
from typing import Any

from client.cache import IndexFunc
from client.controller import ClientFor, Controller, ControllerRunner, RuntimeSettings
from client.controller_instances import CONTROLLER_INSTANCES, InstanceTiming, Membership
from client.hash_ranges import HashRange
from client.informer import Informer
from client.informer_factory import InformerView, SharedInformers
from client.partitions import Partition
from client.resources import ResourceRef
from client.rest import ApiClient

log = logging.getLogger(__name__)


def owner_in(hash_range: HashRange, obj: dict[str, Any]) -> bool:
    """Whether a secondary object may concern this instance: its controller's ownerReference
    carries the owner's hashKey (ARKTOS.md §2), so a child of an owner outside the range is skipped
    before it costs a reconcile. Orphans (adoption candidates) and references without a hashKey
    pass: the owner's absence from the ranged cache still decides for them."""
    for ref in (obj.get("metadata") or {}).get("ownerReferences") or ():
        if isinstance(ref, dict) and ref.get("controller") and isinstance(ref.get("hashKey"), int):
            return ref["hashKey"] in hash_range
    return True


class RangedInformers(SharedInformers):
    """Shared informers whose ``primary`` view lists and watches only one hashKey range."""

    def __init__(self, client: ApiClient, primary: InformerView, hash_range: HashRange, *,
                 watch_timeout_s: int | None = None) -> None:
        super().__init__(client, watch_timeout_s=watch_timeout_s)
        self.primary = primary
        selector = hash_range.field_selector()
        if primary.field_selector:
            selector = f"{primary.field_selector},{selector}"
        self.ranged = dataclasses.replace(primary, field_selector=selector)

    def informer(self, view: InformerView | ResourceRef, *,
                 indexers: Mapping[str, IndexFunc] | None = None) -> Informer:
        if isinstance(view, ResourceRef):
            view = InformerView(view)
        return super().informer(self.ranged if view == self.primary else view, indexers=indexers)


class ReplicatedController:
    """One controller class, run by this process on the range its instance owns."""

    def __init__(self, client: ApiClient, cls: type[Controller], informer: Informer, *,
                 settings: RuntimeSettings, timing: InstanceTiming, client_for: ClientFor | None = None,
                 sources: Mapping[str, Sequence[Partition]] | None = None) -> None:
        if not cls.watches:
            raise ValueError(f"controller {cls.name} watches nothing: it has no primary resource")
        self.client = client
        self.cls = cls
        self.primary = cls.watches[0].view
        self.settings = settings
        self.client_for = client_for
        self.sources = sources
        self.membership = Membership(client, informer, cls.name, timing=timing,
                                     workload_count=self.workload_count)
        self._runner: ControllerRunner | None = None
        self._stopping = asyncio.Event()

    def workload_count(self) -> int:
        """Objects of the primary resource in our range (the record's ``workloadNum``)."""
        if self._runner is None:
            return 0
        informers = self._runner.informers
        assert isinstance(informers, RangedInformers)
        return len(informers.informer(self.primary).store)

    def stop(self) -> None:
        self._stopping.set()
        if self._runner is not None:
            self._runner.stop()

    async def run(self) -> None:
        """Follows the range until `stop`, then leaves (the record goes); raises `InstanceLost`."""
        membership = asyncio.create_task(self.membership.run(), name=f"instance {self.cls.name}")
        try:
            await self._follow(membership)
        finally:
            membership.cancel()
            await _finished(membership)  # re-raises InstanceLost, after the runner has stopped
        await self.membership.leave()

    async def _follow(self, membership: asyncio.Task[None]) -> None:
        running: HashRange | None = None
        task: asyncio.Task[None] | None = None
        try:
            while not self._stopping.is_set() and not membership.done():
                wanted = self.membership.assigned()
                if wanted != running:
                    await self._stop_runner(task)
                    running, task = wanted, self._start_runner(wanted)
                    self.membership.acknowledge(running)
                    self._log_range(running)
                stop = asyncio.create_task(self._stopping.wait())
                change = asyncio.create_task(self.membership.changed())
                await asyncio.wait({stop, change, membership}, return_when=asyncio.FIRST_COMPLETED)
                stop.cancel()
                change.cancel()
        finally:
            # Fenced (the record lost or not renewable): stop at once, others may take over soon.
            await self._stop_runner(task, now=membership.done() and not membership.cancelled())

    def _start_runner(self, hash_range: HashRange | None) -> asyncio.Task[None] | None:
        if hash_range is None or hash_range.empty:
            self._runner = None
            return None
        informers = RangedInformers(self.client, self.primary, hash_range,
                                    watch_timeout_s=self.settings.watch_timeout_s)
        self._runner = ControllerRunner(self.client, [self.cls], self.settings, client_for=self.client_for,
                                        sources=self.sources, informers=informers,
                                        admits=partial(owner_in, hash_range))
        return asyncio.create_task(self._runner.run(), name=f"controller {self.cls.name} {hash_range}")

    async def _stop_runner(self, task: asyncio.Task[None] | None, *, now: bool = False) -> None:
        """Graceful: in-flight reconciles finish (the runner's own timeout cancels late ones);
        ``now``, or when we are being cancelled (a second signal): cancelled at once."""
        if task is None or self._runner is None:
            return
        current = asyncio.current_task()
        if now or (current is not None and current.cancelling()):
            task.cancel()
        else:
            self._runner.stop()
        await _finished(task)
        self._runner = None

    def _log_range(self, hash_range: HashRange | None) -> None:
        name = self.membership.name
        if hash_range is None:
            log.info("%s instance %s owns no range yet (locked)", self.cls.name, name)
        else:
            log.info("%s instance %s owns %s (%.1f%% of the hashKey space)", self.cls.name, name,
                     hash_range, 100 * hash_range.share)


class ReplicatedControllers:
    """Every replicated controller of this process, over one informer of ControllerInstances."""

    def __init__(self, client: ApiClient, classes: Iterable[type[Controller]], *,
                 settings: RuntimeSettings | None = None, timing: InstanceTiming | None = None,
                 client_for: ClientFor | None = None,
                 sources: Mapping[str, Sequence[Partition]] | None = None) -> None:
        self.informer = Informer(client, CONTROLLER_INSTANCES)
        self.controllers = [
            ReplicatedController(client, cls, self.informer, settings=settings or RuntimeSettings(),
                                 timing=timing or InstanceTiming(), client_for=client_for, sources=sources)
            for cls in classes
        ]

    def stop(self) -> None:
        for controller in self.controllers:
            controller.stop()

    async def run(self) -> None:
        """Runs until `stop` (every controller left) or an `InstanceLost` (raised)."""
        informer = asyncio.create_task(self.informer.run(), name="controller instances informer")
        tasks = [asyncio.create_task(c.run(), name=f"replicated {c.cls.name}") for c in self.controllers]
        try:
            done, _ = await asyncio.wait(tasks, return_when=asyncio.FIRST_EXCEPTION)
        except asyncio.CancelledError:
            for task in (*tasks, informer):  # stop now: no graceful leave
                task.cancel()
            await asyncio.gather(*tasks, informer, return_exceptions=True)
            raise
        self.stop()  # one failed: the others leave gracefully
        await asyncio.gather(*tasks, return_exceptions=True)
        informer.cancel()
        await _finished(informer)
        for task in done:
            task.result()


async def _finished(task: asyncio.Task[None]) -> None:
    """Awaits ``task``; its own cancellation is expected, ours is not swallowed."""
    try:
        await task
    except asyncio.CancelledError:
        current = asyncio.current_task()
        if not task.cancelled() or (current is not None and current.cancelling()):
            raise
