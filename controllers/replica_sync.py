"""Keeping N pods running: the logic ReplicaSets and ReplicationControllers share.

Upstream runs one ``ReplicaSetController`` for both kinds (pkg/controller/replicaset, with the RC
controller wrapping it), and so do we: `ReplicaSyncController` is parameterised by a `ReplicaKind`.
One reconcile of an owner:
1. claims its pods (adopt matching orphans, release pods that stopped matching);
2. unless creations/deletions it made are still on their way into the cache (`Expectations`),
   creates missing pods in slow-start batches (1, 2, 4, ... at most 500 per pass, upstream's
   ``burstReplicas``; a failed batch stops the rest) or deletes extra pods, the least useful first
   (`controllers.pod_state.pods_to_delete`);
3. writes status (replicas, fullyLabeledReplicas, readyReplicas, availableReplicas after
   ``minReadySeconds``, observedGeneration) through ``/status`` when it changed.
Events: SuccessfulCreate, SuccessfulDelete, FailedCreate, FailedDelete.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable, Hashable, Mapping
from dataclasses import dataclass
from typing import Any, ClassVar

from apis.meta import now_rfc3339
from apis.wire_types import Pod
from client.cache import ObjectKey
from client.controller import Controller, ControllerContext, Requeue
from client.errors import ApiError, Conflict, NotFound
from client.events import EventRecorder
from client.informer_factory import InformerView
from client.resources import ResourceRef
from controllers import pod_state
from controllers.pod_template import pod_from_template
from controllers.workload_expectations import Expectations
from controllers.workload_objects import (
    BY_NAMESPACE,
    PODS,
    PODS_VIEW,
    controller_ref,
    is_being_deleted,
    namespace_of,
    object_location,
    owner_key_of_kind,
)
from controllers.workload_ownership import Ownership, claim, labels_of

log = logging.getLogger(__name__)

BURST_REPLICAS = 500  # upstream burstReplicas: creations/deletions per reconcile
CONCURRENT_WRITES = 64  # pod creates/deletes in flight per controller
Selects = Callable[[Mapping[str, str]], bool]


@dataclass(frozen=True)
class ReplicaKind:
    """Which owner kind a `ReplicaSyncController` manages, and how to read its selector."""

    ref: ResourceRef
    view: InformerView
    api_version: str
    selector_of: Callable[[dict[str, Any]], Selects | None]  # None: no usable selector

    @property
    def kind(self) -> str:
        return self.ref.kind


class ReplicaSyncController(Controller):
    """Base of the ReplicaSet and ReplicationController controllers."""

    replica_kind: ClassVar[ReplicaKind]
    workers = 5

    def __init__(self, context: ControllerContext) -> None:
        super().__init__(context)
        self.expectations = Expectations()
        self.recorder = EventRecorder(self.client, f"{self.replica_kind.kind.lower()}-controller")
        self._writes = asyncio.Semaphore(CONCURRENT_WRITES)

    async def start(self) -> None:
        self.informer(PODS_VIEW).add_handler(self._on_pod_event)

    # -- events ---------------------------------------------------------------------------------

    def _on_pod_event(self, event_type: str, key: ObjectKey) -> None:
        pod = self.informer(PODS_VIEW).last_state(key)
        if pod is None:
            return
        gone = event_type == "DELETED" or pod_state.is_terminating(pod)
        changed_owner = self.expectations.observed(key, gone_or_going=gone)
        if changed_owner is not None:
            self.queue.add(changed_owner)
        owners = owner_key_of_kind(self.replica_kind.kind, pod)
        for owner in owners:
            self.queue.add(owner)
        if controller_ref(pod) is None and not gone:
            # An orphan: every owner in its namespace whose selector matches may adopt it.
            for owner in self._owners_selecting(pod):
                self.queue.add(owner)

    def _owners_selecting(self, pod: dict[str, Any]) -> list[Hashable]:
        labels = labels_of(pod)
        found: list[Hashable] = []
        for owner in self.informer(self.replica_kind.view).by_index(BY_NAMESPACE, namespace_of(pod)[0]):
            selects = self.replica_kind.selector_of(owner)
            if selects is not None and selects(labels):
                found.append(ObjectKey.of(owner))
        return found

    # -- reconcile ------------------------------------------------------------------------------

    async def reconcile(self, key: Hashable) -> None:
        assert isinstance(key, ObjectKey)
        owner = self.informer(self.replica_kind.view).get(key)
        if owner is None:
            self.expectations.forget(key)
            return
        selects = self.replica_kind.selector_of(owner)
        if selects is None:
            log.warning("%s %s has no usable selector; ignoring it", self.replica_kind.kind, key)
            return
        candidates = [p for p in self.informer(PODS_VIEW).by_index(BY_NAMESPACE, namespace_of(owner)[0])
                      if pod_state.is_active(p)]
        ownership = Ownership(owner, self.replica_kind.api_version, self.replica_kind.kind, selects)
        pods = await claim(self.client, PODS, ownership, candidates)
        failure: ApiError | None = None
        if self.expectations.satisfied(key) and not is_being_deleted(owner):
            try:
                await self._manage_replicas(key, owner, pods)
            except ApiError as e:
                failure = e
        await self._write_status(owner, pods, failure)
        if failure is not None:
            raise failure
        self._requeue_for_availability(owner, pods)

    async def _manage_replicas(self, key: ObjectKey, owner: dict[str, Any],
                               pods: list[dict[str, Any]]) -> None:
        wanted = int((owner.get("spec") or {}).get("replicas", 1))
        diff = len(pods) - wanted
        if diff < 0:
            await self._create_pods(key, owner, min(-diff, BURST_REPLICAS))
        elif diff > 0:
            await self._delete_pods(key, owner, pod_state.pods_to_delete(pods, min(diff, BURST_REPLICAS)))

    async def _create_pods(self, key: ObjectKey, owner: dict[str, Any], count: int) -> None:
        """Slow start (upstream ``slowStartBatch``): batches of 1, 2, 4, ...; a batch with a
        failure stops the rest, so a quota or a bad template costs one error, not hundreds."""
        tenant, namespace = object_location(owner)
        body = pod_from_template(owner, api_version=self.replica_kind.api_version,
                                 kind=self.replica_kind.kind)
        pods_cache = self.informer(PODS_VIEW)
        batch, done = 1, 0
        while done < count:
            size = min(batch, count - done)
            results = await asyncio.gather(*(self._create_one(owner, body, tenant, namespace)
                                             for _ in range(size)), return_exceptions=True)
            created = [ObjectKey.of(r) for r in results if isinstance(r, dict)]
            # Creations the informer already delivered (while we awaited) are not outstanding.
            self.expectations.expect_creations(key, [k for k in created if pods_cache.get(k) is None])
            errors = [r for r in results if isinstance(r, BaseException)]
            if errors:
                for error in errors:
                    if not isinstance(error, ApiError):
                        raise error
                raise errors[0]
            done += size
            batch *= 2

    async def _create_one(self, owner: dict[str, Any], body: Pod, tenant: str,
                          namespace: str) -> dict[str, Any]:
        async with self._writes:
            try:
                pod: dict[str, Any] = await self.client.create(PODS, body, tenant=tenant, namespace=namespace)
            except ApiError as e:
                await self.recorder.event(owner, "Warning", "FailedCreate", f"Error creating: {e.message}")
                raise
            await self.recorder.event(owner, "Normal", "SuccessfulCreate",
                                      f"Created pod: {pod['metadata']['name']}")
            return pod

    async def _delete_pods(self, key: ObjectKey, owner: dict[str, Any],
                           victims: list[dict[str, Any]]) -> None:
        keys = [ObjectKey.of(p) for p in victims]
        self.expectations.expect_deletions(key, keys)

        async def delete_one(pod: dict[str, Any], pod_key: ObjectKey) -> None:
            name = pod["metadata"]["name"]
            async with self._writes:
                try:
                    await self.client.delete(PODS, name, tenant=pod_key.tenant, namespace=pod_key.namespace)
                except NotFound:
                    self.expectations.observed(pod_key, gone_or_going=True)
                    return
                except ApiError as e:
                    self.expectations.observed(pod_key, gone_or_going=True)
                    await self.recorder.event(owner, "Warning", "FailedDelete",
                                              f"Error deleting: {e.message}")
                    raise
            await self.recorder.event(owner, "Normal", "SuccessfulDelete", f"Deleted pod: {name}")

        results = await asyncio.gather(*(delete_one(p, k) for p, k in zip(victims, keys, strict=True)),
                                       return_exceptions=True)
        for result in results:
            if isinstance(result, BaseException):
                raise result

    # -- status ---------------------------------------------------------------------------------

    async def _write_status(self, owner: dict[str, Any], pods: list[dict[str, Any]],
                            failure: ApiError | None) -> None:
        status = replica_status(owner, pods, failure)
        for _ in range(3):
            if _status_unchanged(owner.get("status") or {}, status):
                return
            try:
                await self.client.update(self.replica_kind.ref, {**owner, "status": status},
                                         subresource="status")
                return
            except NotFound:
                return
            except Conflict:
                tenant, namespace = object_location(owner)
                owner = await self.client.get(self.replica_kind.ref, owner["metadata"]["name"],
                                              tenant=tenant, namespace=namespace)
                status["observedGeneration"] = (owner.get("metadata") or {}).get("generation", 0)

    def _requeue_for_availability(self, owner: dict[str, Any], pods: list[dict[str, Any]]) -> None:
        """A ready pod becomes available minReadySeconds later with no event to say so: look
        again then (upstream enqueues after minReadySeconds)."""
        min_ready = int((owner.get("spec") or {}).get("minReadySeconds") or 0)
        waits = [w for p in pods if (w := pod_state.seconds_until_available(p, min_ready)) is not None]
        if waits:
            raise Requeue(min(waits) + 0.1, "waiting for pods to become available")


def replica_status(owner: dict[str, Any], pods: list[dict[str, Any]],
                   failure: ApiError | None) -> dict[str, Any]:
    """The status upstream's ``calculateStatus`` derives from the owned active pods."""
    spec = owner.get("spec") or {}
    template_labels = ((spec.get("template") or {}).get("metadata") or {}).get("labels") or {}
    min_ready = int(spec.get("minReadySeconds") or 0)
    fully_labeled = sum(1 for p in pods
                        if all(labels_of(p).get(k) == v for k, v in template_labels.items()))
    ready = [p for p in pods if pod_state.is_ready(p)]
    available = sum(1 for p in ready if pod_state.is_available(p, min_ready))
    conditions = [c for c in (owner.get("status") or {}).get("conditions") or []
                  if c.get("type") != "ReplicaFailure"]
    if failure is not None:
        reason = "FailedCreate" if len(pods) < int(spec.get("replicas", 1)) else "FailedDelete"
        conditions.append({"type": "ReplicaFailure", "status": "True", "reason": reason,
                           "message": failure.message, "lastTransitionTime": now_rfc3339()})
    status: dict[str, Any] = {
        "replicas": len(pods), "fullyLabeledReplicas": fully_labeled, "readyReplicas": len(ready),
        "availableReplicas": available,
        "observedGeneration": (owner.get("metadata") or {}).get("generation", 0),
    }
    if conditions:
        status["conditions"] = conditions
    return status


def _status_unchanged(old: dict[str, Any], new: dict[str, Any]) -> bool:
    fields = ("replicas", "fullyLabeledReplicas", "readyReplicas", "availableReplicas",
              "observedGeneration")
    same_counts = all(int(old.get(f) or 0) == int(new.get(f) or 0) for f in fields)
    old_failure = [c.get("reason") for c in old.get("conditions") or [] if c.get("type") == "ReplicaFailure"]
    new_failure = [c.get("reason") for c in new.get("conditions") or [] if c.get("type") == "ReplicaFailure"]
    return same_counts and old_failure == new_failure
