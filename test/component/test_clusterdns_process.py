"""`python -m clusterdns` as a real process against a real API server process (TLS, the service
account and RBAC objects of cluster/addons/dns, a TokenRequest token): it answers what the API
holds and follows changes through its watch; answers are scoped to the tenant and network of the
pod whose address asks (pods with loopback podIPs, set through the status subresource as a kubelet
would; Networks made Ready through theirs, as the Network controller would);
other names go to a fake upstream (dnslib's server); /health and /ready answer. Leaves out
arktos-up and pods in a real network (the e2e room's test)."""

from __future__ import annotations

import ipaddress
import json
import random
import socket
import ssl
import struct
import subprocess
import sys
import time
import urllib.request
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
import yaml
from dnslib import QTYPE, RCODE, RR, A, DNSRecord
from dnslib.server import BaseResolver, DNSLogger, DNSServer

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "e2e"))
from apiserver_process import REPO_ROOT, ApiServerProcess, free_port, log_tail, start_apiserver, stop_process
from component_http import https_call

DOMAIN = "cluster.local"
# Loopback addresses of this run's "pods" (all of 127/8 is local): random, so parallel runs differ.
NET = f"127.{random.randint(1, 254)}.{random.randint(1, 254)}"
POD_A, POD_B, NO_POD = f"{NET}.2", f"{NET}.3", f"{NET}.9"
POD_C, POD_C_BLUE, POD_D = f"{NET}.4", f"{NET}.5", f"{NET}.6"
NETWORK_LABEL = "arktos.futurewei.com/network"


class Upstream(BaseResolver):  # type: ignore[misc]
    def resolve(self, request: DNSRecord, handler: Any) -> DNSRecord:
        reply = request.reply()
        reply.add_answer(RR(request.q.qname, QTYPE.A, rdata=A("192.0.2.80"), ttl=60))
        return reply


@dataclass
class Cluster:
    api: ApiServerProcess
    context: ssl.SSLContext
    dns_port: int
    ready_port: int
    health_port: int
    dns_log: Path

    def call(self, method: str, path: str, body: Any = None, *, ok: tuple[int, ...] = (200, 201)) -> Any:
        status, raw = https_call(self.api.port, self.context, method, path, body=body)
        assert status in ok, f"{method} {path} -> {status}: {raw[:1000]!r}"
        return json.loads(raw) if raw else None


def query(port: int, name: str, qtype: str = "A", *, source: str = "127.0.0.1",
          tcp: bool = False) -> DNSRecord:
    """One question to the DNS process from ``source`` (dnslib encodes; the socket picks the address)."""
    packet = DNSRecord.question(name, qtype).pack()
    if tcp:
        with socket.create_connection(("127.0.0.1", port), timeout=5, source_address=(source, 0)) as conn:
            conn.sendall(struct.pack("!H", len(packet)) + packet)
            (length,) = struct.unpack("!H", conn.recv(2, socket.MSG_WAITALL))
            return DNSRecord.parse(conn.recv(length, socket.MSG_WAITALL))
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as sock:
        sock.settimeout(5)
        sock.bind((source, 0))
        sock.sendto(packet, ("127.0.0.1", port))
        return DNSRecord.parse(sock.recv(65535))


def addresses(reply: DNSRecord) -> list[str]:
    return sorted(str(r.rdata) for r in reply.rr)


def eventually(check: Callable[[], Any], *, within: float = 10.0) -> None:
    """``check`` stops failing within the time (the DNS process learns through its watch)."""
    deadline = time.monotonic() + within
    while True:
        try:
            check()
            return
        except AssertionError:
            if time.monotonic() > deadline:
                raise
            time.sleep(0.1)


