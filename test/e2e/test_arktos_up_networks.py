"""Issue 15's must-shows on a cluster started by hack/arktos-up.sh: tenant networks isolated on the
wire, per-network DNS and API access, and VM pods on the pod network reachable over ssh.

Covers, on one node with its own bridge, pod subnet, service range, network service-CIDR pool,
node-port range and kube-proxy chain prefix, with stock kubectl as each tenant's admin (kubeconfigs
from hack/setup-tenant-user.sh): four sites — tenants A and B on their `default` networks, and two
`vpc` networks `blue` and `green` of tenant A — each with an nginx Deployment (every pod serving its
site's name at /who.txt), a NodePort Service and a busybox client pod, joined by the label
`arktos.futurewei.com/network`. Printed as matrices and compared with what the isolation model
allows: each client reaches its own site's Service by short name, FQDN and ClusterIP and its own
web pod's IP, and no other site's Service IP or pod IP (the answer names who served it);
`web.default.svc.cluster.local` and the vpc sites' names resolve only inside their own site, each
to its own Service; a network's kube-dns-<network> address answers only its own pods; each client's
nameserver is its network's DNS Service and it reaches the API server through its network's
`kubernetes-<network>` (KUBERNETES_SERVICE_HOST, the serving certificate verified); every site's
NodePort answers from the node. VM pods: a VM pod of tenant A gets a pod IP (`kubectl get pod -o
wide`), `ssh -i KEY root@<podIP>` with the key in its spec runs a command in the guest (another
key is refused), a Service selecting it routes to the guest's httpd on port 80, and tenant B's
client reaches neither the VM's IP (http, ssh) nor that Service.
Leaves out: External ipam, Network deletion (the netapi room's component tests), several nodes.
"""

from __future__ import annotations

import ipaddress
import json
import re
import subprocess
import urllib.request
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
from test_arktos_up import ArktosUp, network_pool_for
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

NODE = "arktos-net-node"
# This module's own addresses, apart from every other cluster test on the machine.
POD_SUBNET = "10.188.0.0/16"
SERVICE_RANGE = "10.189.0.0/16"
NETWORK_POOL = network_pool_for(POD_SUBNET)  # each network's Service /24 comes from here
NODE_PORT_RANGE = "32400-32499"
CHAIN_PREFIX = "KNW"
NETWORK_LABEL = "arktos.futurewei.com/network"
TENANT_A, TENANT_B = "net-a", "net-b"
PULL_WAIT_S = 180.0  # the first pull of an image from the registry
ROUTE_WAIT_S = 45.0  # pods, Services and Networks reaching iptables and the DNS server
VM_WAIT_S = 150.0  # qemu under TCG: boot and dropbear up
WGET = "wget -qO- -T 2 -t 1"
BLOCKED = "-"
DOMAIN = "cluster.local"


@dataclass(frozen=True)
class Site:
    """One (tenant, network): its nginx Deployment and Service `service`, and its client pod."""

    label: str
    tenant: str
    network: str
    service: str
    kubeconfig: str

    @property
    def client(self) -> str:
        return f"client-{self.network}"

    @property
    def fqdn(self) -> str:
        return f"{self.service}.default.svc.{DOMAIN}"


class TenantKubectl:
    """Stock kubectl as one tenant's admin."""

    def __init__(self, env: dict[str, str], kubeconfig: str) -> None:
        self.env, self.kubeconfig = env, kubeconfig

    def __call__(self, *args: str, stdin: str = "", check: bool = True) -> subprocess.CompletedProcess[str]:
        done = kubectl_as(self.env, self.kubeconfig, *args, stdin=stdin)
        if check:
            assert done.returncode == 0, f"kubectl {' '.join(args)} ({self.kubeconfig}): {done.stderr}"
        return done

    def json(self, *args: str) -> dict[str, Any]:
        loaded: dict[str, Any] = json.loads(self(*args, "-o", "json").stdout)
        return loaded

    def sh(self, pod: str, script: str) -> str:
        done = self("exec", pod, "--", "sh", "-c", script, check=False)
        return done.stdout + done.stderr


