"""Filters over the node object alone: cordon, requested name, taints, and Arktos runtimes.

- NodeUnschedulable: a cordoned node (``spec.unschedulable``) takes only pods that tolerate
  ``node.kubernetes.io/unschedulable:NoSchedule`` (upstream plugin of that name).
- NodeName: a pod that names its node (``spec.nodeName``) fits only there.
- TaintToleration: NoSchedule and NoExecute taints must all be tolerated; PreferNoSchedule taints
  only lower the score — fewer untolerated ones score higher (upstream plugin, reverse-normalised).
- NodeRuntime (Arktos, ARKTOS.md §4-5): a VM pod needs node condition ``VmRuntimeReady=True``; a
  container pod must not land where ``ContainerRuntimeReady=False`` (a node without that condition
  runs containers, as nodes made by upstream tools have none).
"""

from __future__ import annotations

from collections.abc import Sequence

from apis.tolerations import NO_SCHEDULE, PREFER_NO_SCHEDULE, Taint, first_untolerated, tolerated
from scheduler.cache import SchedulerCache
from scheduler.framework import NodeFilter, Reasons, normalize
from scheduler.node_info import NodeInfo
from scheduler.pod_info import PodInfo

UNSCHEDULABLE_TAINT_KEY = "node.kubernetes.io/unschedulable"
REASON_UNSCHEDULABLE = "node(s) were unschedulable"
REASON_NODE_NAME = "node(s) didn't match the requested node name"
REASON_NO_VM_RUNTIME = "node(s) didn't have a ready VM runtime"
REASON_NO_CONTAINER_RUNTIME = "node(s) didn't have a ready container runtime"


def untolerated_reason(taint: Taint) -> str:
    """upstream's FailedScheduling text: ``had untolerated taint {key: value}``."""
    return f"node(s) had untolerated taint {{{taint.key}: {taint.value}}}"


class NodeUnschedulable:
    name = "NodeUnschedulable"

    def prefilter(self, pod: PodInfo, cluster: SchedulerCache) -> NodeFilter:
        cordon = Taint(UNSCHEDULABLE_TAINT_KEY, "", NO_SCHEDULE)
        tolerates_cordon = tolerated(pod.tolerations, cordon)
        rejection: Reasons = (REASON_UNSCHEDULABLE,)

        def check(node: NodeInfo) -> Reasons | None:
            return rejection if node.unschedulable and not tolerates_cordon else None

        return check


class NodeName:
    name = "NodeName"

    def prefilter(self, pod: PodInfo, cluster: SchedulerCache) -> NodeFilter | None:
        wanted = pod.node_name
        if not wanted:
            return None
        rejection: Reasons = (REASON_NODE_NAME,)
        return lambda node: None if node.name == wanted else rejection


class TaintToleration:
    name = "TaintToleration"

    def prefilter(self, pod: PodInfo, cluster: SchedulerCache) -> NodeFilter:
        tolerations = pod.tolerations

        def check(node: NodeInfo) -> Reasons | None:
            if not node.hard_taints:
                return None
            taint = first_untolerated(tolerations, node.hard_taints)
            return None if taint is None else (untolerated_reason(taint),)

        return check

    def score(self, pod: PodInfo, cluster: SchedulerCache, nodes: Sequence[NodeInfo]) -> list[float] | None:
        if not cluster.nodes_with_soft_taints or not any(node.soft_taints for node in nodes):
            return None
        tolerations = [t for t in pod.tolerations if t.effect in ("", PREFER_NO_SCHEDULE)]
        counts = [sum(1 for taint in node.soft_taints if not tolerated(tolerations, taint)) for node in nodes]
        return normalize(counts, reverse=True)


class NodeRuntime:
    """Arktos: VM pods need a ready VM runtime; container pods a container runtime not reported down."""

    name = "NodeRuntime"

    def prefilter(self, pod: PodInfo, cluster: SchedulerCache) -> NodeFilter:
        if pod.is_vm:
            vm_rejection: Reasons = (REASON_NO_VM_RUNTIME,)
            return lambda node: None if node.vm_ready else vm_rejection
        container_rejection: Reasons = (REASON_NO_CONTAINER_RUNTIME,)
        return lambda node: None if node.container_ready else container_rejection
