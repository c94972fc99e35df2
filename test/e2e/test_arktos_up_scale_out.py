"""hack/arktos-up-scale-out.sh: 2 tenant partitions x 2 resource partitions behind the gateway.

Covers, with stock kubectl and raw HTTPS through the gateway (API_SECURE_PORT) and, to see where
things are stored, straight to each partition's API server: the script's ready banner comes once
every partition, the gateway, the real node (containerd + VM runtime, in rp0) and 2 hollow nodes per
resource partition are up; Tenants acme and globex created through the gateway without a
partition land one on each tenant partition (``spec.storageClusterId`` "0" and "1", each stored
only there), `kubectl get tenants` shows a PARTITION column, `kubectl get nodes` lists the nodes of
both resource partitions (each stored only in its own); the tenancy e2e's own tests run unchanged
through the gateway (imported from test_tenancy_walkthrough.py and test_tenancy_isolation.py:
certificate and token users on short and prefix paths, the system admin's cross-tenant lists, the
whole isolation matrix and discovery), plus a long path; a Deployment of each tenant runs on the
real node (Running on containerd with a pod IP of the node's bridge; `kubectl logs`, `exec` and
`port-forward` through the gateway as the tenant's user) and one on rp1's hollow nodes; a VM pod of
the tenant on tp1 runs on the real node (its serial log read through the gateway); two
controller-manager instances per tenant partition (TP_CONTROLLER_MANAGERS=2) both hold a
`deployment` ControllerInstance, their ranges up to 2^63-1; deleting a
tenant empties it on its partition only; killing rp1's hollow kubelet process gets its pods of
both tenants evicted and recreated on rp0's hollow nodes; Ctrl-C (the module cluster's teardown)
stops every process the script started.
Leaves out: STORAGE_BACKEND=etcd and partition counts other than 2 x 2 (the same functions start
them), restarts of partitions, and the replicated controllers (their own tests).
"""

from __future__ import annotations

import json
import os
import signal
import socket
import ssl
import time
import urllib.error
import urllib.request
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import test_tenancy_isolation
import test_tenancy_walkthrough
from apiserver_process import ApiServerProcess, admin_ssl_context
from recorded_process import live_processes_mentioning, recorded
from tenancy_env import (
    CERT_USER_GROUP,
    TENANTS,
    TenancyEnv,
    add_admin_and_token_identities,
    setup_tenant_user,
    write_token_file,
)
from test_arktos_up import ArktosUp
from test_arktos_up_vm import VM_WAIT_S, vm_pod
from workload_cluster import (
    Kubectl,
    kubectl_as,
    kubectl_as_popen,
    module_tmp,  # noqa: F401 (fixture)
    phase_running,
    running_cluster,
    workload_cluster_env,
)

from tools.cluster_credentials import ClusterCredentials

pytestmark = [pytest.mark.e2e, pytest.mark.slow]

# The tenancy e2e's tests, run again here through the gateway (with this module's `tenancy_env`).
# Bound here rather than imported by name so they run in this order: the walk-through creates and
# deletes its own `default/web`, which the isolation matrix's module fixture `world` then keeps.
test_each_tenant_works_with_cert_and_token_and_reads_its_own = (
    test_tenancy_walkthrough.test_each_tenant_works_with_cert_and_token_and_reads_its_own)
test_system_admin_lists_across_tenants_with_a_tenant_column = (
    test_tenancy_walkthrough.test_system_admin_lists_across_tenants_with_a_tenant_column)
world = test_tenancy_isolation.world
test_isolation_matrix = test_tenancy_isolation.test_isolation_matrix
test_short_path_list_and_watch_show_only_own_tenant = (
    test_tenancy_isolation.test_short_path_list_and_watch_show_only_own_tenant)
test_discovery_hides_cluster_scope_from_tenants = (
    test_tenancy_isolation.test_discovery_hides_cluster_scope_from_tenants)



@pytest.fixture(autouse=True)
def partition_local_resource_versions(request: pytest.FixtureRequest) -> None:
    """For the isolation matrix's `world`: a resourceVersion is a counter of one partition's store,
    so acme's objects on tp0 and globex's on tp1 can carry the same ones ("135" on both). A string
    both tenants' own objects carry tells an attacker nothing about the other, so it is no leak
    marker here (the matrix's other markers - names, uids, data values - and its check that no
    object of another tenant is shown stay as they are)."""
    if "world" not in request.fixturenames:
        return
    tenants = request.getfixturevalue("world").tenants.values()
    shared = set.intersection(*(t.markers for t in tenants))
    for tenant in tenants:
        tenant.markers -= {m for m in shared if m.startswith('"') and m.strip('"').isdigit()}


