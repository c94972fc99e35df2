"""Issue 10's node-side must-show on a cluster from hack/arktos-up.sh, as a tenant user with stock kubectl.

A tenant's user (hack/setup-tenant-user.sh) runs a pod in the restricted shape — ``runAsUser: 1000``,
``runAsNonRoot``, ``readOnlyRootFilesystem``, ``allowPrivilegeEscalation: false``,
``capabilities.drop: [ALL]``, ``seccompProfile: RuntimeDefault``, an emptyDir and a secret volume
— and ``kubectl exec`` shows it runs as uid 1000 on a read-only root (a write to / fails, a write to
the emptyDir works), with no capabilities, no_new_privs and a seccomp filter, its secret on a
tmpfs; on the node the secret's tmpfs goes when the pod is deleted; Ctrl-C of arktos-up leaves no
pod volume mounted. Cluster: bridge ``arktos-sc1``, subnet ``10.111.0.0/16``. Leaves out what the
API server refuses to tenants (Pod Security admission has its own e2e) and VM pods (qemu's
sandbox: test/component/test_vm_runtime.py).
"""

from __future__ import annotations

import json
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from test_arktos_up import ArktosUp
from workload_cluster import (
    WAIT_S,
    Kubectl,
    kubectl_as,
    module_tmp,  # noqa: F401 (fixture)
    phase_running,
    running_cluster,
    tenant_kubeconfig,
    workload_cluster_env,
)

pytestmark = [pytest.mark.e2e, pytest.mark.slow]

NODE = "arktos-sc-node"
TENANT = "hardened"

RESTRICTED_POD = {
    "apiVersion": "v1", "kind": "Pod", "metadata": {"name": "restricted", "namespace": "default"},
    "spec": {
        "securityContext": {"runAsUser": 1000, "runAsGroup": 1000, "fsGroup": 1000, "runAsNonRoot": True,
                            "seccompProfile": {"type": "RuntimeDefault"}},
        "terminationGracePeriodSeconds": 1,
        "containers": [{
            "name": "app", "image": "busybox:1.36", "command": ["sleep", "3600"],
            "securityContext": {"readOnlyRootFilesystem": True, "allowPrivilegeEscalation": False,
                                "capabilities": {"drop": ["ALL"]}},
            "volumeMounts": [{"name": "scratch", "mountPath": "/scratch"},
                             {"name": "secret", "mountPath": "/etc/secret"}]}],
        "volumes": [{"name": "scratch", "emptyDir": {}},
                    {"name": "secret", "secret": {"secretName": "app-secret"}}]}}


@pytest.fixture(scope="module")
def cluster(module_tmp: Path) -> Iterator[ArktosUp]:  # noqa: F811
    env = workload_cluster_env(module_tmp, node=NODE, bridge="arktos-sc1", subnet="10.111.0.0/16")
    yield from running_cluster(env)


@pytest.fixture(scope="module")
def kubectl(cluster: ArktosUp) -> Kubectl:
    return Kubectl(cluster)


class Tenant:
    """Stock kubectl as the tenant's user."""

    def __init__(self, kubectl: Kubectl, kubeconfig: str) -> None:
        self.kubectl = kubectl
        self.kubeconfig = kubeconfig

    def __call__(self, *args: str, stdin: str = "") -> tuple[int, str, str]:
        done = kubectl_as(self.kubectl.env, self.kubeconfig, *args, stdin=stdin)
        return done.returncode, done.stdout.strip(), done.stderr.strip()

    def pod(self, name: str) -> dict[str, Any]:
        code, out, err = self("get", "pod", name, "-o", "json")
        assert code == 0, err
        loaded: dict[str, Any] = json.loads(out)
        return loaded