@pytest.fixture(scope="module")
def cluster(module_tmp: Path) -> Iterator[ArktosUp]:  # noqa: F811
    env = workload_cluster_env(module_tmp, node=NODE, bridge="arktos-nw0", subnet=POD_SUBNET)
    env.update({
        "SERVICE_CLUSTER_IP_RANGE": SERVICE_RANGE, "SERVICE_NODE_PORT_RANGE": NODE_PORT_RANGE,
        "KUBE_PROXY_CHAIN_PREFIX": CHAIN_PREFIX,
    })  # fmt: skip
    yield from running_cluster(env, start_timeout_s=240.0)


@pytest.fixture(scope="module")
def kubectl(cluster: ArktosUp) -> Kubectl:
    return Kubectl(cluster)


def _wait(kubectl: Kubectl, what: str, check: Callable[[], bool], timeout_s: float,
          explain: Callable[[], str] = lambda: "") -> None:
    """kubectl.wait, with ``explain()`` and kube-proxy's log tail added to a timeout's message."""
    try:
        kubectl.wait(what, check, timeout_s)
    except AssertionError as failed:
        log = Path(kubectl.env["LOG_DIR"]) / "kube-proxy.log"
        tail = "\n".join(log.read_text(errors="replace").splitlines()[-25:]) if log.exists() else ""
        raise AssertionError(f"{failed}\n{explain()}\n--- kube-proxy.log ---\n{tail}") from None


def _network_phase(ctl: TenantKubectl, name: str) -> str:
    got = ctl("get", "network", name, "-o", "json", check=False)
    return str((json.loads(got.stdout).get("status") or {}).get("phase")) if got.returncode == 0 else ""


def _make_tenant(kubectl: Kubectl, tenant: str) -> TenantKubectl:
    kubectl("create", "-f", "-", stdin=json.dumps({"apiVersion": "v1", "kind": "Tenant",
                                                   "metadata": {"name": tenant}}))
    kubectl("wait", "--for=condition=Initialized", f"tenant/{tenant}", "--timeout=60s")
    return TenantKubectl(kubectl.env, tenant_kubeconfig(kubectl.env, tenant, "admin"))


def _site_objects(site: Site) -> list[dict[str, Any]]:
    """The site's web Deployment, its NodePort Service and a client pod, all in its network."""
    labels = {"app": site.service, NETWORK_LABEL: site.network}
    meta = {"namespace": "default", "labels": labels}
    sleeper = {"name": "c", "image": "busybox", "command": ["sleep", "3600"]}
    return [
        {"apiVersion": "apps/v1", "kind": "Deployment", "metadata": {"name": site.service, **meta},
         "spec": {"replicas": 1, "selector": {"matchLabels": {"app": site.service}},
                  "template": {"metadata": {"labels": labels}, "spec": {
                      "terminationGracePeriodSeconds": 1,
                      "containers": [{"name": "nginx", "image": "nginx"}]}}}},
        {"apiVersion": "v1", "kind": "Service", "metadata": {"name": site.service, **meta},
         "spec": {"type": "NodePort", "selector": {"app": site.service}, "ports": [{"port": 80}]}},
        {"apiVersion": "v1", "kind": "Pod",
         "metadata": {"name": site.client, "namespace": "default", "labels": {NETWORK_LABEL: site.network}},
         "spec": {"terminationGracePeriodSeconds": 1, "containers": [sleeper]}},
    ]


def _web_pod(ctl: TenantKubectl, site: Site) -> dict[str, Any] | None:
    pods = ctl.json("get", "pods", "-l", f"app={site.service}")["items"]
    live = [p for p in pods if not p["metadata"].get("deletionTimestamp") and phase_running(p)]
    return live[0] if len(live) == 1 and live[0]["status"].get("podIP") else None


@dataclass(frozen=True)
class Addresses:
    service_ip: str
    pod_ip: str
    node_port: int


