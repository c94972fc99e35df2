"""Issue 14's must-shows on a cluster started by hack/arktos-up.sh: Services that route, names that
resolve, service-account tokens, images from the registry — driven by stock kubectl and the python client.

Covers, on one node with its own bridge and pod subnet, service range, node-port range and kube-proxy
chain prefix, images pulled from the session's shared registry (test/registry_env.py, passed as
REGISTRY by ArktosUp): the cluster DNS pods Running in kube-system behind `kube-dns` at DNS_SERVER_IP;
`kubectl create deployment web --image=nginx` and `kubectl expose` giving a ClusterIP from the range,
its EndpointSlice (read with the python client) listing the pod; a busybox pod reaching nginx through
the Service IP, `web` and `web.default.svc.cluster.local` (GNU wget in the busybox image); a NodePort
on the node's InternalIP from the test host and from a pod; scaling the Deployment up and down
changing which pods answer (each nginx pod serves its own name) with no answer from a deleted one; a
headless Service's name resolving to the pod IPs; a python-image pod listing pods with the
`kubernetes` client's in-cluster config (automounted token, ca.crt verified, KUBERNETES_SERVICE_HOST
and `kubernetes.default.svc`); a pod of another tenant resolving `kubernetes.default` (to its own
network's `kubernetes-default`) but not the first tenant's `web`.
Leaves out: Services across scale-out partitions (out of scope); sessionAffinity, ExternalName, SRV
and PTR records (test/component/test_proxy_*.py, test_clusterdns_process.py); VM pods.
"""

from __future__ import annotations

import ipaddress
import json
import re
import urllib.request
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from test_arktos_up import ArktosUp
from workload_cluster import (
    Kubectl,
    kubectl_as,
    module_tmp,  # noqa: F401 (fixture)
    phase_running,
    running_cluster,
    tenant_kubeconfig,
    workload_cluster_env,
)

pytestmark = [pytest.mark.e2e, pytest.mark.slow]

NODE = "arktos-svc-node"
# This module's own addresses, apart from every other cluster test on the machine.
POD_SUBNET = "10.186.0.0/16"
SERVICE_RANGE = "10.187.0.0/16"
DNS_SERVER_IP = "10.187.0.10"
KUBERNETES_SERVICE_IP = "10.187.0.1"  # the range's first address
NODE_PORT_RANGE = "32500-32599"
CHAIN_PREFIX = "KSV"
TENANT_NS = "default"
PULL_WAIT_S = 180.0  # the first pull of an image from the registry
ROUTE_WAIT_S = 30.0  # a Service change reaching iptables (min sync period 1 s)
WGET = "wget -qO- -T 3 -t 1"


@pytest.fixture(scope="module")
def cluster(module_tmp: Path) -> Iterator[ArktosUp]:  # noqa: F811
    env = workload_cluster_env(module_tmp, node=NODE, bridge="arktos-sv0", subnet=POD_SUBNET)
    env.update({
        "SERVICE_CLUSTER_IP_RANGE": SERVICE_RANGE, "SERVICE_NODE_PORT_RANGE": NODE_PORT_RANGE,
        "DNS_SERVER_IP": DNS_SERVER_IP, "KUBE_PROXY_CHAIN_PREFIX": CHAIN_PREFIX,
        "VM_RUNTIME_ENABLED": "false",
    })  # fmt: skip
    # REGISTRY: ArktosUp.start gives the session's shared registry (test/registry_env.py).
    yield from running_cluster(env, start_timeout_s=240.0)


@pytest.fixture(scope="module")
def kubectl(cluster: ArktosUp) -> Kubectl:
    return Kubectl(cluster)


def _log_tail(kubectl: Kubectl, name: str, lines: int = 30) -> str:
    path = Path(kubectl.env["LOG_DIR"]) / name
    text = path.read_text(errors="replace") if path.exists() else f"(no {name})"
    return f"--- {name} ---\n" + "\n".join(text.splitlines()[-lines:])


def _live_pods(kubectl: Kubectl, selector: str) -> list[dict[str, Any]]:
    return [p for p in kubectl.pods(selector) if not p["metadata"].get("deletionTimestamp")]


def _running(kubectl: Kubectl, selector: str, count: int) -> bool:
    pods = kubectl.pods(selector)  # terminating ones included: they must be gone too
    return len(pods) == count and all(phase_running(p) and p["status"].get("podIP") for p in pods)


def _in_pod(kubectl: Kubectl, pod: str, script: str) -> str:
    done = kubectl("exec", pod, "--", "sh", "-c", script, check=False)
    return done.stdout + done.stderr