@pytest.fixture(scope="module")
def tenant(kubectl: Kubectl) -> Tenant:
    kubectl("create", "-f", "-", stdin=json.dumps({"apiVersion": "v1", "kind": "Tenant",
                                                  "metadata": {"name": TENANT}}))
    user = Tenant(kubectl, tenant_kubeconfig(kubectl.env, TENANT, "admin"))
    secret = {"apiVersion": "v1", "kind": "Secret", "stringData": {"password": "s3cret"},
              "metadata": {"name": "app-secret", "namespace": "default"}}
    deadline = time.monotonic() + WAIT_S
    while (made := user("create", "-f", "-", stdin=json.dumps(secret)))[0] != 0:
        # A new tenant's admin may be Forbidden for a moment (its RBAC is written just after).
        assert time.monotonic() < deadline, made[2]
        time.sleep(0.5)
    return user


@pytest.fixture(scope="module")
def restricted(kubectl: Kubectl, tenant: Tenant) -> dict[str, Any]:
    code, _, err = tenant("create", "-f", "-", stdin=json.dumps(RESTRICTED_POD))
    assert code == 0, err
    kubectl.wait("restricted pod running", lambda: phase_running(tenant.pod("restricted")))
    return tenant.pod("restricted")


def test_tenant_pod_runs_as_uid_1000_on_a_read_only_root(tenant: Tenant, restricted: dict[str, Any]) -> None:
    def run(*command: str) -> tuple[int, str, str]:
        return tenant("exec", "restricted", "--", *command)

    assert run("id", "-u") == (0, "1000", "")
    code, _, err = run("touch", "/rootfile")
    assert code != 0 and "Read-only file system" in err
    assert run("sh", "-c", "echo ok > /scratch/file && cat /scratch/file")[:2] == (0, "ok")
    status = dict(line.split(":\t", 1) for line in run("cat", "/proc/self/status")[1].splitlines()
                  if ":\t" in line)
    assert (status["CapEff"], status["NoNewPrivs"], status["Seccomp"]) == ("0000000000000000", "1", "2")
    mounts = [line.split() for line in run("cat", "/proc/mounts")[1].splitlines()]
    assert ["tmpfs"] == [fstype for _, point, fstype, *_ in mounts if point == "/etc/secret"]
    assert run("cat", "/etc/secret/password")[:2] == (0, "s3cret")


def _volume_mounts(kubectl: Kubectl, pod_uid: str) -> list[str]:
    prefix = str((Path(kubectl.env["ARKTOS_DATA_DIR"]) / "kubelet" / "pods" / pod_uid).resolve()) + "/"
    return [line.split()[1] for line in Path("/proc/self/mounts").read_text().splitlines()
            if line.split()[1].startswith(prefix)]


def test_secret_tmpfs_leaves_the_node_with_the_pod(kubectl: Kubectl, tenant: Tenant,
                                                    restricted: dict[str, Any]) -> None:
    uid = restricted["metadata"]["uid"]
    # The secret's tmpfs and, since issue 14, the service-account token's projected volume.
    names = [Path(m).name for m in _volume_mounts(kubectl, uid)]
    assert [n for n in names if not n.startswith("kube-api-access-")] == ["secret"], names
    code, _, err = tenant("delete", "pod", "restricted", "--wait=true", "--timeout=60s")
    assert code == 0, err
    kubectl.wait("the secret's tmpfs unmounted", lambda: not _volume_mounts(kubectl, uid), 30)


def test_ctrl_c_leaves_no_pod_volume_mounted(cluster: ArktosUp, kubectl: Kubectl, tenant: Tenant) -> None:
    """Runs last: stops the module's cluster with a secret-holding pod still running."""
    pod = json.loads(json.dumps(RESTRICTED_POD))
    pod["metadata"]["name"] = "left-running"
    code, _, err = tenant("create", "-f", "-", stdin=json.dumps(pod))
    assert code == 0, err
    kubectl.wait("left-running pod running", lambda: phase_running(tenant.pod("left-running")))
    uid = tenant.pod("left-running")["metadata"]["uid"]
    assert _volume_mounts(kubectl, uid)
    cluster.interrupt()
    volumes = str((Path(kubectl.env["ARKTOS_DATA_DIR"]) / "kubelet").resolve()) + "/"
    assert [line for line in Path("/proc/self/mounts").read_text().splitlines() if volumes in line] == []
