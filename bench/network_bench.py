"""What tenant-network isolation costs on the node: pod-to-pod and pod-to-Service latency within one
network with kube-proxy's isolation on and off (the flat bridge of issue 14), in the same run, and
the node's iptables rule count for 100 tenants x 10 Services.

Two phases, each a single-node cluster from ``hack/arktos-up.sh`` (bench/_arktos_up.py: temp dirs,
bridge ``arktos-pb0``, pod subnet 10.92.0.0/16, chain prefix APB; here also service range
10.194.0.0/16, node ports 32800-32899 and network pool 192.168.0.0/16, room for 256 networks'
/24s): the first as arktos-up starts by default (``KUBE_PROXY_NETWORK_ISOLATION=true``), the second
with ``KUBE_PROXY_NETWORK_ISOLATION=false``. In each, tenant ``bench`` (its ``default`` network)
runs one nginx pod behind a ClusterIP Service and a python-image pod (bench/_in_pod_http.py)
timing ``--requests`` GETs to the Service IP and as many to nginx's pod IP, interleaved, each on a
new connection (the case that walks the filter rules: a new conntrack entry per request): p50/p99.
Then ``--tenants`` tenants get ``--services`` selectorless ClusterIP Services each, each with an
EndpointSlice of ``--endpoints`` ready addresses (beside every tenant's own ``kube-dns-default`` and
``kubernetes-default``), and once kube-proxy has synced them the rules under the cluster's chain
prefix are counted (``iptables-save``, nat + filter, ``-A`` lines in the prefix's chains or jumping
to them) and the latency measured again with them in place. The endpoints are addresses, not pods:
the isolation rules grow with pods and networks, the service rules with endpoints.
The client shares the node's 2 cores with nginx, DNS, the control plane and the kubelet: the
figures are a whole node's. Not a test: nothing fails on a slow run. Run as root:

    .venv/bin/python bench/network_bench.py [--requests 1000] [--tenants 100] [--services 10]
"""

from __future__ import annotations

import argparse
import concurrent.futures
import json
import os
import ssl
import subprocess
import sys
import time
import urllib.error
import urllib.request
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from _arktos_up import ArktosUpCluster, ClusterStartError, arktos_up
from _interrupts import interrupt_on_signals
from api_bench import line, print_machine
from pod_startup_bench import percentile
from server_process import REPO_ROOT
from service_bench import KUBECTL, Cluster, start_web

sys.path.insert(0, str(REPO_ROOT))
from tools.cluster_credentials import ADMIN_CERT_FILE, ADMIN_KEY_FILE

TENANT = "bench"
SYNC_WAIT_S = 180.0
CLUSTER_ENV = {
    "SERVICE_CLUSTER_IP_RANGE": "10.194.0.0/16", "SERVICE_NODE_PORT_RANGE": "32800-32899",
    "NETWORK_SERVICE_CIDR_POOL": "192.168.0.0/16", "VM_RUNTIME_ENABLED": "false",
}  # fmt: skip
WORKERS = 8  # API requests in flight while filling the tenants


def tenant_cluster(up: ArktosUpCluster) -> Cluster:
    """Tenant ``bench``, made by the admin: stock kubectl as its admin (hack/setup-tenant-user.sh), in
    its ``default`` namespace."""
    admin = [KUBECTL, "--kubeconfig", str(up.kubeconfig)]
    tenant = {"apiVersion": "v1", "kind": "Tenant", "metadata": {"name": TENANT}}
    subprocess.run([*admin, "create", "-f", "-"], input=json.dumps(tenant), text=True, check=True,
                   capture_output=True, timeout=60)
    subprocess.run([*admin, "wait", "--for=condition=Initialized", f"tenant/{TENANT}", "--timeout=60s"],
                   check=True, capture_output=True, timeout=90)
    made = subprocess.run([str(REPO_ROOT / "hack" / "setup-tenant-user.sh"), TENANT, "admin"],
                          env=dict(up.env), capture_output=True, text=True, check=True, timeout=60)
    cluster = Cluster(Path(made.stdout.strip().splitlines()[-1]), "default")
    deadline = time.monotonic() + 60
    # Its Services get their IPs from the default network's range once that is Ready.
    while (cluster.json("get", "network", "default").get("status") or {}).get("phase") != "Ready":
        if time.monotonic() > deadline:
            raise RuntimeError(f"tenant {TENANT}'s default network not Ready within 60s")
        time.sleep(1)
    return cluster


def http_latencies(cluster: Cluster, name: str, service_ip: str, pod_ip: str,
                   requests: int) -> dict[str, Any]:
    """bench/_in_pod_http.py in a python-image pod ``name``: its latencies per target."""
    return cluster.run_python(name, Path(__file__).with_name("_in_pod_http.py"), f"{service_ip},{pod_ip}",
                              str(requests))[0]