NODE = "so-node"
BRIDGE = "arktos-so0"
POD_SUBNET = "10.215.0.0/16"
PARTITIONS = ("tp0", "tp1", "rp0", "rp1")
HOLLOW = {rp: [f"{rp}-hollow-0", f"{rp}-hollow-1"] for rp in ("rp0", "rp1")}
START_TIMEOUT_S = 300.0  # four API servers, five control loops, the gateway and three kubelets on 2 cores
WAIT_S = 90.0
# A dead node is noticed after 20 s and its pods evicted 5 s later (upstream: 40 s and 300 s).
NODE_FLAGS = "--node-monitor-grace-period 20s --default-unreachable-toleration-seconds 5"


def free_port_run(count: int) -> int:
    """The first of ``count`` consecutive loopback ports that are all free right now."""
    for _ in range(50):
        with socket.socket() as probe:
            probe.bind(("127.0.0.1", 0))
            base = int(probe.getsockname()[1])
        if base + count > 65535:
            continue
        try:
            for port in range(base, base + count):
                with socket.socket() as other:
                    other.bind(("127.0.0.1", port))
        except OSError:
            continue
        return base
    raise AssertionError(f"no run of {count} free ports found")


def scale_out_env(base: Path) -> dict[str, str]:
    env = workload_cluster_env(base, node=NODE, bridge=BRIDGE, subnet=POD_SUBNET)
    env.update({
        "TP_COUNT": "2",
        "RP_COUNT": "2",
        "HOLLOW_NODES": "2",
        "TP_CONTROLLER_MANAGERS": "2",  # the replicated workload controllers, two instances at once
        "PARTITION_BASE_PORT": str(free_port_run(len(PARTITIONS))),
        "CONTROLLER_MANAGER_EXTRA_FLAGS": NODE_FLAGS,
        # The killed hollow kubelet must stay dead long enough for its nodes to be declared lost.
        "HOLLOW_KUBELET_RESTART_DELAY": "600",
        "ARKTOS_READY_TIMEOUT": "180",
    })
    return env


@pytest.fixture(scope="module")
def tokens(module_tmp: Path) -> dict[str, tuple[str, str, str]]:  # noqa: F811
    """The tenancy e2e's token users, written into known_tokens.csv before the cluster starts (the
    script adds its admin row and every partition and the gateway read the one file)."""
    cert_dir = module_tmp / "certs"
    cert_dir.mkdir(parents=True, exist_ok=True)
    return write_token_file(cert_dir / "known_tokens.csv")


@pytest.fixture(scope="module")
def cluster(module_tmp: Path, tokens: dict[str, tuple[str, str, str]]) -> Iterator[ArktosUp]:  # noqa: F811
    """The module's cluster. Its teardown - after every other fixture's, which still use it - is
    the Ctrl-C check: a failure there shows as an error of the module's last test."""
    for up in running_cluster(scale_out_env(module_tmp), script="arktos-up-scale-out.sh",
                              start_timeout_s=START_TIMEOUT_S, report_log="gateway.log"):
        yield up
        assert_ctrl_c_stops_everything(up)


def assert_ctrl_c_stops_everything(up: ArktosUp) -> None:
    """Ctrl-C stops every partition, controller manager, scheduler, the gateway, both kinds of
    kubelet, containerd (with its shims and the pods' containers) and the VM runtime."""
    data_dir, cert_dir = up.env["ARKTOS_DATA_DIR"], up.env["CERT_DIR"]
    assert live_processes_mentioning(data_dir), "nothing runs under ARKTOS_DATA_DIR before Ctrl-C"
    assert up.interrupt() == 130, up.report()
    deadline = time.monotonic() + 15.0
    while left := live_processes_mentioning(data_dir) + live_processes_mentioning(cert_dir):
        assert time.monotonic() < deadline, f"still running after Ctrl-C: {left}"
        time.sleep(0.2)


@pytest.fixture(scope="module")
def admin(cluster: ArktosUp) -> Kubectl:
    return Kubectl(cluster)


def partition_url(env: dict[str, str], partition: str) -> str:
    return f"https://127.0.0.1:{int(env['PARTITION_BASE_PORT']) + PARTITIONS.index(partition)}"


