"""Pod volumes and env sources reaching real containers (`kubelet.pod_inputs` over containerd).

A real API server (with a service-account signing key, for TokenRequest) and a private containerd
(bridge ``arktos-kv0``, subnet ``10.93.0.0/16``). The test drives the kubelet's pieces directly —
`CriRuntime` plus `PodInputs` — as the pod worker will once wired: a busybox pod whose "writer"
container fills an emptyDir that its "reader" container sees, and whose reader mounts a configMap
volume (plus one key by subPath), a secret volume with items and a projected volume holding a
bound service-account token, the root CA ConfigMap and the namespace; its env comes from
configMapKeyRef, secretKeyRef, fieldRef, resourceFieldRef and envFrom. Everything is checked from
inside the container with ExecSync; then a ConfigMap change is refreshed into the running container
in place, the read-only mounts refuse writes, and cleanup removes the pod's directory. Leaves out
the pod worker's wiring (the lead's), hostPath and downwardAPI volumes (unit-tested).
"""

from __future__ import annotations

import base64
import json
import uuid
from collections.abc import AsyncIterator, Iterator
from pathlib import Path
from typing import Any

import pytest
from apiserver_process import ApiServerProcess
from containerd_env import cri_runtime, private_containerd

from client.config import config_for_url
from client.resources import CONFIGMAPS, NAMESPACES, SECRETS, ResourceRef
from client.rest import ApiClient
from cri.containerd_process import ContainerdProcess
from kubelet.cri_runtime import CriRuntime
from kubelet.pod_inputs import PodInputs
from kubelet.pod_sources import SERVICE_ACCOUNTS
from kubelet.runtime import ContainerInfo
from pki.certificates import ensure_sa_keypair

pytestmark = pytest.mark.e2e

PODS = ResourceRef("", "v1", "pods", "Pod")
CGROUP_ROOT = "/arktos-kv"
ALLOCATABLE = {"cpu": "2", "memory": "4Gi", "ephemeral-storage": "20Gi"}
TOKEN_DIR = "/var/run/secrets/kubernetes.io/serviceaccount"


@pytest.fixture(scope="module")
def containerd(tmp_path_factory: pytest.TempPathFactory) -> Iterator[ContainerdProcess]:
    with private_containerd(tmp_path_factory.mktemp("containerd-kv"), pod_subnet="10.93.0.0/16",
                            bridge_name="arktos-kv0", cgroup_parent=CGROUP_ROOT) as process:
        yield process


@pytest.fixture(scope="module")
def signing_apiserver(server_factory: Any, tmp_path_factory: pytest.TempPathFactory) -> ApiServerProcess:
    key, public = ensure_sa_keypair(tmp_path_factory.mktemp("sa-keys"))
    server: ApiServerProcess = server_factory("--service-account-signing-key-file", str(key),
                                              "--service-account-key-file", str(public))
    return server


@pytest.fixture
async def client(signing_apiserver: ApiServerProcess) -> AsyncIterator[ApiClient]:
    async with ApiClient(config_for_url(signing_apiserver.url)) as api:
        yield api


@pytest.fixture
async def runtime(containerd: ContainerdProcess, tmp_path: Path) -> AsyncIterator[CriRuntime]:
    async with cri_runtime(containerd, log_root=tmp_path / "logs", cgroup_parent=CGROUP_ROOT) as cri:
        yield cri


async def objects(client: ApiClient, ns: str) -> None:
    await client.create(NAMESPACES, {"metadata": {"name": ns}})
    await client.create(SERVICE_ACCOUNTS, {"metadata": {"name": "robot"}}, namespace=ns)
    await client.create(CONFIGMAPS, {"metadata": {"name": "app"}, "data": {
        "app.conf": "level=1", "GREETING": "hello", "bad-key": "skipped"}}, namespace=ns)
    await client.create(CONFIGMAPS, {"metadata": {"name": "kube-root-ca.crt"}, "data": {"ca.crt": "CA"}},
                        namespace=ns)
    await client.create(SECRETS, {"metadata": {"name": "db"}, "data": {
        "password": base64.b64encode(b"s3cret").decode(), "user": base64.b64encode(b"admin").decode()}},
        namespace=ns)


