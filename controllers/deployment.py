"""The Deployment controller: rolls pod templates out through ReplicaSets.

Upstream ``pkg/controller/deployment``. One reconcile of a Deployment:
1. claims its ReplicaSets by selector (`controllers.workload_ownership`);
2. a Deployment being deleted only gets its status refreshed (the garbage collector removes the
   ReplicaSets); a paused one, or one whose ``spec.replicas`` changed, is *scaled*: replicas are
   spread proportionally over the ReplicaSets and no new ReplicaSet is created (``sync``);
3. otherwise it rolls out: ``RollingUpdate`` grows the new ReplicaSet within maxSurge and shrinks
   old ones within maxUnavailable (`controllers.deployment_rollout`); ``Recreate`` scales every old
   ReplicaSet to zero, waits until their pods are gone, then brings the new one up;
4. once complete, old ReplicaSets beyond ``revisionHistoryLimit`` are deleted
   (`controllers.deployment_history`), and status and conditions are written
   (`controllers.deployment_status`).
ReplicaSet writes carry the cached resourceVersion, so a decision taken on a stale cache fails
with a conflict and is taken again rather than applied. Events: ScalingReplicaSet, SelectingAll.
"""

from __future__ import annotations

import copy
import logging
from collections.abc import Hashable
from typing import Any

from client.cache import ObjectKey
from client.controller import Controller, ControllerContext, Requeue, Watch
from client.errors import AlreadyExists, NotFound
from client.events import EventRecorder
from controllers import pod_state
from controllers.deployment_history import (
    REVISION_ANNOTATION,
    find_new_replica_set,
    new_replica_set_body,
    next_revision,
    refreshed_new_replica_set,
    replica_sets_to_delete,
    replicas_annotations,
    revision_of,
)
from controllers.deployment_rollout import (
    is_rolling,
    is_scaling_event,
    name_of,
    new_replica_set_size,
    old_replica_sets_scale_down,
    proportional_scale,
    spec_replicas,
)
from controllers.deployment_status import (
    PROGRESSING,
    calculate_status,
    is_complete,
    seconds_until_deadline,
    set_condition,
    update_paused,
    update_progress,
)
from controllers.pod_template import templates_equal_ignoring_hash
from controllers.registry import REGISTRY
from controllers.replicaset import label_selector_of
from controllers.workload_objects import (
    BY_CONTROLLER_UID,
    BY_NAMESPACE,
    CHILD_INDEXERS,
    DEPLOYMENTS,
    DEPLOYMENTS_VIEW,
    PODS_VIEW,
    REPLICA_SETS,
    REPLICA_SETS_VIEW,
    controller_ref,
    is_being_deleted,
    namespace_of,
    object_location,
    owner_key_of_kind,
)
from controllers.workload_ownership import Ownership, claim, labels_of

log = logging.getLogger(__name__)


def _owning_deployment(rs: dict[str, Any]) -> list[Hashable]:
    return owner_key_of_kind("Deployment", rs)


