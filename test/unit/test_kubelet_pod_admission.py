"""The kubelet's pod admission (`kubelet.pod_admission`) and the pod sync rejecting a pod with it.

Covers: the arithmetic against allocatable minus the admitted pods' requests, with upstream's reasons
and messages (``OutOfcpu``/``OutOfmemory``/``OutOfephemeral-storage``/``OutOfpods``/
``OutOf<extended>``, ``Node didn't have enough resource: ...``), the order of checks (pods count
first, then resources, node affinity, node name, host ports, NoExecute taints), an extended resource
the node lacks left out, node affinity re-checked against a freshly read Node, verdicts kept per pod,
released shares (a finished pod frees its share), and the pod sync: a rejected pod gets phase Failed,
``Pod was rejected: ...`` and one Warning event and never a sandbox, while a finished pod's share
lets the next one in. Leaves out the kubelet process and several partitions
(test/component/test_kubelet_admission.py).
"""

from __future__ import annotations

from typing import Any

from kubelet_fakes import ScriptedRuntime, node_admission, syncer_on

from kubelet.pod_admission import NodeAdmission, Rejection


def pod(uid: str, *, cpu: str = "", memory: str = "", **spec: Any) -> dict[str, Any]:
    requests = {k: v for k, v in (("cpu", cpu), ("memory", memory)) if v}
    return {"metadata": {"name": uid, "namespace": "default", "uid": uid},
            "spec": {"nodeName": "n1", "containers": [{"name": "app", "image": "busybox",
                                                       "resources": {"requests": requests}}], **spec},
            "status": {}}


async def test_cpu_over_commit_is_rejected_with_upstreams_message() -> None:
    admission = node_admission(cpu="2")
    assert await admission.admit(pod("a", cpu="1800m")) is None
    assert await admission.admit(pod("b", cpu="500m")) == Rejection(
        "OutOfcpu", "Node didn't have enough resource: cpu, requested: 500, used: 1800, capacity: 2000")
    assert await admission.admit(pod("c", cpu="200m")) is None  # what is left still fits
    assert admission.requested("cpu") == 2000


async def test_memory_ephemeral_storage_and_extended_resources() -> None:
    admission = node_admission(memory="1Gi", **{"example.com/gpu": "1"})
    assert await admission.admit(pod("a", memory="768Mi")) is None
    assert await admission.admit(pod("b", memory="512Mi")) == Rejection(
        "OutOfmemory", f"Node didn't have enough resource: memory, requested: {512 << 20}, "
                       f"used: {768 << 20}, capacity: {1 << 30}")
    disk = pod("d")
    disk["spec"]["containers"][0]["resources"]["requests"]["ephemeral-storage"] = "200Gi"
    rejection = await admission.admit(disk)
    assert rejection is not None and rejection.reason == "OutOfephemeral-storage"
    gpu = pod("g")
    gpu["spec"]["containers"][0]["resources"] = {"limits": {"example.com/gpu": "2"}}
    assert await admission.admit(gpu) == Rejection(
        "OutOfexample.com/gpu",
        "Node didn't have enough resource: example.com/gpu, requested: 2, used: 0, capacity: 1")
    # An extended resource the node does not have at all is not the kubelet's to check (upstream's
    # removeMissingExtendedResources: cluster-level resources).
    other = pod("o")
    other["spec"]["containers"][0]["resources"] = {"limits": {"example.com/fpga": "1"}}
    assert await admission.admit(other) is None


async def test_pod_count_is_checked_first() -> None:
    admission = node_admission(pods="2", cpu="1")
    assert await admission.admit(pod("a")) is None
    assert await admission.admit(pod("b")) is None
    assert await admission.admit(pod("c", cpu="2")) == Rejection(
        "OutOfpods", "Node didn't have enough resource: pods, requested: 1, used: 2, capacity: 2")


