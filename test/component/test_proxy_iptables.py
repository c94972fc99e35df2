"""``python -m proxy`` programs the host's real iptables, and Service addresses reach real pods.

A TLS API server (the proxy runs as ``system:kube-proxy`` with the credentials tools/ makes, so the
bootstrap ``system:node-proxier`` role is what lets it watch every tenant), a private containerd
(bridge ``arktos-px0``, pods in ``10.213.0.0/16``), a kubelet running busybox ``httpd`` pods that
answer with their own name, and the proxy with its own chain prefix in the root network namespace;
the server has a service range and node ports of its own. The test writes the EndpointSlices itself
(readiness as the endpointslice controller would set it), in a tenant other than ``system``, and
asks for explicit clusterIPs. Covers: a ClusterIP reaches the ready endpoints only, changing the
slice changes which pods answer, a NodePort answers on the node's address, ClientIP affinity sticks,
a Service without endpoints refuses connections, a pod reaches another pod and itself (hairpin)
through a Service, the ``kubernetes`` Service reaches the API server, /healthz, and ``--cleanup``
leaves no chain or jump of the prefix behind. Leaves out: the endpointslice controller
(test_endpoints_controllers.py), UDP and conntrack clean-up (test_proxy_netns.py).
"""

from __future__ import annotations

import asyncio
import contextlib
import random
import ssl
import time
from collections.abc import AsyncIterator, Iterator
from pathlib import Path
from typing import Any

import aiohttp
import pytest
from apiserver_process import ApiServerProcess, free_port, start_apiserver
from containerd_env import private_containerd
from kubelet_process import eventually, running_kubelet
from proxy_env import (
    NODE,
    ask,
    iptables_save,
    log_tail,
    pod_ip,
    start_proxy,
    stop_and_clean,
    unique,
    wait_for,
    web_container,
)

from client.config import load_kubeconfig
from client.errors import AlreadyExists
from client.resources import NAMESPACES, TENANTS, ResourceRef
from client.rest import ApiClient
from cri.containerd_process import ContainerdProcess
from server.serving import default_advertise_address
from tools.cluster_credentials import primary_ip

pytestmark = [pytest.mark.e2e, pytest.mark.slow]

PODS = ResourceRef("", "v1", "pods", "Pod")
SERVICES = ResourceRef("", "v1", "services", "Service")
SLICES = ResourceRef("discovery.k8s.io", "v1", "endpointslices", "EndpointSlice")
CGROUP_ROOT = "/arktos-px"
POD_SUBNET = "10.213.0.0/16"
PREFIX = "PXT"
# A service range of its own per run (several runs may share the host), and node ports.
SERVICE_NET = f"10.214.{random.randint(0, 255)}"
NODE_PORTS = "32000-32700"
TENANT = "proxy-t"
NAMESPACE = "web"


def service_ip(host: int) -> str:
    return f"{SERVICE_NET}.{host}"


@pytest.fixture(scope="module")
def tls_apiserver(tmp_path_factory: pytest.TempPathFactory) -> Iterator[ApiServerProcess]:
    server = start_apiserver(tmp_path_factory.mktemp("apiserver-px"), tls=True, extra_args=[
        "--service-cluster-ip-range", f"{SERVICE_NET}.0/24", "--service-node-port-range", NODE_PORTS,
        # as arktos-up: the node's address, where pods (and the kubernetes Service) reach the server
        "--advertise-address", default_advertise_address("0.0.0.0")])
    try:
        yield server
    finally:
        server.stop()


@pytest.fixture(scope="module")
def certs(tls_apiserver: ApiServerProcess) -> Path:
    assert tls_apiserver.credentials is not None
    return tls_apiserver.credentials.cert_dir


@pytest.fixture(scope="module")
def containerd(tmp_path_factory: pytest.TempPathFactory) -> Iterator[ContainerdProcess]:
    with private_containerd(tmp_path_factory.mktemp("containerd-px"), pod_subnet=POD_SUBNET,
                            bridge_name="arktos-px0", cgroup_parent=CGROUP_ROOT) as process:
        yield process


@pytest.fixture(scope="module")
def kubelet(tls_apiserver: ApiServerProcess, containerd: ContainerdProcess, certs: Path,
            tmp_path_factory: pytest.TempPathFactory) -> Iterator[Path]:
    with running_kubelet(tls_apiserver.url, NODE, f"containerRuntime,container,{containerd.endpoint}",
                         tmp_path_factory.mktemp("kubelet-px"), "--cgroup-root", CGROUP_ROOT,
                         kubeconfig=certs / "kubelet.kubeconfig") as work:
        yield work


@pytest.fixture(scope="module")
def healthz_port() -> int:
    return free_port()


@pytest.fixture(scope="module")
def proxy(certs: Path, tmp_path_factory: pytest.TempPathFactory, healthz_port: int) -> Iterator[Path]:
    log = tmp_path_factory.mktemp("proxy") / "kube-proxy.log"
    process = start_proxy(certs, log, PREFIX, POD_SUBNET,
                          "--healthz-bind-address", f"127.0.0.1:{healthz_port}")
    try:
        yield log
    finally:
        stop_and_clean(process, PREFIX)


