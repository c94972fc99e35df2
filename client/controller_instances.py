"""One process's place among the instances of one controller type: Arktos's ControllerInstance.

Arktos's controller framework lets every controller-manager process run the workload controllers
at once, each on a slice of ``metadata.hashKey`` space recorded in a cluster-wide
``ControllerInstance`` per process and controller type (`apis.controller_instance_schemas`; the
slices are `client.hash_ranges.assign` of the records). A `Membership` keeps this process's record
and follows everyone's through one shared informer:

- **join**: create the record *locked*, keyed in the middle of the largest unlocked range, naming
  the instance it splits (the giver, annotation `GIVER`); the very first instance names none and
  unlocks itself once its own record is visible and alone (a watch delivers in resourceVersion
  order, so every record created before it is visible by then too);
- **hand-over**: the giver's runner restarts on the smaller range (`acknowledge` reports what it
  runs); only when that range no longer overlaps the joiner's does the giver unlock the joiner.
  A joiner whose giver's record is gone (left, or removed as dead) unlocks itself;
- **renewal**: the record is patched every retry period (heartbeat annotation, ``workloadNum``); a
  record whose resourceVersion has not moved for a lease duration, as this process observed it, is
  dead and is deleted with that resourceVersion as precondition (a late renewal wins the race);
- **fencing**: a process that cannot renew within the renew deadline, or finds its record gone,
  raises `InstanceLost` and its controllers stop (renew deadline < lease duration, as upstream's
  leader election), so nobody takes a range over from an instance still working on it.
The protocol and its argument are in docs/design/replicated-controllers.md.
"""

from __future__ import annotations

import asyncio
import logging
import random
import uuid
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

import aiohttp

from apis.controller_instance_schemas import MAX_HASH_KEY
from client.errors import ApiError, Conflict, NotFound
from client.hash_ranges import HashRange, Member, assign, split_for_joiner
from client.informer import Informer
from client.resources import ResourceRef
from client.rest import ApiClient

log = logging.getLogger(__name__)

CONTROLLER_INSTANCES = ResourceRef("", "v1", "controllerinstances", "ControllerInstance")
GIVER = "controllerinstance.arktos.futurewei.com/giver"
HEARTBEAT = "controllerinstance.arktos.futurewei.com/heartbeat"


# Failures of one request that the next attempt may not have (InstanceLost is not one of them).
_TRANSIENT = (ApiError, aiohttp.ClientError, OSError, TimeoutError)


class InstanceLost(Exception):
    """This process's record was removed, or not renewed within the renew deadline."""


@dataclass(frozen=True, slots=True)
class InstanceTiming:
    """Upstream's leader-election timings, reused for instance records (same flags)."""

    lease_duration_s: float = 15.0
    renew_deadline_s: float = 10.0
    retry_period_s: float = 2.0


def _name_of(record: dict[str, Any]) -> str:
    return str((record.get("metadata") or {}).get("name") or "")


def _instance_name(controller_type: str) -> str:
    """Arktos names an instance ``<type>-<id>``; a random id per process and join."""
    return f"{controller_type}-{uuid.uuid4().hex[:10]}"


def _member(record: dict[str, Any]) -> Member:
    return Member(_name_of(record), int(record.get("controllerKey") or 0), bool(record.get("isLocked")))