@pytest.fixture(scope="module")
def sites(kubectl: Kubectl) -> dict[str, Site]:
    a, b = _make_tenant(kubectl, TENANT_A), _make_tenant(kubectl, TENANT_B)
    for vpc in ("blue", "green"):
        a("apply", "-f", "-", stdin=json.dumps({
            "apiVersion": "arktos.futurewei.com/v1", "kind": "Network", "metadata": {"name": vpc},
            "spec": {"type": "vpc", "vpcID": f"vpc-{vpc}"}}))
    made = [Site("A", TENANT_A, "default", "web", a.kubeconfig),
            Site("B", TENANT_B, "default", "web", b.kubeconfig),
            Site("A/blue", TENANT_A, "blue", "web-blue", a.kubeconfig),
            Site("A/green", TENANT_A, "green", "web-green", a.kubeconfig)]
    for site in made:
        _create_site(kubectl, site)
    return {site.label: site for site in made}


def _create_site(kubectl: Kubectl, site: Site) -> None:
    ctl = TenantKubectl(kubectl.env, site.kubeconfig)
    _wait(kubectl, f"network {site.network} of {site.tenant} Ready",
          lambda: _network_phase(ctl, site.network) == "Ready", ROUTE_WAIT_S,
          lambda: ctl("get", "networks", "-o", "yaml", check=False).stdout)
    manifest = json.dumps({"apiVersion": "v1", "kind": "List", "items": _site_objects(site)})
    # The default ServiceAccount of a new tenant's namespace comes from its controller shortly after.
    _wait(kubectl, f"site {site.label}'s objects created",
          lambda: ctl("apply", "-f", "-", stdin=manifest, check=False).returncode == 0, 30.0,
          lambda: ctl("apply", "-f", "-", stdin=manifest, check=False).stderr)


@pytest.fixture(scope="module")
def addresses(kubectl: Kubectl, sites: dict[str, Site]) -> dict[str, Addresses]:
    """Each site's Service IP, web pod IP and node port, once its web and client pods run; each web pod
    then serves its site's label at /who.txt."""
    return {label: _site_addresses(kubectl, site) for label, site in sites.items()}


def _site_addresses(kubectl: Kubectl, site: Site) -> Addresses:
    ctl = TenantKubectl(kubectl.env, site.kubeconfig)
    _wait(kubectl, f"site {site.label}'s web and client pods running",
          lambda: _web_pod(ctl, site) is not None and phase_running(ctl.json("get", "pod", site.client)),
          PULL_WAIT_S)
    web = _web_pod(ctl, site)
    assert web is not None
    ctl("exec", web["metadata"]["name"], "--", "sh", "-c", "for d in /usr/share/nginx/html /var/www/html; "
        f"do [ -d $d ] && echo {site.label} > $d/who.txt; done; true")
    service = ctl.json("get", "service", site.service)
    return Addresses(service["spec"]["clusterIP"], web["status"]["podIP"],
                     int(service["spec"]["ports"][0]["nodePort"]))


def _network_cidr(ctl: TenantKubectl, network: str) -> ipaddress.IPv4Network:
    cidrs = ctl.json("get", "network", network)["spec"]["service"]["cidrs"]
    return ipaddress.IPv4Network(cidrs[0])


def test_networks_get_disjoint_service_ranges_and_their_own_services(
        kubectl: Kubectl, sites: dict[str, Site], addresses: dict[str, Addresses]) -> None:
    ranges = {}
    for label, site in sites.items():
        ctl = TenantKubectl(kubectl.env, site.kubeconfig)
        cidr = _network_cidr(ctl, site.network)
        assert cidr.subnet_of(ipaddress.IPv4Network(NETWORK_POOL)), (label, cidr)
        assert ipaddress.IPv4Address(addresses[label].service_ip) in cidr, (label, cidr, addresses[label])
        network = ctl.json("get", "network", site.network)
        dns = ctl.json("get", "service", f"kube-dns-{site.network}", "-n", "kube-system")["spec"]["clusterIP"]
        assert network["status"]["dnsServiceIP"] == dns == str(cidr[10]), (label, network["status"], dns)
        api = ctl.json("get", "service", f"kubernetes-{site.network}")["spec"]["clusterIP"]
        assert api == str(cidr[1]), (label, api, cidr)
        ranges[label] = cidr
    assert len(set(ranges.values())) == len(ranges), ranges
    table = TenantKubectl(kubectl.env, sites["A"].kubeconfig)("get", "networks").stdout
    print(table)
    assert re.search(r"^NAME\s+TYPE\s+VPC\s+PHASE\s+DNS", table), table
    assert re.search(r"^blue\s+vpc\s+vpc-blue\s+Ready\s+\d+\.\d+\.\d+\.\d+", table, re.MULTILINE), table


