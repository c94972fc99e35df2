"""The DaemonSet controller: one pod on every eligible node, following nodes as they come and go.

Upstream ``pkg/controller/daemon``. One reconcile of a DaemonSet:
1. claims its pods and files them by the node they are on or pinned to;
2. *manage* (when earlier creations/deletions reached the cache, `Expectations`): an eligible
   node (`controllers.daemonset_nodes.should_run`) without a pod gets one, pinned to it by node
   affinity for the scheduler to bind; failed pods and surplus pods are deleted; pods on nodes
   that may no longer keep them (untolerated NoExecute taint, selector no longer matching) are
   deleted; pods on nodes that no longer exist are force-deleted, since no kubelet remains to
   confirm a graceful deletion (upstream leaves those to the pod GC — doing it here makes the
   DaemonSet follow departing nodes on its own);
3. ``RollingUpdate`` replaces pods whose ``controller-revision-hash`` is not the template's:
   without surge an old pod is deleted while at most ``maxUnavailable`` nodes lack an available
   daemon pod (unavailable old pods go at once); with ``maxSurge`` a new pod starts beside the old
   one, which is deleted once the new one is available (upstream ``rollingUpdate``);
4. writes status (desired/current/updated NumberScheduled, numberReady/Available/Unavailable,
   numberMisscheduled, observedGeneration). Only tenant ``system`` may create DaemonSets (server
   admission), but the controller serves whatever exists.
"""

from __future__ import annotations

import asyncio
import copy
from collections.abc import Hashable
from typing import Any

from apis.wire_types import pod_spec_of, pod_template_of
from client.cache import ObjectKey
from client.controller import Controller, ControllerContext, Watch
from client.errors import ApiError, Conflict, NotFound
from client.events import EventRecorder
from controllers import pod_state
from controllers.daemonset_nodes import pinned_spec, should_run, target_node
from controllers.deployment_rollout import int_or_percent
from controllers.pod_template import pod_from_template, template_hash
from controllers.registry import REGISTRY
from controllers.replicaset import label_selector_of
from controllers.workload_expectations import Expectations
from controllers.workload_objects import (
    BY_NAMESPACE,
    CHILD_INDEXERS,
    DAEMON_SETS,
    DAEMON_SETS_VIEW,
    NODES_VIEW,
    PODS,
    PODS_VIEW,
    is_being_deleted,
    namespace_of,
    object_location,
    owner_key_of_kind,
)
from controllers.workload_ownership import Ownership, claim

REVISION_LABEL = "controller-revision-hash"
GENERATION_LABEL = "pod-template-generation"
_CONCURRENT_WRITES = 32