def report_http(phase: str, result: dict[str, Any], service_ip: str, pod_ip: str) -> dict[str, float]:
    print(f"# {phase}: {len(result[pod_ip]['latencies_s'])} GETs each, new connection per GET; failed: "
          f"service {result[service_ip]['failed']}, pod {result[pod_ip]['failed']}", flush=True)
    figures = {}
    for label, address in (("pod_to_pod", pod_ip), ("pod_to_service", service_ip)):
        for name, q in (("p50", 0.50), ("p99", 0.99)):
            figures[f"{label}_{name}"] = percentile(result[address]["latencies_s"], q) * 1e3
            line(f"network_{phase}_{label}_{name}", figures[f"{label}_{name}"], "ms")
    return figures


def prefixed_rules(prefix: str) -> list[str]:
    """``-A`` rules in nat and filter that belong to chains named ``<prefix>-...`` or jump to them."""
    rules = []
    for table in ("nat", "filter"):
        saved = subprocess.run(["iptables-save", "-t", table], capture_output=True, text=True,
                               check=True).stdout
        rules += [text for text in saved.splitlines() if text.startswith("-A ") and f"{prefix}-" in text]
    return rules


def rule_count(prefix: str) -> int:
    return len(prefixed_rules(prefix))


def isolation_rule_count(prefix: str) -> int:
    """The isolation chains' rules (``<prefix>-ISOLATION``, ``-ISOLATION-PODS``, ``-NET-*``)."""
    return sum(1 for rule in prefixed_rules(prefix)
               if rule.startswith((f"-A {prefix}-ISOLATION", f"-A {prefix}-NET-")))


class AdminApi:
    """The cluster's admin certificate on its TLS port, for the many small writes of the fill."""

    def __init__(self, env: Mapping[str, str]) -> None:
        cert_dir = Path(env["CERT_DIR"])
        self.base = f"https://{env['API_HOST_IP']}:{env['API_SECURE_PORT']}"
        self.context = ssl.create_default_context(cafile=str(cert_dir / "ca.crt"))
        self.context.load_cert_chain(cert_dir / ADMIN_CERT_FILE, cert_dir / ADMIN_KEY_FILE)

    def call(self, method: str, path: str, body: Any = None) -> tuple[int, dict[str, Any]]:
        data = json.dumps(body).encode() if body is not None else None
        request = urllib.request.Request(self.base + path, data=data, method=method,
                                         headers={"Content-Type": "application/json"})
        try:
            with urllib.request.urlopen(request, timeout=30, context=self.context) as reply:
                return reply.status, json.loads(reply.read() or b"{}")
        except urllib.error.HTTPError as refused:
            return refused.code, json.loads(refused.read() or b"{}")


def _phase(code: int, network: dict[str, Any]) -> str | None:
    return (network.get("status") or {}).get("phase") if code == 200 else None


def _fill_tenant(api: AdminApi, tenant: str, services: int, endpoints: int, deadline: float) -> None:
    """Tenant ``tenant`` (Initialized, its default network Ready), then its Services and slices."""
    code, answer = api.call("POST", "/api/v1/tenants", {"apiVersion": "v1", "kind": "Tenant",
                                                        "metadata": {"name": tenant}})
    if code not in (201, 409):
        raise RuntimeError(f"tenant {tenant}: {code} {answer.get('message')}")
    network = f"/apis/arktos.futurewei.com/v1/tenants/{tenant}/networks/default"
    while _phase(*api.call("GET", network)) != "Ready":  # 404 until the tenant controller made it
        if time.monotonic() > deadline:
            raise RuntimeError(f"tenant {tenant}'s default network not Ready in time")
        time.sleep(0.5)
    base = f"/api/v1/tenants/{tenant}/namespaces/default"
    slices = f"/apis/discovery.k8s.io/v1/tenants/{tenant}/namespaces/default/endpointslices"
    for i in range(services):
        name = f"svc-{i}"
        for path, body in ((f"{base}/services", {
                "apiVersion": "v1", "kind": "Service", "metadata": {"name": name},
                "spec": {"ports": [{"name": "http", "port": 80, "targetPort": 8080}]}}),
                (slices, {
                    "apiVersion": "discovery.k8s.io/v1", "kind": "EndpointSlice",
                    "metadata": {"name": f"{name}-1", "labels": {
                        "kubernetes.io/service-name": name,
                        "endpointslice.kubernetes.io/managed-by": "network-bench"}},
                    "addressType": "IPv4", "ports": [{"name": "http", "port": 8080, "protocol": "TCP"}],
                    "endpoints": [{"addresses": [f"10.92.{200 + e}.{i + 1}"], "conditions": {"ready": True}}
                                  for e in range(endpoints)]})):
            while True:
                code, answer = api.call("POST", path, body)
                if code in (201, 409):
                    break
                if time.monotonic() > deadline:
                    raise RuntimeError(f"{path} {name}: {code} {answer.get('message')}")
                time.sleep(0.5)  # e.g. the namespace's ServiceAccount admission racing the tenant set-up


