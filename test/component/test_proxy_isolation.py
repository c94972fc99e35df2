"""Network isolation on a real node: kube-proxy's filter rules between real pods of two tenants.

A TLS API server, a private containerd (bridge ``arktos-iso0``, pods in ``10.157.0.0/16``; the host's
br_netfilter sends the bridged pod-to-pod frames through ``FORWARD``), a kubelet running busybox pods,
and ``python -m proxy`` (chain prefix ``PXI``) as ``system:kube-proxy``. Pods: tenant A's ``a-web``
and ``a-probe`` in network ``default``, A's ``a-blue`` in network ``blue`` (by label), tenant B's
``b-web``, and a "DNS" pod of tenant system's ``kube-system`` labelled ``k8s-app=kube-dns`` (httpd on
53 and 8080). Probe containers ask their targets (pod IPs, Service IPs, NodePorts on the node's
address) in a loop and log ``target ok|no``; the test waits for the whole expected matrix. Covers:
pods of two tenants reach neither each other's pod IPs, Service IPs nor NodePorts; same-network pods
and Services answer; two networks of one tenant are isolated; every pod reaches the DNS pod on 53
(pod IP and Service IP) but not on another port; the node reaches every pod and both NodePorts; with
``--network-isolation=false`` everything answers; ``--cleanup`` leaves no chain or jump of the prefix.
The test writes EndpointSlices itself (as test_proxy_iptables.py). Leaves out: the rule text
(test/unit/test_proxy_isolation_rules.py) and partial syncs (test_proxy_netns.py).
"""

from __future__ import annotations

import asyncio
import contextlib
import random
import subprocess
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
from apiserver_process import start_apiserver
from containerd_env import private_containerd
from kubelet_process import running_kubelet
from proxy_env import NODE, ask, iptables_save, log_tail, pod_ip, start_proxy, stop_and_clean, web_container

from client.config import load_kubeconfig
from client.errors import AlreadyExists
from client.resources import NAMESPACES, NETWORKS, TENANTS
from client.rest import ApiClient
from proxy.isolation import NETWORK_LABEL
from proxy.service import ENDPOINT_SLICES as SLICES
from proxy.service import PODS, SERVICES
from tools.cluster_credentials import primary_ip

pytestmark = [pytest.mark.e2e, pytest.mark.slow]

POD_SUBNET = "10.157.0.0/16"
PREFIX = "PXI"
SERVICE_NET = f"10.158.{random.randint(0, 255)}"
NODE_PORTS = "31500-31799"
A, B, SYSTEM = "iso-a", "iso-b", "system"
NAMESPACE = "web"


@dataclass(frozen=True, slots=True)
class Node:
    certs: Path
    kubelet: Path  # the kubelet's work dir (pod logs under pods/)


@pytest.fixture(scope="module")
def node(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Node]:
    with contextlib.ExitStack() as stack:
        server = start_apiserver(tmp_path_factory.mktemp("apiserver-iso"), tls=True, extra_args=[
            "--service-cluster-ip-range", f"{SERVICE_NET}.0/24", "--service-node-port-range", NODE_PORTS])
        stack.callback(server.stop)
        assert server.credentials is not None
        certs = server.credentials.cert_dir
        containerd = stack.enter_context(private_containerd(
            tmp_path_factory.mktemp("containerd-iso"), pod_subnet=POD_SUBNET, bridge_name="arktos-iso0",
            cgroup_parent="/arktos-iso"))
        work = stack.enter_context(running_kubelet(
            server.url, NODE, f"containerRuntime,container,{containerd.endpoint}",
            tmp_path_factory.mktemp("kubelet-iso"), "--cgroup-root", "/arktos-iso",
            kubeconfig=certs / "kubelet.kubeconfig"))
        yield Node(certs, work)


class ProxyProcess:
    """The proxy under test; restarted with other flags by a test, always cleaned up at the end."""

    def __init__(self, certs: Path, log: Path) -> None:
        self.certs, self.log = certs, log
        self.process: subprocess.Popen[bytes] | None = None

    def start(self, *extra: str) -> None:
        self.stop()
        # A short full-sync period: another cluster's proxy on this host inserting its accept rules
        # ahead of our isolation jump is corrected at our next sync.
        self.process = start_proxy(self.certs, self.log, PREFIX, POD_SUBNET, "--sync-period", "5s", *extra)

    def stop(self) -> None:
        """Stops the process and removes the prefix's rules (``--cleanup``)."""
        if self.process is not None:
            stop_and_clean(self.process, PREFIX)
            self.process = None


@pytest.fixture(scope="module")
def proxy(node: Node, tmp_path_factory: pytest.TempPathFactory) -> Iterator[ProxyProcess]:
    process = ProxyProcess(node.certs, tmp_path_factory.mktemp("proxy-iso") / "kube-proxy.log")
    process.start()
    try:
        yield process
    finally:
        process.stop()


def service_ip(host: int) -> str:
    return f"{SERVICE_NET}.{host}"