def pod_body() -> dict[str, Any]:
    reader = {
        "name": "reader", "image": "busybox:1.36", "command": ["sleep", "300"],
        "resources": {"limits": {"memory": "64Mi", "cpu": "500m"}},
        "envFrom": [{"configMapRef": {"name": "app"}, "prefix": "CM_"}],
        "env": [{"name": "PASSWORD", "valueFrom": {"secretKeyRef": {"name": "db", "key": "password"}}},
                {"name": "GREETING", "valueFrom": {"configMapKeyRef": {"name": "app", "key": "GREETING"}}},
                {"name": "POD_NAME", "valueFrom": {"fieldRef": {"fieldPath": "metadata.name"}}},
                {"name": "POD_IP", "valueFrom": {"fieldRef": {"fieldPath": "status.podIP"}}},
                {"name": "MEM_MI", "valueFrom": {"resourceFieldRef": {"resource": "limits.memory",
                                                                       "divisor": "1Mi"}}},
                {"name": "CPU_M", "valueFrom": {"resourceFieldRef": {"resource": "limits.cpu",
                                                                      "divisor": "1m"}}},
                {"name": "MESSAGE", "value": "$(GREETING) from $(POD_NAME)"}],
        "volumeMounts": [{"name": "config", "mountPath": "/etc/app"},
                         {"name": "config", "mountPath": "/etc/one.conf", "subPath": "app.conf"},
                         {"name": "secret", "mountPath": "/etc/db"},
                         {"name": "shared", "mountPath": "/shared"},
                         {"name": "api", "mountPath": TOKEN_DIR}]}
    writer = {"name": "writer", "image": "busybox:1.36",
              "command": ["sh", "-c", "echo from-writer > /out/msg; exec sleep 300"],
              "volumeMounts": [{"name": "shared", "mountPath": "/out"}]}
    return {"metadata": {"name": f"vol-{uuid.uuid4().hex[:6]}"}, "spec": {
        "nodeName": "kv-node", "serviceAccountName": "robot", "containers": [writer, reader],
        "volumes": [
            {"name": "config", "configMap": {"name": "app"}},
            {"name": "secret", "secret": {"secretName": "db", "items": [{"key": "password", "path": "pw"}],
                                          "defaultMode": 0o400}},
            {"name": "shared", "emptyDir": {}},
            {"name": "api", "projected": {"sources": [
                {"serviceAccountToken": {"path": "token", "audience": "arktos-test",
                                         "expirationSeconds": 3600}},
                {"configMap": {"name": "kube-root-ca.crt", "items": [{"key": "ca.crt", "path": "ca.crt"}]}},
                {"downwardAPI": {"items": [{"path": "namespace",
                                            "fieldRef": {"fieldPath": "metadata.namespace"}}]}}]}}]}}


async def run(runtime: CriRuntime, container_id: str, *cmd: str) -> tuple[int, str]:
    result = await runtime.exec_sync(container_id, list(cmd), timeout_s=10)
    return result.exit_code, (result.stdout + result.stderr).decode(errors="replace")


def jwt_claims(token: str) -> dict[str, Any]:
    payload = token.split(".")[1]
    return dict(json.loads(base64.urlsafe_b64decode(payload + "=" * (-len(payload) % 4))))