def _answers(kubectl: Kubectl, url: str, times: int) -> list[str]:
    """`times` separate GETs of `url` from the client pod (a new connection each, so kube-proxy's
    random choice runs each time); a failed one answers FAIL."""
    loop = f"for i in $(seq {times}); do {WGET} {url} || echo FAIL; done"
    return kubectl("exec", "client", "--", "sh", "-c", loop).stdout.split()


@pytest.fixture(scope="module")
def client_pod(kubectl: Kubectl) -> str:
    kubectl.apply({"apiVersion": "v1", "kind": "Pod", "metadata": {"name": "client", "namespace": TENANT_NS},
                   "spec": {"terminationGracePeriodSeconds": 1,
                            "containers": [{"name": "c", "image": "busybox", "command": ["sleep", "3600"]}]}})
    kubectl.wait("client pod running", lambda: phase_running(kubectl.pod("client")), PULL_WAIT_S)
    return "client"


def _serve_own_name(kubectl: Kubectl, pod: str) -> None:
    """Writes the pod's name into /who.txt of nginx's document root (Debian's or the upstream image's)."""
    script = ("for d in /usr/share/nginx/html /var/www/html; do "
              "if [ -d $d ]; then cat /etc/hostname > $d/who.txt; fi; done")
    kubectl("exec", pod, "--", "sh", "-c", script)


@pytest.fixture(scope="module")
def web(kubectl: Kubectl, client_pod: str) -> str:
    """`kubectl create deployment web --image=nginx`, then `kubectl expose deployment web --port 80`:
    the Service's ClusterIP. Each nginx pod serves its own name at /who.txt."""
    created = kubectl("create", "deployment", "web", "--image=nginx")
    assert "deployment.apps/web created" in created.stdout
    kubectl.wait("web pod running", lambda: _running(kubectl, "app=web", 1), PULL_WAIT_S)
    exposed = kubectl("expose", "deployment", "web", "--port", "80")
    assert "service/web exposed" in exposed.stdout
    cluster_ip: str = kubectl.json("get", "service", "web")["spec"]["clusterIP"]
    assert ipaddress.ip_address(cluster_ip) in ipaddress.ip_network(SERVICE_RANGE), cluster_ip
    for pod in _live_pods(kubectl, "app=web"):
        _serve_own_name(kubectl, pod["metadata"]["name"])
    return cluster_ip


def _reached_nginx(kubectl: Kubectl, url: str) -> bool:
    return "Welcome to nginx" in _in_pod(kubectl, "client", f"{WGET} {url}")


def _wait_route(kubectl: Kubectl, what: str, url: str) -> None:
    try:
        kubectl.wait(what, lambda: _reached_nginx(kubectl, url), ROUTE_WAIT_S)
    except AssertionError as failed:
        attempt = _in_pod(kubectl, "client", f"wget -O- -T 3 -t 1 {url}; cat /etc/resolv.conf")
        raise AssertionError(f"{failed}\n--- wget {url} in pod client ---\n{attempt}\n"
                             f"{_log_tail(kubectl, 'kube-proxy.log')}") from None


def test_cluster_dns_pods_run_in_kube_system(kubectl: Kubectl) -> None:
    def dns_pods_running() -> bool:
        pods = kubectl.json("get", "pods", "-n", "kube-system", "-l", "k8s-app=kube-dns")["items"]
        return bool(pods) and all(phase_running(p) for p in pods)

    kubectl.wait("clusterdns pods Running in kube-system", dns_pods_running, PULL_WAIT_S)
    table = kubectl("get", "pods", "-n", "kube-system").stdout
    assert re.search(r"^clusterdns-\S+\s+1/1\s+Running", table, re.MULTILINE), table
    service = kubectl.json("get", "service", "kube-dns", "-n", "kube-system")
    assert service["spec"]["clusterIP"] == DNS_SERVER_IP
    assert {(p["port"], p["protocol"]) for p in service["spec"]["ports"]} >= {(53, "UDP"), (53, "TCP")}
    default = kubectl.json("get", "service", "kubernetes", "-n", "default")
    assert default["spec"]["clusterIP"] == KUBERNETES_SERVICE_IP


def test_endpoint_slice_lists_the_web_pod(kubectl: Kubectl, web: str) -> None:
    """What kube-proxy and the DNS server read, through the official python client on the host."""
    from kubernetes import client, config

    api = config.new_client_from_config(str(Path(kubectl.env["CERT_DIR"]) / "admin.kubeconfig"))
    service = client.CoreV1Api(api).read_namespaced_service("web", TENANT_NS)
    assert service.spec.cluster_ip == web and service.spec.type == "ClusterIP"
    discovery = client.DiscoveryV1Api(api)

    def ready_addresses() -> set[str]:
        slices = discovery.list_namespaced_endpoint_slice(
            TENANT_NS, label_selector="kubernetes.io/service-name=web").items
        return {a for s in slices for e in s.endpoints or [] if e.conditions.ready for a in e.addresses}

    # The endpointslice controller follows the pod's readiness shortly after.
    kubectl.wait("the EndpointSlice listing the web pods",
                 lambda: ready_addresses() == {p["status"]["podIP"] for p in _live_pods(kubectl, "app=web")},
                 ROUTE_WAIT_S)