def probe_container(targets: list[str]) -> dict[str, Any]:
    """Asks each ``ip:port`` in turn, forever, logging ``ip:port ok`` or ``ip:port no``."""
    ask_one = ("if printf 'GET / HTTP/1.0\\r\\n\\r\\n' | nc -w 2 ${t%:*} ${t#*:} | grep -q .; "
               "then echo $t ok; else echo $t no; fi")
    loop = f"while true; do for t in {' '.join(targets)}; do {ask_one}; done; sleep 0.3; done"
    return {"name": "probe", "image": "busybox:1.36", "command": ["sh", "-c", loop]}


def probe_results(kubelet: Path, pod: str) -> dict[str, str]:
    """The latest ``ok``/``no`` per target in ``pod``'s probe log."""
    latest: dict[str, str] = {}
    for path in sorted((kubelet / "pods").rglob("*.log")):
        if f"_{pod}_" in str(path) and path.parent.name == "probe":
            for line in path.read_text(errors="replace").splitlines():
                parts = line.split()
                if len(parts) >= 2 and parts[-1] in ("ok", "no"):
                    latest[parts[-2]] = parts[-1]
    return latest


async def ensure_namespace(client: ApiClient, tenant: str, namespace: str) -> None:
    if tenant != SYSTEM:
        with contextlib.suppress(AlreadyExists):
            await client.create(TENANTS, {"apiVersion": "v1", "kind": "Tenant", "metadata": {"name": tenant}})
    with contextlib.suppress(AlreadyExists):
        await client.create(NAMESPACES, {"metadata": {"name": namespace}}, tenant=tenant)


async def create_pod(client: ApiClient, tenant: str, namespace: str, name: str,
                     containers: list[dict[str, Any]], labels: dict[str, str]) -> None:
    await client.create(PODS, {"metadata": {"name": name, "labels": {"app": name, **labels}}, "spec": {
        "nodeName": NODE, "terminationGracePeriodSeconds": 1, "containers": containers}},
        tenant=tenant, namespace=namespace)


async def service_to(client: ApiClient, tenant: str, namespace: str, name: str, cluster_ip: str,
                     port: int, target: tuple[str, int], *, node_port: int = 0) -> None:
    """A Service on ``cluster_ip:port`` whose only endpoint is ``target`` (ip, port)."""
    spec: dict[str, Any] = {"clusterIP": cluster_ip,
                            "ports": [{"name": "p", "port": port, "targetPort": target[1]}]}
    if node_port:
        spec["type"] = "NodePort"
        spec["ports"][0]["nodePort"] = node_port
    await client.create(SERVICES, {"metadata": {"name": name}, "spec": spec}, tenant=tenant,
                        namespace=namespace)
    await client.create(SLICES, {
        "apiVersion": "discovery.k8s.io/v1", "kind": "EndpointSlice", "addressType": "IPv4",
        "metadata": {"name": f"{name}-1", "labels": {"kubernetes.io/service-name": name}},
        "ports": [{"name": "p", "port": target[1], "protocol": "TCP"}],
        "endpoints": [{"addresses": [target[0]], "conditions": {"ready": True}}]},
        tenant=tenant, namespace=namespace)


@dataclass(frozen=True, slots=True)
class Cluster:
    ips: dict[str, str]  # pod name -> IP
    node_ports: dict[str, int]  # tenant -> the NodePort of its web Service
    expected: dict[str, dict[str, str]]  # probing pod -> target -> ok|no, with isolation on


def expected_matrix(ips: dict[str, str], node_ports: dict[str, int]) -> dict[str, dict[str, str]]:
    """What each probe must see with isolation on: probing pod -> target -> ok|no."""
    here = primary_ip()
    a_web, a_blue, b_web = f"{ips['a-web']}:8080", f"{ips['a-blue']}:8080", f"{ips['b-web']}:8080"
    a_service, b_service = f"{service_ip(10)}:80", f"{service_ip(11)}:80"
    a_node_port, b_node_port = f"{here}:{node_ports[A]}", f"{here}:{node_ports[B]}"
    # The DNS pod: at its pod IP and through system's Service from every network, not on another port.
    dns = {f"{ips['dns']}:53": "ok", f"{service_ip(12)}:53": "ok", f"{ips['dns']}:8080": "no"}
    a_dns, b_dns = f"{service_ip(13)}:53", f"{service_ip(14)}:53"  # A's and B's kube-dns-default
    return {
        "a-probe": {a_web: "ok", a_service: "ok", a_node_port: "ok", a_dns: "ok",
                    b_web: "no", b_service: "no", b_node_port: "no", a_blue: "no", b_dns: "no", **dns},
        "blue-probe": {a_web: "no", a_service: "no", a_dns: "no", **dns},
        "b-probe": {b_service: "ok", b_dns: "ok", a_web: "no", a_service: "no", a_dns: "no", **dns},
    }


@pytest.fixture(scope="module")
def cluster(node: Node, proxy: ProxyProcess) -> Cluster:
    return asyncio.run(_make_cluster(node))