def _row(ctl: TenantKubectl, pod: str, probes: dict[str, str]) -> dict[str, str]:
    """From ``pod``, each probe (column -> a shell command printing an answer, or nothing) once, in one
    exec: the answers, BLOCKED where there was none."""
    script = "; ".join(f'echo "{col}=$({command} 2>/dev/null)"' for col, command in probes.items())
    row = dict.fromkeys(probes, "?")
    for line in ctl.sh(pod, script).splitlines():
        col, sep, answer = line.partition("=")
        if sep and col in row:
            row[col] = answer.strip() or BLOCKED
    return row


def _matrix_text(title: str, rows: dict[str, dict[str, str]]) -> str:
    columns = list(next(iter(rows.values())))
    cells = [cell for row in rows.values() for cell in row.values()]
    width = max(len(c) for c in [*columns, *rows, *cells, "from \\ to"]) + 2
    lines = [title, "from \\ to".ljust(width) + "".join(c.ljust(width) for c in columns)]
    lines += [src.ljust(width) + "".join(row[c].ljust(width) for c in columns) for src, row in rows.items()]
    return "\n".join(lines)


def _settled_matrix(kubectl: Kubectl, title: str, measure: Callable[[], dict[str, dict[str, str]]],
                    expected: dict[str, dict[str, str]]) -> None:
    """Measures until the matrix is the expected one (rules and DNS records arrive within seconds of
    the objects), measures once more to see it stays so, prints it."""
    last: list[dict[str, dict[str, str]]] = [{}]

    def matches() -> bool:
        last[0] = measure()
        return last[0] == expected

    _wait(kubectl, title, matches, ROUTE_WAIT_S,
          lambda: _matrix_text("measured:", last[0]) + "\n" + _matrix_text("expected:", expected))
    again = measure()
    print("\n" + _matrix_text(title, again))
    assert again == expected, (_matrix_text("measured again:", again) + "\n"
                               + _matrix_text("expected:", expected))


def test_isolation_matrix(kubectl: Kubectl, sites: dict[str, Site], addresses: dict[str, Addresses]) -> None:
    """Each client: its own Service by name, FQDN and IP, its own web pod, and every other site's
    Service IP and web pod IP; a cell holds the site that answered (/who.txt) or BLOCKED."""
    targets = ({f"svc {t}": addresses[t].service_ip for t in sites}
               | {f"pod {t}": addresses[t].pod_ip for t in sites})

    def measure() -> dict[str, dict[str, str]]:
        rows = {}
        for label, site in sites.items():
            hosts = {"name": site.service, "fqdn": site.fqdn} | targets
            probes = {col: f"{WGET} http://{host}/who.txt" for col, host in hosts.items()}
            rows[label] = _row(TenantKubectl(kubectl.env, site.kubeconfig), site.client, probes)
        return rows

    expected = {s: {"name": s, "fqdn": s} | {f"{kind} {t}": t if t == s else BLOCKED
                                              for kind in ("svc", "pod") for t in sites} for s in sites}
    _settled_matrix(kubectl, "reachability (who answered /who.txt)", measure, expected)


def test_dns_answers_only_the_querier_network(kubectl: Kubectl, sites: dict[str, Site],
                                              addresses: dict[str, Addresses]) -> None:
    """Each client resolves every site's FQDN (A and B both have `web.default.svc.cluster.local`); a
    cell names the site whose Service IP came back, BLOCKED for NXDOMAIN."""
    owner = {a.service_ip: label for label, a in addresses.items()}
    names = sorted({s.fqdn for s in sites.values()})

    def measure() -> dict[str, dict[str, str]]:
        rows = {}
        for label, site in sites.items():
            probes = {name.split(".")[0]: f"timeout 4 nslookup {name} | {ANSWERED}" for name in names}
            row = _row(TenantKubectl(kubectl.env, site.kubeconfig), site.client, probes)
            rows[label] = {col: owner.get(ip, ip) for col, ip in row.items()}
        return rows

    expected = {s.label: {n.split(".")[0]: s.label if n == s.fqdn else BLOCKED for n in names}
                for s in sites.values()}
    _settled_matrix(kubectl, "DNS (whose Service each name resolved to)", measure, expected)


