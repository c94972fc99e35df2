"""kube-proxy with network isolation: rule count and sync time for many tenants (issue 15's bench).

``--tenants`` tenants (100), each with ``--services`` Services (10) of ``--pods`` pods (3) each, all in
the tenant's ``default`` network (``--networks`` > 1 spreads each tenant's Services over that many
networks by label), and the cluster DNS (two pods, system's ``kube-dns``, one ``kube-dns-<network>``
per network). Objects go straight to the proxier (no API server: the figure is the proxier's
own cost), which programs real iptables in a throwaway network namespace (``ip netns add``), removed
at the end whatever happens. Measured with isolation on: the isolation rules alone and all rules
installed, the first full sync, a full resync, a partial sync after one pod went (its network's chain
and the shared chains rewritten), a partial sync after a pod came; then the same objects with
``--network-isolation=false`` (today's flat pod network): rules and a full sync that removes the
isolation chains; and ``--cleanup``. Run as root:

    .venv/bin/python bench/isolation_bench.py [--tenants 100] [--services 10] [--pods 3] [--networks 1]

Prints ``name: value unit`` lines.
"""

from __future__ import annotations

import argparse
import asyncio
import sys
import time
from dataclasses import replace
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from _netns import throwaway_netns

from proxy.chains import ChainNames
from proxy.iptables import Iptables, ensure_installed
from proxy.proxier import Proxier
from proxy.rules import RuleSettings

CLUSTER_CIDR = "10.128.0.0/9"
NETWORK_LABEL = "arktos.futurewei.com/network"

Objects = tuple[list[dict[str, Any]], list[dict[str, Any]], list[dict[str, Any]]]


Made = tuple[dict[str, Any], dict[str, Any]]


def _service(tenant: str, namespace: str, name: str, cluster_ip: str, labels: dict[str, str],
             ports: list[tuple[str, int, str]], endpoints: list[str]) -> Made:
    """A Service with ``ports`` (name, port, protocol; targetPort = port) and its one slice."""
    meta = {"tenant": tenant, "namespace": namespace, "name": name, "labels": labels}
    service = {"metadata": meta, "spec": {"clusterIP": cluster_ip, "ports": [
        {"name": port_name, "port": port, "protocol": protocol} for port_name, port, protocol in ports]}}
    slice_meta = {**meta, "name": f"{name}-1", "labels": {"kubernetes.io/service-name": name}}
    endpoint_slice = {"metadata": slice_meta, "addressType": "IPv4",
                      "ports": [{"name": port_name, "port": port, "protocol": protocol}
                                for port_name, port, protocol in ports],
                      "endpoints": [{"addresses": [ip], "conditions": {"ready": True}} for ip in endpoints]}
    return service, endpoint_slice


def _pod(tenant: str, namespace: str, name: str, ip: str, labels: dict[str, str]) -> dict[str, Any]:
    return {"metadata": {"tenant": tenant, "namespace": namespace, "name": name, "labels": labels},
            "spec": {}, "status": {"phase": "Running", "podIP": ip, "podIPs": [{"ip": ip}]}}


