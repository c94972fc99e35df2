"""Who runs as what on a cluster started by hack/arktos-up.sh, driven by stock kubectl.

The cluster starts on a CERT_DIR left by an older version, whose controller kubeconfig was in
system:masters. Covers: arktos-up re-issues it and only the admin stays in system:masters
(controller manager, scheduler, kubelet and the API server's kubelet client each a plain identity);
the controller manager works without system:masters — a Deployment rolls out on the node, its
ReplicaSet and pods collected after a delete, a namespace emptied and deleted, a new tenant
initialised — with the audit log naming ``system:serviceaccount:kube-system:<controller>`` for each
write and no refusal in the controller manager's log; a controller's token refused what its role does
not grant (replicaset-controller reading secrets); `kubectl logs` and `exec` through the API server
keep working while, directly on the kubelet's port, a tenant user's certificate from
hack/setup-tenant-user.sh and a tenant service account's token get upstream's 403, the scheduler's
certificate gets 403 and the system admin's certificate is served. Bridge ``arktos-id0``, subnet
10.170.0.0/16. Leaves out VM pods and the kubelet review caches (test_kubelet_authz.py).
"""

from __future__ import annotations

import base64
import json
import re
import ssl
import subprocess
import urllib.error
import urllib.request
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import yaml
from apiserver_process import REPO_ROOT
from cryptography.x509.oid import NameOID
from test_arktos_up import KUBECTL_TIMEOUT_S, ArktosUp
from workload_cluster import (
    Kubectl,
    module_tmp,  # noqa: F401 (fixture)
    phase_running,
    running_cluster,
    workload_cluster_env,
)

from pki.certificates import ensure_ca, parse_pair
from tools.cluster_credentials import ensure_cluster_credentials
from tools.kubeconfig import ClientIdentity, embedded_client_pair, ensure_client_kubeconfig, read_kubeconfig

pytestmark = [pytest.mark.e2e, pytest.mark.slow]

NODE = "arktos-id-node"


def account(name: str) -> str:
    return f"system:serviceaccount:kube-system:{name}"


@pytest.fixture(scope="module")
def cluster(module_tmp: Path) -> Iterator[ArktosUp]:  # noqa: F811
    env = workload_cluster_env(module_tmp, node=NODE, bridge="arktos-id0", subnet="10.170.0.0/16")
    env["VM_RUNTIME_ENABLED"] = "false"
    cert_dir = Path(env["CERT_DIR"])
    # What an older arktos-up left: the controller manager in system:masters.
    ensure_cluster_credentials(cert_dir, server="https://127.0.0.1:1", hosts=["127.0.0.1"], node_name=NODE)
    ensure_client_kubeconfig(cert_dir / "controller.kubeconfig", ensure_ca(cert_dir), server="https://127.0.0.1:1",
                             user="kube-controller-manager",
                             identity=ClientIdentity("system:kube-controller-manager",
                                                     organizations=("system:masters",)))
    yield from running_cluster(env)


@pytest.fixture(scope="module")
def kubectl(cluster: ArktosUp) -> Kubectl:
    return Kubectl(cluster)


def organizations(kubeconfig: Path, user: str) -> list[str]:
    pair = embedded_client_pair(read_kubeconfig(kubeconfig), user)
    assert pair is not None, kubeconfig
    return [str(a.value) for a in pair.certificate.subject.get_attributes_for_oid(NameOID.ORGANIZATION_NAME)]


def audit(kubectl: Kubectl) -> list[dict[str, Any]]:
    path = Path(kubectl.env["LOG_DIR"]) / "kube-apiserver-audit.log"
    return [json.loads(line) for line in path.read_text().splitlines() if line.strip()]


def writers(kubectl: Kubectl, verb: str, path: str) -> set[str]:
    return {e["user"] for e in audit(kubectl)
            if e["verb"] == verb and re.fullmatch(path, e["path"]) and e["code"] < 300}


def test_only_the_admin_is_system_masters(cluster: ArktosUp) -> None:
    cert_dir = Path(cluster.env["CERT_DIR"])
    assert organizations(cert_dir / "admin.kubeconfig", "admin") == ["system:masters"]
    assert organizations(cert_dir / "controller.kubeconfig", "kube-controller-manager") == []  # re-issued
    assert organizations(cert_dir / "scheduler.kubeconfig", "kube-scheduler") == []
    assert organizations(cert_dir / "kubelet.kubeconfig", "kubelet") == ["system:nodes"]
    pair = parse_pair((cert_dir / "client-kube-apiserver-kubelet.crt").read_bytes(),
                      (cert_dir / "client-kube-apiserver-kubelet.key").read_bytes())
    assert pair is not None
    assert pair.certificate.subject.get_attributes_for_oid(NameOID.ORGANIZATION_NAME) == []