def _apply_rbac(cluster: Cluster) -> None:
    """The add-on's ServiceAccount, ClusterRole and ClusterRoleBinding as the manifest has them."""
    text = (REPO_ROOT / "cluster/addons/dns/clusterdns.yaml.in").read_text()
    documents = list(yaml.safe_load_all(text.replace("__DNS__DOMAIN__", DOMAIN).replace("__DNS__SERVER__",
                                                                                         "10.0.0.10")))
    paths = {"ServiceAccount": "/api/v1/namespaces/kube-system/serviceaccounts",
             "ClusterRole": "/apis/rbac.authorization.k8s.io/v1/clusterroles",
             "ClusterRoleBinding": "/apis/rbac.authorization.k8s.io/v1/clusterrolebindings"}
    for document in documents:
        if document["kind"] in paths:
            cluster.call("POST", paths[document["kind"]], document)


def _service_account_token(cluster: Cluster, path: Path) -> Path:
    answer = cluster.call("POST", "/api/v1/namespaces/kube-system/serviceaccounts/clusterdns/token",
                          {"apiVersion": "authentication.k8s.io/v1", "kind": "TokenRequest", "spec": {}})
    path.write_text(answer["status"]["token"])
    return path


@pytest.fixture(scope="module")
def cluster(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Cluster]:
    workdir = tmp_path_factory.mktemp("clusterdns")
    api = start_apiserver(workdir / "api", tls=True)
    upstream_port = free_port()
    upstream = DNSServer(Upstream(), address="127.0.0.1", port=upstream_port,
                         logger=DNSLogger(log="-request,-reply,-truncated,-data", prefix=False))
    upstream.start_thread()
    process: subprocess.Popen[bytes] | None = None
    try:
        assert api.credentials is not None
        cluster = Cluster(api, api.ssl_context() or ssl.create_default_context(), free_port(), free_port(),
                          free_port(), workdir / "clusterdns.log")
        _apply_rbac(cluster)
        token = _service_account_token(cluster, workdir / "token")
        with cluster.dns_log.open("ab") as log:
            process = subprocess.Popen(
                [sys.executable, "-m", "clusterdns", "--port", str(cluster.dns_port), "--bind", "127.0.0.1",
                 "--server", api.url, "--token-file", str(token), "--ca-file", str(api.credentials.ca_cert),
                 "--health-port", str(cluster.health_port), "--ready-port", str(cluster.ready_port),
                 "--probe-bind", "127.0.0.1", "--upstream", f"127.0.0.1:{upstream_port}", "--domain", DOMAIN],
                cwd=REPO_ROOT, stdout=log, stderr=subprocess.STDOUT, start_new_session=True)
        yield cluster
    finally:
        if process is not None:
            stop_process(process)
        upstream.stop()
        api.stop()


def probe(port: int, path: str) -> int:
    try:
        with urllib.request.urlopen(f"http://127.0.0.1:{port}{path}", timeout=2) as response:
            return int(response.status)
    except urllib.error.HTTPError as e:
        return e.code
    except (urllib.error.URLError, OSError):
        return 0  # not listening yet


@pytest.fixture(scope="module")
def ready(cluster: Cluster) -> Cluster:
    def is_ready() -> None:
        assert probe(cluster.ready_port, "/ready") == 200, log_tail(cluster.dns_log)
    eventually(is_ready, within=20)
    return cluster


def service(name: str, cluster_ip: str | None, *, network: str | None = None, **spec: Any) -> dict[str, Any]:
    """A Service; ``cluster_ip`` None lets the server allocate one (from the network's range)."""
    metadata: dict[str, Any] = {"name": name}
    if network is not None:
        metadata["labels"] = {NETWORK_LABEL: network}
    body = {**spec, "ports": spec.get("ports", [{"name": "http", "port": 80, "protocol": "TCP"}])}
    if cluster_ip is not None:
        body["clusterIP"] = cluster_ip
    return {"apiVersion": "v1", "kind": "Service", "metadata": metadata, "spec": body}