async def test_node_affinity_selector_name_ports_and_no_execute_taints() -> None:
    admission = node_admission(labels={"disk": "ssd"})
    assert await admission.admit(pod("sel", nodeSelector={"disk": "hdd"})) == Rejection(
        "NodeAffinity", "Predicate NodeAffinity failed: node(s) didn't match Pod's node affinity/selector")
    affinity = {"nodeAffinity": {"requiredDuringSchedulingIgnoredDuringExecution": {"nodeSelectorTerms": [
        {"matchExpressions": [{"key": "disk", "operator": "In", "values": ["ssd"]}]}]}}}
    assert await admission.admit(pod("aff", affinity=affinity)) is None
    assert await admission.admit(pod("elsewhere", nodeName="n2")) == Rejection(
        "NodeName", "Predicate NodeName failed: node(s) didn't match the requested node name")

    web = pod("web")
    web["spec"]["containers"][0]["ports"] = [{"containerPort": 80, "hostPort": 8080}]
    assert await admission.admit(web) is None
    twin = pod("twin")
    twin["spec"]["containers"][0]["ports"] = [{"containerPort": 80, "hostPort": 8080, "hostIP": "10.0.0.1"}]
    assert await admission.admit(twin) == Rejection(
        "NodePorts", "Predicate NodePorts failed: node(s) didn't have free ports for the requested pod ports")
    admission.release("web")
    assert await admission.admit({**twin, "metadata": {**twin["metadata"], "uid": "twin-2"}}) is None

    admission.set_node({"metadata": {"name": "n1", "labels": {"disk": "ssd"}, "resourceVersion": "7"},
                        "spec": {"taints": [{"key": "gone", "effect": "NoExecute"},
                                            {"key": "soft", "effect": "NoSchedule"}]},
                        "status": {"allocatable": {"cpu": "8", "memory": "32Gi", "pods": "110"}}})
    assert await admission.admit(pod("intolerant")) == Rejection(
        "TaintToleration",
        "Predicate TaintToleration failed: node(s) had taints that the pod didn't tolerate")
    # NoSchedule taints are the scheduler's business, not the kubelet's.
    tolerant = pod("tolerant", tolerations=[{"key": "gone", "operator": "Exists", "effect": "NoExecute"}])
    assert await admission.admit(tolerant) is None


async def test_resources_come_before_the_other_predicates() -> None:
    admission = node_admission(cpu="1")
    rejection = await admission.admit(pod("both", cpu="2", nodeSelector={"missing": "label"}))
    assert rejection is not None and rejection.reason == "OutOfcpu"


async def test_node_affinity_alone_is_checked_again_on_a_fresh_node() -> None:
    fetched: list[int] = []

    async def fetch() -> dict[str, Any] | None:
        fetched.append(1)
        return {"metadata": {"name": "n1", "labels": {"zone": "a"}, "resourceVersion": "2"},
                "status": {"allocatable": {"cpu": "8", "memory": "32Gi", "pods": "110"}}}

    admission = NodeAdmission({"metadata": {"name": "n1"}, "status": {"allocatable": {"pods": "110"}}},
                              fetch_node=fetch)
    assert await admission.admit(pod("zoned", nodeSelector={"zone": "a"})) is None
    assert fetched == [1]
    assert await admission.admit(pod("zoned-b", nodeSelector={"zone": "b"})) is not None
    assert await admission.admit(pod("big", cpu="9")) is not None
    assert fetched == [1, 1]  # only the affinity failure fetched again


async def test_verdicts_are_kept_until_the_pod_is_released() -> None:
    admission = node_admission(cpu="1")
    assert await admission.admit(pod("a", cpu="1")) is None
    assert await admission.admit(pod("a", cpu="1")) is None  # the same pod is not counted twice
    assert admission.admitted_pods == 1 and admission.requested("cpu") == 1000
    rejected = await admission.admit(pod("b", cpu="1"))
    assert rejected is not None
    admission.release("a")
    assert admission.requested("cpu") == 0 and admission.admitted_pods == 0
    # A rejection stands even once the pod would fit: upstream never re-admits a rejected pod.
    assert await admission.admit(pod("b", cpu="1")) == rejected
    assert admission.rejection_of("b") == rejected
    admission.release("b")
    assert admission.rejection_of("b") is None


async def test_sync_rejects_an_over_committing_pod_and_a_finished_pod_frees_its_share() -> None:
    runtime = ScriptedRuntime()
    syncer, node, events, status = syncer_on(runtime)
    first = pod("first", cpu="6")
    await syncer.sync_pod(node, first)
    second = pod("second", cpu="4")
    await syncer.sync_pod(node, second)
    message = "Node didn't have enough resource: cpu, requested: 4000, used: 6000, capacity: 8000"
    assert (status.latest["phase"], status.latest["reason"], status.latest["message"]) == (
        "Failed", "OutOfcpu", f"Pod was rejected: {message}")
    assert [s.pod.uid for s in await runtime.list_sandboxes()] == ["first"]
    await syncer.sync_pod(node, second)  # a later sync of the rejected pod: no second event
    assert [e for e in events.seen if e[1] == "OutOfcpu"] == [("Warning", "OutOfcpu", message)]

    await syncer.sync_pod(node, {**first, "status": {"phase": "Succeeded"}})
    third = pod("third", cpu="4")
    await syncer.sync_pod(node, third)
    assert {s.pod.uid for s in await runtime.list_sandboxes()} == {"first", "third"}
    assert node.admission.requested("cpu") == 4000