def test_controllers_work_as_their_own_accounts(kubectl: Kubectl) -> None:
    kubectl("create", "deployment", "idweb", "--image=busybox", "--replicas=2", "--", "sleep", "3600")
    kubectl("rollout", "status", "deployment/idweb", "--timeout=90s")
    pods = kubectl.pods("app=idweb")
    assert len(pods) == 2 and all(phase_running(p) for p in pods)
    ns = "/api/v1/tenants/system/namespaces/default"
    assert writers(kubectl, "create", "/apis/apps/v1/tenants/system/namespaces/default/replicasets") == \
        {account("deployment-controller")}
    assert writers(kubectl, "create", f"{ns}/pods") >= {account("replicaset-controller")}
    assert writers(kubectl, "create", f"{ns}/pods/idweb-.*/binding") == {"system:kube-scheduler"}

    kubectl("delete", "deployment", "idweb", "--cascade=background")
    kubectl.wait("the ReplicaSet and pods collected",
                 lambda: not kubectl("get", "rs,pods", "-l", "app=idweb", "-o", "name").stdout.strip())
    assert account("generic-garbage-collector") in \
        writers(kubectl, "delete", "/apis/apps/v1/tenants/system/namespaces/default/replicasets/idweb-.*")

    kubectl("create", "namespace", "idscratch")
    kubectl("create", "configmap", "c", "-n", "idscratch", "--from-literal=k=v")
    kubectl("delete", "namespace", "idscratch", "--wait=true", "--timeout=60s")
    scratch = "/api/v1/tenants/system/namespaces/idscratch/configmaps(/.*)?"
    assert writers(kubectl, "delete", scratch) | writers(kubectl, "deletecollection", scratch) == \
        {account("namespace-controller")}

    kubectl("create", "-f", "-", stdin="apiVersion: v1\nkind: Tenant\nmetadata: {name: idacme}\n")
    kubectl.wait("tenant idacme initialised", lambda: kubectl(
        "get", "--raw", "/api/v1/tenants/idacme/namespaces/kube-public", check=False).returncode == 0)
    assert writers(kubectl, "create", "/api/v1/tenants/idacme/namespaces") == {account("tenant-controller")}
    log = (Path(kubectl.env["LOG_DIR"]) / "kube-controller-manager.log").read_text()
    assert "Forbidden" not in log and " 403 " not in log, log[-3000:]


def test_a_controller_can_only_do_what_its_role_grants(kubectl: Kubectl) -> None:
    # (`kubectl auth can-i --as` needs impersonation, which this API server does not serve: ask with a
    # SubjectAccessReview instead.)
    review = {"apiVersion": "authorization.k8s.io/v1", "kind": "SubjectAccessReview", "spec": {
        "user": account("replicaset-controller"), "groups": ["system:serviceaccounts"],
        "resourceAttributes": {"verb": "get", "resource": "secrets", "namespace": "default"}}}
    answered = json.loads(kubectl("create", "--raw", "/apis/authorization.k8s.io/v1/subjectaccessreviews",
                                  "-f", "-", stdin=json.dumps(review)).stdout)
    assert answered["status"]["allowed"] is False
    token = kubectl("create", "token", "replicaset-controller", "-n", "kube-system").stdout.strip()
    refused = _with_token(kubectl, token, "get", "secrets", "-n", "default")
    assert refused.returncode != 0
    assert f'User "{account("replicaset-controller")}" cannot list resource "secrets"' in refused.stderr
    allowed = _with_token(kubectl, token, "get", "pods", "-n", "default")
    assert allowed.returncode == 0, allowed.stderr


def _with_token(kubectl: Kubectl, token: str, *args: str) -> subprocess.CompletedProcess[str]:
    """Stock kubectl presenting only ``token`` (the admin kubeconfig's certificate would win)."""
    url = f"https://127.0.0.1:{kubectl.env['API_SECURE_PORT']}"
    return subprocess.run([kubectl.env["KUBECTL"], "--kubeconfig", "/dev/null", "--server", url,
                           "--certificate-authority", str(Path(kubectl.env["CERT_DIR"]) / "ca.crt"),
                           f"--token={token}", *args],
                          capture_output=True, text=True, timeout=KUBECTL_TIMEOUT_S)