def make_tenant(cluster: Cluster, tenant: str, namespaces: tuple[str, ...] = ("default",)) -> None:
    cluster.call("POST", "/api/v1/tenants",
                 {"apiVersion": "v1", "kind": "Tenant", "metadata": {"name": tenant}})
    for name in namespaces:
        # The tenant controller makes "default" in a full cluster; no controller manager runs here.
        namespace = {"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": name}}
        cluster.call("POST", f"/api/v1/tenants/{tenant}/namespaces", namespace, ok=(201, 409))


def make_pod(cluster: Cluster, tenant: str, ip: str, *, name: str = "client", namespace: str = "default",
             network: str | None = None) -> None:
    """A running pod holding ``ip``, in ``network`` (its label) when given."""
    pods = f"/api/v1/tenants/{tenant}/namespaces/{namespace}/pods"
    metadata: dict[str, Any] = {"name": name}
    if network is not None:
        metadata["labels"] = {NETWORK_LABEL: network}
    created = cluster.call("POST", pods, {"apiVersion": "v1", "kind": "Pod", "metadata": metadata,
                                          "spec": {"containers": [{"name": "c", "image": "busybox"}]}})
    created["status"] = {"phase": "Running", "podIP": ip, "podIPs": [{"ip": ip}]}
    cluster.call("PUT", f"{pods}/{name}/status", created)


def make_tenant_pod(cluster: Cluster, tenant: str, ip: str) -> None:
    """Tenant (with its default namespace) and a running pod holding ``ip``."""
    make_tenant(cluster, tenant)
    make_pod(cluster, tenant, ip)


def make_ready_network(cluster: Cluster, tenant: str, name: str, *, type_: str = "flat") -> None:
    """A Network, Ready as its controller would leave it (none runs here)."""
    networks = f"/apis/arktos.futurewei.com/v1/tenants/{tenant}/networks"
    created = cluster.call("POST", networks, {"apiVersion": "arktos.futurewei.com/v1", "kind": "Network",
                                              "metadata": {"name": name}, "spec": {"type": type_}})
    created["status"] = {"phase": "Ready"}
    cluster.call("PUT", f"{networks}/{name}/status", created)


def create_service(cluster: Cluster, tenant: str, namespace: str, body: dict[str, Any]) -> str:
    """Creates the Service; answers its ClusterIP."""
    created = cluster.call("POST", f"/api/v1/tenants/{tenant}/namespaces/{namespace}/services", body)
    return str(created["spec"]["clusterIP"])


def test_probes_answer(ready: Cluster) -> None:
    assert probe(ready.health_port, "/health") == 200
    assert probe(ready.ready_port, "/ready") == 200
    assert probe(ready.health_port, "/nope") == 404


def test_services_are_answered_and_changes_followed(ready: Cluster) -> None:
    services = "/api/v1/namespaces/default/services"
    ready.call("POST", services, service("web", "10.0.1.10"))
    eventually(lambda: _expect(query(ready.dns_port, f"web.default.svc.{DOMAIN}"), ["10.0.1.10"]))
    over_tcp = query(ready.dns_port, f"_http._tcp.web.default.svc.{DOMAIN}", "SRV", tcp=True)
    assert [(r.rdata.port, str(r.rdata.target)) for r in over_tcp.rr] == [(80, f"web.default.svc.{DOMAIN}.")]
    assert addresses(query(ready.dns_port, "10.1.0.10.in-addr.arpa", "PTR")) == [f"web.default.svc.{DOMAIN}."]
    ready.call("DELETE", f"{services}/web")
    eventually(lambda: _expect_rcode(query(ready.dns_port, f"web.default.svc.{DOMAIN}"), RCODE.NXDOMAIN))


