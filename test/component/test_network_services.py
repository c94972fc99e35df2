"""Tenant Networks' Service ranges and their DNS/API Services, with a real API server and controller manager.

One TLS API server (its own cluster range, node-port range and --network-service-cidr-pool) and
``python -m controllers`` with arktos-up's controller.kubeconfig, each controller as its own
service account (the network controller's RBAC is exercised), controllers tenant, namespace and
network. System's ``kube-system/kube-dns`` is made here as the DNS add-on would (a selectorless
Service at the range's 10th address with an EndpointSlice), system's ``kubernetes`` Service by
the API server itself (--advertise-address).
Covers: a new tenant's default network becomes Ready with a dnsServiceIP (.10) inside its /24;
kube-dns-default and kubernetes-default mirror system's endpoints (and follow them when they
change), then nothing is rewritten; a Service of the tenant gets an address in that /24, two
tenants' ranges are disjoint, a vpc network gets its own; External cidrs overlapping another
network are refused (422); a Service or pod naming a missing network is refused (422);
spec.service is immutable; system's default network is ipam Kubernetes, Ready with kube-dns's
address; stock kubectl shows the printer columns; deleting a network removes its Services and
frees its range for the next one.
Leaves out: kube-proxy, DNS answers, pods on nodes (test/e2e).
"""

from __future__ import annotations

import asyncio
import ipaddress
import uuid
from collections.abc import AsyncIterator, Awaitable, Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
from apiserver_process import ApiServerProcess, log_tail, start_apiserver, stop_process
from kubectl_binaries import kubectl_binary
from kubectl_runner import Kubectl
from kubernetes import client as k8s
from kubernetes import config as k8s_config
from kubernetes.client.rest import ApiException
from test_tenant_controller import start_controller_manager

from client import errors
from client.config import load_kubeconfig
from client.resources import NETWORKS, TENANTS, ResourceRef
from client.rest import ApiClient
from server.serving import default_advertise_address

CLUSTER_RANGE = "10.232.0.0/24"
POOL = "10.233.0.0/20"  # sixteen /24s: enough for this module's networks
ADVERTISE = default_advertise_address("0.0.0.0")  # a loopback one is never listed (ValidateNonSpecialIP)
LABEL = "arktos.futurewei.com/network"
SERVICES = ResourceRef("", "v1", "services", "Service")
SLICES = ResourceRef("discovery.k8s.io", "v1", "endpointslices", "EndpointSlice")
PODS = ResourceRef("", "v1", "pods", "Pod")
WAIT_S = 30.0


@pytest.fixture(scope="module")
def apiserver(tmp_path_factory: pytest.TempPathFactory) -> Iterator[ApiServerProcess]:
    server = start_apiserver(tmp_path_factory.mktemp("netsvc"), tls=True, extra_args=[
        "--service-cluster-ip-range", CLUSTER_RANGE, "--service-node-port-range", "31240-31249",
        "--network-service-cidr-pool", POOL, "--advertise-address", ADVERTISE])
    try:
        yield server
    finally:
        server.stop()


@pytest.fixture(scope="module")
def controller_manager(apiserver: ApiServerProcess,
                       tmp_path_factory: pytest.TempPathFactory) -> Iterator[Path]:
    assert apiserver.credentials is not None
    log_path = tmp_path_factory.mktemp("kcm") / "kube-controller-manager.log"
    process = start_controller_manager(apiserver.credentials.cert_dir / "controller.kubeconfig", log_path,
                                       "--use-service-account-credentials",
                                       "--controllers", "tenant,namespace,network")
    try:
        yield log_path
    finally:
        code = stop_process(process)
        assert code == 0, f"controller manager exited {code}:\n{log_tail(log_path)}"


@pytest.fixture
async def client(apiserver: ApiServerProcess, controller_manager: Path) -> AsyncIterator[ApiClient]:
    async with ApiClient(load_kubeconfig(apiserver.kubeconfig)) as api_client:
        await _system_dns(api_client, controller_manager)
        yield api_client


async def eventually(check: Callable[[], Awaitable[Any]], what: str, log_path: Path) -> Any:
    for _ in range(int(WAIT_S / 0.2)):
        try:
            found = await check()
        except (AssertionError, errors.NotFound):
            found = None
        if found:
            return found
        await asyncio.sleep(0.2)
    pytest.fail(f"not within {WAIT_S}s: {what}\ncontroller log:\n{log_tail(log_path)}")