def admin_context(env: dict[str, str]) -> ssl.SSLContext:
    return admin_ssl_context(ClusterCredentials(Path(env["CERT_DIR"]), admin_token=""))


def on_partition(env: dict[str, str], partition: str, path: str) -> tuple[int, dict[str, Any]]:
    """GET ``path`` straight from one partition's API server, as system:admin."""
    url = partition_url(env, partition) + path
    request = urllib.request.Request(url, headers={"Accept": "application/json"})
    try:
        with urllib.request.urlopen(request, timeout=10, context=admin_context(env)) as reply:
            return reply.status, json.loads(reply.read())
    except urllib.error.HTTPError as e:
        return e.code, json.loads(e.read() or b"{}")


def create_tenant(admin: Kubectl, name: str) -> None:
    """The system admin creates a Tenant through the gateway, naming no partition."""
    tenant = {"apiVersion": "v1", "kind": "Tenant", "metadata": {"name": name}}
    admin("create", "-f", "-", stdin=json.dumps(tenant))
    admin.wait(f"tenant {name} Initialized", lambda: any(
        c.get("type") == "Initialized" and c.get("status") == "True"
        for c in (admin.json("get", "tenant", name).get("status") or {}).get("conditions") or []))


def tenant_partition(admin: Kubectl, name: str) -> str:
    return f"tp{admin.json('get', 'tenant', name)['spec']['storageClusterId']}"


@pytest.fixture(scope="module")
def placement(admin: Kubectl) -> dict[str, str]:
    """acme and globex, created in this order: tenant -> its partition (tp0/tp1)."""
    for tenant in TENANTS:
        create_tenant(admin, tenant)
    return {tenant: tenant_partition(admin, tenant) for tenant in TENANTS}


@pytest.fixture(scope="module")
def tenancy_env(cluster: ArktosUp, placement: dict[str, str], tokens: dict[str, tuple[str, str, str]],
                module_tmp: Path) -> TenancyEnv:  # noqa: F811
    """The tenancy e2e's environment with the gateway as its server: the imported tenancy tests
    (and ours) reach every partition through it, as users would."""
    env = cluster.env
    cert_dir = Path(env["CERT_DIR"])
    assert cluster.process is not None
    gateway = ApiServerProcess(
        port=int(env["API_SECURE_PORT"]), data_dir=Path(env["ARKTOS_DATA_DIR"]),
        log_path=Path(env["LOG_DIR"]) / "gateway.log", kubeconfig=cert_dir / "admin.kubeconfig",
        credentials=ClusterCredentials(cert_dir, admin_token=""))
    workdir = module_tmp / "tenancy"
    workdir.mkdir(exist_ok=True)
    tenancy = TenancyEnv(server=gateway, controller=cluster.process,
                         controller_log=Path(env["LOG_DIR"]) / "tp0-controller-manager.log", workdir=workdir)
    add_admin_and_token_identities(tenancy, tokens)
    for tenant in TENANTS:
        identity = setup_tenant_user(tenancy, tenant, "admin", CERT_USER_GROUP.format(tenant=tenant))
        tenancy.identities[identity.label] = identity
    return tenancy


def user_kubeconfig(tenancy: TenancyEnv, tenant: str) -> str:
    kubeconfig = tenancy.identity(f"{tenant}-cert-admin").kubeconfig
    assert kubeconfig is not None
    return str(kubeconfig)


# -- partitions and placement ---------------------------------------------------------------------


def test_tenants_land_on_both_partitions(cluster: ArktosUp, admin: Kubectl,
                                         placement: dict[str, str]) -> None:
    env = cluster.env
    assert sorted(placement.values()) == ["tp0", "tp1"], placement
    for tenant, partition in placement.items():
        other = "tp1" if partition == "tp0" else "tp0"
        assert on_partition(env, partition, f"/api/v1/tenants/{tenant}")[0] == 200
        assert on_partition(env, other, f"/api/v1/tenants/{tenant}")[0] == 404
        assert on_partition(env, partition, f"/api/v1/tenants/{tenant}/namespaces/default")[0] == 200
    table = admin("get", "tenants").stdout.splitlines()
    assert table[0].split() == ["NAME", "STATUS", "AGE", "PARTITION"], table
    rows = {line.split()[0]: line.split() for line in table[1:]}
    for tenant, partition in placement.items():
        assert rows[tenant][-1] == partition.removeprefix("tp"), table
    assert list(rows).count("system") == 1, table


