"""The StatefulSet controller: stable, ordered pods with their own volumes.

Upstream ``pkg/controller/statefulset`` (``defaultStatefulSetControl.updateStatefulSet``). One pass:
1. the template's revision (`controllers.statefulset_pods.revision_name`) exists as a
   ControllerRevision; ``status.currentRevision`` stays until a rolling update completes;
2. for ordinals ``0..replicas-1`` in order: a missing pod is created (its PVCs first), a failed
   pod deleted to be recreated; with ``OrderedReady`` the pass stops at the first pod that is not
   Running and Ready (so pod ``i+1`` waits for ``i``), with ``Parallel`` it carries on;
3. pods beyond ``replicas`` are deleted highest ordinal first — one at a time, only when all
   others are healthy, for OrderedReady; all at once for Parallel;
4. ``RollingUpdate``: the highest pod at or above ``partition`` whose revision is not the update
   revision is deleted (it comes back at the new revision), one at a time, waiting for the
   previous one to be Running and Ready; ``OnDelete`` leaves replacing pods to the user.
Deletes are pinned to the pod's uid so a stale cache never removes a pod's successor.
PVCs are left in place on scale-down and deletion (``persistentVolumeClaimRetentionPolicy`` Retain;
Delete is not implemented). Events: SuccessfulCreate, SuccessfulDelete, FailedCreate.
"""

from __future__ import annotations

import copy
import logging
from collections.abc import Hashable
from typing import Any

from client.cache import ObjectKey
from client.controller import Controller, ControllerContext, Watch
from client.errors import AlreadyExists, ApiError, Conflict, NotFound
from client.events import EventRecorder
from controllers import pod_state
from controllers.registry import REGISTRY
from controllers.replicaset import label_selector_of
from controllers.statefulset_pods import (
    claims_for,
    controller_revision_body,
    is_rolling_update,
    ordinal_of,
    partition_of,
    revision_name,
    revision_of_pod,
    stateful_pod,
    template_of_revision,
    uses_current_revision,
)
from controllers.workload_objects import (
    BY_NAMESPACE,
    CHILD_INDEXERS,
    CONTROLLER_REVISIONS,
    CONTROLLER_REVISIONS_VIEW,
    PERSISTENT_VOLUME_CLAIMS,
    PODS,
    PODS_VIEW,
    STATEFUL_SETS,
    STATEFUL_SETS_VIEW,
    is_being_deleted,
    namespace_of,
    object_location,
    owner_key_of_kind,
)
from controllers.workload_ownership import Ownership, claim

log = logging.getLogger(__name__)


class _Wait(Exception):
    """This pass must stop here (a pod is on its way up or down); status is still written."""