ANSWERED = "awk '/^Name:/{n=1} n && /^Address/{print $2}'"  # busybox nslookup's answer section
SA_DIR = "/var/run/secrets/kubernetes.io/serviceaccount"
# GET /version with the pod's token; {tls}: how wget treats the serving certificate.
API_PROBE = ('wget -qO- -T 3 -t 1 {tls} --header "Authorization: Bearer $(cat ' + SA_DIR + '/token)" '
             'https://$KUBERNETES_SERVICE_HOST:$KUBERNETES_SERVICE_PORT/version | grep -o gitVersion')


def test_another_networks_dns_service_is_refused(kubectl: Kubectl, sites: dict[str, Site]) -> None:
    """Each client asks every site's kube-dns-<network> address for kubernetes.default: its own
    answers, another network's is refused by the node's rules (every one leads to the same DNS pods)."""
    servers = {label: TenantKubectl(kubectl.env, site.kubeconfig).json(
        "get", "service", f"kube-dns-{site.network}", "-n", "kube-system")["spec"]["clusterIP"]
        for label, site in sites.items()}

    def measure() -> dict[str, dict[str, str]]:
        rows = {}
        for label, site in sites.items():
            probes = {f"dns {t}": f"timeout 4 nslookup kubernetes.default.svc.{DOMAIN} {ip} | {ANSWERED}"
                      " | grep -q . && echo answered" for t, ip in servers.items()}
            rows[label] = _row(TenantKubectl(kubectl.env, site.kubeconfig), site.client, probes)
        return rows

    expected = {s: {f"dns {t}": "answered" if t == s else BLOCKED for t in sites} for s in sites}
    _settled_matrix(kubectl, "DNS Services (which kube-dns-<network> answered)", measure, expected)


def test_each_network_uses_its_own_dns_and_kubernetes_services(
        kubectl: Kubectl, sites: dict[str, Site], addresses: dict[str, Addresses]) -> None:
    """Each client's nameserver is its network's kube-dns-<network>; it reaches the API server through
    its network's kubernetes-<network> (KUBERNETES_SERVICE_HOST, and kubernetes.default's answer)."""
    rows = {label: _api_row(kubectl, site) for label, site in sites.items()}
    print("\n" + "\n".join(f"{label}: {row}" for label, row in rows.items()))
    for label, row in rows.items():
        network = sites[label].network
        assert row["nameserver"] == row[f"kube-dns-{network}"], (label, row)
        assert row["KUBERNETES_SERVICE_HOST"] == row[f"kubernetes-{network}"] == row["kubernetes.default"], \
            (label, row)
        assert row["/version verified"] == "gitVersion", (label, row)  # the serving cert names the address


def _api_row(kubectl: Kubectl, site: Site) -> dict[str, str]:
    """The network's kube-dns-<network> and kubernetes-<network> IPs, and from the site's client: its
    nameserver, KUBERNETES_SERVICE_HOST, what kubernetes.default resolves to, whether GET /version
    through that host answered, and whether it did with the serving certificate verified against
    the pod's ca.crt (by address, as in-cluster clients do)."""
    ctl = TenantKubectl(kubectl.env, site.kubeconfig)
    dns = ctl.json("get", "service", f"kube-dns-{site.network}", "-n", "kube-system")["spec"]["clusterIP"]
    api = ctl.json("get", "service", f"kubernetes-{site.network}")["spec"]["clusterIP"]
    probes = {"nameserver": "awk '/^nameserver/{print $2; exit}' /etc/resolv.conf",
              "KUBERNETES_SERVICE_HOST": "echo $KUBERNETES_SERVICE_HOST",
              "kubernetes.default": f"timeout 4 nslookup kubernetes.default.svc.{DOMAIN} | {ANSWERED}",
              "/version": API_PROBE.format(tls="--no-check-certificate"),
              "/version verified": API_PROBE.format(tls=f"--ca-certificate={SA_DIR}/ca.crt")}
    row: dict[str, str] = {}

    def reached() -> bool:
        row.update(_row(ctl, site.client, probes))
        return row["/version"] == "gitVersion"

    _wait(kubectl, f"{site.label}'s client reaching the API server", reached, ROUTE_WAIT_S, lambda: str(row))
    return {f"kube-dns-{site.network}": dns, f"kubernetes-{site.network}": api} | row


