"""What a scale-out kubelet reads and writes for a pod goes to the tenant partition the pod came from.

Three real API servers on loopback (tp0, tp1, rp0, sharing one service-account key pair) and a
non-hollow kubelet in the test's event loop (``Kubelet(rp0, tenant_clients=[tp0, tp1])``) whose runtimes
are hollow but record what they are handed, so the pod's resolved env and its volume files on disk
can be checked. Covers: two pods with the same tenant, namespace and name (one per TP) get the Secret
and ConfigMap of their own TP as volume files and secretKeyRef env, a projected service-account token
issued by their own TP (its service-account uid claim), and service variables from their own TP's
services; the Node reports the streaming port in the RP; the streaming port finds pods of either TP,
refuses a name two TPs share unless the uid is named (upstream's uid routes), and 404s an unknown pod;
``pods/{name}/log`` on a TP's own API server (``--resource-providers rp0``: it finds the node in the RP)
reaches this kubelet and answers that TP's pod's log, or the kubelet's 409 for a shared name;
VM Actions created in tp1 are carried out and reported to tp1; a TP that never answers from the start
holds back neither the other TP's pods (started, finalised) nor lets orphan removal run. Leaves out
real containers (the containerd tests cover volume mounts inside containers), the gateway, and
exec/port-forward through a TP (the API servers address the kubelet by name, not uid).
"""

from __future__ import annotations

import asyncio
import base64
import contextlib
import json
import ssl
import uuid
from collections.abc import AsyncIterator
from dataclasses import replace
from functools import partial
from pathlib import Path
from typing import Any

import aiohttp
import pytest
from apiserver_process import free_port
from kubelet_env import eventually, run_kubelet
from partitions_env import Clients, Partitions, clients_of, get_pod, pod_body, running

from client.config import config_for_url
from client.resources import CONFIGMAPS, SECRETS
from client.rest import ApiClient
from kubelet.actions import ACTIONS
from kubelet.config import HOLLOW_ENDPOINTS, KubeletConfig, RuntimeEndpoint, parse_runtime_endpoints
from kubelet.hollow import HollowRuntime
from kubelet.kubelet import Kubelet
from kubelet.node import NODES
from kubelet.pod_sources import SERVICE_ACCOUNTS
from kubelet.runtime import ContainerInfo, ContainerInputs, Runtime, SandboxInfo
from kubelet.runtimes import build_registry
from kubelet.service_env import SERVICES
from kubelet.status_writer import PODS
from kubelet.volumes.tmpfs import unmount_all_under
from pki.certificates import ensure_sa_keypair

pytestmark = pytest.mark.slow


class RecordingHollow(HollowRuntime):
    """A hollow runtime that keeps the inputs each pod's containers were created with, and gives each
    container a CRI log file under ``log_root`` saying which pod uid it belongs to."""

    def __init__(self, name: str, log_root: Path) -> None:
        super().__init__(name, start_delay_s=0.1)
        self.log_root = log_root
        self.inputs: dict[str, ContainerInputs] = {}

    def _log_path(self, pod_uid: str, container: str) -> Path:
        return self.log_root / pod_uid / f"{container}.log"

    async def create_container(self, sandbox: SandboxInfo, pod: dict[str, Any],
                               container: dict[str, Any], *, attempt: int,
                               image_ref: str, inputs: ContainerInputs | None = None) -> ContainerInfo:
        uid = str(pod["metadata"]["uid"])
        if inputs is not None:
            self.inputs[uid] = inputs
        path = self._log_path(uid, str(container.get("name")))
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(f"2026-12-07T00:00:00.000000000Z stdout F pod uid {uid}\n")
        return await super().create_container(sandbox, pod, container, attempt=attempt, image_ref=image_ref,
                                              inputs=inputs)

    async def list_containers(self, *, pod_uid: str | None = None) -> list[ContainerInfo]:
        return [replace(c, log_path=str(self._log_path(c.pod_uid, c.name)))
                for c in await super().list_containers(pod_uid=pod_uid)]