def test_service_ip_and_names_reach_nginx(kubectl: Kubectl, web: str) -> None:
    _wait_route(kubectl, "the Service IP reaching nginx", f"http://{web}/")
    _wait_route(kubectl, "`web` reaching nginx", "http://web/")
    _wait_route(kubectl, "the Service's FQDN reaching nginx", f"http://web.{TENANT_NS}.svc.cluster.local/")
    resolv = kubectl("exec", "client", "--", "cat", "/etc/resolv.conf").stdout
    assert f"nameserver {DNS_SERVER_IP}" in resolv, resolv
    assert f"search {TENANT_NS}.svc.cluster.local svc.cluster.local cluster.local" in resolv, resolv
    assert "ndots:5" in resolv, resolv


def _node_address(kubectl: Kubectl) -> str:
    node = kubectl.json("get", "node", NODE)
    return next(a["address"] for a in node["status"]["addresses"] if a["type"] == "InternalIP")


def test_node_port_from_the_host_and_from_a_pod(kubectl: Kubectl, web: str) -> None:
    kubectl("expose", "deployment", "web", "--name", "web-nodeport", "--port", "80", "--type", "NodePort")
    node_port = kubectl.json("get", "service", "web-nodeport")["spec"]["ports"][0]["nodePort"]
    low, high = (int(p) for p in NODE_PORT_RANGE.split("-"))
    assert low <= node_port <= high, node_port
    url = f"http://{_node_address(kubectl)}:{node_port}/"
    _wait_route(kubectl, "the NodePort reaching nginx from a pod", url)
    with urllib.request.urlopen(url, timeout=10) as reply:
        assert "Welcome to nginx" in reply.read().decode()


def test_scaling_changes_which_pods_answer(kubectl: Kubectl, web: str) -> None:
    url = f"http://{web}/who.txt"
    kubectl("scale", "deployment", "web", "--replicas=3")
    kubectl.wait("3 web pods running", lambda: _running(kubectl, "app=web", 3), PULL_WAIT_S)
    names = {p["metadata"]["name"] for p in _live_pods(kubectl, "app=web")}
    for name in names:
        _serve_own_name(kubectl, name)
    # 30 connections: each of 3 endpoints is missed with probability (2/3)^30 ~ 5e-6.
    kubectl.wait("every web pod answering", lambda: set(_answers(kubectl, url, 30)) == names, ROUTE_WAIT_S)

    kubectl("scale", "deployment", "web", "--replicas=1")
    kubectl.wait("2 web pods gone", lambda: _running(kubectl, "app=web", 1), 60.0)
    (kept,) = {p["metadata"]["name"] for p in _live_pods(kubectl, "app=web")}
    kubectl.wait("only the kept pod answering", lambda: set(_answers(kubectl, url, 5)) == {kept},
                 ROUTE_WAIT_S)
    answers = _answers(kubectl, url, 20)
    assert answers == [kept] * 20, f"answers after scaling to 1 ({kept} kept): {answers}"


def _resolved(nslookup_output: str) -> set[str]:
    """The IPv4 addresses of busybox nslookup's answer (after `Name:`; the server's own come before)."""
    answer = nslookup_output.split("Name:", 1)[1] if "Name:" in nslookup_output else ""
    return set(re.findall(r"Address:\s*(\d+\.\d+\.\d+\.\d+)", answer))


def test_headless_service_name_resolves_to_the_pod_ips(kubectl: Kubectl, web: str) -> None:
    kubectl.apply({"apiVersion": "v1", "kind": "Service",
                   "metadata": {"name": "web-headless", "namespace": TENANT_NS},
                   "spec": {"clusterIP": "None", "selector": {"app": "web"}, "ports": [{"port": 80}]}})
    assert kubectl.json("get", "service", "web-headless")["spec"]["clusterIP"] == "None"
    fqdn = f"web-headless.{TENANT_NS}.svc.cluster.local"

    def matches() -> bool:
        found = _resolved(_in_pod(kubectl, "client", f"nslookup {fqdn}"))
        return found == {p["status"]["podIP"] for p in _live_pods(kubectl, "app=web")}

    kubectl.wait("the headless name resolving to the web pods' IPs", matches, ROUTE_WAIT_S)


