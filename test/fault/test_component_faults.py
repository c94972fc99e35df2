"""The fault suite: components of one hack/arktos-up.sh cluster die, and the cluster rides it out.

Covers, on one cluster (scenarios in this order; the last one ends it):
- kill -9 of each of the API server, containerd, the VM runtime, the kubelet, the scheduler and
  the controller manager: its supervisor starts it again and it serves again (API /readyz; exec
  into a pod through containerd; the VM runtime's socket; the kubelet's node lease renewed; the
  scheduler's and controller manager's new process holding their Lease, the scheduler binding a new
  pod); no other component's process changes; the steady pods keep the same container IDs and
  restart counts and the VM the same qemu process;
- two controller managers, the leader killed with kill -9 while a Deployment is scaled from 2 to 5:
  another one holds the Lease within 15 s, and exactly 3 pods are created (every pod uid a watch
  ever saw still exists: nothing done twice);
- the node's kubelet frozen (SIGSTOP: no lease renewals, no status): its evictable pods are
  evicted and running again on a hollow node (`python -m kubelet --hollow`) within 60 s, with the
  operator's flags in fault_cluster.py; thawed, the node turns Ready again;
- SIGKILL of arktos-up's whole process group with pods and a VM running: no component, supervisor,
  containerd, shim, container, qemu or reaper is left (by pid records, command line and the pods'
  cgroups), no mount under the data directory, no bridge.
Each scenario's times go to the table the suite prints (conftest.py). Leaves out: faults of the
machine (disk full, OOM), network partitions between components, and several real nodes.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
from apiserver_process import REPO_ROOT, log_tail, stop_process
from fault_cluster import (
    LEASE_FLAGS,
    NODE,
    NODE_FLAGS,
    FaultCluster,
    Proc,
    cmdline,
    live_pids,
    python_module,
    running_fault_cluster,
    wait_for,
)
from fault_workloads import (
    NAMESPACE,
    STEADY_LABEL,
    PodWatch,
    Steady,
    all_running,
    deployment,
    pod_states,
    pods_ready,
    socket_accepts,
    start_steady,
)
from test_arktos_up import kubectl_sh
from timings import record

pytestmark = [pytest.mark.e2e, pytest.mark.slow]

TAKEOVER_BOUND_S = 15.0  # the bound for a standby controller manager
EVICTION_BOUND_S = 60.0  # the bound for a dead node's pods to run elsewhere
HOLLOW_NODE = "ft-hollow"


@pytest.fixture(scope="module")
def cluster(tmp_path_factory: pytest.TempPathFactory) -> Iterator[FaultCluster]:
    yield from running_fault_cluster(tmp_path_factory.mktemp("faults"))


@pytest.fixture(scope="module")
def steady(cluster: FaultCluster) -> Steady:
    return start_steady(cluster)


def serving_again(cluster: FaultCluster, name: str) -> Callable[[], bool]:
    """Asked before the kill: a check that holds once the restarted ``name`` does its job again."""
    if name == "kube-apiserver":
        return cluster.api_ready
    if name in ("kube-scheduler", "kube-controller-manager"):
        old = cluster.lease_holder(name)
        return lambda: cluster.lease_holder(name) not in ("", old)
    if name == "containerd":
        pod = next(iter(pod_states(cluster, "app=steady")))
        return lambda: kubectl_sh(cluster.env, "exec", pod, "--", "true").returncode == 0
    if name == "vmruntime":
        path = str(cluster.data_dir / "vmruntime" / "arktos-vm.sock")
        return lambda: socket_accepts(path)  # the runtime opens it once it adopted the VMs
    assert name == "kubelet"
    renewed = cluster.leases.read_namespaced_lease(NODE, "kube-node-lease").spec.renew_time
    return lambda: (cluster.leases.read_namespaced_lease(NODE, "kube-node-lease").spec.renew_time != renewed
                    and cluster.node_condition("Ready") == "True")


def scheduler_binds_a_pod(cluster: FaultCluster) -> None:
    cluster.core.create_namespaced_pod(NAMESPACE, {
        "apiVersion": "v1", "kind": "Pod",
        "metadata": {"name": "after-scheduler-kill", "labels": {"fault": "after-scheduler-kill"}},
        "spec": {"terminationGracePeriodSeconds": 1,
                 "containers": [{"name": "main", "image": "busybox", "command": ["sleep", "3600"]}]}})
    wait_for("the restarted scheduler binds a pod",
             lambda: bool(pod_states(cluster, "fault=after-scheduler-kill")["after-scheduler-kill"].node),
             report=lambda: cluster.report("kube-scheduler"))
    cluster.core.delete_namespaced_pod("after-scheduler-kill", NAMESPACE)


@pytest.mark.parametrize("name", ["kube-apiserver", "containerd", "vmruntime", "kubelet", "kube-scheduler",
                                  "kube-controller-manager"])
def test_kill_9_component_comes_back_and_nothing_else_stops(cluster: FaultCluster, steady: Steady,
                                                            name: str) -> None:
    before = cluster.components()
    victim = before[name]
    assert victim is not None and all(before.values()), f"not every component runs: {before}"
    ready = serving_again(cluster, name)
    killed_at = time.monotonic()
    os.kill(victim.pid, signal.SIGKILL)
    restarted = wait_for(f"{name} restarted", lambda: cluster.restarted(name, victim),
                         report=lambda: cluster.report(name))
    wait_for(f"{name} serving again", ready, report=lambda: cluster.report(name, "kubelet"))
    serving = time.monotonic() - killed_at
    if name == "kube-scheduler":
        scheduler_binds_a_pod(cluster)
    record(f"kill -9 {name}", "new process", restarted)
    record(f"kill -9 {name}", "serving again", serving)
    after = cluster.components()
    assert {n: p for n, p in after.items() if n != name} == {n: p for n, p in before.items() if n != name}
    steady.assert_unchanged(cluster)


def controller_manager(cluster: FaultCluster, log_path: Path) -> subprocess.Popen[bytes]:
    """A second controller manager, as arktos-up starts its own (same identity and flags)."""
    certs = Path(cluster.env["CERT_DIR"])
    return python_module(["controllers", "--kubeconfig", str(certs / "controller.kubeconfig"),
                          "--use-service-account-credentials", "--root-ca-file", str(certs / "ca.crt"),
                          *LEASE_FLAGS.split(), *NODE_FLAGS.split()], log_path)


def test_standby_controller_manager_takes_over_and_does_nothing_twice(
        cluster: FaultCluster, steady: Steady, tmp_path: Path) -> None:
    log_path = tmp_path / "standby-controller-manager.log"
    standby = controller_manager(cluster, log_path)
    try:
        wait_for("the standby sees the leader",
                 lambda: "new leader of lease kube-controller-manager" in log_path.read_text(),
                 report=lambda: log_tail(log_path))
        leader = cluster.lease_holder("kube-controller-manager")
        assert f"{leader} became leader" in (cluster.log_dir / "kube-controller-manager.log").read_text()
        cluster.apps.create_namespaced_deployment(NAMESPACE, deployment("scaled", 2))
        wait_for("2 pods running", lambda: all_running(pod_states(cluster, "app=scaled"), 2))
        watch = PodWatch(cluster, "app=scaled")
        watch.start()
        wait_for("the watch sees both pods", lambda: len(watch.added) == 2)
        killed = cluster.component("kube-controller-manager")
        assert killed is not None
        killed_at = time.monotonic()
        os.kill(killed.pid, signal.SIGKILL)
        cluster.apps.patch_namespaced_deployment_scale("scaled", NAMESPACE, {"spec": {"replicas": 5}})
        wait_for("a new leader", lambda: cluster.lease_holder("kube-controller-manager") not in ("", leader),
                 timeout_s=30, report=lambda: log_tail(log_path))
        takeover = time.monotonic() - killed_at
        wait_for("5 pods running", lambda: all_running(pod_states(cluster, "app=scaled"), 5),
                 report=lambda: log_tail(log_path))
        settled = time.monotonic() - killed_at
        time.sleep(3.0)  # a late second creation by the other manager would show up meanwhile
        watch.stop()
        assert not watch.error, f"the pod watch broke, so its count proves nothing: {watch.error}"
        pods = pod_states(cluster, "app=scaled")
        assert len(pods) == 5 and watch.added == {p.uid for p in pods.values()}, (
            f"created {len(watch.added)} pods for 5 replicas: {sorted(watch.added)} vs {pods}")
        new_leader = cluster.lease_holder("kube-controller-manager")
        winner = "standby" if f"{new_leader} became leader" in log_path.read_text() else "restarted"
        record("leader kill -9, standby running", f"takeover (by the {winner})", takeover)
        record("leader kill -9, standby running", "scaled 2->5, all running", settled)
        assert takeover <= TAKEOVER_BOUND_S
    finally:
        stop_process(standby)  # a leading standby releases the Lease on SIGTERM
    cluster.apps.delete_namespaced_deployment("scaled", NAMESPACE)
    steady.assert_unchanged(cluster)


def hollow_kubelet(cluster: FaultCluster, tmp_path: Path) -> subprocess.Popen[bytes]:
    """A hollow node beside the real one, with its own node identity (system:node:ft-hollow)."""
    kubeconfig = tmp_path / "hollow.kubeconfig"
    made = subprocess.run([sys.executable, "-m", "tools.pki", "kubeconfig", "--dir", cluster.env["CERT_DIR"],
                           "--out", str(kubeconfig), "--server", cluster.url, "--require-ca",
                           "--common-name", f"system:node:{HOLLOW_NODE}", "--org", "system:nodes"],
                          cwd=REPO_ROOT, capture_output=True, text=True, timeout=30)
    assert made.returncode == 0, made.stderr
    return python_module(["kubelet", "--kubeconfig", str(kubeconfig), "--hostname-override", HOLLOW_NODE,
                          "--hollow", "--hollow-start-delay", "0.2"], tmp_path / "hollow-kubelet.log")


def test_dead_node_pods_run_on_another_node_within_a_minute(
        cluster: FaultCluster, steady: Steady, tmp_path: Path) -> None:
    cluster.apps.create_namespaced_deployment(NAMESPACE, deployment("evictable", 2))
    wait_for("2 pods running on the node",
             lambda: all_running(pod_states(cluster, "app=evictable"), 2, node=NODE))
    first = {s.uid for s in pod_states(cluster, "app=evictable").values()}
    hollow = hollow_kubelet(cluster, tmp_path)
    kubelet = cluster.component("kubelet")
    assert kubelet is not None
    try:
        wait_for("the hollow node Ready", lambda: cluster.node_condition("Ready", HOLLOW_NODE) == "True",
                 report=lambda: log_tail(tmp_path / "hollow-kubelet.log"))
        os.kill(kubelet.pid, signal.SIGSTOP)
        stopped_at = time.monotonic()
        wait_for("the pods evicted",
                 lambda: not first & {s.uid for s in pod_states(cluster, "app=evictable").values()},
                 timeout_s=EVICTION_BOUND_S, report=lambda: cluster.report("kube-controller-manager"))
        evicted = time.monotonic() - stopped_at
        wait_for("2 pods running on the hollow node",
                 lambda: all_running(pod_states(cluster, "app=evictable"), 2, node=HOLLOW_NODE),
                 timeout_s=EVICTION_BOUND_S, report=lambda: cluster.report("kube-scheduler"))
        recreated = time.monotonic() - stopped_at
        record("node dead (kubelet SIGSTOP)", "pods evicted", evicted)
        record("node dead (kubelet SIGSTOP)", "replacements running elsewhere", recreated)
        assert recreated <= EVICTION_BOUND_S
    finally:
        os.kill(kubelet.pid, signal.SIGCONT)
        stop_process(hollow)
    wait_for("the node Ready again", lambda: cluster.node_condition("Ready") == "True",
             report=lambda: cluster.report("kubelet"))
    # The controller marked the steady pods not Ready meanwhile; the thawed kubelet reports them again.
    wait_for("the steady pods Ready again", lambda: pods_ready(cluster, STEADY_LABEL),
             report=lambda: cluster.report("kubelet"))
    cluster.apps.delete_namespaced_deployment("evictable", NAMESPACE)
    cluster.core.delete_node(HOLLOW_NODE)
    assert cluster.component("kubelet") == kubelet, "a frozen kubelet is not restarted"
    steady.assert_unchanged(cluster)


def in_pod_cgroups(uids: set[str]) -> list[int]:
    """Live processes in a cgroup of one of these pods (the kubelet's cgroup path names the uid)."""
    found = []
    for pid in live_pids():
        try:
            groups = Path(f"/proc/{pid}/cgroup").read_text()
        except OSError:
            continue
        if any(uid in groups for uid in uids):
            found.append(pid)
    return found


def started_by_arktos_up(cluster: FaultCluster) -> dict[str, set[Proc]]:
    """What runs for this cluster now: components and supervisors by their records, the reaper,
    containerd's shims (named by our socket), containers by their pods' cgroups, qemu by our paths."""
    run = cluster.run_dir
    found: dict[str, set[Proc]] = {"components": {p for p in cluster.components().values() if p}}
    found["supervisors"] = {Proc(int(line.split()[1]), line.split()[2])
                            for line in (run / "components").read_text().splitlines()}
    reaper_pid, reaper_start = (run / "reaper.pid").read_text().split()
    found["reaper"] = {Proc(int(reaper_pid), reaper_start)}
    uids = {p["metadata"]["uid"] for p in cluster.pods(namespace=None) if p["spec"].get("nodeName") == NODE}
    procs = [(pid, cmdline(pid)) for pid in live_pids()]
    found["shims"] = {p for pid, line in procs if "containerd-shim" in line and str(cluster.data_dir) in line
                      and (p := Proc.of(pid))}
    found["containers"] = {p for pid in in_pod_cgroups(uids) if (p := Proc.of(pid))}
    found["qemu and VM shims"] = {p for pid, line in procs
                                  if ("qemu-system" in line or "vmruntime.shim" in line)
                                  and str(cluster.data_dir) in line and (p := Proc.of(pid))}
    return found


def test_sigkill_of_arktos_up_group_leaves_nothing(cluster: FaultCluster, steady: Steady) -> None:
    before = started_by_arktos_up(cluster)
    for kind, procs in before.items():
        assert procs and all(p.alive() for p in procs), f"nothing of {kind} runs before the kill: {before}"
    uids = {s.uid for s in steady.pods.values()}
    assert cluster.up.process is not None
    os.killpg(cluster.up.process.pid, signal.SIGKILL)

    def nothing_left() -> bool:
        return not any(p.alive() for procs in before.values() for p in procs) and not cluster.ours() \
            and not in_pod_cgroups(uids)

    reaper_log = cluster.log_dir / "arktos-up-reaper.log"
    gone = wait_for("nothing of the cluster left", nothing_left, timeout_s=60,
                    report=lambda: f"left: {cluster.ours()}\n{log_tail(reaper_log)}")
    record("SIGKILL arktos-up's process group", "everything stopped", gone)
    mounts = Path("/proc/self/mounts").read_text().splitlines()
    assert not [line for line in mounts if str(cluster.data_dir) in line]
    assert not Path("/sys/class/net", cluster.env["CONTAINERD_BRIDGE"]).exists()
    tables = subprocess.run(["iptables-save"], capture_output=True, text=True, check=True).stdout
    assert f"{cluster.env['KUBE_PROXY_CHAIN_PREFIX']}-" not in tables  # kube-proxy's chains went too
    assert "ended without stopping the cluster" in reaper_log.read_text()