class HollowVms(HollowRuntime):
    """A hollow VM runtime with the VM verbs, recording each reboot."""

    def __init__(self, name: str) -> None:
        super().__init__(name, start_delay_s=0.1, ip_prefix="10.89.0.")
        self.reboots: list[str] = []

    async def reboot_vm(self, container_id: str, *, delay_s: float = 0.0) -> None:
        self.reboots.append(container_id)

    async def snapshot_vm(self, container_id: str, snapshot_name: str) -> str:
        return f"snap-{snapshot_name}"

    async def restore_vm(self, container_id: str, snapshot_id: str) -> None:
        return None

    async def set_power(self, container_id: str, power_spec: str) -> None:
        return None


@pytest.fixture(scope="module")
def partitions(server_factory: Any, tmp_path_factory: pytest.TempPathFactory) -> Partitions:
    key, public = ensure_sa_keypair(tmp_path_factory.mktemp("sa-keys"))
    flags = ("--service-account-signing-key-file", str(key), "--service-account-key-file", str(public))
    rp0 = server_factory(*flags)
    # The TPs find a pod's node (its address and kubelet port) in rp0 (Arktos's issue 1155).
    tp_flags = (*flags, "--resource-providers", str(rp0.kubeconfig))
    return Partitions(tp0=server_factory(*tp_flags), tp1=server_factory(*tp_flags), rp0=rp0)


@pytest.fixture
async def clients(partitions: Partitions) -> AsyncIterator[Clients]:
    async with clients_of(partitions) as c:
        yield c


@contextlib.asynccontextmanager
async def scale_out_kubelet(c: Clients, node: str, root: Path, *,
                            tenants: list[ApiClient] | None = None) -> AsyncIterator[Kubelet]:
    """A real (non-hollow) kubelet for ``node``: Node and Lease in rp0, pods from ``tenants`` (default
    tp0 and tp1; the block starts once every one of them has listed its pods, if they all answer)."""
    def build(endpoint: RuntimeEndpoint) -> Runtime:
        if endpoint.workload_type == "vm":
            return HollowVms(endpoint.name)
        return RecordingHollow(endpoint.name, root / "logs")

    endpoints = tuple(parse_runtime_endpoints(HOLLOW_ENDPOINTS))
    config = KubeletConfig(kubeconfig=None, master=None, hostname=node, endpoints=endpoints,
                           node_ip="127.0.0.1", root_dir=str(root), pod_log_dir=str(root / "logs"),
                           address="127.0.0.1", port=free_port(), lease_renew_interval_s=0.5,
                           node_status_update_frequency_s=0.5)
    kubelet = Kubelet(c.rp0, config, tenant_clients=tenants or [c.tp0, c.tp1], resync_s=2.0,
                      registries={node: build_registry(endpoints, {"hollow": build})})
    try:
        async with run_kubelet(kubelet, synced=tenants is None):
            yield kubelet
    finally:
        await kubelet.close()
        await asyncio.to_thread(unmount_all_under, root)


def _node() -> str:
    return f"pi-{uuid.uuid4().hex[:6]}"


def _runtime(kubelet: Kubelet, node: str, workload: str) -> Any:
    return kubelet.nodes[node].context.registry.default(workload)  # type: ignore[arg-type]


async def _seed(tp: ApiClient, who: str, *, service: bool) -> str:
    """The Secret, ConfigMap and ServiceAccount the reader pod names, with ``who`` as their data;
    answers the ServiceAccount's uid (each TP draws its own)."""
    where = {"tenant": "system", "namespace": "default"}
    await tp.create(SECRETS, {"metadata": {"name": "creds"},
                              "data": {"who": base64.b64encode(who.encode()).decode()}}, **where)
    await tp.create(CONFIGMAPS, {"metadata": {"name": "conf"}, "data": {"who": who}}, **where)
    account = await tp.create(SERVICE_ACCOUNTS, {"metadata": {"name": "reader"}}, **where)
    if service:
        spec = {"clusterIP": "10.0.0.77", "ports": [{"port": 80, "protocol": "TCP"}]}
        await tp.create(SERVICES, {"metadata": {"name": "web"}, "spec": spec}, **where)
    return str(account["metadata"]["uid"])