IN_CLUSTER_SCRIPT = """
import os
from kubernetes import client, config
config.load_incluster_config()
conf = client.Configuration.get_default_copy()
assert conf.verify_ssl and conf.ssl_ca_cert, "no verification"
ns = open("/var/run/secrets/kubernetes.io/serviceaccount/namespace").read()
print("host", conf.host, os.environ["KUBERNETES_SERVICE_HOST"], os.environ["KUBERNETES_SERVICE_PORT"])
for pod in client.CoreV1Api().list_namespaced_pod(ns).items:
    print("pod", pod.metadata.name)
conf.host = "https://kubernetes.default.svc"
named = client.CoreV1Api(client.ApiClient(conf)).list_namespaced_pod(ns, label_selector="app=web")
print("by-name", len(named.items))
"""


def test_in_cluster_python_client_lists_pods_with_its_token(kubectl: Kubectl, web: str) -> None:
    kubectl("create", "rolebinding", "default-view", "--clusterrole=view",
            f"--serviceaccount={TENANT_NS}:default")
    kubectl.apply({"apiVersion": "v1", "kind": "Pod", "metadata": {"name": "lister", "namespace": TENANT_NS},
                   "spec": {"restartPolicy": "Never", "containers": [{
                       "name": "py", "image": "python:3", "command": ["python3", "-c", IN_CLUSTER_SCRIPT]}]}})
    pod = kubectl.pod("lister")
    volumes = [v for v in pod["spec"]["volumes"] if v["name"].startswith("kube-api-access-")]
    assert len(volumes) == 1 and "projected" in volumes[0], pod["spec"]["volumes"]

    def finished() -> bool:
        return kubectl.pod("lister")["status"].get("phase") in ("Succeeded", "Failed")

    kubectl.wait("the lister pod finished", finished, PULL_WAIT_S)
    logs = kubectl("logs", "lister").stdout
    assert kubectl.pod("lister")["status"]["phase"] == "Succeeded", logs
    assert f"host https://{KUBERNETES_SERVICE_IP}:443 {KUBERNETES_SERVICE_IP} 443" in logs, logs
    assert "pod client" in logs and "pod lister" in logs, logs
    assert re.search(r"^by-name [1-9]", logs, re.MULTILINE), logs


def test_another_tenant_cannot_resolve_this_tenants_service(kubectl: Kubectl, web: str) -> None:
    kubectl("create", "-f", "-", stdin=json.dumps({"apiVersion": "v1", "kind": "Tenant",
                                                   "metadata": {"name": "other"}}))
    kubectl("wait", "--for=condition=Initialized", "tenant/other", "--timeout=30s")
    other = tenant_kubeconfig(kubectl.env, "other", "admin")
    sleeper = {"name": "c", "image": "busybox", "command": ["sleep", "3600"]}
    pod = json.dumps({"apiVersion": "v1", "kind": "Pod", "metadata": {"name": "probe"},
                      "spec": {"terminationGracePeriodSeconds": 1, "containers": [sleeper]}})
    # The default ServiceAccount of the new tenant's namespace comes from its controller shortly after.
    kubectl.wait("the other tenant's pod created",
                 lambda: kubectl_as(kubectl.env, other, "create", "-f", "-", stdin=pod).returncode == 0)

    def other_running() -> bool:
        got = kubectl_as(kubectl.env, other, "get", "pod", "probe", "-o", "json")
        return got.returncode == 0 and phase_running(json.loads(got.stdout))

    kubectl.wait("the other tenant's pod running", other_running, PULL_WAIT_S)

    def lookup(name: str) -> str:
        done = kubectl_as(kubectl.env, other, "exec", "probe", "--", "nslookup", name)
        return done.stdout + done.stderr

    # DNS works for this pod (kubernetes.default resolves for every tenant: to its own network's
    # kubernetes-default, issue 15) ...
    api_service = ("get", "service", "kubernetes-default", "-o", "jsonpath={.spec.clusterIP}")
    kubectl.wait("the other tenant's kubernetes-default",
                 lambda: bool(kubectl_as(kubectl.env, other, *api_service).stdout))
    own_api = kubectl_as(kubectl.env, other, *api_service).stdout
    assert own_api != KUBERNETES_SERVICE_IP, own_api
    kubectl.wait("kubernetes.default resolving in the other tenant",
                 lambda: _resolved(lookup("kubernetes.default.svc.cluster.local")) == {own_api}, ROUTE_WAIT_S)
    # ... but the first tenant's Service is not its to see: cluster.local is answered, not forwarded.
    answer = lookup(f"web.{TENANT_NS}.svc.cluster.local")
    assert "NXDOMAIN" in answer and not _resolved(answer), f"web's FQDN from tenant other: {answer}"
    assert web not in _resolved(lookup("web")), "the short name through the search path"