async def _system_dns(client: ApiClient, log_path: Path) -> None:
    """System's kube-dns as the DNS add-on makes it (once per module)."""
    await eventually(lambda: client.get(ResourceRef("", "v1", "namespaces", "Namespace"), "kube-system",
                                        tenant="system"), "system's kube-system namespace", log_path)
    try:
        await client.get(SERVICES, "kube-dns", tenant="system", namespace="kube-system")
        return
    except errors.NotFound:
        pass
    try:
        await client.create(SERVICES, {"metadata": {"name": "kube-dns"}, "spec": {
            "clusterIP": "10.232.0.10", "ports": [{"name": "dns", "port": 53, "protocol": "UDP"},
                                                  {"name": "dns-tcp", "port": 53, "protocol": "TCP"}]}},
            tenant="system", namespace="kube-system")
        await client.create(SLICES, dns_slice(["10.88.0.5"]), tenant="system", namespace="kube-system")
    except errors.AlreadyExists:
        pass


def dns_slice(addresses: list[str]) -> dict[str, Any]:
    return {"apiVersion": "discovery.k8s.io/v1", "kind": "EndpointSlice", "addressType": "IPv4",
            "metadata": {"name": "kube-dns-abcde", "labels": {"kubernetes.io/service-name": "kube-dns"}},
            "endpoints": [{"addresses": [a], "conditions": {"ready": True}} for a in addresses],
            "ports": [{"name": "dns", "port": 5353, "protocol": "UDP"},
                      {"name": "dns-tcp", "port": 5353, "protocol": "TCP"}]}


async def new_tenant(client: ApiClient, log_path: Path) -> tuple[str, dict[str, Any]]:
    """A fresh tenant and its default network once Ready."""
    tenant = f"net-{uuid.uuid4().hex[:6]}"
    await client.create(TENANTS, {"apiVersion": "v1", "kind": "Tenant", "metadata": {"name": tenant}})
    return tenant, await ready(client, tenant, "default", log_path)


async def ready(client: ApiClient, tenant: str, name: str, log_path: Path) -> dict[str, Any]:
    async def check() -> dict[str, Any] | None:
        got = await client.get(NETWORKS, name, tenant=tenant)
        return got if (got.get("status") or {}).get("phase") == "Ready" else None
    found: dict[str, Any] = await eventually(check, f"network {tenant}/{name} Ready", log_path)
    return found


def cidr_of(network: dict[str, Any]) -> ipaddress.IPv4Network:
    cidrs = network["spec"]["service"]["cidrs"]
    assert len(cidrs) == 1
    return ipaddress.IPv4Network(cidrs[0])


def network(name: str, **service: Any) -> dict[str, Any]:
    return {"apiVersion": "arktos.futurewei.com/v1", "kind": "Network", "metadata": {"name": name},
            "spec": {"type": "vpc", "vpcID": name, **({"service": service} if service else {})}}


def service(name: str, network_name: str | None = None) -> dict[str, Any]:
    labels = {LABEL: network_name} if network_name else {}
    return {"metadata": {"name": name, "labels": labels},
            "spec": {"ports": [{"port": 80}], "selector": {"app": name}}}


async def mirrored(client: ApiClient, tenant: str, namespace: str, name: str) -> list[str]:
    slice_ = await client.get(SLICES, name, tenant=tenant, namespace=namespace)
    return sorted(a for e in slice_.get("endpoints") or () for a in e["addresses"])