def test_nodes_of_both_resource_partitions(cluster: ArktosUp, admin: Kubectl) -> None:
    names = {n["metadata"]["name"] for n in admin.json("get", "nodes")["items"]}
    assert {NODE, *HOLLOW["rp0"], *HOLLOW["rp1"]} <= names, names
    stored = {rp: {n["metadata"]["name"] for n in on_partition(cluster.env, rp, "/api/v1/nodes")[1]["items"]}
              for rp in ("rp0", "rp1")}
    assert {NODE, *HOLLOW["rp0"]} <= stored["rp0"] and not stored["rp0"] & set(HOLLOW["rp1"]), stored
    assert set(HOLLOW["rp1"]) <= stored["rp1"] and NODE not in stored["rp1"], stored
    for tp in ("tp0", "tp1"):
        assert on_partition(cluster.env, tp, "/api/v1/nodes")[1]["items"] == []


def deployment_instances(env: dict[str, str], partition: str) -> list[dict[str, Any]]:
    found = on_partition(env, partition, "/api/v1/controllerinstances")[1].get("items", [])
    return [i for i in found if i.get("controllerType") == "deployment"]


def test_two_controller_managers_of_each_tenant_partition_share_the_workload(cluster: ArktosUp,
                                                                             admin: Kubectl) -> None:
    """TP_CONTROLLER_MANAGERS=2: each tenant partition records two `deployment` controller
    instances (ControllerInstance objects in its own store) whose hashKey ranges cover it all."""
    for tp in ("tp0", "tp1"):
        admin.wait(f"two deployment controller instances on {tp}",
                   lambda tp=tp: len(deployment_instances(cluster.env, tp)) == 2)
        instances = deployment_instances(cluster.env, tp)
        assert max(int(i["controllerKey"]) for i in instances) == 2**63 - 1, instances
        assert not any(i.get("isLocked") for i in instances), instances


def test_long_path_of_a_tenant_user_reaches_its_partition(cluster: ArktosUp, tenancy_env: TenancyEnv,
                                                           placement: dict[str, str]) -> None:
    for tenant in TENANTS:
        user = tenancy_env.identity(f"{tenant}-cert-admin")
        path = f"/api/v1/tenants/{tenant}/namespaces/default/configmaps"
        tenancy_env.ok(user, "POST", path, {"metadata": {"name": "long-path"}, "data": {"by": tenant}})
        try:
            assert tenancy_env.ok(user, "GET", f"{path}/long-path")["data"] == {"by": tenant}
            status, stored = on_partition(cluster.env, placement[tenant], f"{path}/long-path")
            assert status == 200 and stored["data"] == {"by": tenant}
        finally:
            tenancy_env.call(user, "DELETE", f"{path}/long-path")


# -- workloads ------------------------------------------------------------------------------------


def on_nodes(nodes: list[str]) -> dict[str, Any]:
    """Required node affinity to exactly these nodes (their hostname label: upstream allows one
    value only in a `metadata.name` matchFields), so placement is deterministic."""
    term = {"matchExpressions": [{"key": "kubernetes.io/hostname", "operator": "In", "values": nodes}]}
    return {"nodeAffinity": {"requiredDuringSchedulingIgnoredDuringExecution": {"nodeSelectorTerms": [term]}}}


def deployment(name: str, *, replicas: int, nodes: list[str], command: list[str]) -> dict[str, Any]:
    labels = {"app": name}
    pod_spec = {"affinity": on_nodes(nodes), "terminationGracePeriodSeconds": 1,
                "containers": [{"name": "c", "image": "busybox", "command": command}]}
    return {"apiVersion": "apps/v1", "kind": "Deployment", "metadata": {"name": name, "namespace": "default"},
            "spec": {"replicas": replicas, "selector": {"matchLabels": labels},
                     "template": {"metadata": {"labels": labels}, "spec": pod_spec}}}


def tenant_pods(env: dict[str, str], kubeconfig: str, selector: str) -> list[dict[str, Any]]:
    listed = kubectl_as(env, kubeconfig, "get", "pods", "-l", selector, "-o", "json")
    assert listed.returncode == 0, listed.stderr
    items: list[dict[str, Any]] = json.loads(listed.stdout)["items"]
    return items


def apply_as(env: dict[str, str], kubeconfig: str, manifest: dict[str, Any]) -> None:
    applied = kubectl_as(env, kubeconfig, "apply", "-f", "-", stdin=json.dumps(manifest))
    assert applied.returncode == 0, applied.stderr