def test_headless_service_answers_its_endpoints(ready: Cluster) -> None:
    ready.call("POST", "/api/v1/namespaces/default/services", service("db", "None"))
    ready.call("POST", "/apis/discovery.k8s.io/v1/namespaces/default/endpointslices", {
        "apiVersion": "discovery.k8s.io/v1", "kind": "EndpointSlice", "addressType": "IPv4",
        "metadata": {"name": "db-1", "labels": {"kubernetes.io/service-name": "db"}},
        "ports": [{"name": "pg", "port": 5432, "protocol": "TCP"}],
        "endpoints": [{"addresses": ["10.88.7.1"], "hostname": "db-0", "conditions": {"ready": True}},
                      {"addresses": ["10.88.7.2"], "conditions": {"ready": False}}]})
    eventually(lambda: _expect(query(ready.dns_port, f"db.default.svc.{DOMAIN}"), ["10.88.7.1"]))
    assert addresses(query(ready.dns_port, f"db-0.db.default.svc.{DOMAIN}")) == ["10.88.7.1"]
    srv = query(ready.dns_port, f"_pg._tcp.db.default.svc.{DOMAIN}", "SRV")
    assert [(r.rdata.port, str(r.rdata.target)) for r in srv.rr] == [(5432, f"db-0.db.default.svc.{DOMAIN}.")]


def test_answers_are_scoped_to_the_asking_pods_tenant(ready: Cluster) -> None:
    kubernetes_ip = _kubernetes_service_ip(ready)
    make_tenant_pod(ready, "dnsa", POD_A)
    make_tenant_pod(ready, "dnsb", POD_B)
    ready.call("POST", "/api/v1/tenants/dnsa/namespaces/default/services", service("shared", "10.0.2.1"))
    ready.call("POST", "/api/v1/tenants/dnsa/namespaces/default/services", service("only-a", "10.0.2.2"))
    ready.call("POST", "/api/v1/tenants/dnsb/namespaces/default/services", service("shared", "10.0.3.1"))
    shared = f"shared.default.svc.{DOMAIN}"
    eventually(lambda: _expect(query(ready.dns_port, shared, source=POD_B), ["10.0.3.1"]))
    assert addresses(query(ready.dns_port, shared, source=POD_A)) == ["10.0.2.1"]
    assert addresses(query(ready.dns_port, f"only-a.default.svc.{DOMAIN}", source=POD_A)) == ["10.0.2.2"]
    # Tenant b learns nothing of tenant a: not its names, not its addresses, not its pods.
    for name in (f"only-a.default.svc.{DOMAIN}", f"{POD_A.replace('.', '-')}.default.pod.{DOMAIN}"):
        _expect_rcode(query(ready.dns_port, name, source=POD_B), RCODE.NXDOMAIN)
        _expect_rcode(query(ready.dns_port, name, source=POD_B, tcp=True), RCODE.NXDOMAIN)
    leaked = query(ready.dns_port, "2.2.0.10.in-addr.arpa", "PTR", source=POD_B)
    assert f"only-a.default.svc.{DOMAIN}." not in [str(r.rdata) for r in leaked.rr]
    # An address no pod holds speaks for tenant system, which has no "shared" Service.
    _expect_rcode(query(ready.dns_port, shared, source=NO_POD), RCODE.NXDOMAIN)
    # Every tenant reaches the API server under kubernetes.default (tenant system's Service).
    kubernetes = query(ready.dns_port, f"kubernetes.default.svc.{DOMAIN}", source=POD_A)
    assert addresses(kubernetes) == [kubernetes_ip]
    assert addresses(query(ready.dns_port, f"{POD_A.replace('.', '-')}.default.pod.{DOMAIN}",
                           source=POD_A)) == [POD_A]


