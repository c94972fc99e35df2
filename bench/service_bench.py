"""Services and cluster DNS as a pod sees them: DNS queries/s and latency, and HTTP latency through a
Service IP against the same pod's IP directly, in the same run.

Brings up a single-node cluster with ``hack/arktos-up.sh`` (temp dirs, bridge ``arktos-pb0``, pod
subnet 10.92.0.0/16, service range 10.193.0.0/16, node ports 32700-32799; its own kube-proxy chain
prefix and registry port: bench/_arktos_up.py), or uses a running one with
``--kubeconfig``. In namespace ``service-bench`` it runs one nginx pod behind a ClusterIP Service, then
two pods of the python image:
  - ``http-bench`` (bench/_in_pod_http.py): ``--requests`` GETs of ``/`` to the Service IP and as many
    to the nginx pod's IP, interleaved, each on a new connection: p50/p99 of both and the difference,
    i.e. what kube-proxy's DNAT path adds to a request;
  - ``dns-bench`` (bench/_in_pod_dns.py, dnslib): A queries for ``kubernetes.default.svc.<domain>``
    (the domain from the pod's search path) against the pod's nameserver (the ``kube-dns`` Service),
    for ``--dns-seconds`` per concurrency (1 client, then ``--dns-clients``, each on its own socket):
    queries/s, p50, p99, failures.
The client pods share the node (and its 2 cores here) with the DNS pods, nginx and the control plane:
the figures are a whole node's, not a server's alone. Not a test: nothing fails on a slow run.

    .venv/bin/python bench/service_bench.py [--kubeconfig PATH] [--requests 1000]
        [--dns-seconds 10] [--dns-clients 16]
"""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from _arktos_up import ClusterStartError, arktos_up
from _interrupts import interrupt_on_signals
from api_bench import line, print_machine
from pod_startup_bench import percentile
from server_process import REPO_ROOT

NAMESPACE = "service-bench"
KUBECTL = str(REPO_ROOT / ".venv" / "bin" / "kubectl")
POD_WAIT_S = 240.0
CLUSTER_ENV = {
    "SERVICE_CLUSTER_IP_RANGE": "10.193.0.0/16", "SERVICE_NODE_PORT_RANGE": "32700-32799",
    "VM_RUNTIME_ENABLED": "false",
}  # fmt: skip


class Cluster:
    """Stock kubectl with one kubeconfig, in one namespace (the bench's by default)."""

    def __init__(self, kubeconfig: Path, namespace: str = NAMESPACE) -> None:
        self.kubeconfig = kubeconfig
        self.namespace = namespace

    def __call__(self, *args: str, stdin: str = "", check: bool = True) -> str:
        done = subprocess.run([KUBECTL, "--kubeconfig", str(self.kubeconfig), "-n", self.namespace, *args],
                              input=stdin, capture_output=True, text=True, timeout=60)
        if check and done.returncode != 0:
            raise RuntimeError(f"kubectl {' '.join(args)}: {done.stderr.strip()}")
        return done.stdout

    def json(self, *args: str) -> dict[str, Any]:
        loaded: dict[str, Any] = json.loads(self(*args, "-o", "json"))
        return loaded

    def wait_pod(self, name: str, phases: tuple[str, ...]) -> dict[str, Any]:
        deadline = time.monotonic() + POD_WAIT_S
        while time.monotonic() < deadline:
            pod = self.json("get", "pod", name)
            if (pod.get("status") or {}).get("phase") in phases:
                return pod
            time.sleep(1)
        raise RuntimeError(f"pod {name} not {'/'.join(phases)} within {POD_WAIT_S:.0f}s")

    def run_python(self, name: str, script: Path, *args: str) -> list[dict[str, Any]]:
        """A python-image pod running ``script`` with ``args``; its JSON output lines once it succeeded."""
        pod = {"apiVersion": "v1", "kind": "Pod", "metadata": {"name": name},
               "spec": {"restartPolicy": "Never", "containers": [{
                   "name": "bench", "image": "python:3",
                   "command": ["python3", "-c", script.read_text(), *args]}]}}
        self("apply", "-f", "-", stdin=json.dumps(pod))
        finished = self.wait_pod(name, ("Succeeded", "Failed"))
        logs = self("logs", name)
        if finished["status"]["phase"] != "Succeeded":
            raise RuntimeError(f"pod {name} failed:\n{logs}")
        return [json.loads(text) for text in logs.splitlines() if text.startswith("{")]