@REGISTRY.register
class DaemonSetController(Controller):
    name = "daemonset"
    workers = 2
    watches = (
        Watch(DAEMON_SETS_VIEW, indexers={BY_NAMESPACE: namespace_of}),
        Watch(PODS_VIEW, keys=lambda pod: [], indexers=CHILD_INDEXERS),
        Watch(NODES_VIEW, keys=lambda node: []),
    )

    def __init__(self, context: ControllerContext) -> None:
        super().__init__(context)
        self.recorder = EventRecorder(self.client, "daemonset-controller")
        self.expectations = Expectations()
        self._writes = asyncio.Semaphore(_CONCURRENT_WRITES)

    async def start(self) -> None:
        self.informer(PODS_VIEW).add_handler(self._on_pod_event)
        self.informer(NODES_VIEW).add_handler(self._on_node_event)

    def _on_pod_event(self, event_type: str, key: ObjectKey) -> None:
        pod = self.informer(PODS_VIEW).last_state(key)
        if pod is None:
            return
        gone = event_type == "DELETED" or pod_state.is_terminating(pod)
        self.expectations.observed(key, gone_or_going=gone)
        for owner in owner_key_of_kind("DaemonSet", pod):
            self.queue.add(owner)

    def _on_node_event(self, event_type: str, key: ObjectKey) -> None:
        """Any node change may change where every DaemonSet should run."""
        for ds in self.informer(DAEMON_SETS_VIEW).objects():
            self.queue.add(ObjectKey.of(ds))

    async def reconcile(self, key: Hashable) -> None:
        assert isinstance(key, ObjectKey)
        cached = self.informer(DAEMON_SETS_VIEW).get(key)
        if cached is None:
            self.expectations.forget(key)
            return
        ds = copy.deepcopy(cached)
        selects = label_selector_of(ds)
        if selects is None:
            return
        candidates = self.informer(PODS_VIEW).by_index(BY_NAMESPACE, namespace_of(ds)[0])
        pods = await claim(self.client, PODS, Ownership(ds, "apps/v1", "DaemonSet", selects), candidates)
        nodes = {str(n["metadata"]["name"]): n for n in self.informer(NODES_VIEW).objects()}
        by_node: dict[str, list[dict[str, Any]]] = {}
        for pod in pods:
            by_node.setdefault(target_node(pod) or "", []).append(pod)
        pod_hash = template_hash((ds.get("spec") or {}).get("template") or {},
                                 (ds.get("status") or {}).get("collisionCount"))
        if not is_being_deleted(ds) and self.expectations.satisfied(key):
            create, delete = self._plan(ds, nodes, by_node, pod_hash)
            await self._apply(key, ds, create, delete, pod_hash)
        await self._write_status(ds, nodes, by_node, pod_hash)

    # -- planning -------------------------------------------------------------------------------

    def _plan(self, ds: dict[str, Any], nodes: dict[str, dict[str, Any]],
              by_node: dict[str, list[dict[str, Any]]],
              pod_hash: str) -> tuple[list[str], list[dict[str, Any]]]:
        """(nodes to create a pod on, pods to delete)."""
        template_spec = pod_spec_of(pod_template_of(ds))
        create: list[str] = []
        delete: list[dict[str, Any]] = []
        surge = self._max_surge(ds, nodes)
        for node_name, pods in by_node.items():
            if node_name not in nodes:
                delete.extend(p for p in pods if not pod_state.is_terminating(p) or p["spec"].get("nodeName"))
        for node_name, node in nodes.items():
            run, keep = should_run(template_spec, node)
            pods = [p for p in by_node.get(node_name, []) if not pod_state.is_terminating(p)]
            if not keep:
                delete.extend(pods)
                continue
            failed = [p for p in pods if pod_state.phase(p) == "Failed"]
            delete.extend(failed)
            pods = [p for p in pods if p not in failed]
            if not run and not pods:
                continue
            if not pods:
                if run:
                    create.append(node_name)
                continue
            surging = surge > 0 and len(pods) == 2 and len({_revision(p) == pod_hash for p in pods}) == 2
            if len(pods) > 1 and not surging:
                delete.extend(sorted(pods, key=_created)[1:])  # keep the oldest
        if _is_rolling(ds):
            more_create, more_delete = self._rolling_update(ds, nodes, by_node, pod_hash, surge)
            create.extend(n for n in more_create if n not in create)
            delete.extend(p for p in more_delete if p not in delete)
        return create, delete

    def _max_surge(self, ds: dict[str, Any], nodes: dict[str, dict[str, Any]]) -> int:
        rolling = (((ds.get("spec") or {}).get("updateStrategy") or {}).get("rollingUpdate") or {})
        return int_or_percent(rolling.get("maxSurge", 0), len(nodes), round_up=True)

    def _rolling_update(self, ds: dict[str, Any], nodes: dict[str, dict[str, Any]],
                        by_node: dict[str, list[dict[str, Any]]], pod_hash: str,
                        surge: int) -> tuple[list[str], list[dict[str, Any]]]:
        template_spec = pod_spec_of(pod_template_of(ds))
        min_ready = int((ds.get("spec") or {}).get("minReadySeconds") or 0)
        eligible = [n for n, node in nodes.items() if should_run(template_spec, node)[0]]
        rolling = (((ds.get("spec") or {}).get("updateStrategy") or {}).get("rollingUpdate") or {})
        max_unavailable = int_or_percent(rolling.get("maxUnavailable", 1), len(eligible), round_up=True)
        if surge == 0 and max_unavailable == 0:
            max_unavailable = 1
        unavailable, surging = 0, 0
        replace_now: list[dict[str, Any]] = []
        candidates: list[dict[str, Any]] = []
        create_now: list[str] = []
        create_candidates: list[str] = []
        for node_name in sorted(eligible):
            pods = [p for p in by_node.get(node_name, []) if not pod_state.is_terminating(p)]
            new = [p for p in pods if _revision(p) == pod_hash]
            old = [p for p in pods if _revision(p) != pod_hash]
            if len(pods) != 1 and not (surge and len(new) == 1 and len(old) == 1):
                unavailable += 1  # missing or surplus: manage deals with it first
                continue
            if surge:
                if new and old:
                    surging += 1
                    if pod_state.is_available(new[0], min_ready):
                        replace_now.append(old[0])
                elif old:
                    if not pod_state.is_available(old[0], min_ready):
                        create_now.append(node_name)
                    else:
                        create_candidates.append(node_name)
                continue
            if new:
                if not pod_state.is_available(new[0], min_ready):
                    unavailable += 1
            elif not pod_state.is_available(old[0], min_ready):
                replace_now.append(old[0])
            else:
                candidates.append(old[0])
        if surge:
            room = max(surge - surging, 0)
            return create_now + create_candidates[:room], replace_now
        room = min(max(max_unavailable - unavailable - len(replace_now), 0), len(candidates))
        return [], replace_now + candidates[:room]

    # -- writes ---------------------------------------------------------------------------------

    async def _apply(self, key: ObjectKey, ds: dict[str, Any], create: list[str],
                     delete: list[dict[str, Any]], pod_hash: str) -> None:
        tenant, namespace = object_location(ds)
        template = (ds.get("spec") or {}).get("template") or {}
        generation = str((ds.get("metadata") or {}).get("generation") or 1)
        self.expectations.expect_deletions(key, [ObjectKey.of(p) for p in delete])

        async def create_on(node_name: str) -> None:
            pinned = {**template, "spec": pinned_spec(pod_spec_of(template), node_name)}
            body = pod_from_template(ds, api_version="apps/v1", kind="DaemonSet", template=pinned,
                                     extra_labels={REVISION_LABEL: pod_hash, GENERATION_LABEL: generation})
            async with self._writes:
                pod = await self.client.create(PODS, body, tenant=tenant, namespace=namespace)
            pod_key = ObjectKey.of(pod)
            if self.informer(PODS_VIEW).get(pod_key) is None:
                self.expectations.expect_creations(key, [pod_key])
            await self.recorder.event(ds, "Normal", "SuccessfulCreate",
                                      f"Created pod: {pod['metadata']['name']}")

        async def delete_one(pod: dict[str, Any]) -> None:
            pod_key = ObjectKey.of(pod)
            node = (pod.get("spec") or {}).get("nodeName")
            gone_node = node is not None and node not in {n["metadata"]["name"]
                                                          for n in self.informer(NODES_VIEW).objects()}
            try:
                async with self._writes:
                    await self.client.delete(PODS, pod_key.name, tenant=pod_key.tenant,
                                             namespace=pod_key.namespace,
                                             grace_period_seconds=0 if gone_node else None,
                                             preconditions={"uid": pod["metadata"]["uid"]})
            except (NotFound, Conflict):
                self.expectations.observed(pod_key, gone_or_going=True)
                return
            except ApiError:
                self.expectations.observed(pod_key, gone_or_going=True)
                raise
            await self.recorder.event(ds, "Normal", "SuccessfulDelete", f"Deleted pod: {pod_key.name}")

        results = await asyncio.gather(*(create_on(n) for n in create), *(delete_one(p) for p in delete),
                                       return_exceptions=True)
        for result in results:
            if isinstance(result, BaseException):
                raise result

    async def _write_status(self, ds: dict[str, Any], nodes: dict[str, dict[str, Any]],
                            by_node: dict[str, list[dict[str, Any]]], pod_hash: str) -> None:
        template_spec = pod_spec_of(pod_template_of(ds))
        min_ready = int((ds.get("spec") or {}).get("minReadySeconds") or 0)
        desired = current = updated = ready = available = misscheduled = 0
        for node_name, node in nodes.items():
            pods = sorted((p for p in by_node.get(node_name, []) if not pod_state.is_terminating(p)),
                          key=_created)
            run = should_run(template_spec, node)[0]
            if not run:
                misscheduled += 1 if pods else 0
                continue
            desired += 1
            if not pods:
                continue
            current += 1
            newest = pods[-1]
            updated += 1 if any(_revision(p) == pod_hash for p in pods) else 0
            ready += 1 if pod_state.is_ready(newest) else 0
            available += 1 if any(pod_state.is_available(p, min_ready) for p in pods) else 0
        status = {"observedGeneration": ds["metadata"].get("generation", 0),
                  "desiredNumberScheduled": desired, "currentNumberScheduled": current,
                  "numberMisscheduled": misscheduled, "numberReady": ready,
                  "updatedNumberScheduled": updated, "numberAvailable": available,
                  "numberUnavailable": max(desired - available, 0)}
        old = ds.get("status") or {}
        if all(old.get(k, 0) == v for k, v in status.items()):
            return
        try:
            await self.client.update(DAEMON_SETS, {**ds, "status": {**old, **status}}, subresource="status")
        except NotFound:
            return


def _revision(pod: dict[str, Any]) -> str:
    return str(((pod.get("metadata") or {}).get("labels") or {}).get(REVISION_LABEL) or "")


def _created(pod: dict[str, Any]) -> tuple[str, str]:
    metadata = pod.get("metadata") or {}
    return (str(metadata.get("creationTimestamp") or ""), str(metadata.get("name") or ""))


def _is_rolling(ds: dict[str, Any]) -> bool:
    return (((ds.get("spec") or {}).get("updateStrategy") or {}).get("type", "RollingUpdate")
            == "RollingUpdate")
