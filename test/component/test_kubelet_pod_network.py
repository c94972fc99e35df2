"""What a container sees of the cluster: resolv.conf, /etc/hosts, the master-service env and its token.

A TLS API server with every admission plugin (ServiceAccount included) and a private containerd
(bridge ``arktos-pn0``, subnet ``10.131.0.0/16``). A pod of a fresh tenant — created through the API,
so the ServiceAccount plugin gives it the ``kube-api-access-*`` volume — is run by the kubelet's
pieces under the node identity: `CriRuntime` with the sandbox DNS `kubelet.pod_dns` computes
(``--cluster-dns 10.0.0.10 --cluster-domain cluster.local`` over a private resolv.conf) and
`PodInputs` (volumes, env, /etc/hosts). Read from inside the container: /etc/resolv.conf (the
cluster server, the search path, ndots:5), /etc/hosts (upstream's managed content with the
subdomain FQDN and the host aliases, not containerd's copy of the node's), the hostname, the
``KUBERNETES_SERVICE_*``/``KUBERNETES_PORT*`` variables from tenant system's ``kubernetes`` Service,
and the token, ca.crt and namespace files; the token then authenticates from the test host with the
python client, whose TLS is verified by that ca.crt. A Default-policy pod gets the node's resolver.
A pod on an Arktos network (``blue``, Ready with a ``dnsServiceIP`` set through the status
subresource as the Network controller would, and its ``kubernetes-blue`` Service) gets that
network's DNS address as nameserver — seen through a `NetworkWatch` on the node's identity — and
``KUBERNETES_SERVICE_*`` of ``kubernetes-blue``.
Leaves out the pod worker's wiring (unit: the pod sync's calls), reaching the API through the
Service IP (kube-proxy; the e2e suite) and the controllers that make the default account and
kube-root-ca.crt (their own tests; made here directly).
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import uuid
from collections.abc import AsyncIterator, Iterator
from pathlib import Path
from typing import Any

import pytest
from apiserver_process import E2E_NODE_NAME, ApiServerProcess, start_apiserver
from containerd_env import cri_runtime, private_containerd
from kubelet_env import eventually, new_tenant_namespace
from kubernetes import client as k8s

from client.config import load_kubeconfig
from client.errors import AlreadyExists, NotFound, Unprocessable
from client.resources import CONFIGMAPS, NAMESPACES, NETWORKS, ResourceRef
from client.rest import ApiClient
from cri.containerd_process import ContainerdProcess
from kubelet.cri_runtime import CriRuntime
from kubelet.networks import NETWORK_LABEL, NetworkWatch
from kubelet.pod_dns import DnsConfigurer, DnsSettings
from kubelet.pod_inputs import PodInputs
from kubelet.pod_sources import SERVICE_ACCOUNTS
from kubelet.runtime import ContainerInfo, SandboxInfo

pytestmark = [pytest.mark.e2e, pytest.mark.slow]

PODS = ResourceRef("", "v1", "pods", "Pod")
SERVICES = ResourceRef("", "v1", "services", "Service")
CGROUP_ROOT = "/arktos-pn"
ALLOCATABLE = {"cpu": "2", "memory": "4Gi", "ephemeral-storage": "20Gi"}
TOKEN_DIR = "/var/run/secrets/kubernetes.io/serviceaccount"
NODE_RESOLV_CONF = "nameserver 192.0.2.53\nsearch corp.example\noptions timeout:2\n"


@pytest.fixture(scope="module")
def containerd(tmp_path_factory: pytest.TempPathFactory) -> Iterator[ContainerdProcess]:
    with private_containerd(tmp_path_factory.mktemp("containerd-pn"), pod_subnet="10.131.0.0/16",
                            bridge_name="arktos-pn0", cgroup_parent=CGROUP_ROOT) as process:
        yield process


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[ApiServerProcess]:
    process = start_apiserver(tmp_path_factory.mktemp("podnet"), tls=True,
                              extra_args=["--disable-admission-plugins="])
    try:
        yield process
    finally:
        process.stop()


@pytest.fixture
async def admin(server: ApiServerProcess) -> AsyncIterator[ApiClient]:
    async with ApiClient(load_kubeconfig(server.kubeconfig)) as api:
        yield api


@pytest.fixture
async def node(server: ApiServerProcess) -> AsyncIterator[ApiClient]:
    """The kubelet's own identity (system:node:e2e-node), held to its pods by the node authorizer."""
    assert server.credentials is not None
    async with ApiClient(load_kubeconfig(server.credentials.cert_dir / "kubelet.kubeconfig")) as api:
        yield api


