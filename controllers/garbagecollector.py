"""The garbage collector: dependents follow their owners (ownerReferences), in every tenant.

Upstream's ``pkg/controller/garbagecollector``, over the graph of `controllers.gc_graph`:
- **background**: an object all of whose owners are gone (no object with the owner's uid) is
  deleted; an owner that still exists keeps it ("solid"), and references to owners that are gone
  are removed from a dependent that has a solid owner left;
- **foreground**: an owner deleted with ``propagationPolicy: Foreground`` carries finalizer
  ``foregroundDeletion``; its dependents are deleted (with Foreground themselves when they have
  dependents of their own), and the finalizer is removed once no dependent whose reference says
  ``blockOwnerDeletion: true`` is left;
- **orphan**: an owner with finalizer ``orphan`` has its reference removed from every dependent,
  then the finalizer.
An owner missing from the cache is looked up with a live GET before anything is deleted (the
cache may not have seen a new owner yet), as upstream's ``isDangling`` does. A reference resolves
only inside the dependent's tenant, and namespace for namespaced owners (`controllers.gc_scope`):
an object of another tenant with the named uid is no owner (the dependent is collected as an
orphan of a missing owner, and another tenant's foreground deletion never waits for it or deletes
it); a reference of a kind that can never own the dependent leaves it alone. Both are reported
with upstream's Warning event ``OwnerRefInvalidNamespace`` on the dependent, as is an owner seen
in another namespace of the same tenant — never one seen in another tenant, which would tell the
dependent's tenant that the uid exists there.
Work-queue keys are `GraphKey`s; events re-queue an object, its owners and its dependents.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Hashable
from dataclasses import dataclass, field
from typing import Any

from apis.wire_types import OwnerReference, meta_of
from client.cache import ObjectKey
from client.controller import Controller, ControllerContext, Requeue
from client.errors import ApiError, Conflict, NotFound
from client.events import EventRecorder
from controllers.gc_graph import (
    GraphKey,
    GraphResource,
    ObjectGraph,
    discover_graph_resources,
    reference_to,
)
from controllers.gc_scope import (
    INVALID_NAMESPACE_REASON,
    OwnerPlace,
    Unresolvable,
    invalid_reference_message,
    owner_place,
)
from controllers.options import controller_options
from controllers.registry import REGISTRY

log = logging.getLogger(__name__)

FOREGROUND = "foregroundDeletion"
ORPHAN = "orphan"
_SYNC_TIMEOUT_S = 30.0
_BLOCKED_RECHECK_S = 5.0


@dataclass
class Classified:
    """An object's owner references sorted as upstream's ``classifyReferences`` sorts them."""

    solid: list[OwnerReference] = field(default_factory=list)
    dangling: list[OwnerReference] = field(default_factory=list)
    waiting: list[OwnerReference] = field(default_factory=list)  # owner deleting in foreground


def deletion_policy(obj: dict[str, Any], classified: Classified, *, has_dependents: bool) -> str:
    """How to delete an object whose owners are all gone or going (upstream ``attemptToDeleteItem``)."""
    finalizers = (obj.get("metadata") or {}).get("finalizers") or []
    if classified.waiting and has_dependents:
        return "Foreground"  # its own dependents must go before the owner waiting on it
    if ORPHAN in finalizers:
        return "Orphan"
    if FOREGROUND in finalizers:
        return "Foreground"
    return "Background"


def is_deleting_with(obj: dict[str, Any], finalizer: str) -> bool:
    metadata = obj.get("metadata") or {}
    return bool(metadata.get("deletionTimestamp")) and finalizer in (metadata.get("finalizers") or [])


@REGISTRY.register
class GarbageCollector(Controller):
    name = "garbagecollector"
    workers = 4
    watches = ()  # dynamic: every resource discovery finds (`ObjectGraph`)

    def __init__(self, context: ControllerContext) -> None:
        super().__init__(context)
        self.refresh_s = controller_options(context).discovery_refresh_s
        self.graph = ObjectGraph(self.client, self._on_event)
        self._recorder = EventRecorder(self.client, "garbage-collector-controller")
        self._maintainer: asyncio.Task[None] | None = None
        self._first_sync = asyncio.Event()

    async def start(self) -> None:
        """Discovers resources, starts their informers and waits (bounded) for them to sync."""
        self._maintainer = asyncio.create_task(self._maintain_graph(), name="gc graph")
        try:
            async with asyncio.timeout(_SYNC_TIMEOUT_S):
                await self._first_sync.wait()
        except TimeoutError:
            # Live lookups guard every deletion, so starting with a partial graph is safe.
            log.warning("garbage collector: graph not fully synced after %.0fs; starting anyway",
                        _SYNC_TIMEOUT_S)

    async def _maintain_graph(self) -> None:
        """Follows discovery until the controller's queue shuts down (the manager stopping)."""
        try:
            async with asyncio.TaskGroup() as group:
                refreshed = float("-inf")
                while not self.queue.shutting_down:
                    if time.monotonic() - refreshed >= self.refresh_s:
                        refreshed = time.monotonic()
                        await self._refresh(group)
                    await asyncio.sleep(0.5)
                self.graph.stop()
        finally:
            self.graph.stop()

    async def _refresh(self, group: asyncio.TaskGroup) -> None:
        try:
            resources = await discover_graph_resources(self.client)
        except ApiError as e:
            log.warning("garbage collector: discovery failed: %s", e)
            return
        except Exception:  # a malformed discovery answer must not end the graph's upkeep
            log.exception("garbage collector: discovery answer not understood")
            return
        started = self.graph.sync_resources(resources, group)
        if started:
            log.info("garbage collector: following %d new resources", len(started))
        if not self._first_sync.is_set():
            await asyncio.gather(*(i.wait_for_sync() for i in started))
            self._first_sync.set()

    # -- events → keys --------------------------------------------------------------------------

    def _on_event(self, resource: GraphResource, event_type: str, key: ObjectKey) -> None:
        """Queues the object when it has owners or is being deleted with a propagation finalizer;
        its dependents when it goes or starts going; its owners when it is gone (a foreground
        owner may be waiting for it)."""
        obj = self.graph.last_state(GraphKey(resource.ref, key))
        if obj is None:
            return
        metadata = meta_of(obj)
        this = GraphKey(resource.ref, key)
        propagating = is_deleting_with(obj, FOREGROUND) or is_deleting_with(obj, ORPHAN)
        if event_type != "DELETED" and (metadata.get("ownerReferences") or propagating):
            self.queue.add(this)
        if event_type == "DELETED" or metadata.get("deletionTimestamp"):
            for dep_resource, dependent in self.graph.dependents(resource, obj):
                self.queue.add(GraphKey(dep_resource.ref, ObjectKey.of(dependent)))
        if event_type == "DELETED":
            for ref in metadata.get("ownerReferences") or []:
                found = self.graph.owner_of(resource, obj, ref)
                if found is not None:
                    self.queue.add(GraphKey(found[0].ref, ObjectKey.of(found[1])))

    # -- reconcile ------------------------------------------------------------------------------

    async def reconcile(self, key: Hashable) -> None:
        assert isinstance(key, GraphKey)
        obj = self.graph.get(key)
        resource = self.graph.resource(key.ref)
        if obj is None or resource is None:
            return
        if (obj.get("metadata") or {}).get("deletionTimestamp"):
            if is_deleting_with(obj, ORPHAN):
                await self._orphan_dependents(resource, obj)
            elif is_deleting_with(obj, FOREGROUND):
                await self._finish_foreground(resource, obj)
            return
        if (obj.get("metadata") or {}).get("ownerReferences"):
            await self._attempt_to_delete(resource, obj)

    async def _attempt_to_delete(self, resource: GraphResource, obj: dict[str, Any]) -> None:
        classified = await self._classify(resource, obj)
        if classified is None:
            return  # a reference that can never resolve: upstream leaves the dependent alone
        if classified.solid:
            stale = {str(r["uid"]) for r in classified.dangling + classified.waiting}
            if stale:
                await self._remove_owner_references(resource, obj, stale)
            return
        if not (classified.dangling or classified.waiting):
            return
        uid = str(obj["metadata"]["uid"])
        policy = deletion_policy(obj, classified, has_dependents=bool(self.graph.dependents(resource, obj)))
        metadata = obj["metadata"]
        try:
            await self.client.delete(resource.ref, metadata["name"], **self._location(resource, obj),
                                     propagation_policy=policy, preconditions={"uid": uid})
        except (NotFound, Conflict):
            return  # gone already, or a new object of the same name
        log.info("garbage collector: deleted %s %s (%s; owners gone or going)", resource.ref,
                 ObjectKey.of(obj), policy)

    async def _classify(self, resource: GraphResource, obj: dict[str, Any]) -> Classified | None:
        """Upstream's ``classifyReferences``; None when a reference names a kind that can never own
        the dependent (upstream's ``namespacedOwnerOfClusterScopedObjectErr``)."""
        classified = Classified()
        for ref in meta_of(obj).get("ownerReferences") or []:
            owner_resource = self.graph.resource_for(ref)
            if owner_resource is None:
                # A kind discovery does not serve (yet): never delete on a guess; look again later.
                raise Requeue(self.refresh_s, f"owner kind {ref.get('kind')} is unknown")
            place = owner_place(resource, obj, owner_resource)
            if not isinstance(place, OwnerPlace):
                outside = place is Unresolvable.OUTSIDE_TENANT
                await self._report_invalid(obj, ref, outside_tenant=outside)
                if not outside:
                    return None
                classified.dangling.append(ref)
                continue
            owner = await self._owner(owner_resource, place, ref, obj)
            if owner is None:
                classified.dangling.append(ref)
            elif is_deleting_with(owner, FOREGROUND):
                classified.waiting.append(ref)
            else:
                classified.solid.append(ref)
        return classified

    async def _owner(self, owner_resource: GraphResource, place: OwnerPlace, ref: OwnerReference,
                     dependent: dict[str, Any]) -> dict[str, Any] | None:
        """The owner a reference names where the dependent may name it: from the graph, else
        confirmed by a live GET there (upstream ``isDangling``)."""
        uid = str(ref.get("uid") or "")
        found = self.graph.find_in(owner_resource, uid, place)
        if found is not None:
            return found
        try:
            owner = await self.client.get(owner_resource.ref, str(ref.get("name") or ""),
                                          tenant=place.tenant or None, namespace=place.namespace or None)
        except NotFound:
            owner = None
        if owner is not None and (owner.get("metadata") or {}).get("uid") == uid:
            return owner
        await self._report_if_elsewhere_in_tenant(dependent, ref, place)
        return None

    async def _report_if_elsewhere_in_tenant(self, dependent: dict[str, Any], ref: OwnerReference,
                                             place: OwnerPlace) -> None:
        """Upstream reports an owner it observed in another namespace; we do so only inside the
        dependent's tenant (another tenant's objects must not show through)."""
        found = self.graph.find(str(ref.get("uid") or ""))
        if found is None:
            return
        where = found[1].get("metadata") or {}
        if str(where.get("tenant") or "") == place.tenant and not place.holds(found[1]):
            await self._report_invalid(dependent, ref)

    async def _report_invalid(self, dependent: dict[str, Any], ref: OwnerReference, *,
                              outside_tenant: bool = False) -> None:
        message = invalid_reference_message(ref, dependent, outside_tenant=outside_tenant)
        log.info("garbage collector: %s %s: %s", dependent.get("kind"), ObjectKey.of(dependent), message)
        await self._recorder.event(dependent, "Warning", INVALID_NAMESPACE_REASON, message)

    async def _finish_foreground(self, resource: GraphResource, owner: dict[str, Any]) -> None:
        uid = str(owner["metadata"]["uid"])
        blocking = []
        for dep_resource, dependent in self.graph.dependents(resource, owner):
            reference = reference_to(dependent, uid) or {}
            if reference.get("blockOwnerDeletion"):
                blocking.append(dependent)
            if not (dependent.get("metadata") or {}).get("deletionTimestamp"):
                self.queue.add(GraphKey(dep_resource.ref, ObjectKey.of(dependent)))
        if blocking:
            raise Requeue(_BLOCKED_RECHECK_S, f"{len(blocking)} dependents block the owner's deletion")
        await self._remove_finalizer(resource, owner, FOREGROUND)

    async def _orphan_dependents(self, resource: GraphResource, owner: dict[str, Any]) -> None:
        uid = str(owner["metadata"]["uid"])
        for dep_resource, dependent in self.graph.dependents(resource, owner):
            await self._remove_owner_references(dep_resource, dependent, {uid})
        await self._remove_finalizer(resource, owner, ORPHAN)

    # -- writes (live read, optimistic PUT) -----------------------------------------------------

    def _location(self, resource: GraphResource, obj: dict[str, Any]) -> dict[str, Any]:
        metadata = obj.get("metadata") or {}
        return {"tenant": metadata.get("tenant") if resource.tenanted else None,
                "namespace": metadata.get("namespace") if resource.namespaced else None}

    async def _read_live(self, resource: GraphResource, obj: dict[str, Any]) -> dict[str, Any] | None:
        metadata = obj["metadata"]
        try:
            live = await self.client.get(resource.ref, metadata["name"], **self._location(resource, obj))
        except NotFound:
            return None
        return live if live["metadata"].get("uid") == metadata.get("uid") else None

    async def _write(self, resource: GraphResource, body: dict[str, Any]) -> None:
        try:
            await self.client.update(resource.ref, body, **self._location(resource, body))
        except NotFound:
            return
        except Conflict as e:
            raise Requeue(0.1, "changed while the garbage collector wrote it") from e

    async def _remove_owner_references(self, resource: GraphResource, obj: dict[str, Any],
                                       uids: set[str]) -> None:
        live = await self._read_live(resource, obj)
        if live is None:
            return
        refs = live["metadata"].get("ownerReferences") or []
        kept = [r for r in refs if r.get("uid") not in uids]
        if len(kept) == len(refs):
            return
        live["metadata"]["ownerReferences"] = kept
        if not kept:
            del live["metadata"]["ownerReferences"]
        await self._write(resource, live)
        log.info("garbage collector: removed owner references %s from %s %s", sorted(uids), resource.ref,
                 ObjectKey.of(obj))

    async def _remove_finalizer(self, resource: GraphResource, obj: dict[str, Any], finalizer: str) -> None:
        live = await self._read_live(resource, obj)
        if live is None or finalizer not in (live["metadata"].get("finalizers") or []):
            return
        live["metadata"]["finalizers"] = [f for f in live["metadata"]["finalizers"] if f != finalizer]
        await self._write(resource, live)
        log.info("garbage collector: %s %s released (finalizer %s removed)", resource.ref,
                 ObjectKey.of(obj), finalizer)
