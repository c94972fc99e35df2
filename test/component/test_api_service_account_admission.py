"""ServiceAccount admission through a real API server, driven with the python client and stock kubectl.

Covers: a pod created with the official client runs as ``default`` and comes back with the
``kube-api-access-*`` projected volume mounted read-only in its containers; a pod naming an
account that does not exist is refused 403 with upstream's message; ``automountServiceAccountToken:
false`` on the pod and on the account is honoured; the account is looked up in the pod's tenant
(a tenant through the ``/tenants/{t}`` prefix, where an account of the same name elsewhere does not
count); ``kubectl describe pod`` (1.37) shows the projected volume. The server runs with every
admission plugin (the component harness leaves ServiceAccount out by default). Leaves out the
controller making the default accounts (test_controller_serviceaccount) and the kubelet mounting the
volume (test_kubelet_pod_network).
"""

from __future__ import annotations

import json
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from apiserver_process import ApiServerProcess, ServerFactory
from kubectl_binaries import kubectl_binary
from kubectl_runner import Kubectl
from kubernetes import client as k8s

pytestmark = pytest.mark.e2e

TOKEN_PATH = "/var/run/secrets/kubernetes.io/serviceaccount"


@pytest.fixture(scope="module")
def admitting_server(server_factory: ServerFactory) -> ApiServerProcess:
    server: ApiServerProcess = server_factory("--disable-admission-plugins=")
    return server


def core_api(server: ApiServerProcess, *, tenant: str = "") -> k8s.CoreV1Api:
    configuration = k8s.Configuration()
    configuration.host = server.url + (f"/tenants/{tenant}" if tenant else "")
    return k8s.CoreV1Api(k8s.ApiClient(configuration))


@pytest.fixture(scope="module")
def core_v1(admitting_server: ApiServerProcess) -> k8s.CoreV1Api:
    return core_api(admitting_server)


@pytest.fixture
def namespace(core_v1: k8s.CoreV1Api) -> Iterator[str]:
    """A namespace with the default account (no controller manager here makes it)."""
    name = f"sa-{uuid.uuid4().hex[:8]}"
    core_v1.create_namespace(named(name))
    core_v1.create_namespaced_service_account(name, named("default"))
    yield name


def named(name: str, **fields: Any) -> Any:
    """A request body as plain JSON (the client passes dicts through as they are)."""
    return {"metadata": {"name": name}, **fields}


def pod(name: str, **spec: Any) -> Any:
    return {"metadata": {"name": name},
            "spec": {"containers": [{"name": "app", "image": "busybox", "command": ["sleep", "1"]}], **spec}}


def create_raw(core: k8s.CoreV1Api, namespace: str, body: Any) -> dict[str, Any]:
    response: Any = core.create_namespaced_pod(namespace, body, _preload_content=False)
    return dict(json.loads(response.data))


def test_a_pod_gets_the_account_and_the_token_volume(core_v1: k8s.CoreV1Api, namespace: str) -> None:
    created = create_raw(core_v1, namespace, pod("web"))
    spec = created["spec"]
    assert spec["serviceAccountName"] == "default"
    [volume] = [v for v in spec["volumes"] if v["name"].startswith("kube-api-access-")]
    sources = volume["projected"]["sources"]
    assert sources[0] == {"serviceAccountToken": {"expirationSeconds": 3607, "path": "token"}}
    assert sources[1]["configMap"]["name"] == "kube-root-ca.crt"
    assert sources[2]["downwardAPI"]["items"][0]["fieldRef"]["fieldPath"] == "metadata.namespace"
    assert spec["containers"][0]["volumeMounts"] == [
        {"name": volume["name"], "readOnly": True, "mountPath": TOKEN_PATH}]
    stored = core_v1.read_namespaced_pod("web", namespace)
    assert stored.spec is not None and stored.spec.volumes is not None
    assert stored.spec.volumes[-1].name == volume["name"]  # what was admitted is what is stored


def test_a_missing_account_is_refused(core_v1: k8s.CoreV1Api, namespace: str) -> None:
    with pytest.raises(k8s.ApiException) as refused:
        core_v1.create_namespaced_pod(namespace, pod("web", serviceAccountName="robot"))
    assert refused.value.status == 403
    status = json.loads(refused.value.body or "{}")
    assert (status["reason"], status["message"]) == (
        "Forbidden", f'pods "web" is forbidden: error looking up service account {namespace}/robot: '
                     'serviceaccount "robot" not found')


def test_automount_false_on_the_pod_or_the_account_is_honoured(core_v1: k8s.CoreV1Api,
                                                               namespace: str) -> None:
    by_pod = create_raw(core_v1, namespace, pod("quiet", automountServiceAccountToken=False))
    assert "volumes" not in by_pod["spec"] and "volumeMounts" not in by_pod["spec"]["containers"][0]
    core_v1.create_namespaced_service_account(namespace, named("robot", automountServiceAccountToken=False))
    by_account = create_raw(core_v1, namespace, pod("robot", serviceAccountName="robot"))
    assert "volumes" not in by_account["spec"]
    overruled = create_raw(core_v1, namespace, pod("loud", serviceAccountName="robot",
                                                   automountServiceAccountToken=True))
    assert overruled["spec"]["volumes"][0]["name"].startswith("kube-api-access-")


def test_the_account_is_looked_up_in_the_pods_tenant(admitting_server: ApiServerProcess,
                                                     core_v1: k8s.CoreV1Api, namespace: str) -> None:
    tenant = f"sa{uuid.uuid4().hex[:6]}"
    connection = admitting_server.http_connection(timeout=10)
    connection.request("POST", "/api/v1/tenants", body=json.dumps({"metadata": {"name": tenant}}),
                       headers={"Content-Type": "application/json"})
    assert connection.getresponse().status == 201
    connection.close()
    acme = core_api(admitting_server, tenant=tenant)
    acme.create_namespace(named(namespace))
    with pytest.raises(k8s.ApiException) as refused:  # system's account of that name does not count
        acme.create_namespaced_pod(namespace, pod("web", serviceAccountName="default"))
    assert refused.value.status == 403
    acme.create_namespaced_service_account(namespace, named("default"))
    created = create_raw(acme, namespace, pod("web"))
    assert created["metadata"]["tenant"] == tenant
    assert created["spec"]["volumes"][0]["name"].startswith("kube-api-access-")


def test_kubectl_describe_shows_the_projected_volume(admitting_server: ApiServerProcess,
                                                     core_v1: k8s.CoreV1Api, namespace: str,
                                                     tmp_path: Path) -> None:
    created = create_raw(core_v1, namespace, pod("web"))
    volume = created["spec"]["volumes"][0]["name"]
    kubectl = Kubectl(binary=kubectl_binary("kubectl-1.37"), kubeconfig=admitting_server.kubeconfig,
                      cache_dir=tmp_path / "cache", label="kubectl-1.37")
    described = kubectl.run("describe", "pod", "web", "-n", namespace).stdout
    assert f"{TOKEN_PATH} from {volume} (ro)" in described
    assert f"  {volume}:\n    Type:                    Projected" in described
    assert "TokenExpirationSeconds:  3607" in described
    assert "ConfigMapName:           kube-root-ca.crt" in described
    assert "Service Account:  default" in described