def fill_tenants(up: ArktosUpCluster, tenants: int, services: int, endpoints: int) -> float:
    api = AdminApi(up.env)
    started = time.monotonic()
    deadline = started + SYNC_WAIT_S + tenants * 3.0
    with concurrent.futures.ThreadPoolExecutor(WORKERS) as pool:
        jobs = [pool.submit(_fill_tenant, api, f"net-bench-{t}", services, endpoints, deadline)
                for t in range(tenants)]
        for job in jobs:
            job.result()
    return time.monotonic() - started


def wait_rules_settled(prefix: str, timeout_s: float) -> int:
    """The rule count once it stopped changing for 10 s (kube-proxy's syncs caught up)."""
    deadline = time.monotonic() + timeout_s
    last, since = rule_count(prefix), time.monotonic()
    while time.monotonic() < deadline:
        time.sleep(2)
        now = rule_count(prefix)
        if now != last:
            last, since = now, time.monotonic()
        elif time.monotonic() - since >= 10:
            return now
    return last


def phase(isolation: bool, args: argparse.Namespace) -> dict[str, float]:
    label = "isolated" if isolation else "flat"
    extra = {**CLUSTER_ENV, "KUBE_PROXY_NETWORK_ISOLATION": "true" if isolation else "false"}
    if os.environ.get("REGISTRY"):
        extra["REGISTRY"] = os.environ["REGISTRY"]
    started = time.monotonic()
    with arktos_up(extra_env=extra) as up:
        print(f"# {label}: arktos-up.sh ready in {time.monotonic() - started:.1f}s; logs in {up.log_dir}",
              flush=True)
        prefix = up.env["KUBE_PROXY_CHAIN_PREFIX"]
        cluster = tenant_cluster(up)
        service_ip, pod_ip = start_web(cluster)
        print(f"# {label}: nginx pod {pod_ip} behind Service {service_ip} (tenant {TENANT})", flush=True)
        figures = report_http(label, http_latencies(cluster, "http-1", service_ip, pod_ip, args.requests),
                              service_ip, pod_ip)
        if args.tenants:
            before = wait_rules_settled(prefix, SYNC_WAIT_S)
            took = fill_tenants(up, args.tenants, args.services, args.endpoints)
            after = wait_rules_settled(prefix, SYNC_WAIT_S)
            what = f"{args.tenants} tenants x {args.services} Services x {args.endpoints} endpoints"
            print(f"# {label}: {what} created in {took:.1f}s; rules before {before}", flush=True)
            line(f"network_{label}_iptables_rules_{args.tenants}x{args.services}", after, f"rules ({what})")
            line(f"network_{label}_iptables_rules_per_tenant", (after - before) / args.tenants, "rules")
            line(f"network_{label}_isolation_rules", isolation_rule_count(prefix),
                 "rules (ISOLATION and NET chains)")
            loaded = report_http(f"{label}_{args.tenants}_tenants",
                                 http_latencies(cluster, "http-2", service_ip, pod_ip, args.requests),
                                 service_ip, pod_ip)
            figures |= {f"{k}_loaded": v for k, v in loaded.items()}
    print(f"# {label}: cluster stopped (Ctrl-C)", flush=True)
    return figures


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--requests", type=int, default=1000, help="GETs per target (default 1000)")
    parser.add_argument("--tenants", type=int, default=100, help="tenants filled with Services (0: none)")
    parser.add_argument("--services", type=int, default=10, help="Services per tenant (default 10)")
    parser.add_argument("--endpoints", type=int, default=2, help="endpoints per Service (default 2)")
    args = parser.parse_args()
    interrupt_on_signals()
    print_machine()
    print(f"# load average at start: {os.getloadavg()[0]:.2f}", flush=True)
    try:
        isolated = phase(True, args)
        flat = phase(False, args)
    except (ClusterStartError, RuntimeError, subprocess.CalledProcessError) as e:
        print(f"# {e}", file=sys.stderr)
        return 1
    except KeyboardInterrupt:
        print("# interrupted", file=sys.stderr)
        return 130
    for key in ("pod_to_pod_p50", "pod_to_service_p50"):
        line(f"network_isolation_added_{key}", isolated[key] - flat[key], "ms")
    print(f"# load average at end: {os.getloadavg()[0]:.2f}", flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
