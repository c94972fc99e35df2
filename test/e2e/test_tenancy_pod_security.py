"""A hostile tenant against Pod Security admission and RBAC escalation, with stock kubectl 1.37.

On the shared tenancy cluster (tenancy_env: TLS server, controller manager, tenants acme and
globex), acme's admin — a client certificate from hack/setup-tenant-user.sh — works in its own
namespace ``hostile``. Covers, as that admin with kubectl 1.37: pods mounting hostPath ``/``,
privileged, hostPID, hostNetwork and hostPort 80 refused with upstream's PodSecurity messages;
labelling the namespace ``enforce=privileged`` refused; a baseline-clean pod admitted; a
``warn=restricted`` label making kubectl print upstream's warning. As ``mallory``, admin of that
namespace only: binding ``cluster-admin`` and a Role granting what mallory lacks refused with
upstream's escalation text, a Role and a binding within mallory's rights admitted; acme's admin
binding ``cluster-admin`` to mallory inside acme admitted, which still gives nothing outside acme.
The system admin's explicit grant (the tenant floor label) letting acme run a privileged pod, and
its removal. The official python client sees the same 403 Status.
Leaves out: every check's detail (unit tests) and admission mechanics (component tests).
"""

from __future__ import annotations

import dataclasses
import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from kubectl_binaries import kubectl_binary
from kubectl_runner import Kubectl
from kubernetes import client as k8s
from kubernetes import config as k8s_config
from kubernetes.client.rest import ApiException
from tenancy_env import Identity, TenancyEnv, TenancyKubectl, setup_tenant_user

pytestmark = [pytest.mark.e2e]

NS = "hostile"
FLOOR = "pod-security.arktos.futurewei.com/enforce-floor"
NOT_HELD = "is attempting to grant RBAC permissions not currently held"


@pytest.fixture(scope="module")
def kubectl(tenancy_env: TenancyEnv, tmp_path_factory: pytest.TempPathFactory) -> TenancyKubectl:
    cache_dir = tmp_path_factory.mktemp("podsec-kube-cache")
    return TenancyKubectl(kubectl_binary("kubectl-1.37"), "kubectl-1.37", cache_dir)


@pytest.fixture(scope="module")
def acme(tenancy_env: TenancyEnv, kubectl: TenancyKubectl) -> Iterator[Kubectl]:
    """acme's admin, with namespace ``hostile`` (deleted at the end)."""
    admin = kubectl.as_identity(tenancy_env.identity("acme-cert-admin"))
    admin.run("create", "namespace", NS)
    try:
        yield admin
    finally:
        admin.run("delete", "namespace", NS, "--wait=false", check=False)


@pytest.fixture(scope="module")
def mallory(tenancy_env: TenancyEnv, kubectl: TenancyKubectl, acme: Kubectl) -> Iterator[Kubectl]:
    """acme's ``mallory``: admin of namespace ``hostile`` only (upstream's ``admin`` ClusterRole)."""
    identity: Identity = dataclasses.replace(setup_tenant_user(tenancy_env, "acme", "mallory"),
                                             label="acme-cert-mallory")
    acme.run("create", "rolebinding", "mallory-admin", "--clusterrole=admin", "--user=mallory", "-n", NS)
    yield kubectl.as_identity(identity)


def manifest(name: str, *, spec: dict[str, Any] | None = None, **container: Any) -> str:
    body = {"containers": [{"name": "c", "image": "busybox:1.36", **container}], **(spec or {})}
    return json.dumps({"apiVersion": "v1", "kind": "Pod", "metadata": {"name": name, "namespace": NS},
                       "spec": body})


HOSTILE = {
    "root": (manifest("root", volumeMounts=[{"name": "root", "mountPath": "/host"}],
                      spec={"volumes": [{"name": "root", "hostPath": {"path": "/"}}]}),
             'hostPath volumes (volume "root")'),
    "priv": (manifest("priv", securityContext={"privileged": True}),
             'privileged (container "c" must not set securityContext.privileged=true)'),
    "pid": (manifest("pid", spec={"hostPID": True}), "host namespaces (hostPID=true)"),
    "net": (manifest("net", spec={"hostNetwork": True}), "host namespaces (hostNetwork=true)"),
    "port": (manifest("port", ports=[{"containerPort": 80, "hostPort": 80}]),
             'hostPort (container "c" uses hostPort 80)'),
}


def refused(kubectl: Kubectl, *args: str, stdin: str | None = None) -> str:
    """kubectl's stderr for a request the server answered 403 (``Error from server (Forbidden)`` for
    apply/label, ``error: failed to create ...`` for the create generators)."""
    result = kubectl.run(*args, stdin=stdin, check=False)
    assert result.returncode == 1, f"{args}: exit {result.returncode}\n{result.stdout}\n{result.stderr}"
    assert " is forbidden: " in result.stderr, result.stderr
    return result.stderr


def test_pods_reaching_the_host_are_refused(acme: Kubectl) -> None:
    for name, (body, detail) in HOSTILE.items():
        stderr = refused(acme, "apply", "-f", "-", stdin=body)
        assert "Error from server (Forbidden)" in stderr
        assert f'pods "{name}" is forbidden: violates PodSecurity "baseline:latest": {detail}' in stderr
    listed = acme.json("get", "pods", "-n", NS)["items"]
    assert not {p["metadata"]["name"] for p in listed} & set(HOSTILE)