@pytest.fixture
async def runtime(containerd: ContainerdProcess, tmp_path: Path) -> AsyncIterator[CriRuntime]:
    async with cri_runtime(containerd, log_root=tmp_path / "logs", cgroup_parent=CGROUP_ROOT) as cri:
        yield cri


async def master_service(admin: ApiClient, secure_port: int) -> dict[str, Any]:
    """Tenant system's ``kubernetes`` Service: the API server's own once it makes one, else ours."""
    body = {"metadata": {"name": "kubernetes"}, "spec": {
        "clusterIP": "10.0.0.1", "ports": [{"name": "https", "port": 443, "protocol": "TCP",
                                            "targetPort": secure_port}]}}
    with contextlib.suppress(NotFound):
        return await admin.get(SERVICES, "kubernetes", tenant="system", namespace="default")
    # Made meanwhile by the server (its IP is then taken: 422), or not at all: ours.
    with contextlib.suppress(AlreadyExists, Unprocessable):
        await admin.create(SERVICES, body, tenant="system", namespace="default")
    return await admin.get(SERVICES, "kubernetes", tenant="system", namespace="default")


async def tenant_with_account(admin: ApiClient, server: ApiServerProcess) -> tuple[str, str]:
    """A fresh tenant's namespace with what its controllers would have made: the default account
    and the root CA ConfigMap (the cluster CA, which signs the serving certificate)."""
    assert server.credentials is not None
    tenant, namespace = await new_tenant_namespace(admin)
    with contextlib.suppress(AlreadyExists):
        await admin.create(SERVICE_ACCOUNTS, {"metadata": {"name": "default"}}, tenant=tenant,
                           namespace=namespace)
    ca = server.credentials.ca_cert.read_text()
    with contextlib.suppress(AlreadyExists):
        await admin.create(CONFIGMAPS, {"metadata": {"name": "kube-root-ca.crt"}, "data": {"ca.crt": ca}},
                           tenant=tenant, namespace=namespace)
    return tenant, namespace


class RunningPod:
    """One pod run by the kubelet's pieces; `exec` reads from its first container."""

    def __init__(self, runtime: CriRuntime, inputs: PodInputs) -> None:
        self.runtime = runtime
        self.inputs = inputs
        self.sandbox: SandboxInfo | None = None
        self.containers: list[ContainerInfo] = []
        self.warnings: list[tuple[str, str]] = []

    async def start(self, pod: dict[str, Any], dns: DnsConfigurer) -> None:
        config = dns.pod_config(pod, host=dns.host_config(),
                                warn_pod=lambda r, m: self.warnings.append((r, m)),
                                warn_node=lambda r, m: self.warnings.append((r, m)))
        assert self.warnings == []  # no limits hit, cluster DNS configured
        self.sandbox = await self.runtime.run_sandbox(pod, dns=config)
        for container in pod["spec"]["containers"]:
            image = await self.runtime.ensure_image(container["image"], "IfNotPresent")
            resolved = await self.inputs.for_container(pod, container, host_ip="192.0.2.2",
                                                       pod_ip=self.sandbox.ip)
            created = await self.runtime.create_container(self.sandbox, pod, container, attempt=0,
                                                          image_ref=image.image_ref, inputs=resolved)
            await self.runtime.start_container(created.id)
            self.containers.append(created)

    async def read(self, *cmd: str) -> str:
        result = await self.runtime.exec_sync(self.containers[0].id, list(cmd), timeout_s=10)
        assert result.exit_code == 0, (cmd, result.stderr)
        return result.stdout.decode()

    async def stop(self, uid: str) -> None:
        for info in self.containers:
            await self.runtime.stop_container(info.id, timeout_s=0)
            await self.runtime.remove_container(info.id)
        if self.sandbox is not None:
            await self.runtime.remove_sandbox(self.sandbox.id)
        await self.inputs.cleanup(uid)


def pod_body(**spec: Any) -> dict[str, Any]:
    container = {"name": "app", "image": "busybox:1.36", "command": ["sleep", "300"]}
    return {"metadata": {"name": f"net-{uuid.uuid4().hex[:6]}"},
            "spec": {"nodeName": E2E_NODE_NAME, "containers": [container], **spec}}