@pytest.fixture(scope="module")
def web_pods(cluster: ArktosUp, admin: Kubectl, tenancy_env: TenancyEnv) -> dict[str, str]:
    """Each tenant's 1-replica httpd Deployment on the real node: tenant -> pod name."""
    env = cluster.env
    command = ["sh", "-c", "echo hello from $(hostname); exec httpd -f -p 8080"]
    for tenant in TENANTS:
        apply_as(env, user_kubeconfig(tenancy_env, tenant), deployment("web", replicas=1, nodes=[NODE],
                                                                      command=command))
    pods: dict[str, str] = {}
    for tenant in TENANTS:
        kubeconfig = user_kubeconfig(tenancy_env, tenant)
        admin.wait(f"{tenant}'s web pod Running", lambda k=kubeconfig: (
            len(found := tenant_pods(env, k, "app=web")) == 1 and phase_running(found[0])))
        pods[tenant] = tenant_pods(env, kubeconfig, "app=web")[0]["metadata"]["name"]
    return pods


def test_deployments_of_both_partitions_run_on_the_real_node(
    cluster: ArktosUp, tenancy_env: TenancyEnv, placement: dict[str, str], web_pods: dict[str, str]
) -> None:
    env = cluster.env
    for tenant, name in web_pods.items():
        kubeconfig = user_kubeconfig(tenancy_env, tenant)
        pod = tenant_pods(env, kubeconfig, "app=web")[0]
        assert pod["spec"]["nodeName"] == NODE and pod["status"]["podIP"].startswith("10.215."), pod["status"]
        assert pod["status"]["containerStatuses"][0]["containerID"].startswith("containerd://")
        path = f"/api/v1/tenants/{tenant}/namespaces/default/pods/{name}"
        assert on_partition(env, placement[tenant], path)[0] == 200
        logs = kubectl_as(env, kubeconfig, "logs", name)
        assert f"hello from {name}" in logs.stdout, logs.stderr
        hostname = kubectl_as(env, kubeconfig, "exec", name, "--", "cat", "/etc/hostname")
        assert hostname.stdout.strip() == name, hostname.stderr


def test_port_forward_through_the_gateway(cluster: ArktosUp, tenancy_env: TenancyEnv,
                                          web_pods: dict[str, str]) -> None:
    env = cluster.env
    for tenant, name in web_pods.items():
        with socket.socket() as probe:
            probe.bind(("127.0.0.1", 0))
            port = int(probe.getsockname()[1])
        forward = kubectl_as_popen(env, user_kubeconfig(tenancy_env, tenant), "port-forward", f"pod/{name}",
                                   f"{port}:8080")
        try:
            assert forward.stdout is not None
            assert "Forwarding from 127.0.0.1" in forward.stdout.readline()
            with urllib.request.urlopen(f"http://127.0.0.1:{port}/etc/hostname", timeout=20) as reply:
                assert reply.read().decode().strip() == name
        finally:
            os.killpg(forward.pid, signal.SIGTERM)
            forward.wait(10)


def test_vm_pod_of_the_second_partition_runs_on_the_real_node(
    cluster: ArktosUp, admin: Kubectl, tenancy_env: TenancyEnv, placement: dict[str, str]
) -> None:
    env = cluster.env
    tenant = next(t for t, p in placement.items() if p == "tp1")
    kubeconfig = user_kubeconfig(tenancy_env, tenant)
    pod = vm_pod("vm1")
    pod["spec"]["affinity"] = on_nodes([NODE])
    apply_as(env, kubeconfig, pod)

    def vm() -> dict[str, Any]:
        shown = kubectl_as(env, kubeconfig, "get", "pod", "vm1", "-o", "json")
        assert shown.returncode == 0, shown.stderr
        found: dict[str, Any] = json.loads(shown.stdout)
        return found

    admin.wait("the VM pod running", lambda: vm()["status"].get("phase") == "Running" and (
        vm()["status"].get("virtualMachineStatus") or {}).get("powerState") == "running", VM_WAIT_S)
    assert vm()["spec"]["nodeName"] == NODE
    log_path = "/api/v1/namespaces/default/pods/vm1/log"
    admin.wait("the guest ran its user data", lambda: "user-data says hello" in kubectl_as(
        env, kubeconfig, "get", "--raw", log_path).stdout, VM_WAIT_S)
    kubectl_as(env, kubeconfig, "delete", "pod", "vm1", "--wait=false")


# -- tenant deletion --------------------------------------------------------------------------------