def test_labelling_the_namespace_privileged_is_refused(acme: Kubectl) -> None:
    stderr = refused(acme, "label", "namespace", NS, "pod-security.kubernetes.io/enforce=privileged")
    assert (f'namespaces "{NS}" is forbidden: pod-security.kubernetes.io/enforce=privileged is below the Pod '
            'Security floor "baseline" of tenant "acme"') in stderr
    labels = acme.json("get", "namespace", NS)["metadata"].get("labels") or {}
    assert "pod-security.kubernetes.io/enforce" not in labels


def test_a_clean_pod_is_admitted_and_warn_labels_warn(acme: Kubectl) -> None:
    result = acme.run("apply", "-f", "-", stdin=manifest("clean", securityContext={"runAsUser": 1000}))
    assert "pod/clean created" in result.stdout and "Warning" not in result.stderr
    acme.run("label", "namespace", NS, "pod-security.kubernetes.io/warn=restricted")
    try:
        result = acme.run("apply", "-f", "-", stdin=manifest("warned"))
        assert "pod/warned created" in result.stdout
        assert ('Warning: would violate PodSecurity "restricted:latest": allowPrivilegeEscalation != false '
                '(container "c" must set securityContext.allowPrivilegeEscalation=false)') in result.stderr
    finally:
        acme.run("label", "namespace", NS, "pod-security.kubernetes.io/warn-")


def test_escalation_attempts_are_refused(mallory: Kubectl) -> None:
    stderr = refused(mallory, "create", "rolebinding", "takeover", "--clusterrole=cluster-admin",
                     "--user=mallory", "-n", NS)
    assert 'rolebindings.rbac.authorization.k8s.io "takeover" is forbidden: user "mallory"' in stderr
    assert NOT_HELD in stderr and '{APIGroups:["*"], Resources:["*"], Verbs:["*"]}' in stderr
    stderr = refused(mallory, "create", "role", "quota-maker", "--verb=create", "--resource=resourcequotas",
                     "-n", NS)
    assert NOT_HELD in stderr and '{APIGroups:[""], Resources:["resourcequotas"], Verbs:["create"]}' in stderr


def test_grants_within_the_creators_rights_are_admitted(mallory: Kubectl) -> None:
    mallory.run("create", "role", "pod-reader", "--verb=get,list", "--resource=pods", "-n", NS)
    mallory.run("create", "rolebinding", "viewers", "--clusterrole=view", "--user=someone", "-n", NS)
    assert mallory.json("get", "rolebinding", "viewers", "-n", NS)["roleRef"]["name"] == "view"


def test_cluster_admin_bound_inside_a_tenant_stays_inside(acme: Kubectl, mallory: Kubectl) -> None:
    acme.run("create", "clusterrolebinding", "mallory-everything", "--clusterrole=cluster-admin",
             "--user=mallory")
    try:
        mallory.run("get", "secrets", "-n", "default")
        result = mallory.run("get", "--raw", "/api/v1/nodes", check=False)
        assert result.returncode == 1 and "Forbidden" in result.stderr, result.stderr
        result = mallory.run("get", "--raw", "/api/v1/tenants/globex/namespaces/default/secrets", check=False)
        assert result.returncode == 1 and "Forbidden" in result.stderr, result.stderr
    finally:
        acme.run("delete", "clusterrolebinding", "mallory-everything")


def test_the_system_admins_grant_is_explicit(tenancy_env: TenancyEnv, kubectl: TenancyKubectl,
                                             acme: Kubectl) -> None:
    admin = kubectl.as_identity(tenancy_env.admin)
    body, _ = HOSTILE["priv"]
    admin.run("label", "tenant", "acme", f"{FLOOR}=privileged")
    try:
        acme.run("label", "namespace", NS, "pod-security.kubernetes.io/enforce=privileged")
        assert "pod/priv created" in acme.run("apply", "-f", "-", stdin=body).stdout
        acme.run("delete", "pod", "priv", "-n", NS, "--wait=false")
    finally:
        admin.run("label", "tenant", "acme", f"{FLOOR}-")
    stderr = refused(acme, "apply", "-f", "-", stdin=body.replace('"priv"', '"priv2"'))
    assert 'pods "priv2" is forbidden: violates PodSecurity "baseline:latest": privileged' in stderr
    acme.run("label", "namespace", NS, "pod-security.kubernetes.io/enforce-")


def test_python_client_sees_the_same_refusal(tenancy_env: TenancyEnv, acme: Kubectl) -> None:
    kubeconfig = tenancy_env.identity("acme-cert-admin").kubeconfig
    assert isinstance(kubeconfig, Path)
    with k8s_config.new_client_from_config(config_file=str(kubeconfig)) as api:
        core = k8s.CoreV1Api(api)
        with pytest.raises(ApiException) as error:
            core.create_namespaced_pod(NS, json.loads(HOSTILE["net"][0]))
        assert error.value.status == 403
        status = json.loads(error.value.body)
        assert status["reason"] == "Forbidden" and status["message"] == (
            'pods "net" is forbidden: violates PodSecurity "baseline:latest": host namespaces '
            "(hostNetwork=true)")
        created = core.create_namespaced_pod(NS, json.loads(manifest("from-python")))
        assert created.metadata.name == "from-python"