def start_web(cluster: Cluster) -> tuple[str, str]:
    """One nginx pod behind a ClusterIP Service: (service IP, pod IP)."""
    cluster("create", "deployment", "bench-web", "--image=nginx")
    cluster("expose", "deployment", "bench-web", "--port", "80")
    deadline = time.monotonic() + POD_WAIT_S
    while time.monotonic() < deadline:
        pods = cluster.json("get", "pods", "-l", "app=bench-web")["items"]
        ready = [p for p in pods if (p.get("status") or {}).get("phase") == "Running"
                 and all(c.get("ready") for c in p["status"].get("containerStatuses") or [{}])]
        if ready:
            service_ip = cluster.json("get", "service", "bench-web")["spec"]["clusterIP"]
            return service_ip, str(ready[0]["status"]["podIP"])
        time.sleep(1)
    raise RuntimeError(f"nginx not Running within {POD_WAIT_S:.0f}s")


def report_http(result: dict[str, Any], service_ip: str, pod_ip: str) -> None:
    via_service, direct = result[service_ip], result[pod_ip]
    print(f"# http: {len(via_service['latencies_s'])} GETs each, new connection per GET; failed: "
          f"service {via_service['failed']}, pod {direct['failed']}", flush=True)
    for label, figures in (("service_ip", via_service), ("pod_ip", direct)):
        line(f"http_via_{label}_p50", percentile(figures["latencies_s"], 0.50) * 1e3, "ms")
        line(f"http_via_{label}_p99", percentile(figures["latencies_s"], 0.99) * 1e3, "ms")
    added = percentile(via_service["latencies_s"], 0.50) - percentile(direct["latencies_s"], 0.50)
    line("http_service_added_p50", added * 1e3, "ms")


def report_dns(results: list[dict[str, Any]]) -> None:
    for result in results:
        clients, latencies = result["clients"], result["latencies_s"]
        print(f"# dns: {clients} client(s) for {result['name']} against {result['server']}: "
              f"{result['answered']} answered, {result['failed']} failed in {result['elapsed_s']:.1f}s",
              flush=True)
        line(f"dns_queries_per_s_{clients}_clients", result["answered"] / result["elapsed_s"], "/s")
        line(f"dns_latency_p50_{clients}_clients", percentile(latencies, 0.50) * 1e3, "ms")
        line(f"dns_latency_p99_{clients}_clients", percentile(latencies, 0.99) * 1e3, "ms")


def measure(cluster: Cluster, *, requests: int, dns_seconds: float, dns_clients: int) -> None:
    cluster("create", "namespace", NAMESPACE, check=False)  # 409 on a kept cluster is fine
    # An earlier run's leftovers on a kept cluster.
    cluster("delete", "pod,deployment,service", "--all", "--wait=true", check=False)
    service_ip, pod_ip = start_web(cluster)
    print(f"# nginx pod {pod_ip} behind Service {service_ip}", flush=True)
    http = cluster.run_python("http-bench", Path(__file__).with_name("_in_pod_http.py"),
                              f"{service_ip},{pod_ip}", str(requests))
    report_http(http[0], service_ip, pod_ip)
    dns = cluster.run_python("dns-bench", Path(__file__).with_name("_in_pod_dns.py"),
                             "kubernetes.default", str(dns_seconds), f"1,{dns_clients}")
    report_dns(dns)
    cluster("delete", "namespace", NAMESPACE, "--wait=false", check=False)


@contextlib.contextmanager
def kubeconfig_of(given: str | None) -> Iterator[Path]:
    if given:
        yield Path(given)
        return
    extra = dict(CLUSTER_ENV)
    if os.environ.get("REGISTRY"):
        extra["REGISTRY"] = os.environ["REGISTRY"]
    started_at = time.monotonic()
    with arktos_up(extra_env=extra) as up:
        print(f"# arktos-up.sh ready in {time.monotonic() - started_at:.1f}s; logs in {up.log_dir}",
              flush=True)
        yield up.kubeconfig
    print("# cluster stopped (Ctrl-C)", flush=True)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--kubeconfig", help="use this running cluster instead of starting hack/arktos-up.sh")
    parser.add_argument("--requests", type=int, default=1000, help="GETs per target (default 1000)")
    parser.add_argument("--dns-seconds", type=float, default=10.0, help="seconds per DNS concurrency")
    parser.add_argument("--dns-clients", type=int, default=16, help="concurrent DNS clients (default 16)")
    args = parser.parse_args()
    interrupt_on_signals()
    print_machine()
    print(f"# load average at start: {os.getloadavg()[0]:.2f}", flush=True)
    try:
        with kubeconfig_of(args.kubeconfig) as kubeconfig:
            measure(Cluster(kubeconfig), requests=args.requests, dns_seconds=args.dns_seconds,
                    dns_clients=args.dns_clients)
    except (ClusterStartError, RuntimeError) as e:
        print(f"# {e}", file=sys.stderr)
        return 1
    except KeyboardInterrupt:
        print("# interrupted", file=sys.stderr)
        return 130
    return 0


if __name__ == "__main__":
    sys.exit(main())