def objects(tenants: int, services: int, pods: int, networks: int) -> Objects:
    """Services, their EndpointSlices and their pods; tenant t's pods are 10.(128+t).s.p. Plus the
    cluster DNS: two pods in system's kube-system behind system's ``kube-dns`` and behind a
    ``kube-dns-<network>`` Service per network (as the network controller makes them)."""
    dns_ips = ["10.250.0.2", "10.250.0.3"]
    dns_ports = [("dns", 53, "UDP"), ("dns-tcp", 53, "TCP")]
    made = [_service("system", "kube-system", "kube-dns", "10.0.255.10", {}, dns_ports, dns_ips)]
    all_pods = [_pod("system", "kube-system", f"dns-{i}", ip, {"k8s-app": "kube-dns"})
                for i, ip in enumerate(dns_ips)]
    for t in range(tenants):
        for n in range(networks):
            network = f"net-{n}" if networks > 1 else "default"
            dns_labels = {NETWORK_LABEL: network} if networks > 1 else {}
            made.append(_service(f"t{t}", "kube-system", f"kube-dns-{network}",
                                 f"10.{t // 250}.{t % 250}.{200 + n}", dns_labels, dns_ports, dns_ips))
        for s in range(services):
            name = f"svc-{s}"
            labels = {NETWORK_LABEL: f"net-{s % networks}"} if networks > 1 else {}
            ips = [f"10.{128 + t}.{s}.{p + 1}" for p in range(pods)]
            made.append(_service(f"t{t}", "default", name, f"10.{t // 250}.{t % 250}.{s + 1}", labels,
                                 [("http", 8080, "TCP")], ips))
            all_pods += [_pod(f"t{t}", "default", f"{name}-{p}", ip, {**labels, "app": name})
                         for p, ip in enumerate(ips)]
    return [service for service, _ in made], [endpoint_slice for _, endpoint_slice in made], all_pods


async def installed(iptables: Iptables) -> tuple[int, int]:
    """(all rules of the prefix, isolation rules) in the namespace's nat and filter tables."""
    chains = [line.split()[1] for table in ("nat", "filter")
              for line in (await iptables.rules(table)).splitlines() if line.startswith("-A KUBE")]
    return len(chains), sum(1 for chain in chains if "ISOLATION" in chain or "-NET-" in chain)


async def timed(label: str, proxier: Proxier, objs: Objects, *, full: bool = True) -> None:
    result = await proxier.sync(*objs, full=full)
    print(f"isolation_sync_{label}: {result.seconds:.3f} s ({result.rules} rules written, "
          f"{result.networks} networks)")


async def run(netns: str, tenants: int, services: int, pods: int, networks: int) -> None:
    svcs, slices, all_pods = objects(tenants, services, pods, networks)
    print(f"isolation_objects: {tenants} tenants x {services} services x {pods} pods = {len(all_pods)} pods, "
          f"{tenants * networks} networks")
    settings = RuleSettings(ChainNames("KUBE"), cluster_cidr=CLUSTER_CIDR)
    iptables = Iptables(netns=netns)
    proxier = Proxier(iptables, settings)
    await timed("first_full", proxier, (svcs, slices, all_pods))
    await timed("full_resync", proxier, (svcs, slices, all_pods))
    total, isolation = await installed(iptables)
    print(f"isolation_rules: {isolation} rules ({total} rules of the proxy in all)")
    gone = all_pods.pop(0)
    await timed("partial_one_pod_gone", proxier, (svcs, slices, all_pods), full=False)
    all_pods.insert(0, gone)
    await timed("partial_one_pod_came", proxier, (svcs, slices, all_pods), full=False)
    flat = Proxier(iptables, replace(settings, network_isolation=False))
    await timed("full_isolation_turned_off", flat, (svcs, slices, all_pods))
    total, isolation = await installed(iptables)
    print(f"isolation_rules_flat: {isolation} isolation rules ({total} rules of the proxy in all)")
    started = time.perf_counter()
    removed = await proxier.cleanup()
    print(f"isolation_cleanup: {time.perf_counter() - started:.3f} s ({removed} chains)")


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--tenants", type=int, default=100)
    parser.add_argument("--services", type=int, default=10)
    parser.add_argument("--pods", type=int, default=3)
    parser.add_argument("--networks", type=int, default=1)
    args = parser.parse_args()
    if args.tenants > 127 or args.services > 255 or args.pods > 254:
        parser.error("at most 127 tenants, 255 services and 254 pods (the address plan)")
    ensure_installed()
    with throwaway_netns("arktos-isb") as netns:
        asyncio.run(run(netns, args.tenants, args.services, args.pods, args.networks))
    return 0


if __name__ == "__main__":
    sys.exit(main())