def whoami(server: ApiServerProcess, token: str, ca_file: Path) -> str:
    """The user the python client is, authenticated by ``token`` over TLS verified with ``ca_file``."""
    configuration = k8s.Configuration()
    configuration.host = server.url
    configuration.api_key = {"authorization": f"Bearer {token}"}
    configuration.ssl_ca_cert = str(ca_file)
    with k8s.ApiClient(configuration) as api:
        review: Any = k8s.AuthenticationV1Api(api).create_self_subject_review(k8s.V1SelfSubjectReview(),
                                                                   _preload_content=False)
        return str(json.loads(review.data)["status"]["userInfo"]["username"])


async def test_a_container_sees_the_clusters_resolver_hosts_env_and_token(
        server: ApiServerProcess, admin: ApiClient, node: ApiClient, runtime: CriRuntime,
        tmp_path: Path) -> None:
    resolv = tmp_path / "resolv.conf"
    resolv.write_text(NODE_RESOLV_CONF)
    dns = DnsConfigurer(DnsSettings(("10.0.0.10",), "cluster.local", str(resolv)))
    master = await master_service(admin, server.port)
    tenant, namespace = await tenant_with_account(admin, server)
    aliases = [{"ip": "10.1.2.3", "hostnames": ["foo.local", "bar.local"]}]
    pod = await admin.create(PODS, pod_body(hostname="box", subdomain="grp", hostAliases=aliases),
                             tenant=tenant, namespace=namespace)
    assert pod["spec"]["serviceAccountName"] == "default"
    assert pod["spec"]["volumes"][0]["name"].startswith("kube-api-access-")
    inputs = PodInputs(node, root_dir=tmp_path / "kubelet", node_allocatable=ALLOCATABLE,
                       cluster_domain="cluster.local")
    running = RunningPod(runtime, inputs)
    try:
        await running.start(pod, dns)
        assert running.sandbox is not None
        ip = running.sandbox.ip
        assert ip.startswith("10.131.")

        assert sorted((await running.read("cat", "/etc/resolv.conf")).splitlines()) == sorted([
            f"search {namespace}.svc.cluster.local svc.cluster.local cluster.local corp.example",
            "nameserver 10.0.0.10", "options ndots:5"])
        assert await running.read("cat", "/etc/hosts") == (
            "# Kubernetes-managed hosts file.\n127.0.0.1\tlocalhost\n"
            "::1\tlocalhost ip6-localhost ip6-loopback\n"
            "fe00::0\tip6-localnet\nfe00::0\tip6-mcastprefix\nfe00::1\tip6-allnodes\nfe00::2\tip6-allrouters\n"
            f"{ip}\tbox.grp.{namespace}.svc.cluster.local\tbox\n"
            "\n# Entries added by HostAliases.\n10.1.2.3\tfoo.local\tbar.local\n")
        assert (await running.read("hostname")).strip() == "box"

        env = dict(line.split("=", 1) for line in (await running.read("env")).splitlines() if "=" in line)
        host = master["spec"]["clusterIP"]
        assert {k: v for k, v in env.items() if k.startswith("KUBERNETES_")} == {
            "KUBERNETES_SERVICE_HOST": host, "KUBERNETES_SERVICE_PORT": "443",
            "KUBERNETES_SERVICE_PORT_HTTPS": "443", "KUBERNETES_PORT": f"tcp://{host}:443",
            "KUBERNETES_PORT_443_TCP": f"tcp://{host}:443", "KUBERNETES_PORT_443_TCP_PROTO": "tcp",
            "KUBERNETES_PORT_443_TCP_PORT": "443", "KUBERNETES_PORT_443_TCP_ADDR": host}

        assert await running.read("cat", f"{TOKEN_DIR}/namespace") == namespace
        ca_file = tmp_path / "ca.crt"
        ca_file.write_text(await running.read("cat", f"{TOKEN_DIR}/ca.crt"))
        token = await running.read("cat", f"{TOKEN_DIR}/token")
        assert whoami(server, token, ca_file) == f"system:serviceaccount:{namespace}:default"
    finally:
        await running.stop(pod["metadata"]["uid"])


