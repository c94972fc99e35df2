"""Service ClusterIPs and node ports, and the `kubernetes` Service, on real API server processes.

Covers, with stock kubectl and the python client against `python -m server` (TLS, its own service
CIDR and node-port range, advertising the host's default-route address, as arktos-up does — a
loopback one may not be listed: upstream's ValidateNonSpecialIP): `kubectl expose` and `kubectl create
service` get an address from the range and `kubectl get svc` prints CLUSTER-IP and
`80:<nodePort>/TCP` as upstream; requested addresses and node ports are honoured, or refused when
out of range or taken with upstream's 422 texts; headless and ExternalName get none; type changes
allocate and release; a deleted Service's address is reusable at once; the `kubernetes` Service
(first address, https 443 → the secure port) with Endpoints and an EndpointSlice listing the
advertise address, on which the server answers too; the repair loop frees an address leaked in
the store; two servers on one etcd racing creates never share an address, both are listed as
endpoints, and one that stops drops out.
Leaves out: allocation corner cases without processes (test/unit/test_service_allocation.py) and
routing the addresses (kube-proxy's tests).
"""

from __future__ import annotations

import asyncio
import http.client
import json
import ssl
import time
import uuid
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any, TypeVar

import orjson
import pytest
from apiserver_process import (
    E2E_NODE_NAME,
    ApiServerProcess,
    admin_ssl_context,
    free_port,
    start_apiserver,
)
from etcd_process import running_etcd
from kubectl_binaries import kubectl_binary
from kubectl_runner import Kubectl
from kubernetes import client as k8s
from kubernetes import config as k8s_config
from kubernetes.client.rest import ApiException

from server.serving import default_advertise_address
from server.storage import open_backend
from tools.cluster_credentials import ensure_cluster_credentials

CIDR = "10.231.0.0/24"
PORTS = "31200-31219"
ADVERTISE = default_advertise_address("0.0.0.0")
WAIT_S = 30.0
T = TypeVar("T")


def eventually(check: Callable[[], T], *, timeout: float = WAIT_S) -> T:
    deadline = time.monotonic() + timeout
    while True:
        try:
            return check()
        except (AssertionError, ApiException):
            if time.monotonic() > deadline:
                raise
        time.sleep(0.2)


def server_args(*extra: str) -> list[str]:
    return ["--service-cluster-ip-range", CIDR, "--service-node-port-range", PORTS,
            "--advertise-address", ADVERTISE, *extra]


@pytest.fixture(scope="module")
def apiserver(tmp_path_factory: pytest.TempPathFactory) -> Iterator[ApiServerProcess]:
    server = start_apiserver(tmp_path_factory.mktemp("svcip"), tls=True, extra_args=server_args())
    try:
        yield server
    finally:
        server.stop()


@pytest.fixture(scope="module")
def core(apiserver: ApiServerProcess) -> Iterator[k8s.CoreV1Api]:
    with k8s_config.new_client_from_config(config_file=str(apiserver.kubeconfig)) as api:
        yield k8s.CoreV1Api(api)


@pytest.fixture
def namespace(core: k8s.CoreV1Api) -> str:
    name = f"svc-{uuid.uuid4().hex[:8]}"
    core.create_namespace({"metadata": {"name": name}})
    return name


@pytest.fixture
def kubectl(apiserver: ApiServerProcess, tmp_path: Path) -> Kubectl:
    return Kubectl(kubectl_binary("kubectl-1.37"), apiserver.kubeconfig, tmp_path / "cache", "kubectl-1.37")


def body(name: str, **spec: Any) -> dict[str, Any]:
    return {"metadata": {"name": name}, "spec": {"ports": [{"port": 80}], "selector": {"app": name}, **spec}}


def refusal(call: Callable[[], Any]) -> str:
    with pytest.raises(ApiException) as refused:
        call()
    assert refused.value.status == 422, refused.value.body
    return str(json.loads(refused.value.body)["message"])


def in_range(ip: str) -> bool:
    return ip.startswith("10.231.0.") and ip not in ("10.231.0.0", "10.231.0.255")


def test_kubectl_expose_gets_an_address_and_get_svc_prints_it(kubectl: Kubectl, namespace: str) -> None:
    kubectl.run("create", "deployment", "web", "--image=nginx", "-n", namespace)
    kubectl.run("expose", "deploy/web", "--port", "80", "-n", namespace)
    kubectl.run("create", "service", "nodeport", "np", "--tcp=80:8080", "--node-port=31205", "-n", namespace)
    web = kubectl.json("get", "svc", "web", "-n", namespace)["spec"]
    assert in_range(web["clusterIP"]) and web["clusterIPs"] == [web["clusterIP"]]
    assert web["ipFamilies"] == ["IPv4"] and web["ipFamilyPolicy"] == "SingleStack"
    table = kubectl.run("get", "svc", "-n", namespace).stdout.splitlines()
    assert table[0].split() == ["NAME", "TYPE", "CLUSTER-IP", "EXTERNAL-IP", "PORT(S)", "AGE"]
    rows = {line.split()[0]: line.split() for line in table[1:]}
    assert rows["web"][1:5] == ["ClusterIP", web["clusterIP"], "<none>", "80/TCP"]
    assert rows["np"][1] == "NodePort" and in_range(rows["np"][2]) and rows["np"][4] == "80:31205/TCP"