def _reader(node: str) -> dict[str, Any]:
    token = {"serviceAccountToken": {"path": "token", "expirationSeconds": 3600}}
    body = pod_body("reader", node, serviceAccountName="reader", automountServiceAccountToken=False, volumes=[
        {"name": "creds", "secret": {"secretName": "creds"}},
        {"name": "conf", "configMap": {"name": "conf"}},
        {"name": "token", "projected": {"sources": [token]}}])
    body["spec"]["containers"][0].update(
        env=[{"name": "WHO", "valueFrom": {"secretKeyRef": {"name": "creds", "key": "who"}}}],
        volumeMounts=[{"name": n, "mountPath": f"/{n}"} for n in ("creds", "conf", "token")])
    return body


def _volume_file(root: Path, uid: str, plugin: str, volume: str, key: str) -> str:
    return (root / "pods" / uid / "volumes" / f"kubernetes.io~{plugin}" / volume / key).read_text()


def _token_account_uid(token: str) -> str:
    payload = token.split(".")[1]
    claims = json.loads(base64.urlsafe_b64decode(payload + "=" * (-len(payload) % 4)))
    return str(claims["kubernetes.io"]["serviceaccount"]["uid"])


async def test_volumes_env_tokens_and_services_come_from_the_pods_own_tp(
        clients: Clients, tmp_path: Path) -> None:
    c, node, root = clients, _node(), tmp_path / "root"
    accounts = {"tp0": await _seed(c.tp0, "tp0", service=False),
                "tp1": await _seed(c.tp1, "tp1", service=True)}
    async with scale_out_kubelet(c, node, root) as kubelet:
        try:
            pods = {}
            for name, tp in (("tp0", c.tp0), ("tp1", c.tp1)):
                await tp.create(PODS, _reader(node), tenant="system", namespace="default")
                pods[name] = await eventually(partial(running, tp, "reader"), f"{name}'s reader Running")
            recorded = _runtime(kubelet, node, "container").inputs
            for name, pod in pods.items():
                uid = str(pod["metadata"]["uid"])
                assert _volume_file(root, uid, "secret", "creds", "who") == name
                assert _volume_file(root, uid, "configmap", "conf", "who") == name
                token = _volume_file(root, uid, "projected", "token", "token")
                assert _token_account_uid(token) == accounts[name]
                env = dict(recorded[uid].env)
                assert env["WHO"] == name
                assert env.get("WEB_SERVICE_HOST") == ("10.0.0.77" if name == "tp1" else None)  # tp1 only
        finally:
            for tp in (c.tp0, c.tp1):
                await tp.delete(PODS, "reader", tenant="system", namespace="default")
            for tp in (c.tp0, c.tp1):
                await eventually(partial(_gone, tp, "reader"), "the reader finalised by the kubelet")


async def _gone(tp: ApiClient, name: str) -> bool:
    return await get_pod(tp, name) is None


async def test_a_tp_down_at_start_holds_back_neither_the_others_pods_nor_removes_its_own(
        clients: Clients, tmp_path: Path) -> None:
    c, node = clients, _node()
    async with ApiClient(config_for_url(f"http://127.0.0.1:{free_port()}")) as down:  # nobody listens
        async with scale_out_kubelet(c, node, tmp_path / "root", tenants=[down, c.tp1]) as kubelet:
            runtime = _runtime(kubelet, node, "container")
            # A sandbox of the down TP's pod from "before the restart": only its TP could say it is gone.
            stale = {"metadata": {"name": "p", "namespace": "default", "uid": "down-tp-pod"}}
            await runtime.run_sandbox(stale)
            await c.tp1.create(PODS, pod_body(f"up-{node}", node), tenant="system", namespace="default")
            await eventually(lambda: running(c.tp1, f"up-{node}"), "tp1's pod Running, tp0 never answering")
            assert not kubelet.orphans_removed.is_set()
            assert "down-tp-pod" in {s.pod.uid for s in await runtime.list_sandboxes()}
            await c.tp1.delete(PODS, f"up-{node}", tenant="system", namespace="default")
            await eventually(partial(_gone, c.tp1, f"up-{node}"), "tp1's pod finalised while tp0 is down")


async def _status_of(client: aiohttp.ClientSession, url: str) -> tuple[int, str]:
    context = ssl.create_default_context()
    context.check_hostname, context.verify_mode = False, ssl.CERT_NONE  # the kubelet's self-signed cert
    async with client.get(url, ssl=context if url.startswith("https:") else True) as response:
        return response.status, await response.text()