class Membership:
    """This process's ControllerInstance of ``controller_type`` and its view of the others."""

    def __init__(self, client: ApiClient, informer: Informer, controller_type: str, *,
                 timing: InstanceTiming, workload_count: Callable[[], int]) -> None:
        self.client = client
        self.informer = informer
        self.controller_type = controller_type
        self.name = _instance_name(controller_type)
        self.timing = timing
        self._workload_count = workload_count
        self._running: HashRange | None = None  # what the runner works on now (acknowledged)
        self._waiters: set[asyncio.Event] = set()
        self._observed: dict[str, tuple[str, float]] = {}  # name -> (resourceVersion, first seen)
        self._renewed_at = 0.0
        self._rejoining = False
        self._reported = 0  # the workload count last logged
        informer.add_handler(lambda _type, _key: self._notify())

    # -- reading -----------------------------------------------------------------------------

    def records(self) -> dict[str, dict[str, Any]]:
        return {_name_of(r): r for r in self.informer.objects()
                if r.get("controllerType") == self.controller_type}

    def assigned(self) -> HashRange | None:
        """The range this instance may work on now: None while unregistered or locked."""
        records = self.records()
        own = records.get(self.name)
        if own is None or own.get("isLocked"):
            return None
        return assign(_member(r) for r in records.values())[self.name]

    async def changed(self) -> None:
        """Returns at the next change of any record (or after a retry period: a change between
        a caller's look and this wait costs at most that)."""
        event = asyncio.Event()
        self._waiters.add(event)
        try:
            async with asyncio.timeout(self.timing.retry_period_s):
                await event.wait()
        except TimeoutError:
            pass
        finally:
            self._waiters.discard(event)

    def _notify(self) -> None:
        for event in self._waiters:
            event.set()

    def acknowledge(self, running: HashRange | None) -> None:
        """The runner now works on ``running`` only (the old runner has stopped)."""
        self._running = running
        self._notify()

    # -- the loop ----------------------------------------------------------------------------

    async def run(self) -> None:
        """Joins, then renews and tends the records until cancelled; raises `InstanceLost`."""
        await self.informer.wait_for_sync()
        await self._join()
        self._renewed_at = asyncio.get_running_loop().time()
        renewing = asyncio.create_task(self._renew_loop(), name=f"renew {self.name}")
        tending = asyncio.create_task(self._tend_loop(), name=f"tend {self.name}")
        try:
            done, _ = await asyncio.wait({renewing, tending}, return_when=asyncio.FIRST_COMPLETED)
            for task in done:
                task.result()  # InstanceLost, or an unexpected failure
        finally:
            for task in (renewing, tending):
                task.cancel()
            await asyncio.gather(renewing, tending, return_exceptions=True)

    async def leave(self) -> None:
        """Graceful exit (after the runner stopped): the neighbour takes the range at once."""
        try:
            await self.client.delete(CONTROLLER_INSTANCES, self.name)
            log.info("%s instance %s left", self.controller_type, self.name)
        except NotFound:
            pass
        except ApiError as e:
            log.warning("%s instance %s could not remove its record: %s", self.controller_type, self.name, e)

    async def _join(self) -> None:
        while True:
            split = split_for_joiner(_member(r) for r in self.records().values())
            if split is None:  # a join or a takeover is under way: wait for it
                await self.changed()
                continue
            body = {
                "apiVersion": "v1", "kind": "ControllerInstance",
                "metadata": {"name": self.name, "annotations": {GIVER: split.giver or ""}},
                "controllerType": self.controller_type, "controllerKey": split.key,
                "workloadNum": 0, "isLocked": True,
            }
            try:
                await self.client.create(CONTROLLER_INSTANCES, body)
            except _TRANSIENT as e:  # e.g. the server restarting, or a role not yet reconciled
                log.warning("%s instance %s could not register: %s", self.controller_type, self.name, e)
                await asyncio.sleep(self.timing.retry_period_s)
                continue
            log.info("%s instance %s joins at key %d, splitting %s", self.controller_type, self.name,
                     split.key, split.giver or "nothing (first instance)")
            while self.name not in self.records():
                await self.changed()
            return

    async def _renew_loop(self) -> None:
        loop = asyncio.get_running_loop()
        while True:
            if self._rejoining:
                self._renewed_at = loop.time()  # a record being replaced has nothing to renew
            else:
                await self._renew()
            left = self.timing.renew_deadline_s - (loop.time() - self._renewed_at)
            if left <= 0:
                raise InstanceLost(f"{self.controller_type} instance {self.name} not renewed within "
                                   f"{self.timing.renew_deadline_s:.0f}s")
            await asyncio.sleep(min(self.timing.retry_period_s, left))

    async def _renew(self) -> None:
        loop = asyncio.get_running_loop()
        left = max(0.1, self.timing.renew_deadline_s - (loop.time() - self._renewed_at))
        count = self._workload_count()
        if count != self._reported:
            # What operators read to see the split ("each owns about half"), beside workloadNum.
            log.info("%s instance %s owns %d objects in %s", self.controller_type, self.name, count,
                     self._running or "no range")
            self._reported = count
        patch = {"metadata": {"annotations": {HEARTBEAT: datetime.now(UTC).isoformat()}},
                 "workloadNum": count}
        try:
            async with asyncio.timeout(left):
                await self.client.patch(CONTROLLER_INSTANCES, self.name, patch)
            self._renewed_at = loop.time()
        except NotFound as e:
            if not self._rejoining:
                raise InstanceLost(f"{self.controller_type} instance {self.name} was removed") from e
        except _TRANSIENT as e:
            log.warning("%s instance %s could not renew: %s", self.controller_type, self.name, e)

    async def _tend_loop(self) -> None:
        while True:
            try:
                await self._tend()
            except _TRANSIENT as e:  # the next change or retry period decides again
                log.warning("%s instance %s: %s", self.controller_type, self.name, e)
            await self.changed()

    # -- tending the records -----------------------------------------------------------------

    async def _tend(self) -> None:
        records = self.records()
        own = records.get(self.name)
        if own is None:
            raise InstanceLost(f"{self.controller_type} instance {self.name} was removed")
        await self._remove_dead(records)
        if own.get("isLocked"):
            await self._settle_join(own, records)
            return
        ranges = assign(_member(r) for r in records.values())
        mine = ranges[self.name]
        if mine.upper == MAX_HASH_KEY and int(own.get("controllerKey") or 0) != MAX_HASH_KEY:
            # The last instance records the top of the space (it took its dead successor's range).
            await self._patch(self.name, {"controllerKey": MAX_HASH_KEY})
        if mine.empty and (self._running is None or self._running.empty):
            # An equal key left nothing to us: join again elsewhere (nothing to hand over).
            await self._rejoin("its range is empty")
            return
        await self._unlock_joiners(records, ranges)

    async def _settle_join(self, own: dict[str, Any], records: dict[str, dict[str, Any]]) -> None:
        giver = str(((own.get("metadata") or {}).get("annotations") or {}).get(GIVER) or "")
        key = int(own.get("controllerKey") or 0)
        if any(_member(r).key == key for n, r in records.items() if n != self.name):
            await self._rejoin("another instance chose the same key")
        elif not giver:
            if len(records) == 1:
                await self._patch(self.name, {"isLocked": False})
            else:
                await self._rejoin("other instances registered first")
        elif giver not in records:
            log.info("%s instance %s: giver %s is gone; unlocking", self.controller_type, self.name, giver)
            await self._patch(self.name, {"isLocked": False})

    async def _unlock_joiners(self, records: dict[str, dict[str, Any]], ranges: dict[str, HashRange]) -> None:
        """The giver's acknowledgement: unlock a joiner once our runner no longer touches its range."""
        if self._running is None or self._running != ranges[self.name]:
            return  # the runner has not restarted on our current range yet
        for name, record in records.items():
            annotations = (record.get("metadata") or {}).get("annotations") or {}
            if record.get("isLocked") and annotations.get(GIVER) == self.name \
                    and not ranges[name].overlaps(self._running):
                log.info("%s instance %s hands %s over to %s", self.controller_type, self.name,
                         ranges[name], name)
                await self._patch(name, {"isLocked": False})

    async def _remove_dead(self, records: dict[str, dict[str, Any]]) -> None:
        now = asyncio.get_running_loop().time()
        for name in set(self._observed) - set(records):
            del self._observed[name]
        for name, record in records.items():
            if name == self.name:
                continue
            version = str(record["metadata"].get("resourceVersion") or "")
            seen = self._observed.get(name)
            if seen is None or seen[0] != version:
                self._observed[name] = (version, now)
            elif now - seen[1] > self.timing.lease_duration_s:
                await self._delete_dead(name, record, version)

    async def _delete_dead(self, name: str, record: dict[str, Any], version: str) -> None:
        preconditions = {"uid": str(record["metadata"].get("uid") or ""), "resourceVersion": version}
        try:
            await self.client.delete(CONTROLLER_INSTANCES, name, preconditions=preconditions)
            log.info("%s instance %s removed dead instance %s (not renewed for %.0fs)",
                     self.controller_type, self.name, name, self.timing.lease_duration_s)
        except (NotFound, Conflict):
            pass  # renewed meanwhile, or someone else removed it

    async def _rejoin(self, why: str) -> None:
        """Leaves and joins under a new name (a joiner that named the old one as giver sees it gone:
        right, since an instance rejoins only when it works on nothing)."""
        log.info("%s instance %s joins again: %s", self.controller_type, self.name, why)
        self._rejoining = True
        try:
            await self.leave()
            while self.name in self.records():
                await self.changed()
            self.name = _instance_name(self.controller_type)
            await asyncio.sleep(random.uniform(0, self.timing.retry_period_s))
            await self._join()
        finally:
            self._rejoining = False

    async def _patch(self, name: str, patch: dict[str, Any]) -> None:
        try:
            await self.client.patch(CONTROLLER_INSTANCES, name, patch)
        except (NotFound, Conflict):
            pass  # the next event brings the record back to decide again
