"""kube-proxy's full sync for many Services: time and iptables rule count (issue 14's bench).

Feeds Service and EndpointSlice objects straight to the proxier (no API server: the figure is the
proxier's own cost) and programs real iptables in a throwaway network namespace made for the run
(``ip netns add``), removed at the end whatever happens. Measured: building the restore text alone,
the first full sync into empty tables, a full sync that rewrites the same rules (the periodic
resync), a partial sync after one endpoint went (what a pod coming or going costs between periodic
syncs), the same as a full sync, and ``--cleanup``. Run as root:

    .venv/bin/python bench/proxy_bench.py [--services 1000] [--endpoints 10]

Prints ``name: value unit`` lines.
"""

from __future__ import annotations

import argparse
import asyncio
import sys
import time
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from _netns import throwaway_netns

from proxy.chains import ChainNames
from proxy.iptables import Iptables, ensure_installed
from proxy.model import endpoints_by_port, service_ports
from proxy.proxier import Proxier
from proxy.rules import RuleSettings, build_rules, plan

CLUSTER_CIDR = "10.128.0.0/9"


def objects(services: int, endpoints: int) -> tuple[list[dict[str, Any]], list[dict[str, Any]]]:
    """``services`` NodePort-less ClusterIP Services with ``endpoints`` ready endpoints each."""
    svcs, slices = [], []
    for i in range(services):
        name = f"svc-{i}"
        meta = {"tenant": f"t{i % 10}", "namespace": "bench", "name": name}
        svcs.append({"metadata": meta, "spec": {
            "clusterIP": f"10.0.{i // 250}.{i % 250 + 1}",
            "ports": [{"name": "http", "port": 80, "targetPort": 8080, "protocol": "TCP"}]}})
        slices.append({"metadata": {**meta, "name": f"{name}-1",
                                    "labels": {"kubernetes.io/service-name": name}},
                       "addressType": "IPv4", "ports": [{"name": "http", "port": 8080, "protocol": "TCP"}],
                       "endpoints": [{"addresses": [f"10.{128 + i // 250}.{i % 250}.{e + 1}"],
                                      "conditions": {"ready": True}} for e in range(endpoints)]})
    return svcs, slices


async def timed(label: str, proxier: Proxier, svcs: list[dict[str, Any]],
                slices: list[dict[str, Any]], *, full: bool = True) -> None:
    result = await proxier.sync(svcs, slices, full=full)
    print(f"proxy_sync_{label}: {result.seconds:.3f} s ({result.rules} rules written)")


async def run(netns: str, services: int, endpoints: int) -> None:
    svcs, slices = objects(services, endpoints)
    settings = RuleSettings(ChainNames("KUBE"), cluster_cidr=CLUSTER_CIDR)
    started = time.perf_counter()
    ports = [port for svc in svcs for port in service_ports(svc)]
    rule_set = build_rules(settings, plan(ports, endpoints_by_port(slices)))
    text = rule_set.restore_text()
    print(f"proxy_rules_build: {time.perf_counter() - started:.3f} s ({len(text) / 1e6:.1f} MB restore text)")
    iptables = Iptables(netns=netns)
    proxier = Proxier(iptables, settings)
    await timed("first_full", proxier, svcs, slices)
    await timed("full_resync", proxier, svcs, slices)
    slices[0]["endpoints"] = slices[0]["endpoints"][1:]
    await timed("partial_one_endpoint_gone", proxier, svcs, slices, full=False)
    slices[1]["endpoints"] = slices[1]["endpoints"][1:]
    await timed("full_one_endpoint_gone", proxier, svcs, slices)
    saved = [await iptables.rules(table) for table in ("nat", "filter")]
    installed = sum(line.startswith("-A ") for text in saved for line in text.splitlines())
    print(f"proxy_iptables_rules: {installed} rules ({services} services x {endpoints} endpoints)")
    started = time.perf_counter()
    removed = await proxier.cleanup()
    print(f"proxy_cleanup: {time.perf_counter() - started:.3f} s ({removed} chains)")


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--services", type=int, default=1000)
    parser.add_argument("--endpoints", type=int, default=10)
    args = parser.parse_args()
    ensure_installed()
    with throwaway_netns("arktos-pxb") as netns:
        asyncio.run(run(netns, args.services, args.endpoints))
    return 0


if __name__ == "__main__":
    sys.exit(main())