@REGISTRY.register
class StatefulSetController(Controller):
    name = "statefulset"
    workers = 5
    watches = (
        Watch(STATEFUL_SETS_VIEW, indexers={BY_NAMESPACE: namespace_of}),
        Watch(PODS_VIEW, keys=lambda pod: owner_key_of_kind("StatefulSet", pod), indexers=CHILD_INDEXERS),
        Watch(CONTROLLER_REVISIONS_VIEW, keys=lambda rev: owner_key_of_kind("StatefulSet", rev),
              indexers=CHILD_INDEXERS),
    )

    def __init__(self, context: ControllerContext) -> None:
        super().__init__(context)
        self.recorder = EventRecorder(self.client, "statefulset-controller")

    async def reconcile(self, key: Hashable) -> None:
        assert isinstance(key, ObjectKey)
        cached = self.informer(STATEFUL_SETS_VIEW).get(key)
        if cached is None:
            return
        sts = copy.deepcopy(cached)
        selects = label_selector_of(sts)
        if selects is None:
            return
        candidates = self.informer(PODS_VIEW).by_index(BY_NAMESPACE, namespace_of(sts)[0])
        owned = await claim(self.client, PODS, Ownership(sts, "apps/v1", "StatefulSet", selects), candidates)
        pods: dict[int, dict[str, Any]] = {}
        for pod in owned:
            ordinal = ordinal_of(key.name, pod)
            if ordinal is not None:
                pods[ordinal] = pod
        update_revision = await self._ensure_revision(sts)
        current_revision = str((sts.get("status") or {}).get("currentRevision") or update_revision)
        if not is_being_deleted(sts):
            try:
                await self._advance(sts, pods, current_revision, update_revision)
            except _Wait:
                pass
        await self._write_status(sts, pods, current_revision, update_revision)

    # -- the ordered pass -----------------------------------------------------------------------

    async def _advance(self, sts: dict[str, Any], pods: dict[int, dict[str, Any]], current_revision: str,
                       update_revision: str) -> None:
        spec = sts.get("spec") or {}
        replicas = int(spec.get("replicas", 1))
        ordered = spec.get("podManagementPolicy", "OrderedReady") != "Parallel"
        for ordinal in range(replicas):
            pod = pods.get(ordinal)
            if pod is None:
                await self._create_pod(sts, ordinal, current_revision, update_revision)
                if ordered:
                    raise _Wait
                continue
            if pod_state.phase(pod) in ("Failed", "Succeeded") and not pod_state.is_terminating(pod):
                await self._delete_pod(sts, pod)
                if ordered:
                    raise _Wait
                continue
            if ordered and not (pod_state.is_running_and_ready(pod) and not pod_state.is_terminating(pod)):
                raise _Wait
        condemned = sorted((o for o in pods if o >= replicas), reverse=True)
        healthy = all(pod_state.is_running_and_ready(p) and not pod_state.is_terminating(p)
                      for o, p in pods.items() if o < replicas)
        for ordinal in condemned:
            pod = pods[ordinal]
            if pod_state.is_terminating(pod):
                if ordered:
                    raise _Wait
                continue
            if ordered and not healthy:
                raise _Wait
            await self._delete_pod(sts, pod)
            if ordered:
                raise _Wait
        if is_rolling_update(sts):
            await self._roll(sts, pods, replicas, update_revision)

    async def _roll(self, sts: dict[str, Any], pods: dict[int, dict[str, Any]], replicas: int,
                    update_revision: str) -> None:
        for ordinal in range(replicas - 1, partition_of(sts) - 1, -1):
            pod = pods.get(ordinal)
            if pod is None:
                raise _Wait
            if revision_of_pod(pod) != update_revision and not pod_state.is_terminating(pod):
                await self._delete_pod(sts, pod)
                raise _Wait
            if not pod_state.is_running_and_ready(pod) or pod_state.is_terminating(pod):
                raise _Wait

    async def _create_pod(self, sts: dict[str, Any], ordinal: int, current_revision: str,
                          update_revision: str) -> None:
        tenant, namespace = object_location(sts)
        sts_name = sts["metadata"]["name"]
        revision, template = update_revision, (sts.get("spec") or {}).get("template") or {}
        if current_revision != update_revision and uses_current_revision(sts, ordinal):
            revisions = self.informer(CONTROLLER_REVISIONS_VIEW)
            stored = revisions.get(ObjectKey(tenant, namespace, current_revision))
            old_template = template_of_revision(stored) if stored is not None else None
            if old_template is not None:
                revision, template = current_revision, old_template
        pod_name = f"{sts_name}-{ordinal}"
        for pvc in claims_for(sts, ordinal):
            try:
                await self.client.create(PERSISTENT_VOLUME_CLAIMS, pvc, tenant=tenant, namespace=namespace)
            except AlreadyExists:
                continue
            await self.recorder.event(sts, "Normal", "SuccessfulCreate",
                                      f"create Claim {pvc['metadata']['name']} Pod {pod_name} "
                                      f"in StatefulSet {sts_name} success")
        body = stateful_pod(sts, ordinal, template=template, revision=revision)
        try:
            await self.client.create(PODS, body, tenant=tenant, namespace=namespace)
        except AlreadyExists:
            return  # the cache had not caught up with an earlier create
        except ApiError as e:
            message = f"create Pod {pod_name} in StatefulSet {sts_name} failed error: {e.message}"
            await self.recorder.event(sts, "Warning", "FailedCreate", message)
            raise
        await self.recorder.event(sts, "Normal", "SuccessfulCreate",
                                  f"create Pod {pod_name} in StatefulSet {sts_name} successful")

    async def _delete_pod(self, sts: dict[str, Any], pod: dict[str, Any]) -> None:
        tenant, namespace = object_location(pod)
        name = pod["metadata"]["name"]
        try:
            await self.client.delete(PODS, name, tenant=tenant, namespace=namespace,
                                     preconditions={"uid": pod["metadata"]["uid"]})
        except (NotFound, Conflict):
            return
        await self.recorder.event(sts, "Normal", "SuccessfulDelete",
                                  f"delete Pod {name} in StatefulSet {sts['metadata']['name']} successful")

    # -- revisions and status -------------------------------------------------------------------

    async def _ensure_revision(self, sts: dict[str, Any]) -> str:
        """The update revision's name, creating its ControllerRevision when missing."""
        tenant, namespace = object_location(sts)
        name = revision_name(sts)
        revisions = self.informer(CONTROLLER_REVISIONS_VIEW)
        if revisions.get(ObjectKey(tenant, namespace, name)) is not None:
            return name
        uid = sts["metadata"].get("uid")
        mine = [r for r in revisions.by_index(BY_NAMESPACE, namespace_of(sts)[0])
                if any(o.get("uid") == uid for o in r["metadata"].get("ownerReferences") or [])]
        number = max((int(r.get("revision") or 0) for r in mine), default=0) + 1
        try:
            await self.client.create(CONTROLLER_REVISIONS, controller_revision_body(sts, name, number),
                                     tenant=tenant, namespace=namespace)
        except AlreadyExists:
            pass
        return name

    async def _write_status(self, sts: dict[str, Any], pods: dict[int, dict[str, Any]],
                            current_revision: str, update_revision: str) -> None:
        spec = sts.get("spec") or {}
        min_ready = int(spec.get("minReadySeconds") or 0)
        live = [p for p in pods.values() if not pod_state.is_terminating(p)]
        status: dict[str, Any] = {
            "observedGeneration": sts["metadata"].get("generation", 0),
            "replicas": len(live),
            "readyReplicas": sum(1 for p in live if pod_state.is_ready(p)),
            "availableReplicas": sum(1 for p in live if pod_state.is_available(p, min_ready)),
            "currentReplicas": sum(1 for p in live if revision_of_pod(p) == current_revision),
            "updatedReplicas": sum(1 for p in live if revision_of_pod(p) == update_revision),
            "currentRevision": current_revision, "updateRevision": update_revision,
        }
        old = sts.get("status") or {}
        if old.get("collisionCount") is not None:
            status["collisionCount"] = old["collisionCount"]
        # upstream completeRollingUpdate: every pod updated and ready makes the update current.
        replicas = int(spec.get("replicas", 1))
        if (is_rolling_update(sts) and status["updatedReplicas"] == status["replicas"] == replicas
                and status["readyReplicas"] == replicas):
            status["currentRevision"] = update_revision
            status["currentReplicas"] = status["updatedReplicas"]
        if status == {k: old.get(k) for k in status}:
            return
        try:
            await self.client.update(STATEFUL_SETS, {**sts, "status": {**old, **status}},
                                     subresource="status")
        except NotFound:
            return