def test_answers_are_scoped_to_the_asking_pods_network(ready: Cluster) -> None:
    """Tenant dnsc has networks default and blue, tenant dnsd default: each pod sees its own
    network's Services and pods only, web.default its own tenant's, kubernetes.default its network's
    kubernetes-<network> (else tenant system's)."""
    kubernetes_ip = _kubernetes_service_ip(ready)
    make_tenant(ready, "dnsc", ("default", "shop"))
    make_tenant(ready, "dnsd")
    for tenant, network in (("dnsc", "default"), ("dnsc", "blue"), ("dnsd", "default")):
        make_ready_network(ready, tenant, network, type_="vpc" if network == "blue" else "flat")
    make_pod(ready, "dnsc", POD_C)
    make_pod(ready, "dnsc", POD_C_BLUE, name="blue-client", namespace="shop", network="blue")
    make_pod(ready, "dnsd", POD_D)
    c_web = create_service(ready, "dnsc", "default", service("web", None))
    d_web = create_service(ready, "dnsd", "default", service("web", None, network="default"))
    c_shop = create_service(ready, "dnsc", "shop", service("web", None, network="blue"))
    https = [{"name": "https", "port": 443, "protocol": "TCP"}]
    c_blue_kubernetes = create_service(ready, "dnsc", "default",
                                       service("kubernetes-blue", None, network="blue", ports=https))
    web, shop, kubernetes = (f"web.default.svc.{DOMAIN}", f"web.shop.svc.{DOMAIN}",
                             f"kubernetes.default.svc.{DOMAIN}")
    eventually(lambda: _expect(query(ready.dns_port, kubernetes, source=POD_C_BLUE), [c_blue_kubernetes]))
    # The same name, each tenant its own Service.
    assert addresses(query(ready.dns_port, web, source=POD_C)) == [c_web]
    assert addresses(query(ready.dns_port, web, source=POD_D)) == [d_web]
    assert addresses(query(ready.dns_port, shop, source=POD_C_BLUE, tcp=True)) == [c_shop]
    # Nothing of another network or tenant: names, pod names, reverse names.
    blue_pod = f"{POD_C_BLUE.replace('.', '-')}.shop.pod.{DOMAIN}"
    for name, source in ((web, POD_C_BLUE), (shop, POD_C), (shop, POD_D), (blue_pod, POD_C),
                         (f"{POD_C.replace('.', '-')}.default.pod.{DOMAIN}", POD_C_BLUE)):
        _expect_rcode(query(ready.dns_port, name, source=source), RCODE.NXDOMAIN)
    assert addresses(query(ready.dns_port, blue_pod, source=POD_C_BLUE)) == [POD_C_BLUE]
    leaked = query(ready.dns_port, ipaddress.ip_address(c_shop).reverse_pointer, "PTR", source=POD_C)
    assert f"{shop}." not in [str(r.rdata) for r in leaked.rr]
    # The API server: network blue's kubernetes-blue; networks without one, tenant system's.
    assert addresses(query(ready.dns_port, kubernetes, source=POD_C)) == [kubernetes_ip]
    assert addresses(query(ready.dns_port, kubernetes, source=POD_D)) == [kubernetes_ip]


def test_other_names_are_forwarded(ready: Cluster) -> None:
    assert addresses(query(ready.dns_port, "www.example.com")) == ["192.0.2.80"]
    assert addresses(query(ready.dns_port, "www.example.com", tcp=True)) == ["192.0.2.80"]


def _kubernetes_service_ip(cluster: Cluster) -> str:
    """Tenant system's kubernetes Service: the API server's own when it makes one, else ours."""
    path = "/api/v1/namespaces/default/services/kubernetes"
    status, raw = https_call(cluster.api.port, cluster.context, "GET", path)
    if status == 404:
        cluster.call("POST", "/api/v1/namespaces/default/services",
                     service("kubernetes", "10.0.0.1",
                             ports=[{"name": "https", "port": 443, "protocol": "TCP"}]))
        return "10.0.0.1"
    assert status == 200, raw
    return str(json.loads(raw)["spec"]["clusterIP"])


def _expect(reply: DNSRecord, expected: list[str]) -> None:
    assert addresses(reply) == expected, reply


def _expect_rcode(reply: DNSRecord, rcode: int) -> None:
    assert reply.header.rcode == rcode and not reply.rr, reply
