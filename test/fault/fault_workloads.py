"""The pods the fault scenarios keep an eye on, and what "kept running" means for them.

"Steady" pods - a two-replica busybox Deployment and a VM pod - run on the real node through every
scenario. They tolerate the unreachable taint without a time bound (as a DaemonSet's pods do), so
the dead-node scenario does not evict them either. A `Steady` snapshot holds each pod's uid, phase
and per-container (container ID, restart count) and the VM's qemu process; a scenario passes only
if the snapshot taken after it equals the one taken before: same containers, no restarts, same qemu.
"""

from __future__ import annotations

import json
import socket
import threading
from dataclasses import dataclass, field
from typing import Any

import urllib3
from fault_cluster import FaultCluster, Proc, cmdline, live_pids, wait_for
from kubernetes import watch
from test_arktos_up import kubectl_sh

NAMESPACE = "default"
STEADY_LABEL = "fault=steady"
VM_WAIT_S = 120.0
UNREACHABLE_FOREVER = {"key": "node.kubernetes.io/unreachable", "operator": "Exists", "effect": "NoExecute"}
PUBLIC_KEY = "ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIArktosTestKeyOnlyForTheE2eSuite arktos@test"


def deployment(name: str, replicas: int, *, labels: dict[str, str] | None = None,
               tolerations: list[dict[str, Any]] | None = None) -> dict[str, Any]:
    """busybox ``sleep 3600`` pods, stopped within a second when deleted."""
    pod_labels = {"app": name, **(labels or {})}
    spec: dict[str, Any] = {"terminationGracePeriodSeconds": 1, "containers": [
        {"name": "main", "image": "busybox", "command": ["sleep", "3600"]}]}
    if tolerations:
        spec["tolerations"] = tolerations
    return {"apiVersion": "apps/v1", "kind": "Deployment", "metadata": {"name": name},
            "spec": {"replicas": replicas, "selector": {"matchLabels": {"app": name}},
                     "template": {"metadata": {"labels": pod_labels}, "spec": spec}}}


def vm_pod(name: str) -> dict[str, Any]:
    return {"apiVersion": "v1", "kind": "Pod", "metadata": {"name": name, "labels": {"fault": "steady"}},
            "spec": {"tolerations": [UNREACHABLE_FOREVER], "terminationGracePeriodSeconds": 1,
                     "virtualMachine": {"name": "vm", "image": "cirros", "publicKey": PUBLIC_KEY,
                                        "resources": {"limits": {"cpu": "1", "memory": "128Mi"}}}}}


@dataclass(frozen=True, slots=True)
class PodState:
    uid: str
    phase: str
    node: str
    containers: tuple[tuple[str, str, int], ...]  # (name, container or VM ID, restart count)


def pod_states(cluster: FaultCluster, selector: str) -> dict[str, PodState]:
    """The live (not terminating) pods matching ``selector``, by name."""
    states = {}
    for pod in cluster.pods(selector):
        if pod["metadata"].get("deletionTimestamp"):
            continue
        status = pod.get("status") or {}
        # A VM pod reports its VM in virtualMachineStatus instead of containerStatuses.
        vm = [status["virtualMachineStatus"]] if status.get("virtualMachineStatus") else []
        containers = tuple(sorted(
            [(c["name"], str(c.get("containerID") or ""), int(c.get("restartCount") or 0))
             for c in status.get("containerStatuses") or []]
            + [(v["name"], str(v.get("virtualMachineId") or ""), int(v.get("restartCount") or 0))
               for v in vm]))
        states[pod["metadata"]["name"]] = PodState(pod["metadata"]["uid"], str(status.get("phase")),
                                                   str(pod["spec"].get("nodeName") or ""), containers)
    return states


def all_running(states: dict[str, PodState], count: int, *, node: str | None = None) -> bool:
    return len(states) == count and all(
        s.phase == "Running" and s.containers and all(c[1] for c in s.containers)
        and (node is None or s.node == node) for s in states.values())


def pods_ready(cluster: FaultCluster, selector: str) -> bool:
    """Every pod matching ``selector`` has condition Ready=True."""
    return all(any(c.get("type") == "Ready" and c.get("status") == "True"
                   for c in (pod.get("status") or {}).get("conditions") or [])
               for pod in cluster.pods(selector))


def qemu_processes(cluster: FaultCluster) -> set[Proc]:
    found = set()
    for pid in live_pids():
        line = cmdline(pid)
        if line.startswith("qemu-system-x86_64") and str(cluster.data_dir) in line and (p := Proc.of(pid)):
            found.add(p)
    return found


@dataclass(frozen=True, slots=True)
class Steady:
    pods: dict[str, PodState]
    qemus: frozenset[Proc]

    @classmethod
    def capture(cls, cluster: FaultCluster) -> Steady:
        return cls(pod_states(cluster, STEADY_LABEL), frozenset(qemu_processes(cluster)))

    def assert_unchanged(self, cluster: FaultCluster) -> None:
        now = Steady.capture(cluster)
        assert now.pods == self.pods, f"steady pods changed:\nbefore {self.pods}\nafter  {now.pods}"
        assert now.qemus == self.qemus, f"the VM's qemu changed: before {self.qemus}, after {now.qemus}"


def start_steady(cluster: FaultCluster) -> Steady:
    cluster.apps.create_namespaced_deployment(NAMESPACE, deployment(
        "steady", 2, labels={"fault": "steady"}, tolerations=[UNREACHABLE_FOREVER]), _request_timeout=10)
    # The python client's models have no spec.virtualMachine (an Arktos field): kubectl sends it as is.
    created = kubectl_sh(cluster.env, "apply", "-f", "-", stdin=json.dumps(vm_pod("steady-vm")))
    assert created.returncode == 0, created.stderr
    wait_for("the steady pods and VM running",
             lambda: all_running(pod_states(cluster, STEADY_LABEL), 3) and bool(qemu_processes(cluster)),
             timeout_s=VM_WAIT_S, report=lambda: cluster.report("kubelet", "vmruntime"))
    return Steady.capture(cluster)


def socket_accepts(path: str) -> bool:
    with socket.socket(socket.AF_UNIX, socket.SOCK_STREAM) as sock:
        try:
            sock.connect(path)
        except OSError:
            return False
    return True


@dataclass
class PodWatch:
    """Every pod uid a watch of ``selector`` ever saw ADDED (a duplicate creation shows up here even
    if the duplicate is deleted again)."""

    cluster: FaultCluster
    selector: str
    added: set[str] = field(default_factory=set)
    # Why the watch ended before `stop` (a broken stream would make `added` an undercount).
    error: str = ""
    _stopped: threading.Event = field(default_factory=threading.Event)
    _watch: watch.Watch = field(default_factory=watch.Watch)
    _thread: threading.Thread | None = None

    def start(self) -> None:
        self._thread = threading.Thread(target=self._run, daemon=True)
        self._thread.start()

    def _run(self) -> None:
        try:
            for event in self._watch.stream(self.cluster.core.list_namespaced_pod, NAMESPACE,
                                            label_selector=self.selector, timeout_seconds=300):
                if event["type"] == "ADDED":
                    self.added.add(event["object"].metadata.uid)
        except (urllib3.exceptions.HTTPError, OSError) as e:
            # After `stop` the stream is torn down under the reader: that is no error.
            if not self._stopped.is_set():
                self.error = repr(e)
        else:
            if not self._stopped.is_set():
                self.error = "the watch ended before it was stopped"

    def stop(self) -> None:
        self._stopped.set()
        self._watch.stop()
