"""The garbage collector's view of the cluster: every object's identity and owners, by uid.

Upstream's GraphBuilder (``pkg/controller/garbagecollector/graph_builder.go``) watches every
resource that can be listed, watched and deleted — found through discovery and looked up again
periodically so CRDs added later are covered — and keeps, for each object, only what ownership
needs. Here each resource gets its own informer whose transform (client-go's ``SetTransform``)
strips objects down to apiVersion/kind and the metadata the collector reads, so memory grows
with the number of objects, not their size. Two indexes answer the collector's questions in
O(result): ``gc.uid`` (is this owner uid known, and where?) and ``gc.owner`` (which objects name
this uid as an owner?). Both answers are filtered by `controllers.gc_scope`: an owner is found only
where the dependent may name it (its tenant, and its namespace for namespaced owners), so an object
of one tenant is never the owner of another tenant's object. Events are ignored as upstream ignores
them: they are never owners and are the most numerous objects of all.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from typing import Any

from apis.meta import split_api_version
from apis.wire_types import OwnerReference, meta_of
from client.cache import ObjectKey
from client.informer import Informer
from client.resources import ALL_TENANTS, ResourceRef
from client.rest import ApiClient
from controllers.gc_scope import OwnerPlace, owner_place

log = logging.getLogger(__name__)

UID_INDEX = "gc.uid"
OWNER_INDEX = "gc.owner"
# Upstream's ignoredResources: events are never owners and would dominate the graph.
_IGNORED = frozenset({("", "events"), ("events.k8s.io", "events")})
_KEPT_METADATA = ("name", "namespace", "tenant", "uid", "resourceVersion", "ownerReferences",
                  "finalizers", "deletionTimestamp", "creationTimestamp")


@dataclass(frozen=True, slots=True)
class GraphResource:
    """A resource the collector follows, with the scope facts needed to address its objects."""

    ref: ResourceRef
    namespaced: bool
    tenanted: bool


@dataclass(frozen=True, slots=True)
class GraphKey:
    """One object in the graph: its resource and its key (the collector's work-queue key)."""

    ref: ResourceRef
    key: ObjectKey


EventHandler = Callable[[GraphResource, str, ObjectKey], None]


def metadata_only(obj: dict[str, Any]) -> dict[str, Any]:
    """The informer transform: identity, owners and deletion state, nothing else."""
    metadata = obj.get("metadata") or {}
    return {"apiVersion": obj.get("apiVersion"), "kind": obj.get("kind"),
            "metadata": {k: metadata[k] for k in _KEPT_METADATA if k in metadata}}


def uid_of(obj: dict[str, Any]) -> list[str]:
    uid = (obj.get("metadata") or {}).get("uid")
    return [str(uid)] if uid else []


def reference_to(obj: Mapping[str, Any], owner_uid: str) -> OwnerReference | None:
    """The ownerReference of ``obj`` that names ``owner_uid``."""
    return next((r for r in meta_of(obj).get("ownerReferences") or [] if r.get("uid") == owner_uid), None)


def owner_uids(obj: Mapping[str, Any]) -> list[str]:
    return [str(ref["uid"]) for ref in meta_of(obj).get("ownerReferences") or [] if ref.get("uid")]


async def discover_graph_resources(client: ApiClient) -> list[GraphResource]:
    """Every resource of each group's preferred version (and core v1) that supports list, watch
    and delete — upstream's ``GetDeletableResources`` — except events."""
    lists = [await client.request("GET", "/api/v1")]
    groups = await client.request("GET", "/apis")
    versions = [g["preferredVersion"]["groupVersion"] for g in groups.get("groups") or []
                if g.get("preferredVersion")]
    lists += await asyncio.gather(*(client.request("GET", f"/apis/{gv}") for gv in versions))
    found: list[GraphResource] = []
    for resource_list in lists:
        found.extend(_deletable(resource_list))
    return found


def _deletable(resource_list: dict[str, Any]) -> Iterable[GraphResource]:
    group, version = split_api_version(str(resource_list.get("groupVersion") or ""))
    for entry in resource_list.get("resources") or []:
        name = str(entry.get("name") or "")
        verbs = set(entry.get("verbs") or ())
        if "/" in name or (group, name) in _IGNORED or not {"list", "watch", "delete"} <= verbs:
            continue
        yield GraphResource(ResourceRef(group, version, name, str(entry.get("kind") or "")),
                            namespaced=bool(entry.get("namespaced")), tenanted=bool(entry.get("tenanted")))


class ObjectGraph:
    """Metadata informers over a changing set of resources, with uid and owner indexes."""

    def __init__(self, client: ApiClient, on_event: EventHandler) -> None:
        self.client = client
        self._on_event = on_event
        self._informers: dict[ResourceRef, tuple[GraphResource, Informer, asyncio.Task[None]]] = {}
        self._by_kind: dict[tuple[str, str], GraphResource] = {}

    def sync_resources(self, resources: list[GraphResource], group: asyncio.TaskGroup) -> list[Informer]:
        """Starts informers for resources new to the graph (in ``group``), stops those of resources
        that went away; answers the informers started."""
        wanted = {r.ref: r for r in resources}
        for ref in [ref for ref in self._informers if ref not in wanted]:
            _, _, task = self._informers.pop(ref)
            task.cancel()
            log.info("garbage collector: stopped following %s", ref)
        started: list[Informer] = []
        for ref, resource in wanted.items():
            if ref in self._informers:
                continue
            informer = Informer(self.client, ref, tenant=ALL_TENANTS if resource.tenanted else None,
                                indexers={UID_INDEX: uid_of, OWNER_INDEX: owner_uids},
                                transform=metadata_only)
            informer.add_handler(self._handler_for(resource))
            task = group.create_task(informer.run(), name=f"gc informer {ref}")
            self._informers[ref] = (resource, informer, task)
            started.append(informer)
        self._by_kind = {(r.ref.group, r.ref.kind): r for r, _, _ in self._informers.values()}
        return started

    def _handler_for(self, resource: GraphResource) -> Callable[[str, ObjectKey], None]:
        def handle(event_type: str, key: ObjectKey) -> None:
            self._on_event(resource, event_type, key)

        return handle

    def stop(self) -> None:
        for _, _, task in self._informers.values():
            task.cancel()
        self._informers.clear()

    def informer(self, ref: ResourceRef) -> Informer | None:
        entry = self._informers.get(ref)
        return entry[1] if entry else None

    def resource(self, ref: ResourceRef) -> GraphResource | None:
        entry = self._informers.get(ref)
        return entry[0] if entry else None

    def resource_for(self, ref: OwnerReference) -> GraphResource | None:
        """The followed resource of an ownerReference's apiVersion and kind (any version of the
        group: all versions of a group share one storage)."""
        group = split_api_version(str(ref.get("apiVersion") or ""))[0]
        return self._by_kind.get((group, str(ref.get("kind") or "")))

    def get(self, key: GraphKey) -> dict[str, Any] | None:
        informer = self.informer(key.ref)
        return informer.get(key.key) if informer else None

    def last_state(self, key: GraphKey) -> dict[str, Any] | None:
        informer = self.informer(key.ref)
        return informer.last_state(key.key) if informer else None

    def find(self, uid: str) -> tuple[GraphResource, dict[str, Any]] | None:
        """The object with ``uid``, wherever it is (for reports only: never to resolve an owner)."""
        for resource, informer, _ in self._informers.values():
            found = informer.by_index(UID_INDEX, uid)
            if found:
                return resource, found[0]
        return None

    def find_in(self, owner: GraphResource, uid: str, place: OwnerPlace) -> dict[str, Any] | None:
        """The object of ``owner``'s resource with ``uid``, if it is where ``place`` says."""
        informer = self.informer(owner.ref)
        found = informer.by_index(UID_INDEX, uid) if informer else []
        return next((obj for obj in found if place.holds(obj)), None)

    def owner_of(self, dependent: GraphResource, obj: dict[str, Any],
                 ref: OwnerReference) -> tuple[GraphResource, dict[str, Any]] | None:
        """The owner ``ref`` names, from the graph, if it is in the dependent's scope."""
        owner = self.resource_for(ref)
        if owner is None:
            return None
        place = owner_place(dependent, obj, owner)
        if not isinstance(place, OwnerPlace):
            return None
        found = self.find_in(owner, str(ref.get("uid") or ""), place)
        return (owner, found) if found is not None else None

    def dependents(self, owner: GraphResource,
                   owner_obj: dict[str, Any]) -> list[tuple[GraphResource, dict[str, Any]]]:
        """The objects whose ownerReferences name ``owner_obj`` (present or just deleted) and that it
        may own: same uid and kind, the owner where the dependent's scope allows (`gc_scope`)."""
        uid = str((owner_obj.get("metadata") or {}).get("uid") or "")
        found = []
        for resource, informer, _ in self._informers.values():
            for obj in informer.by_index(OWNER_INDEX, uid):
                ref = reference_to(obj, uid)
                if ref is None or self.resource_for(ref) != owner:
                    continue
                place = owner_place(resource, obj, owner)
                if isinstance(place, OwnerPlace) and place.holds(owner_obj):
                    found.append((resource, obj))
        return found

    def informers(self) -> list[Informer]:
        return [informer for _, informer, _ in self._informers.values()]