def _kubelet_get(kubectl: Kubectl, path: str, *, cert: Path | None = None, key: Path | None = None,
                 token: str = "") -> tuple[int, str]:
    context = ssl.create_default_context(cafile=str(Path(kubectl.env["CERT_DIR"]) / "ca.crt"))
    context.check_hostname = False
    if cert is not None:
        context.load_cert_chain(cert, key)
    request = urllib.request.Request(f"https://127.0.0.1:{kubectl.env['KUBELET_PORT']}{path}")
    if token:
        request.add_header("Authorization", f"Bearer {token}")
    try:
        with urllib.request.urlopen(request, context=context, timeout=KUBECTL_TIMEOUT_S) as response:
            return response.status, response.read().decode()
    except urllib.error.HTTPError as e:
        return e.code, json.loads(e.read())["message"]


def _tenant_user(kubectl: Kubectl, tmp_path: Path) -> tuple[Path, Path, Path]:
    made = subprocess.run(["bash", str(REPO_ROOT / "hack" / "setup-tenant-user.sh"), "idacme", "admin"],
                          env=kubectl.env, capture_output=True, text=True, timeout=KUBECTL_TIMEOUT_S)
    assert made.returncode == 0, made.stderr
    kubeconfig = Path(made.stdout.splitlines()[-1])
    user = yaml.safe_load(kubeconfig.read_text())["users"][0]["user"]
    cert, key = tmp_path / "tenant.crt", tmp_path / "tenant.key"
    cert.write_bytes(base64.b64decode(user["client-certificate-data"]))
    key.write_bytes(base64.b64decode(user["client-key-data"]))
    return kubeconfig, cert, key


def test_api_server_proxies_while_tenants_are_refused_by_the_kubelet(kubectl: Kubectl,
                                                                    tmp_path: Path) -> None:
    kubectl("run", "idlog", "--image=busybox", "--restart=Never", "--", "sh", "-c",
            "echo hello-from-idlog; exec sleep 3600")
    kubectl.wait("idlog running", lambda: phase_running(kubectl.pod("idlog")))
    kubectl.wait("idlog logged", lambda: "hello-from-idlog" in kubectl("logs", "idlog").stdout)
    assert kubectl("exec", "idlog", "--", "cat", "/etc/hostname").stdout.strip() == "idlog"

    logs = "/containerLogs/system/default/idlog/idlog"
    cert_dir = Path(kubectl.env["CERT_DIR"])
    admin = _kubelet_get(kubectl, logs, cert=cert_dir / "client-admin.crt", key=cert_dir / "client-admin.key")
    assert admin == (200, "hello-from-idlog\n")
    kubeconfig, cert, key = _tenant_user(kubectl, tmp_path)
    assert _kubelet_get(kubectl, logs, cert=cert, key=key) == (
        403, "Forbidden (user=admin, verb=get, resource=nodes, subresource=proxy)")
    tenant_kubectl = [str(REPO_ROOT / ".venv" / "bin" / "kubectl"), "--kubeconfig", str(kubeconfig)]
    kubectl.wait("tenant idacme's default service account", lambda: subprocess.run(
        [*tenant_kubectl, "get", "serviceaccount", "default"], capture_output=True,
        timeout=KUBECTL_TIMEOUT_S).returncode == 0)
    token = subprocess.run([*tenant_kubectl, "create", "token", "default"], capture_output=True, text=True,
                           check=True, timeout=KUBECTL_TIMEOUT_S).stdout.strip()
    assert _kubelet_get(kubectl, logs, token=token) == (
        403, "Forbidden (user=system:serviceaccount:default:default, verb=get, resource=nodes, "
             "subresource=proxy)")
    scheduler = embedded_client_pair(read_kubeconfig(cert_dir / "scheduler.kubeconfig"), "kube-scheduler")
    assert scheduler is not None
    (tmp_path / "s.crt").write_bytes(scheduler.certificate_pem())
    (tmp_path / "s.key").write_bytes(scheduler.private_key_pem())
    assert _kubelet_get(kubectl, logs, cert=tmp_path / "s.crt", key=tmp_path / "s.key")[0] == 403