async def test_a_new_tenants_default_network_gets_its_range_dns_and_api_services(
        client: ApiClient, controller_manager: Path) -> None:
    tenant, default = await new_tenant(client, controller_manager)
    cidr = cidr_of(default)
    assert cidr.subnet_of(ipaddress.IPv4Network(POOL)) and cidr.prefixlen == 24
    assert default["spec"]["service"]["ipam"] == "Arktos"
    assert default["status"]["dnsServiceIP"] == str(cidr[10])
    dns = await client.get(SERVICES, "kube-dns-default", tenant=tenant, namespace="kube-system")
    api = await client.get(SERVICES, "kubernetes-default", tenant=tenant, namespace="default")
    assert dns["spec"]["clusterIP"] == str(cidr[10]) and api["spec"]["clusterIP"] == str(cidr[1])
    assert dns["metadata"]["labels"][LABEL] == api["metadata"]["labels"][LABEL] == "default"
    assert "selector" not in dns["spec"] and "selector" not in api["spec"]
    # Endpoints mirror system's: the DNS pods, the API server's advertise address.
    assert await eventually(lambda: mirrored(client, tenant, "kube-system", "kube-dns-default"),
                            "kube-dns-default endpoints", controller_manager) == ["10.88.0.5"]
    assert await mirrored(client, tenant, "default", "kubernetes-default") == [ADVERTISE]
    ports = (await client.get(SLICES, "kube-dns-default", tenant=tenant, namespace="kube-system"))["ports"]
    assert sorted((p["name"], p["port"], p["protocol"]) for p in ports) == [("dns", 5353, "UDP"),
                                                                            ("dns-tcp", 5353, "TCP")]
    # ... and follow them.
    source = await client.get(SLICES, "kube-dns-abcde", tenant="system", namespace="kube-system")
    await client.update(SLICES, {**dns_slice(["10.88.0.5", "10.88.0.6"]), "metadata": source["metadata"]})

    async def follows() -> bool:
        return await mirrored(client, tenant, "kube-system", "kube-dns-default") == ["10.88.0.5", "10.88.0.6"]
    await eventually(follows, "kube-dns-default follows system's kube-dns endpoints", controller_manager)

    async def versions() -> list[str]:
        return [(await client.get(resource, name, tenant=tenant,
                                  namespace=namespace))["metadata"]["resourceVersion"]
                for resource, name, namespace in ((SLICES, "kube-dns-default", "kube-system"),
                                                  (SERVICES, "kube-dns-default", "kube-system"),
                                                  (NETWORKS, "default", None))]
    settled = await versions()
    await asyncio.sleep(1.0)
    assert await versions() == settled, "the controller keeps rewriting what it already wrote"
    # A Service of the tenant gets an address of its network.
    web = await client.create(SERVICES, service("web"), tenant=tenant, namespace="default")
    assert ipaddress.IPv4Address(web["spec"]["clusterIP"]) in cidr


async def test_networks_are_disjoint_and_a_vpc_network_gets_its_own_range(
        client: ApiClient, controller_manager: Path) -> None:
    first, first_default = await new_tenant(client, controller_manager)
    second, second_default = await new_tenant(client, controller_manager)
    await client.create(NETWORKS, network("blue"), tenant=first)
    blue = await ready(client, first, "blue", controller_manager)
    ranges = [cidr_of(first_default), cidr_of(second_default), cidr_of(blue)]
    assert not any(a.overlaps(b) for i, a in enumerate(ranges) for b in ranges[i + 1:]), ranges
    in_blue = await client.create(SERVICES, service("api", "blue"), tenant=first, namespace="default")
    assert ipaddress.IPv4Address(in_blue["spec"]["clusterIP"]) in ranges[2]
    assert blue["status"]["dnsServiceIP"] == str(ranges[2][10])
    # External: the cidrs given, refused when they overlap another network's or the pool.
    await client.create(NETWORKS, network("ext", ipam="External", cidrs=["10.234.0.0/24"]), tenant=second)
    ext = await ready(client, second, "ext", controller_manager)
    assert ext["status"]["dnsServiceIP"] == "10.234.0.10"
    for cidr, why in (("10.234.0.128/25", "overlaps 10.234.0.0/24, the service CIDR of another network"),
                      (str(ranges[0]), f"overlaps the network service CIDR pool {POOL}")):
        with pytest.raises(errors.ApiError) as refused:
            await client.create(NETWORKS, network("ext2", ipam="External", cidrs=[cidr]), tenant=first)
        assert refused.value.code == 422
        assert f'spec.service.cidrs[0]: Invalid value: "{cidr}": {why}' in str(refused.value)
    # spec.service cannot change.
    ext["spec"]["service"] = {"ipam": "External", "cidrs": ["10.234.1.0/24"]}
    with pytest.raises(errors.ApiError, match="field is immutable") as immutable:
        await client.update(NETWORKS, ext)
    assert immutable.value.code == 422
    # A missing network is refused for Services and pods.
    for resource, body in ((SERVICES, service("x", "nope")),
                           (PODS, {"metadata": {"name": "p", "labels": {LABEL: "nope"}},
                                   "spec": {"containers": [{"name": "c", "image": "busybox"}]}})):
        with pytest.raises(errors.ApiError) as missing:
            await client.create(resource, body, tenant=first, namespace="default")
        assert missing.value.code == 422
        assert "metadata.labels: Invalid value" in str(missing.value)
        assert "does not exist" in str(missing.value)