async def test_volumes_and_env_reach_the_containers(client: ApiClient, runtime: CriRuntime,
                                                    tmp_path: Path) -> None:
    ns = f"kv-{uuid.uuid4().hex[:6]}"
    await objects(client, ns)
    pod = await client.create(PODS, pod_body(), namespace=ns)
    uid = pod["metadata"]["uid"]
    inputs = PodInputs(client, root_dir=tmp_path / "kubelet", node_allocatable=ALLOCATABLE)
    sandbox = await runtime.run_sandbox(pod)
    started: dict[str, ContainerInfo] = {}
    try:
        for container in pod["spec"]["containers"]:
            image = await runtime.ensure_image(container["image"], "IfNotPresent")
            resolved = await inputs.for_container(pod, container, host_ip="127.0.0.1", pod_ip=sandbox.ip)
            created = await runtime.create_container(sandbox, pod, container, attempt=0,
                                                     image_ref=image.image_ref, inputs=resolved)
            await runtime.start_container(created.id)
            started[container["name"]] = created
        reader = started["reader"].id

        code, env_text = await run(runtime, reader, "env")
        env = dict(line.split("=", 1) for line in env_text.splitlines() if "=" in line)
        assert code == 0
        assert {k: env.get(k) for k in ("PASSWORD", "GREETING", "POD_NAME", "MEM_MI", "CPU_M", "MESSAGE",
                                          "CM_app.conf", "CM_GREETING")} == {
            "PASSWORD": "s3cret", "GREETING": "hello", "POD_NAME": pod["metadata"]["name"], "MEM_MI": "64",
            "CPU_M": "500", "MESSAGE": f"hello from {pod['metadata']['name']}", "CM_app.conf": "level=1",
            "CM_GREETING": "hello"}
        assert env["POD_IP"] == sandbox.ip and sandbox.ip.startswith("10.93.")
        assert "CM_bad-key" in env  # '-' is allowed in env names (upstream IsEnvVarName)

        assert await run(runtime, reader, "cat", "/etc/app/app.conf") == (0, "level=1")
        assert await run(runtime, reader, "cat", "/etc/one.conf") == (0, "level=1")
        assert await run(runtime, reader, "cat", "/etc/db/pw") == (0, "s3cret")
        assert (await run(runtime, reader, "stat", "-L", "-c", "%a", "/etc/db/pw"))[1].strip() == "400"
        assert (await run(runtime, reader, "ls", "/etc/db"))[1].split() == ["pw"]
        assert await run(runtime, reader, "cat", "/shared/msg") == (0, "from-writer\n")
        assert await run(runtime, reader, "cat", f"{TOKEN_DIR}/namespace") == (0, ns)
        assert await run(runtime, reader, "cat", f"{TOKEN_DIR}/ca.crt") == (0, "CA")
        code, token = await run(runtime, reader, "cat", f"{TOKEN_DIR}/token")
        claims = jwt_claims(token)
        assert code == 0 and claims["aud"] == ["arktos-test"]
        assert claims["sub"] == f"system:serviceaccount:{ns}:robot"
        assert claims["kubernetes.io"]["pod"] == {"name": pod["metadata"]["name"], "uid": uid}

        code, _ = await run(runtime, reader, "touch", "/etc/app/new")
        assert code != 0  # API data volumes are read-only
        assert (await run(runtime, reader, "sh", "-c", "echo x > /shared/y"))[0] == 0

        configmap = await client.get(CONFIGMAPS, "app", namespace=ns)
        configmap["data"]["app.conf"] = "level=2"
        await client.update(CONFIGMAPS, configmap, namespace=ns)
        await inputs.refresh(pod)
        assert await run(runtime, reader, "cat", "/etc/app/app.conf") == (0, "level=2")
        assert await run(runtime, reader, "cat", "/etc/one.conf") == (0, "level=1")  # subPath: no updates
    finally:
        for info in started.values():
            await runtime.stop_container(info.id, timeout_s=0)
            await runtime.remove_container(info.id)
        await runtime.remove_sandbox(sandbox.id)
        await inputs.cleanup(uid)
    assert not (tmp_path / "kubelet" / "pods" / uid).exists()


async def test_missing_config_map_is_a_config_error(client: ApiClient, tmp_path: Path) -> None:
    ns = f"kv-{uuid.uuid4().hex[:6]}"
    await client.create(NAMESPACES, {"metadata": {"name": ns}})
    container = {"name": "c", "image": "busybox:1.36",
                 "env": [{"name": "X", "valueFrom": {"configMapKeyRef": {"name": "absent", "key": "k"}}}]}
    pod = await client.create(PODS, {"metadata": {"name": "cfg-err"}, "spec": {"containers": [container]}},
                              namespace=ns)
    inputs = PodInputs(client, root_dir=tmp_path / "kubelet", node_allocatable=ALLOCATABLE)
    with pytest.raises(Exception) as caught:
        await inputs.for_container(pod, pod["spec"]["containers"][0], host_ip="127.0.0.1", pod_ip="")
    assert getattr(caught.value, "reason", None) == "CreateContainerConfigError"
    assert getattr(caught.value, "message", None) == 'configmap "absent" not found'