def test_requested_addresses_and_ports_are_honoured_or_refused(core: k8s.CoreV1Api, namespace: str) -> None:
    got = core.create_namespaced_service(namespace, body("a", type="NodePort", clusterIP="10.231.0.11",
                                                         ports=[{"port": 80, "nodePort": 31210}]))
    assert got.spec.cluster_ip == "10.231.0.11" and got.spec.ports[0].node_port == 31210
    assert refusal(lambda: core.create_namespaced_service(namespace, body("b", clusterIP="10.9.9.9"))) == (
        'Service "b" is invalid: spec.clusterIPs: Invalid value: ["10.9.9.9"]: failed to allocate IP '
        "10.9.9.9: provided IP is not in the valid range. The range of valid IPs is 10.231.0.0/24")
    assert refusal(lambda: core.create_namespaced_service(namespace, body("b", clusterIP="10.231.0.11"))) == (
        'Service "b" is invalid: spec.clusterIPs: Invalid value: ["10.231.0.11"]: failed to allocate IP '
        "10.231.0.11: provided IP is already allocated")
    taken = body("b", type="NodePort", ports=[{"port": 80, "nodePort": 31210}])
    assert refusal(lambda: core.create_namespaced_service(namespace, taken)) == (
        'Service "b" is invalid: spec.ports[0].nodePort: Invalid value: 31210: '
        "provided port is already allocated")
    outside = body("b", type="NodePort", ports=[{"port": 80, "nodePort": 30080}])
    assert refusal(lambda: core.create_namespaced_service(namespace, outside)) == (
        'Service "b" is invalid: spec.ports[0].nodePort: Invalid value: 30080: '
        "provided port is not in the valid range. The range of valid ports is 31200-31219")


def test_headless_and_external_name_get_no_address(core: k8s.CoreV1Api, namespace: str) -> None:
    headless = core.create_namespaced_service(namespace, body("h", clusterIP="None"))
    assert headless.spec.cluster_ip == "None" and headless.spec.cluster_ips == ["None"]
    external = core.create_namespaced_service(namespace, {"metadata": {"name": "x"}, "spec": {
        "type": "ExternalName", "externalName": "example.com"}})
    assert external.spec.cluster_ip is None and external.spec.ip_families is None
    wrong = {"metadata": {"name": "y"}, "spec": {"type": "ExternalName", "externalName": "example.com",
                                                  "clusterIP": "10.231.0.12"}}
    assert "spec.clusterIPs: Forbidden: may not be set for ExternalName services" in \
        refusal(lambda: core.create_namespaced_service(namespace, wrong))


def test_type_changes_allocate_and_release(core: k8s.CoreV1Api, namespace: str) -> None:
    made = core.create_namespaced_service(namespace, body("t", clusterIP="10.231.0.13"))
    assert made.spec.ports[0].node_port is None
    node = core.patch_namespaced_service("t", namespace, {"spec": {"type": "NodePort"}})
    node_port = node.spec.ports[0].node_port
    assert 31200 <= node_port <= 31219
    assert "may not change once set" in refusal(lambda: core.patch_namespaced_service(
        "t", namespace, {"spec": {"clusterIP": "10.231.0.14", "clusterIPs": ["10.231.0.14"]}}))
    back = core.patch_namespaced_service("t", namespace, {"spec": {"type": "ClusterIP"}})
    assert back.spec.ports[0].node_port is None and back.spec.cluster_ip == "10.231.0.13"
    reused = core.create_namespaced_service(namespace, body("u", type="NodePort",
                                                            ports=[{"port": 80, "nodePort": node_port}]))
    assert reused.spec.ports[0].node_port == node_port
    external = core.patch_namespaced_service("t", namespace, {"spec": {
        "type": "ExternalName", "externalName": "example.com", "selector": None}})
    assert external.spec.cluster_ip is None
    again = core.create_namespaced_service(namespace, body("v", clusterIP="10.231.0.13"))
    assert again.spec.cluster_ip == "10.231.0.13"


def test_a_deleted_services_address_is_reusable_at_once(core: k8s.CoreV1Api, namespace: str) -> None:
    core.create_namespaced_service(namespace, body("d", type="NodePort", clusterIP="10.231.0.15",
                                                   ports=[{"port": 80, "nodePort": 31211}]))
    core.delete_namespaced_service("d", namespace)
    again = core.create_namespaced_service(namespace, body("e", type="NodePort", clusterIP="10.231.0.15",
                                                           ports=[{"port": 80, "nodePort": 31211}]))
    assert again.spec.cluster_ip == "10.231.0.15" and again.spec.ports[0].node_port == 31211


def answers_readyz(address: str, port: int, context: ssl.SSLContext) -> bool:
    connection = http.client.HTTPSConnection(address, port, timeout=5, context=context)
    try:
        connection.request("GET", "/readyz")
        return connection.getresponse().status == 200
    finally:
        connection.close()