@pytest.fixture
async def client(tls_apiserver: ApiServerProcess, certs: Path) -> AsyncIterator[ApiClient]:
    async with ApiClient(load_kubeconfig(certs / "admin.kubeconfig")) as api:
        yield api


async def ensure_namespace(client: ApiClient) -> None:
    with contextlib.suppress(AlreadyExists):
        await client.create(TENANTS, {"apiVersion": "v1", "kind": "Tenant", "metadata": {"name": TENANT}})
    with contextlib.suppress(AlreadyExists):
        await client.create(NAMESPACES, {"metadata": {"name": NAMESPACE}}, tenant=TENANT)


async def run_pod(client: ApiClient, name: str, work: Path, *extra_containers: dict[str, Any]) -> str:
    """Starts a pod whose httpd answers ``name`` on 8080; its IP once Running."""
    await ensure_namespace(client)
    await client.create(PODS, {"metadata": {"name": name, "labels": {"app": name}}, "spec": {
        "nodeName": NODE, "terminationGracePeriodSeconds": 1,
        "containers": [web_container(name), *extra_containers]}}, tenant=TENANT, namespace=NAMESPACE)
    return await pod_ip(client, TENANT, NAMESPACE, name, work, within_s=90)


@pytest.fixture(scope="module")
def pods(kubelet: Path, tls_apiserver: ApiServerProcess, certs: Path) -> dict[str, str]:
    """Three web pods, name -> IP."""
    async def start() -> dict[str, str]:
        async with ApiClient(load_kubeconfig(certs / "admin.kubeconfig")) as api:
            names = ["web-a", "web-b", "web-c"]
            await ensure_namespace(api)  # once, before the pods race for it
            ips = await asyncio.gather(*(run_pod(api, name, kubelet) for name in names))
            return dict(zip(names, ips, strict=True))
    return asyncio.run(start())


async def create_service(client: ApiClient, name: str, ip: str, **spec: Any) -> dict[str, Any]:
    await ensure_namespace(client)
    port = {"name": "http", "port": 80, "targetPort": 8080, **spec.pop("port_fields", {})}
    body = {"metadata": {"name": name}, "spec": {"clusterIP": ip, "ports": [port], **spec}}
    created: dict[str, Any] = await client.create(SERVICES, body, tenant=TENANT, namespace=NAMESPACE)
    return created


async def write_slice(client: ApiClient, service: str, endpoints: dict[str, bool]) -> None:
    """The Service's only slice, listing ``ip -> ready``."""
    body = {"apiVersion": "discovery.k8s.io/v1", "kind": "EndpointSlice", "addressType": "IPv4",
            "metadata": {"name": f"{service}-1", "labels": {"kubernetes.io/service-name": service}},
            "ports": [{"name": "http", "port": 8080, "protocol": "TCP"}],
            "endpoints": [{"addresses": [ip], "conditions": {"ready": ready}}
                          for ip, ready in endpoints.items()]}
    try:
        await client.create(SLICES, body, tenant=TENANT, namespace=NAMESPACE)
    except AlreadyExists:
        current = await client.get(SLICES, f"{service}-1", tenant=TENANT, namespace=NAMESPACE)
        body["metadata"]["resourceVersion"] = current["metadata"]["resourceVersion"]
        await client.update(SLICES, body, tenant=TENANT, namespace=NAMESPACE)


async def answers(ip: str, port: int, times: int) -> list[str]:
    return [await ask(ip, port) for _ in range(times)]


async def until_answered_by(ip: str, port: int, expected: set[str], proxy_log: Path, *,
                            sample: int = 24) -> None:
    """Waits until ``sample`` requests are answered by exactly ``expected`` pods."""
    deadline = time.monotonic() + 30
    seen: set[str] | str = ""
    while time.monotonic() < deadline:
        try:
            seen = set(await answers(ip, port, sample))
        except OSError as e:
            seen = repr(e)
        if seen == expected:
            return
        await asyncio.sleep(0.3)
    raise AssertionError(f"{ip}:{port} answered by {seen}, not {expected}\n{log_tail(proxy_log)}")


async def test_a_cluster_ip_reaches_only_ready_endpoints_and_follows_slice_changes(
        client: ApiClient, pods: dict[str, str], proxy: Path) -> None:
    name = unique("spread")
    await create_service(client, name, service_ip(10))
    await write_slice(client, name, {pods["web-a"]: True, pods["web-b"]: True, pods["web-c"]: False})
    await until_answered_by(service_ip(10), 80, {"web-a", "web-b"}, proxy)
    # Scaled: a and b go, c became ready.
    await write_slice(client, name, {pods["web-c"]: True})
    await until_answered_by(service_ip(10), 80, {"web-c"}, proxy)


async def test_a_node_port_answers_on_the_node_address(client: ApiClient, pods: dict[str, str],
                                                        proxy: Path) -> None:
    name = unique("np")
    node_port = random.randint(*map(int, NODE_PORTS.split("-")))
    await create_service(client, name, service_ip(11), type="NodePort", port_fields={"nodePort": node_port})
    await write_slice(client, name, {pods["web-b"]: True})
    await until_answered_by(primary_ip(), node_port, {"web-b"}, proxy, sample=4)