async def _make_cluster(node: Node) -> Cluster:
    low, high = map(int, NODE_PORTS.split("-"))
    node_ports = dict(zip((A, B), random.sample(range(low, high + 1), 2), strict=True))
    async with ApiClient(load_kubeconfig(node.certs / "admin.kubeconfig")) as client:
        for tenant, namespace in ((A, NAMESPACE), (B, NAMESPACE), (A, "kube-system"), (B, "kube-system"),
                                  (SYSTEM, "kube-system")):
            await ensure_namespace(client, tenant, namespace)
        # A's second network (the API server refuses a pod naming a Network that does not exist).
        blue = {"apiVersion": "arktos.futurewei.com/v1", "kind": "Network", "metadata": {"name": "blue"},
                "spec": {"type": "vpc", "vpcID": "blue"}}
        await client.create(NETWORKS, blue, tenant=A)
        # Pod IPs first (the probes need them), so the probes run in pods of their own.
        web = {"a-web": (A, {}), "a-blue": (A, {NETWORK_LABEL: "blue"}), "b-web": (B, {})}
        for name, (tenant, labels) in web.items():
            await create_pod(client, tenant, NAMESPACE, name, [web_container(name)], labels)
        await create_pod(client, SYSTEM, "kube-system", "dns",
                         [web_container("dns", 53), web_container("dns")], {"k8s-app": "kube-dns"})
        places = {name: (tenant, NAMESPACE) for name, (tenant, _) in web.items()}
        places["dns"] = (SYSTEM, "kube-system")
        found = await asyncio.gather(*(pod_ip(client, tenant, namespace, name, node.kubelet)
                                       for name, (tenant, namespace) in places.items()))
        ips = dict(zip(places, found, strict=True))
        await service_to(client, A, NAMESPACE, "web", service_ip(10), 80, (ips["a-web"], 8080),
                         node_port=node_ports[A])
        await service_to(client, B, NAMESPACE, "web", service_ip(11), 80, (ips["b-web"], 8080),
                         node_port=node_ports[B])
        await service_to(client, SYSTEM, "kube-system", "dns-test", service_ip(12), 53, (ips["dns"], 53))
        # The per-network DNS Services (the network controller's kube-dns-<network>), by hand.
        await service_to(client, A, "kube-system", "kube-dns-default", service_ip(13), 53, (ips["dns"], 53))
        await service_to(client, B, "kube-system", "kube-dns-default", service_ip(14), 53, (ips["dns"], 53))
        expected = expected_matrix(ips, node_ports)
        probes = {"a-probe": (A, {}), "blue-probe": (A, {NETWORK_LABEL: "blue"}), "b-probe": (B, {})}
        for name, (tenant, labels) in probes.items():
            await create_pod(client, tenant, NAMESPACE, name, [probe_container(list(expected[name]))], labels)
        for name, (tenant, _) in probes.items():
            ips[name] = await pod_ip(client, tenant, NAMESPACE, name, node.kubelet)
    return Cluster(ips, node_ports, expected)


async def until_probes_see(node: Node, proxy: ProxyProcess, expected: dict[str, dict[str, str]]) -> None:
    def seen() -> dict[str, dict[str, str]]:
        return {pod: {t: probe_results(node.kubelet, pod).get(t, "?") for t in targets}
                for pod, targets in expected.items()}

    for _ in range(240):
        if seen() == expected:
            return
        await asyncio.sleep(0.5)
    raise AssertionError(f"probes saw {seen()}\nexpected {expected}\n{log_tail(proxy.log)}")


async def test_tenants_and_networks_reach_only_their_own_pods_and_services_and_dns(
        node: Node, proxy: ProxyProcess, cluster: Cluster) -> None:
    await until_probes_see(node, proxy, cluster.expected)
    filter_table = iptables_save("filter")
    assert f"-j {PREFIX}-ISOLATION" in filter_table and f":{PREFIX}-NET-" in filter_table


async def test_the_node_reaches_every_pod_and_every_node_port(node: Node, proxy: ProxyProcess,
                                                               cluster: Cluster) -> None:
    for name in ("a-web", "a-blue", "b-web", "dns"):
        assert await ask(cluster.ips[name], 8080) == name
    assert await ask(cluster.ips["dns"], 53) == "dns"
    assert await ask(primary_ip(), cluster.node_ports[A]) == "a-web"
    assert await ask(primary_ip(), cluster.node_ports[B]) == "b-web"


async def test_without_isolation_every_pod_reaches_every_other(node: Node, proxy: ProxyProcess,
                                                               cluster: Cluster) -> None:
    proxy.start("--network-isolation=false")
    everything = {pod: dict.fromkeys(targets, "ok") for pod, targets in cluster.expected.items()}
    await until_probes_see(node, proxy, everything)
    assert f"{PREFIX}-ISOLATION" not in iptables_save("filter")
    proxy.start()  # on again: the matrix comes back
    await until_probes_see(node, proxy, cluster.expected)


async def test_cleanup_leaves_no_chain_or_jump_of_the_prefix(proxy: ProxyProcess, cluster: Cluster) -> None:
    assert f"{PREFIX}-ISOLATION" in iptables_save("filter")
    proxy.stop()
    for table in ("filter", "nat"):
        assert f"{PREFIX}-" not in iptables_save(table)