def test_the_kubernetes_service_lists_the_advertise_address(apiserver: ApiServerProcess,
                                                            kubectl: Kubectl) -> None:
    service = kubectl.json("get", "svc", "kubernetes", "-n", "default")
    assert service["spec"]["clusterIP"] == "10.231.0.1"
    assert service["spec"]["ports"] == [{"name": "https", "port": 443, "protocol": "TCP",
                                         "targetPort": apiserver.port}]
    endpoints = kubectl.json("get", "endpoints", "kubernetes", "-n", "default")
    assert endpoints["subsets"] == [{"addresses": [{"ip": ADVERTISE}],
                                     "ports": [{"name": "https", "port": apiserver.port, "protocol": "TCP"}]}]
    slices = kubectl.json("get", "endpointslices", "-n", "default",
                          "-l", "kubernetes.io/service-name=kubernetes")
    assert [s["metadata"]["name"] for s in slices["items"]] == ["kubernetes"]
    assert slices["items"][0]["addressType"] == "IPv4"
    assert slices["items"][0]["endpoints"] == [{"addresses": [ADVERTISE], "conditions": {"ready": True}}]
    assert slices["items"][0]["ports"] == [{"name": "https", "port": apiserver.port, "protocol": "TCP"}]
    assert apiserver.credentials is not None
    context = admin_ssl_context(apiserver.credentials)
    context.check_hostname = False  # the test certificate names 127.0.0.1 only
    assert answers_readyz(ADVERTISE, apiserver.port, context)


def test_repair_frees_an_address_leaked_in_the_store(tmp_path: Path) -> None:
    server = start_apiserver(tmp_path, tls=True,
                             extra_args=server_args("--service-allocation-repair-interval", "1s"))
    server.stop()
    leak = orjson.dumps({"kind": "ServiceAllocation", "metadata": {"name": "10.231.0.16"}, "created": 0,
                         "holder": {"tenant": "system", "namespace": "default", "name": "gone", "uid": "x"}})

    async def write_leak() -> None:
        backend = open_backend(f"sqlite:///{server.data_dir / 'arktos.db'}")
        await backend.start()
        try:
            await backend.create("/registry/serviceips/10.231.0.16", leak)
        finally:
            await backend.close()

    asyncio.run(write_leak())
    server.start()
    try:
        with k8s_config.new_client_from_config(config_file=str(server.kubeconfig)) as api:
            core = k8s.CoreV1Api(api)
            leaked = body("r", clusterIP="10.231.0.16")
            got = eventually(lambda: core.create_namespaced_service("default", leaked))
            assert got.spec.cluster_ip == "10.231.0.16"
    finally:
        server.stop()


def _create_through(server: ApiServerProcess, name: str) -> dict[str, Any]:
    connection = server.http_connection(timeout=30)
    try:
        connection.request("POST", "/api/v1/namespaces/default/services", body=orjson.dumps(body(name)),
                           headers={"Content-Type": "application/json"})
        response = connection.getresponse()
        data = response.read()
        assert response.status == 201, data
        result: dict[str, Any] = orjson.loads(data)
        return result
    finally:
        connection.close()


def _slice_endpoints(server: ApiServerProcess) -> set[tuple[str, int]]:
    connection = server.http_connection(timeout=10)
    try:
        connection.request("GET", "/apis/discovery.k8s.io/v1/namespaces/default/endpointslices"
                                  "?labelSelector=kubernetes.io/service-name%3Dkubernetes")
        items = orjson.loads(connection.getresponse().read())["items"]
    finally:
        connection.close()
    return {(address, port["port"]) for item in items for endpoint in item["endpoints"]
            for address in endpoint["addresses"] for port in item["ports"]}


@pytest.mark.slow
def test_two_servers_on_one_etcd_never_share_an_address(tmp_path: Path) -> None:
    credentials = ensure_cluster_credentials(tmp_path / "certs", server="https://127.0.0.1:1",
                                             hosts=["127.0.0.1"], node_name=E2E_NODE_NAME)
    with running_etcd(tmp_path / "etcd") as etcd:
        servers = []
        try:
            for index in range(2):
                server = ApiServerProcess(
                    port=free_port(), data_dir=tmp_path / f"s{index}", log_path=tmp_path / f"s{index}.log",
                    kubeconfig=credentials.admin_kubeconfig, credentials=credentials,
                    extra_args=(*server_args(), "--storage", etcd.storage_url))
                servers.append(server.start())
            names = [(servers[i % 2], f"race-{i}") for i in range(40)]
            with ThreadPoolExecutor(max_workers=16) as pool:
                made = list(pool.map(lambda job: _create_through(*job), names))
            ips = [service["spec"]["clusterIP"] for service in made]
            assert len(set(ips)) == len(ips) == 40 and all(in_range(ip) for ip in ips)
            both = {(ADVERTISE, server.port) for server in servers}

            def lists(expected: set[tuple[str, int]]) -> None:
                assert _slice_endpoints(servers[0]) == expected

            eventually(lambda: lists(both))
            servers[1].stop()
            eventually(lambda: lists({(ADVERTISE, servers[0].port)}))
        finally:
            for server in servers:
                server.stop()