def _node_address(kubectl: Kubectl) -> str:
    node = kubectl.json("get", "node", NODE)
    return next(a["address"] for a in node["status"]["addresses"] if a["type"] == "InternalIP")


def _get(url: str) -> str:
    try:
        with urllib.request.urlopen(url, timeout=3) as reply:
            return str(reply.read().decode().strip())
    except OSError as failed:
        return f"({failed})"


def test_node_ports_answer_from_the_node(kubectl: Kubectl, sites: dict[str, Site],
                                         addresses: dict[str, Addresses]) -> None:
    node = _node_address(kubectl)
    low, high = (int(p) for p in NODE_PORT_RANGE.split("-"))
    for label in sites:
        port = addresses[label].node_port
        assert low <= port <= high, (label, port)
        _wait_answer(kubectl, f"{label}'s NodePort {port} answering on the node",
                     f"http://{node}:{port}/who.txt", label)


def _wait_answer(kubectl: Kubectl, what: str, url: str, answer: str) -> None:
    _wait(kubectl, what, lambda: _get(url) == answer, ROUTE_WAIT_S, lambda: _get(url))


# ---- VM pods on the pod network ----

VM_NAME = "vm1"


@pytest.fixture(scope="module")
def ssh_key(module_tmp: Path) -> Path:  # noqa: F811
    if subprocess.run(["sh", "-c", "command -v ssh"], capture_output=True).returncode != 0:
        subprocess.run(["apt-get", "install", "-y", "-qq", "openssh-client"], check=True, capture_output=True,
                       timeout=300)
    key = module_tmp / "vm-key"
    subprocess.run(["ssh-keygen", "-q", "-t", "ed25519", "-N", "", "-C", "arktos-e2e", "-f", str(key)],
                   check=True, timeout=30)
    return key


def _ssh(key: Path, ip: str, command: str) -> subprocess.CompletedProcess[str]:
    options = ["BatchMode=yes", "StrictHostKeyChecking=no", "UserKnownHostsFile=/dev/null",
               "ConnectTimeout=5", "LogLevel=ERROR"]
    return subprocess.run(["ssh", "-i", str(key), *(f"-o{o}" for o in options), f"root@{ip}", command],
                          capture_output=True, text=True, timeout=30)


@pytest.fixture(scope="module")
def vm_ip(kubectl: Kubectl, sites: dict[str, Site], ssh_key: Path) -> str:
    """Tenant A's VM pod (its key: ssh_key's public half) and Service `vm-web` selecting it; its pod IP."""
    a = TenantKubectl(kubectl.env, sites["A"].kubeconfig)
    labels = {"app": "vm-web", NETWORK_LABEL: "default"}
    vm = {"name": "vm", "image": "cirros", "publicKey": ssh_key.with_suffix(".pub").read_text().strip(),
          "resources": {"limits": {"cpu": "1", "memory": "256Mi"}}}
    a("apply", "-f", "-", stdin=json.dumps({"apiVersion": "v1", "kind": "List", "items": [
        {"apiVersion": "v1", "kind": "Pod", "metadata": {"name": VM_NAME, "labels": labels},
         "spec": {"virtualMachine": vm}},
        {"apiVersion": "v1", "kind": "Service", "metadata": {"name": "vm-web", "labels": labels},
         "spec": {"selector": {"app": "vm-web"}, "ports": [{"port": 80}]}}]}))

    def running() -> bool:
        status = a.json("get", "pod", VM_NAME).get("status") or {}
        return status.get("phase") == "Running" and bool(status.get("podIP"))

    _wait(kubectl, "the VM pod Running with a pod IP", running, VM_WAIT_S,
          lambda: a("get", "pod", VM_NAME, "-o", "yaml", check=False).stdout)
    ip: str = a.json("get", "pod", VM_NAME)["status"]["podIP"]
    return ip