async def test_streaming_finds_pods_of_every_tp_and_refuses_a_shared_name_without_uid(
        partitions: Partitions, clients: Clients, tmp_path: Path) -> None:
    c, node = clients, _node()
    async with scale_out_kubelet(c, node, tmp_path / "root") as kubelet:
        for tp in (c.tp0, c.tp1):
            await tp.create(PODS, pod_body(f"twin-{node}", node), tenant="system", namespace="default")
        await c.tp1.create(PODS, pod_body(f"only-{node}", node), tenant="system", namespace="default")
        twin1 = await eventually(lambda: running(c.tp1, f"twin-{node}"), "tp1's twin Running")
        await eventually(lambda: running(c.tp0, f"twin-{node}"), "tp0's twin Running")
        only = await eventually(lambda: running(c.tp1, f"only-{node}"), "tp1's only pod Running")
        port = (await c.rp0.get(NODES, node))["status"]["daemonEndpoints"]["kubeletEndpoint"]["Port"]
        assert port == kubelet.config.port
        base = f"https://127.0.0.1:{port}/exec/system/default"
        query = "app?command=true&stdout=1"
        async with aiohttp.ClientSession() as session:
            # Found (tp1's pod): the hollow runtime cannot exec, which is the 400 it answers.
            status, text = await _status_of(session, f"{base}/only-{node}/{query}")
            assert status == 400 and "not supported" in text, text
            status, text = await _status_of(session, f"{base}/twin-{node}/{query}")
            assert status == 409 and "2 tenant partitions" in text, text
            uid = twin1["metadata"]["uid"]
            status, text = await _status_of(session, f"{base}/twin-{node}/{uid}/{query}")
            assert status == 400 and "not supported" in text, text
            status, text = await _status_of(session, f"{base}/twin-{node}/{uuid.uuid4()}/{query}")
            assert status == 404, text
            status, text = await _status_of(session, f"{base}/nobody/{query}")
            assert status == 404, text
            # The same through each TP's own API server, which finds the node in rp0: the log of
            # tp1's pod is that pod's; a shared name is the kubelet's 409, relayed.
            pods = "api/v1/namespaces/default/pods"
            status, text = await _status_of(session, f"{partitions.tp1.url}/{pods}/only-{node}/log")
            assert (status, text) == (200, f"pod uid {only['metadata']['uid']}\n"), text
            status, text = await _status_of(session, f"{partitions.tp0.url}/{pods}/twin-{node}/log")
            assert status == 409 and "2 tenant partitions" in text, text


async def test_vm_actions_of_a_tp_are_carried_out_and_reported_to_it(clients: Clients,
                                                                      tmp_path: Path) -> None:
    c, node = clients, _node()
    vm_pod = {"apiVersion": "v1", "kind": "Pod", "metadata": {"name": f"vm-{node}"}, "spec": {
        "nodeName": node, "virtualMachine": {"name": "vm", "image": "cirros", "keyPairName": "key",
                                             "resources": {"requests": {"cpu": "1", "memory": "256Mi"}}}}}
    async with scale_out_kubelet(c, node, tmp_path / "root") as kubelet:
        await c.tp1.create(PODS, vm_pod, tenant="system", namespace="default")
        await eventually(lambda: running(c.tp1, f"vm-{node}"), "tp1's VM pod Running")
        path = f"/api/v1/tenants/system/namespaces/default/pods/vm-{node}/action"
        await c.tp1.request("POST", path, body={"apiVersion": "v1", "kind": "CustomAction",
                                                "operation": "reboot", "rebootParams": {"delayInSeconds": 0}})

        async def reported() -> dict[str, Any] | None:
            listed = await c.tp1.list(ACTIONS, tenant="system", namespace="default")
            done = [a for a in listed.get("items") or [] if (a.get("status") or {}).get("complete")]
            return done[0] if done else None

        action = await eventually(reported, "the reboot Action complete in tp1")
        assert action["status"]["error"] == "" and action["status"]["rebootStatus"]["rebootSuccessful"]
        assert len(_runtime(kubelet, node, "vm").reboots) == 1
        assert not (await c.tp0.list(ACTIONS, tenant="system", namespace="default")).get("items")