def test_deleting_a_tenant_empties_it_only_on_its_partition(
    cluster: ArktosUp, admin: Kubectl, placement: dict[str, str]
) -> None:
    env = cluster.env
    create_tenant(admin, "doomed")
    home = tenant_partition(admin, "doomed")
    other = "tp1" if home == "tp0" else "tp0"
    admin("create", "--raw", "/api/v1/tenants/doomed/namespaces/default/configmaps", "-f", "-",
          stdin=json.dumps({"metadata": {"name": "doomed-data"}, "data": {"k": "v"}}))
    before = {tenant: on_partition(env, partition, f"/api/v1/tenants/{tenant}/configmaps")[1]["items"]
              for tenant, partition in placement.items()}
    admin("delete", "tenant", "doomed", "--wait=false")
    admin.wait("tenant doomed gone from its partition",
               lambda: on_partition(env, home, "/api/v1/tenants/doomed")[0] == 404)
    assert on_partition(env, home, "/api/v1/tenants/doomed/configmaps")[1].get("items", []) == []
    assert on_partition(env, other, "/api/v1/tenants/doomed")[0] == 404
    after = {tenant: on_partition(env, partition, f"/api/v1/tenants/{tenant}/configmaps")[1]["items"]
             for tenant, partition in placement.items()}
    assert after == before
    for partition in ("tp0", "tp1"):
        assert on_partition(env, partition, "/api/v1/tenants/system")[0] == 200


# -- a dead node ----------------------------------------------------------------------------------


def hollow_pods(env: dict[str, str], tenancy: TenancyEnv) -> dict[str, list[dict[str, Any]]]:
    return {t: tenant_pods(env, user_kubeconfig(tenancy, t), "app=hollow") for t in TENANTS}


def live(pods: list[dict[str, Any]]) -> list[dict[str, Any]]:
    return [p for p in pods if not p["metadata"].get("deletionTimestamp")]


def running_on(pods: list[dict[str, Any]], nodes: list[str]) -> bool:
    """The Deployment's 2 pods that are not being deleted all Running on ``nodes``."""
    return len(live(pods)) == 2 and all(
        p["spec"].get("nodeName") in nodes and p["status"].get("phase") == "Running" for p in live(pods))


def test_killed_hollow_kubelet_pods_evicted_in_both_partitions_and_rescheduled(
    cluster: ArktosUp, admin: Kubectl, tenancy_env: TenancyEnv, placement: dict[str, str]
) -> None:
    env = cluster.env
    # rp0's hollow nodes cordoned while the Deployments start, so their pods land on rp1's.
    for node in HOLLOW["rp0"]:
        admin("cordon", node)
    for tenant in TENANTS:
        apply_as(env, user_kubeconfig(tenancy_env, tenant), deployment(
            "hollow", replicas=2, nodes=HOLLOW["rp1"] + HOLLOW["rp0"], command=["sleep", "3600"]))
    admin.wait("hollow pods Running on rp1", lambda: all(
        running_on(pods, HOLLOW["rp1"]) for pods in hollow_pods(env, tenancy_env).values()))
    placed = hollow_pods(env, tenancy_env)
    first = {t: {p["metadata"]["name"] for p in live(pods)} for t, pods in placed.items()}
    for node in HOLLOW["rp0"]:
        admin("uncordon", node)

    kubelet = recorded(Path(env["ARKTOS_DATA_DIR"]) / "run", "rp1-hollow-kubelet")
    assert kubelet is not None, "rp1's hollow kubelet is not running"
    kubelet.kill()
    admin.wait("rp1's pods evicted in both partitions and Running again on rp0", lambda: all(
        running_on(pods, HOLLOW["rp0"]) and not first[t] & {p["metadata"]["name"] for p in live(pods)}
        for t, pods in hollow_pods(env, tenancy_env).items()), WAIT_S)
    # Evicted: deleted through each pod's own partition. With no kubelet left to confirm, they stay
    # Terminating (upstream's behaviour for an unreachable node) or are gone.
    for tenant, names in first.items():
        for name in names:
            path = f"/api/v1/tenants/{tenant}/namespaces/default/pods/{name}"
            status, pod = on_partition(env, placement[tenant], path)
            assert status == 404 or (status == 200 and pod["metadata"].get("deletionTimestamp")), pod
    dead = admin.json("get", "node", HOLLOW["rp1"][0])
    ready = {c["type"]: c["status"] for c in dead["status"]["conditions"]}
    assert ready["Ready"] != "True", ready