async def test_client_ip_affinity_sends_one_client_to_one_pod(client: ApiClient, pods: dict[str, str],
                                                               proxy: Path) -> None:
    name = unique("sticky")
    await create_service(client, name, service_ip(12), sessionAffinity="ClientIP",
                         sessionAffinityConfig={"clientIP": {"timeoutSeconds": 60}})
    await write_slice(client, name, {pods["web-a"]: True, pods["web-b"]: True, pods["web-c"]: True})

    async def programmed() -> bool:
        try:
            return bool(await ask(service_ip(12), 80))
        except OSError:
            return False

    await wait_for(programmed, "the sticky Service answers", proxy)
    assert len(set(await answers(service_ip(12), 80, 20))) == 1


async def test_a_service_without_endpoints_refuses_connections(client: ApiClient, pods: dict[str, str],
                                                               proxy: Path) -> None:
    name = unique("empty")
    await create_service(client, name, service_ip(13))
    await write_slice(client, name, {pods["web-a"]: False})

    async def refused() -> bool:
        try:
            await ask(service_ip(13), 80)
        except ConnectionRefusedError:
            return True
        except OSError:
            return False
        return False

    await wait_for(refused, "connection refused (REJECT)", proxy)


def asker(ip: str) -> dict[str, Any]:
    """A container that asks ip:80 twice a second and logs each answer (busybox ``nc``)."""
    request = "printf 'GET / HTTP/1.0\\r\\n\\r\\n'"
    loop = f"while true; do {request} | nc -w 2 {ip} 80 | tail -n 1; sleep 0.5; done"
    return {"name": "ask", "image": "busybox:1.36", "command": ["sh", "-c", loop]}


def asker_heard(kubelet: Path, pod: str, answer: str) -> bool:
    """Whether the ``ask`` container of ``pod`` logged ``answer``."""
    logs = [p for p in (kubelet / "pods").rglob("*.log") if pod in str(p) and "ask" in p.parent.name]
    return any(answer in p.read_text(errors="replace") for p in logs)


async def test_a_pod_reaches_another_pod_through_a_service(client: ApiClient, kubelet: Path,
                                                           pods: dict[str, str], proxy: Path) -> None:
    name = unique("backend")
    await create_service(client, name, service_ip(15))
    await write_slice(client, name, {pods["web-a"]: True})
    asking = unique("client")
    await run_pod(client, asking, kubelet, asker(service_ip(15)))

    async def heard() -> bool:
        return asker_heard(kubelet, asking, "web-a")

    await eventually(heard, "web-a's answer in the client pod through the Service", kubelet, within_s=40)


async def test_a_pod_reaches_itself_through_its_service(client: ApiClient, kubelet: Path,
                                                        pods: dict[str, str], proxy: Path) -> None:
    name = unique("hairpin")
    await create_service(client, name, service_ip(14))
    pod_ip = await run_pod(client, name, kubelet, asker(service_ip(14)))
    await write_slice(client, name, {pod_ip: True})

    async def heard() -> bool:
        return asker_heard(kubelet, name, name)

    await eventually(heard, "the pod's own answer through its Service", kubelet, within_s=40)


async def test_the_kubernetes_service_reaches_the_api_server(pods: dict[str, str], proxy: Path) -> None:
    """The API server publishes itself as system/default/kubernetes on the range's first address."""
    context = ssl.create_default_context()
    context.check_hostname = False
    context.verify_mode = ssl.CERT_NONE

    async def answers_tls() -> bool:
        try:
            reader, writer = await asyncio.wait_for(
                asyncio.open_connection(service_ip(1), 443, ssl=context), 3)
        except (OSError, TimeoutError):
            return False
        try:
            writer.write(b"GET /livez HTTP/1.0\r\n\r\n")
            return (await asyncio.wait_for(reader.read(12), 3)).startswith(b"HTTP/1.")
        finally:
            writer.close()

    await wait_for(answers_tls, f"https://{service_ip(1)}:443 answering", proxy)


async def test_healthz_reports_a_fresh_sync(pods: dict[str, str], proxy: Path,
                                            healthz_port: int) -> None:
    url = f"http://127.0.0.1:{healthz_port}/healthz"
    async with aiohttp.ClientSession() as session, session.get(url) as r:
        assert r.status == 200
        assert (await r.json())["lastUpdated"]


async def test_cleanup_removes_every_chain_and_jump_of_the_prefix(certs: Path, tmp_path: Path) -> None:
    prefix = "PXC"
    process = start_proxy(certs, tmp_path / "kube-proxy.log", prefix, POD_SUBNET)
    try:
        async def programmed() -> bool:
            out = iptables_save("nat")
            return f"-j {prefix}-SERVICES" in out and f":{prefix}-MARK-MASQ" in out

        await wait_for(programmed, "the proxy's chains", tmp_path / "kube-proxy.log")
    finally:
        await asyncio.to_thread(stop_and_clean, process, prefix)
    for table in ("nat", "filter"):
        out = iptables_save(table)
        assert f"{prefix}-" not in out, out