@REGISTRY.register
class DeploymentController(Controller):
    name = "deployment"
    workers = 5
    watches = (
        Watch(DEPLOYMENTS_VIEW, indexers={BY_NAMESPACE: namespace_of}),
        Watch(REPLICA_SETS_VIEW, keys=_owning_deployment, indexers=CHILD_INDEXERS),
        Watch(PODS_VIEW, keys=lambda pod: [], indexers=CHILD_INDEXERS),
    )

    def __init__(self, context: ControllerContext) -> None:
        super().__init__(context)
        self.recorder = EventRecorder(self.client, "deployment-controller")

    async def start(self) -> None:
        self.informer(REPLICA_SETS_VIEW).add_handler(self._on_replica_set_event)
        self.informer(PODS_VIEW).add_handler(self._on_pod_event)

    def _on_replica_set_event(self, event_type: str, key: ObjectKey) -> None:
        """An orphan ReplicaSet may be adopted by any Deployment of its namespace selecting it."""
        rs = self.informer(REPLICA_SETS_VIEW).last_state(key)
        if rs is None or controller_ref(rs) is not None or event_type == "DELETED":
            return
        labels = labels_of(rs)
        for deployment in self.informer(DEPLOYMENTS_VIEW).by_index(BY_NAMESPACE, namespace_of(rs)[0]):
            selects = label_selector_of(deployment)
            if selects is not None and selects(labels):
                self.queue.add(ObjectKey.of(deployment))

    def _on_pod_event(self, event_type: str, key: ObjectKey) -> None:
        """Recreate waits for old pods to go away: their events wake the Deployment."""
        pod = self.informer(PODS_VIEW).last_state(key)
        ref = controller_ref(pod) if pod is not None else None
        if ref is None or ref.get("kind") != "ReplicaSet":
            return
        rs = self.informer(REPLICA_SETS_VIEW).get(ObjectKey(key.tenant, key.namespace, str(ref.get("name"))))
        for owner in _owning_deployment(rs) if rs is not None else []:
            assert isinstance(owner, ObjectKey)
            deployment = self.informer(DEPLOYMENTS_VIEW).get(owner)
            if deployment is not None and not is_rolling(deployment):
                self.queue.add(owner)

    # -- reconcile ------------------------------------------------------------------------------

    async def reconcile(self, key: Hashable) -> None:
        assert isinstance(key, ObjectKey)
        cached = self.informer(DEPLOYMENTS_VIEW).get(key)
        if cached is None:
            return
        deployment = copy.deepcopy(cached)
        deployment.setdefault("status", {})
        selects = label_selector_of(deployment)
        if selects is None:
            await self.recorder.event(
                deployment, "Warning", "SelectingAll",
                "This deployment is selecting all pods. A non-empty selector is required.")
            return
        candidates = self.informer(REPLICA_SETS_VIEW).by_index(BY_NAMESPACE, namespace_of(deployment)[0])
        sets = await claim(self.client, REPLICA_SETS, Ownership(deployment, "apps/v1", "Deployment", selects),
                           candidates)
        if is_being_deleted(deployment):
            await self._write_status(deployment, sets, find_new_replica_set(deployment, sets), progress=False)
            return
        paused = bool((deployment.get("spec") or {}).get("paused"))
        if paused or is_scaling_event(deployment, sets):
            await self._scale(deployment, sets, paused=paused)
        elif is_rolling(deployment):
            await self._rollout_rolling(deployment, sets)
        else:
            await self._rollout_recreate(deployment, sets)

    async def _scale(self, deployment: dict[str, Any], sets: list[dict[str, Any]], *, paused: bool) -> None:
        new_rs, old_sets = await self._new_and_old(deployment, sets, create=False)
        plan = proportional_scale(deployment, new_rs, old_sets)
        all_sets = [await self._scale_to(deployment, rs, plan.get(name_of(rs), spec_replicas(rs)))
                    for rs in ([new_rs] if new_rs is not None else []) + old_sets]
        new_rs = all_sets[0] if new_rs is not None else None
        if paused:
            await self._clean_up_history(deployment, all_sets[1:] if new_rs is not None else all_sets)
        await self._write_status(deployment, all_sets, new_rs, progress=False)

    async def _rollout_rolling(self, deployment: dict[str, Any], sets: list[dict[str, Any]]) -> None:
        new_rs, old_sets = await self._new_and_old(deployment, sets, create=True)
        assert new_rs is not None
        wanted = spec_replicas(deployment)
        size = wanted if spec_replicas(new_rs) > wanted else new_replica_set_size(
            deployment, [new_rs, *old_sets], new_rs)
        scaled_new = size != spec_replicas(new_rs)
        new_rs = await self._scale_to(deployment, new_rs, size)
        if not scaled_new:
            plan = old_replica_sets_scale_down(deployment, old_sets, new_rs)
            old_sets = [await self._scale_to(deployment, rs, plan[name_of(rs)]) if name_of(rs) in plan
                        else rs for rs in old_sets]
        await self._write_status(deployment, [new_rs, *old_sets], new_rs, progress=True,
                                 old_sets=old_sets)

    async def _rollout_recreate(self, deployment: dict[str, Any], sets: list[dict[str, Any]]) -> None:
        new_rs, old_sets = await self._new_and_old(deployment, sets, create=False)
        active_old = [rs for rs in old_sets if spec_replicas(rs) > 0]
        old_sets = [await self._scale_to(deployment, rs, 0) if spec_replicas(rs) > 0 else rs
                    for rs in old_sets]
        current = ([new_rs] if new_rs is not None else []) + old_sets
        if active_old or self._old_pods_running(old_sets):
            await self._write_status(deployment, current, new_rs, progress=True)
            return
        if new_rs is None:
            new_rs, old_sets = await self._new_and_old(deployment, sets, create=True)
            assert new_rs is not None
        new_rs = await self._scale_to(deployment, new_rs, spec_replicas(deployment))
        await self._write_status(deployment, [new_rs, *old_sets], new_rs, progress=True, old_sets=old_sets)

    def _old_pods_running(self, old_sets: list[dict[str, Any]]) -> bool:
        pods = self.informer(PODS_VIEW)
        for rs in old_sets:
            if int((rs.get("status") or {}).get("replicas") or 0) > 0:
                return True
            uid = str((rs.get("metadata") or {}).get("uid") or "")
            owned = pods.by_index(BY_CONTROLLER_UID, uid)
            if any(pod_state.phase(p) not in ("Failed", "Succeeded") for p in owned):
                return True
        return False

    # -- ReplicaSets ----------------------------------------------------------------------------

    async def _new_and_old(self, deployment: dict[str, Any], sets: list[dict[str, Any]], *,
                           create: bool) -> tuple[dict[str, Any] | None, list[dict[str, Any]]]:
        """The new ReplicaSet (created when asked and missing) with its revision brought up to
        date, the old ones, and the Deployment's revision annotation synced."""
        new_rs = find_new_replica_set(deployment, sets)
        old_sets = [rs for rs in sets if rs is not new_rs]
        revision = next_revision(old_sets)
        if new_rs is not None:
            refreshed = refreshed_new_replica_set(deployment, new_rs, revision)
            if refreshed is not None:
                new_rs = await self.client.update(REPLICA_SETS, refreshed)
        elif create:
            new_rs = await self._create_new_replica_set(deployment, sets, revision)
        if new_rs is not None:
            await self._sync_revision_annotation(deployment, revision_of(new_rs))
        return new_rs, old_sets

    async def _create_new_replica_set(self, deployment: dict[str, Any], sets: list[dict[str, Any]],
                                      revision: int) -> dict[str, Any]:
        tenant, namespace = object_location(deployment)
        size = new_replica_set_size(deployment, sets, None)
        body = new_replica_set_body(deployment, revision=revision, replicas=size)
        name = body["metadata"]["name"]
        try:
            created: dict[str, Any] = await self.client.create(REPLICA_SETS, body, tenant=tenant,
                                                               namespace=namespace)
        except AlreadyExists:
            existing: dict[str, Any] = await self.client.get(REPLICA_SETS, name, tenant=tenant,
                                                             namespace=namespace)
            ours = (controller_ref(existing) or {}).get("uid") == deployment["metadata"].get("uid")
            template = (deployment.get("spec") or {}).get("template") or {}
            if ours and templates_equal_ignoring_hash((existing.get("spec") or {}).get("template") or {},
                                                      template):
                return existing
            await self._bump_collision_count(deployment)
            raise Requeue(0.05, f"pod-template-hash collision on {name}") from None
        if size > 0:
            await self.recorder.event(deployment, "Normal", "ScalingReplicaSet",
                                      f"Scaled up replica set {name} from 0 to {size}")
        set_condition(deployment["status"], PROGRESSING, "True", "NewReplicaSetCreated",
                      f'Created new replica set "{name}"')
        return created

    async def _bump_collision_count(self, deployment: dict[str, Any]) -> None:
        """upstream: a hash collision with a foreign ReplicaSet salts the next hash."""
        collisions = int(deployment["status"].get("collisionCount") or 0) + 1
        status = {**deployment["status"], "collisionCount": collisions}
        await self.client.update(DEPLOYMENTS, {**deployment, "status": status}, subresource="status")

    async def _sync_revision_annotation(self, deployment: dict[str, Any], revision: int) -> None:
        annotations = (deployment.get("metadata") or {}).get("annotations") or {}
        if not revision or annotations.get(REVISION_ANNOTATION) == str(revision):
            return
        tenant, namespace = object_location(deployment)
        patched = await self.client.patch(DEPLOYMENTS, deployment["metadata"]["name"],
                                          {"metadata": {"annotations": {REVISION_ANNOTATION: str(revision)}}},
                                          tenant=tenant, namespace=namespace)
        deployment["metadata"] = patched["metadata"]

    async def _scale_to(self, deployment: dict[str, Any], rs: dict[str, Any], size: int) -> dict[str, Any]:
        """Sets a ReplicaSet's replicas and its desired/max-replicas annotations (upstream
        ``scaleReplicaSet``); records ScalingReplicaSet when the size changes."""
        current = spec_replicas(rs)
        wanted_annotations = replicas_annotations(deployment)
        annotations = (rs.get("metadata") or {}).get("annotations") or {}
        if current == size and all(annotations.get(k) == v for k, v in wanted_annotations.items()):
            return rs
        body = copy.deepcopy(rs)
        body["spec"]["replicas"] = size
        body["metadata"]["annotations"] = {**annotations, **wanted_annotations}
        updated: dict[str, Any] = await self.client.update(REPLICA_SETS, body)
        if size != current:
            direction = "up" if size > current else "down"
            message = f"Scaled {direction} replica set {name_of(rs)} from {current} to {size}"
            await self.recorder.event(deployment, "Normal", "ScalingReplicaSet", message)
        return updated

    async def _clean_up_history(self, deployment: dict[str, Any], old_sets: list[dict[str, Any]]) -> None:
        for rs in replica_sets_to_delete(deployment, old_sets):
            tenant, namespace = object_location(rs)
            log.info("deployment %s: deleting old replica set %s (revision %s)",
                     name_of(deployment), name_of(rs), revision_of(rs))
            try:
                await self.client.delete(REPLICA_SETS, name_of(rs), tenant=tenant, namespace=namespace)
            except NotFound:
                pass

    # -- status ---------------------------------------------------------------------------------

    async def _write_status(self, deployment: dict[str, Any], all_sets: list[dict[str, Any]],
                            new_rs: dict[str, Any] | None, *, progress: bool,
                            old_sets: list[dict[str, Any]] | None = None) -> None:
        status = calculate_status(deployment, all_sets, new_rs)
        update_paused(deployment, status)
        paused = bool((deployment.get("spec") or {}).get("paused"))
        if progress and not paused:
            update_progress(deployment, status, new_rs)
            if old_sets is not None and is_complete(deployment, status):
                await self._clean_up_history(deployment, old_sets)
        stored = self.informer(DEPLOYMENTS_VIEW).get(ObjectKey.of(deployment)) or deployment
        if status != stored.get("status"):
            try:
                await self.client.update(DEPLOYMENTS, {**deployment, "status": status}, subresource="status")
            except NotFound:
                return
        if progress and not paused and not is_complete(deployment, status):
            left = seconds_until_deadline(deployment, status)
            if left is not None and left > 0:
                raise Requeue(left + 0.5, "checking the progress deadline")