async def test_deleting_a_network_removes_its_services_and_frees_its_range(
        client: ApiClient, controller_manager: Path) -> None:
    tenant, _ = await new_tenant(client, controller_manager)
    await client.create(NETWORKS, network("doomed"), tenant=tenant)
    doomed = await ready(client, tenant, "doomed", controller_manager)
    freed = cidr_of(doomed)
    await client.delete(NETWORKS, "doomed", tenant=tenant)

    async def gone() -> bool:
        for name, namespace in (("kube-dns-doomed", "kube-system"), ("kubernetes-doomed", "default")):
            for resource in (SERVICES, SLICES):
                try:
                    await client.get(resource, name, tenant=tenant, namespace=namespace)
                    return False
                except errors.NotFound:
                    pass
        return True
    await eventually(gone, "the doomed network's Services and slices deleted", controller_manager)
    # The freed /24 (the lowest free one) is the next network's, its .10 free again for its DNS.
    await client.create(NETWORKS, network("reborn"), tenant=tenant)
    reborn = await ready(client, tenant, "reborn", controller_manager)
    assert cidr_of(reborn) == freed
    assert reborn["status"]["dnsServiceIP"] == str(freed[10])


async def test_system_default_network_and_kubectl_columns(
        apiserver: ApiServerProcess, controller_manager: Path, client: ApiClient, tmp_path: Path) -> None:
    """Stock kubectl and the python client as system's admin."""
    await ready(client, "system", "default", controller_manager)
    await asyncio.to_thread(_as_system_admin, apiserver, tmp_path)


def _as_system_admin(apiserver: ApiServerProcess, tmp_path: Path) -> None:
    with k8s_config.new_client_from_config(config_file=str(apiserver.kubeconfig)) as api:
        custom = k8s.CustomObjectsApi(api)
        system_default: Any = custom.get_cluster_custom_object("arktos.futurewei.com", "v1", "networks",
                                                               "default")
        assert system_default["spec"]["service"] == {"ipam": "Kubernetes"}, system_default
        assert system_default["status"]["dnsServiceIP"] == "10.232.0.10"
        core = k8s.CoreV1Api(api)
        with pytest.raises(ApiException) as refused:
            core.create_namespaced_service("default", k8s.V1Service(
                metadata=k8s.V1ObjectMeta(name="lost", labels={LABEL: "nope"}),
                spec=k8s.V1ServiceSpec(ports=[k8s.V1ServicePort(port=80)])))
        assert refused.value.status == 422
        system_web = core.create_namespaced_service("default", k8s.V1Service(
            metadata=k8s.V1ObjectMeta(name="sysweb"),
            spec=k8s.V1ServiceSpec(ports=[k8s.V1ServicePort(port=80)])))
        assert system_web.spec is not None
        assert ipaddress.IPv4Address(system_web.spec.cluster_ip) in ipaddress.IPv4Network(CLUSTER_RANGE)
    kubectl = Kubectl(kubectl_binary("kubectl-1.37"), apiserver.kubeconfig, tmp_path / "cache",
                      "kubectl-1.37")
    table = kubectl.run("get", "net").stdout.splitlines()
    # System's admin sees every tenant's networks; an empty VPC cell is blank.
    assert table[0].split() == ["TENANT", "NAME", "TYPE", "VPC", "PHASE", "DNS"], table
    rows = [line.split() for line in table[1:]]
    assert ["system", "default", "flat", "Ready", "10.232.0.10"] in rows, table
    assert any(row[1:4] == ["blue", "vpc", "blue"] and row[4] == "Ready" for row in rows), table