def test_vm_pod_gets_a_pod_ip(kubectl: Kubectl, sites: dict[str, Site], vm_ip: str) -> None:
    assert ipaddress.ip_address(vm_ip) in ipaddress.ip_network(POD_SUBNET), vm_ip
    wide = TenantKubectl(kubectl.env, sites["A"].kubeconfig)("get", "pod", VM_NAME, "-o", "wide").stdout
    print(wide)
    assert re.search(rf"^{VM_NAME}\s+1/1\s+Running\s+\d+\s+\S+\s+{re.escape(vm_ip)}\s+{NODE}\s", wide,
                     re.MULTILINE), wide


@pytest.fixture(scope="module")
def guest_hostname(kubectl: Kubectl, vm_ip: str, ssh_key: Path) -> str:
    """`ssh -i KEY root@<podIP>` running a command in the guest (once dropbear is up): its hostname."""
    done: list[subprocess.CompletedProcess[str]] = []

    def answered() -> bool:
        done[:] = [_ssh(ssh_key, vm_ip, "echo guest=$(hostname); ip -4 addr show")]
        return done[0].returncode == 0

    _wait(kubectl, f"ssh root@{vm_ip}", answered, VM_WAIT_S,
          lambda: f"ssh: rc {done[0].returncode}\n{done[0].stdout}{done[0].stderr}" if done else "")
    print(done[0].stdout)
    assert f"inet {vm_ip}/" in done[0].stdout, done[0].stdout  # the command ran where the pod IP lives
    hostname = re.search(r"^guest=(\S+)$", done[0].stdout, re.MULTILINE)
    assert hostname, done[0].stdout
    return hostname.group(1)


def test_ssh_with_the_pods_key_runs_a_command_in_the_guest(vm_ip: str, ssh_key: Path, guest_hostname: str,
                                                           module_tmp: Path) -> None:  # noqa: F811
    assert guest_hostname
    other = module_tmp / "other-key"
    subprocess.run(["ssh-keygen", "-q", "-t", "ed25519", "-N", "", "-f", str(other)], check=True, timeout=30)
    refused = _ssh(other, vm_ip, "true")
    assert refused.returncode != 0 and "Permission denied" in refused.stderr, refused.stderr


def test_a_service_routes_to_the_guests_port(kubectl: Kubectl, sites: dict[str, Site], vm_ip: str,
                                             guest_hostname: str) -> None:
    a = TenantKubectl(kubectl.env, sites["A"].kubeconfig)
    service_ip = a.json("get", "service", "vm-web")["spec"]["clusterIP"]
    slices = a.json("get", "endpointslices", "-l", "kubernetes.io/service-name=vm-web")["items"]
    assert [vm_ip] in [e["addresses"] for s in slices for e in s.get("endpoints") or []], slices
    page: list[str] = [""]

    def served() -> bool:
        page[0] = a.sh(sites["A"].client, f"{WGET} http://{service_ip}/; {WGET} http://vm-web/")
        return page[0].count(guest_hostname) >= 2

    _wait(kubectl, "tenant A's client reaching the guest's httpd through Service vm-web", served,
          ROUTE_WAIT_S, lambda: page[0])


def test_another_tenants_pod_cannot_reach_the_vm(kubectl: Kubectl, sites: dict[str, Site], vm_ip: str,
                                                 guest_hostname: str) -> None:
    service_ip = TenantKubectl(kubectl.env, sites["A"].kubeconfig).json(
        "get", "service", "vm-web")["spec"]["clusterIP"]
    probes = {"http vm": f"{WGET} http://{vm_ip}/", "ssh vm": f"nc -w 2 {vm_ip} 22 </dev/null | head -c 16",
              "svc vm-web": f"{WGET} http://{service_ip}/"}
    rows = {label: _row(TenantKubectl(kubectl.env, sites[label].kubeconfig), sites[label].client, probes)
            for label in ("A", "B")}
    print("\n" + _matrix_text("reaching tenant A's VM", {k: {c: v[:16] for c, v in r.items()}
                                                          for k, r in rows.items()}))
    assert guest_hostname in rows["A"]["http vm"] and rows["A"]["ssh vm"].startswith("SSH-"), rows["A"]
    assert rows["B"] == dict.fromkeys(probes, BLOCKED), rows["B"]