async def test_a_default_policy_pod_gets_the_nodes_resolver(server: ApiServerProcess, admin: ApiClient,
                                                           node: ApiClient, runtime: CriRuntime,
                                                           tmp_path: Path) -> None:
    resolv = tmp_path / "resolv.conf"
    resolv.write_text(NODE_RESOLV_CONF)
    tenant, namespace = await tenant_with_account(admin, server)
    pod = await admin.create(PODS, pod_body(dnsPolicy="Default", automountServiceAccountToken=False),
                             tenant=tenant, namespace=namespace)
    inputs = PodInputs(node, root_dir=tmp_path / "kubelet", node_allocatable=ALLOCATABLE,
                       cluster_domain="cluster.local")
    running = RunningPod(runtime, inputs)
    try:
        await running.start(pod, DnsConfigurer(DnsSettings(("10.0.0.10",), "cluster.local", str(resolv))))
        assert sorted((await running.read("cat", "/etc/resolv.conf")).splitlines()) == sorted([
            "search corp.example", "nameserver 192.0.2.53", "options timeout:2"])
        assert "kube-api-access" not in str(pod["spec"])
    finally:
        await running.stop(pod["metadata"]["uid"])


async def ready_network(admin: ApiClient, tenant: str, name: str, dns_ip: str) -> None:
    """A Network as its controller leaves it: Ready, with its DNS Service's address."""
    network = await admin.create(NETWORKS, {"apiVersion": "arktos.futurewei.com/v1", "kind": "Network",
                                            "metadata": {"name": name}, "spec": {"type": "vpc"}},
                                 tenant=tenant)
    network["status"] = {"phase": "Ready", "dnsServiceIP": dns_ip}
    await admin.update(NETWORKS, network, tenant=tenant, subresource="status")


async def test_a_pod_on_a_network_gets_its_networks_dns_and_api_service(
        server: ApiServerProcess, admin: ApiClient, node: ApiClient, runtime: CriRuntime,
        tmp_path: Path) -> None:
    resolv = tmp_path / "resolv.conf"
    resolv.write_text(NODE_RESOLV_CONF)
    await master_service(admin, server.port)
    tenant, namespace = await tenant_with_account(admin, server)
    dns_ip = "10.131.250.10"  # any address: only the resolv.conf carries it here
    await ready_network(admin, tenant, "blue", dns_ip)
    with contextlib.suppress(AlreadyExists):
        await admin.create(NAMESPACES, {"metadata": {"name": "default"}}, tenant=tenant)
    api_service = await admin.create(SERVICES, {
        "metadata": {"name": "kubernetes-blue", "labels": {NETWORK_LABEL: "blue"}},
        "spec": {"ports": [{"name": "https", "port": 443, "protocol": "TCP", "targetPort": server.port}]}},
        tenant=tenant, namespace="default")
    host = api_service["spec"]["clusterIP"]
    body = pod_body(automountServiceAccountToken=False)
    body["metadata"]["labels"] = {NETWORK_LABEL: "blue"}
    pod = await admin.create(PODS, body, tenant=tenant, namespace=namespace)

    networks = NetworkWatch(node)  # as the kubelet's tenant partition: the node's own identity
    watching = asyncio.create_task(networks.run())
    running = RunningPod(runtime, PodInputs(node, root_dir=tmp_path / "kubelet", node_allocatable=ALLOCATABLE,
                                            cluster_domain="cluster.local"))
    try:
        assert await networks.wait_for_sync(10), "the node may not list Networks"
        async def seen() -> bool:
            return networks.dns_service_ip(tenant, "blue") == dns_ip
        await eventually(seen, "the watch to see network blue's dnsServiceIP")
        await running.start(pod, DnsConfigurer(DnsSettings(("10.0.0.10",), "cluster.local", str(resolv)),
                                               networks=networks))
        assert sorted((await running.read("cat", "/etc/resolv.conf")).splitlines()) == sorted([
            f"search {namespace}.svc.cluster.local svc.cluster.local cluster.local corp.example",
            f"nameserver {dns_ip}", "options ndots:5"])
        env = dict(line.split("=", 1) for line in (await running.read("env")).splitlines() if "=" in line)
        assert (env["KUBERNETES_SERVICE_HOST"], env["KUBERNETES_SERVICE_PORT"]) == (host, "443")
        assert env["KUBERNETES_PORT"] == f"tcp://{host}:443"
        assert not any(name.startswith("KUBERNETES_BLUE_") for name in env)
    finally:
        watching.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await watching
        await running.stop(pod["metadata"]["uid"])
