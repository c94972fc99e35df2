"""Scale-out figures: hollow nodes across resource partitions, pods scheduled across tenant partitions.

``--part nodes`` (issue 13's capacity figure): ``--resource-partitions`` API servers (default 2) and
``--tenant-partitions`` ones (default 1), each ``python -m server`` on its own SQLite store (plain
HTTP on loopback, bench/server_process.py), and hollow kubelet processes that register their Nodes
and Leases in a resource partition and watch their pods in every tenant partition
(``--tenant-server-kubeconfig``, as hack/arktos-up-scale-out.sh starts them). The node count grows
in ``--steps`` (totals, split evenly over the resource partitions). At each step, once every node is
Ready, the mixed probe of bench/hollow_capacity_bench.py (bench/_api_probe.py) runs against every
resource partition at once while the nodes heartbeat; a step meets the target (upstream's API call
latency SLO: p99 <= 1 s) when every node is Ready and, on every resource partition, every probe
call's p99 and the server's own read-only and mutating p99 are <= 1 s with no probe call failed.
Per step it prints each partition's API server CPU (share of a core) and RSS, the hollow kubelets'
per resource partition, and the same per 1,000 nodes - the figures a 100,000-node deployment is
projected from (docs/design/scale-out.md). It stops at the first step that misses; the last line
is the largest total that met the target (the issue's target: >= 15,000 across 2 partitions).

``--part scheduling``: ``--resource-partitions`` partitions holding ``--sched-nodes`` Node objects
(Ready, no kubelet, as bench/scheduler_bench.py makes them) and 2 tenant partitions. First
``--sched-pods`` pods are created in tp0 and tp0's scheduler (``python -m scheduler
--resource-providers ...``) alone binds them; then as many pods in each of tp0 and tp1 and both
schedulers bind them at once. Pods bound per second (first to last binding seen) for one partition
and for two, and their ratio (target >= 1.0: no loss from partitioning), in the same run.

Gateway overhead per request is bench/gateway_bench.py's. Not a test: nothing fails on a missed
target. On this 2-core machine every process shares both cores; the servers are not pinned.

    .venv/bin/python bench/scale_out_bench.py [--part nodes|scheduling|all] [--steps 2000,...]
        [--nodes-per-process 1000] [--resource-partitions 2] [--tenant-partitions 1]
        [--window-s 20] [--probe-qps 30] [--sched-nodes 1000] [--sched-pods 5000]
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import os
import sys
import tempfile
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import aiohttp
from _interrupts import interrupt_on_signals
from api_bench import line, print_machine
from hollow_capacity_bench import (
    NODE_PREFIX,
    PROBE_NAMESPACE,
    PROBE_NODE,
    TARGET_S,
    HollowFleet,
    cpu_seconds,
    ready_hollow_nodes,
    rss_bytes,
    step_list,
    wait_ready,
)
from scheduler_bench import NAMESPACE, node_object, pod_object, post_all, start_scheduler, watch_until_bound
from server_process import REPO_ROOT, RunningServer, running_server, stop_group

sys.path.insert(0, str(REPO_ROOT))
from _api_probe import (
    MUTATING_VERBS,
    NODES,
    PROBE_OPERATIONS,
    READ_ONLY_VERBS,
    Histogram,
    MixedLoad,
    ProbeResult,
    bucket_quantile,
    percentile,
    scrape_histogram,
)

from client.config import config_for_url
from client.informer import Informer
from client.rest import ApiClient
from tools.kubeconfig import ClientCredentials, ClusterAuthority, kubeconfig_document, standard_contexts
from tools.kubeconfig import write_kubeconfig as write_kubeconfig_file

TARGET_NODES = 15_000
ALL_CPUS = set(os.sched_getaffinity(0))


@dataclass(frozen=True)
class Partition:
    name: str
    server: RunningServer
    kubeconfig: Path

    @property
    def url(self) -> str:
        return self.server.url

    @property
    def pid(self) -> int:
        return self.server.process.pid


def plain_kubeconfig(path: Path, url: str) -> Path:
    """A kubeconfig for a plain-HTTP partition (no credentials: its plain port needs none)."""
    document = kubeconfig_document(
        user="bench",
        credentials=ClientCredentials(),
        authority=ClusterAuthority(),
        contexts=standard_contexts(url),
    )
    write_kubeconfig_file(path, document)
    return path


@contextlib.contextmanager
def running_partitions(names: list[str], workdir: Path) -> Iterator[list[Partition]]:
    """One API server per name, each on its own store, unpinned; stopped on exit."""
    with contextlib.ExitStack() as stack:
        partitions = []
        for name in names:
            server = stack.enter_context(running_server(keep_dir=True, cpus=ALL_CPUS))
            partitions.append(
                Partition(name, server, plain_kubeconfig(workdir / f"{name}.kubeconfig", server.url))
            )
            print(f"# {name}: {server.url}, log {server.log_path}", flush=True)
        yield partitions


# -- (a) hollow nodes across resource partitions ---------------------------------------------------


@dataclass
class ResourcePartitionLoad:
    """One resource partition under test: its hollow fleet, its Node informer, its probe."""

    partition: Partition
    fleet: HollowFleet
    nodes: Informer
    probe: MixedLoad
    watcher: asyncio.Task[None]  # runs ``nodes``; cancelled when the steps are done


def usage(pids: list[int], cpu_before: dict[int, float], elapsed: float) -> tuple[float, int]:
    """(share of a core, RSS bytes) of these processes over the window."""
    cpu = sum(cpu_seconds(pid) - cpu_before.get(pid, 0.0) for pid in pids) / elapsed
    return cpu, sum(rss_bytes(pid) for pid in pids)


@dataclass(frozen=True)
class Usage:
    """What one group of processes used in a probe window, at a node count."""

    nodes: int
    cpu: float  # share of a core
    rss: int  # bytes


def print_usage(label: str, now: Usage, history: dict[str, Usage]) -> None:
    """Absolute figures, and per 1,000 nodes *added since the previous step* (marginal: the fixed
    cost of an idle server and of the probe itself cancels out), which is what a projection to more
    nodes scales; the first step is compared with the same processes at 0 nodes."""
    print(f"  {label:26s} CPU {now.cpu * 100:5.0f}% of a core, RSS {now.rss / 2**20:6.0f} MiB", end="")
    previous = history.get(label)
    history[label] = now
    added = now.nodes - previous.nodes if previous is not None else 0
    if previous is None or added <= 0:
        print(flush=True)
        return
    per_k = 1000 / added
    print(
        f"  | +1,000 nodes: {(now.cpu - previous.cpu) * per_k * 100:+6.1f}% CPU,"
        f" {(now.rss - previous.rss) * per_k / 2**20:+6.0f} MiB",
        flush=True,
    )


def probe_verdict(name: str, probe: ProbeResult, before: Histogram, after: Histogram, elapsed: float) -> bool:
    """Prints one resource partition's probe and server-side p99s; True when both meet the target."""
    for op_name in sorted(probe.samples):
        samples = probe.samples[op_name]
        print(
            f"  {name} {op_name:24s} p50 {percentile(samples, 0.5) * 1000:7.1f} ms  "
            f"p99 {percentile(samples, 0.99) * 1000:7.1f} ms  ({len(samples)} calls, "
            f"{probe.errors.get(op_name, 0)} failed)"
        )
    met = (
        len(probe.samples) == PROBE_OPERATIONS
        and not probe.errors
        and all(percentile(s, 0.99) <= TARGET_S for s in probe.samples.values())
    )
    for label, verbs in (("read-only", READ_ONLY_VERBS), ("mutating", MUTATING_VERBS)):
        p99, count = bucket_quantile(before, after, verbs, 0.99)
        print(f"  {name} server {label:10s} p99 <= {p99:g} s ({count} requests, {count / elapsed:.0f}/s)")
        met = met and p99 <= TARGET_S
    return met


async def measure_nodes_step(
    loads: list[ResourcePartitionLoad],
    tenants: list[Partition],
    *,
    window_s: float,
    qps: float,
    history: dict[str, Usage],
) -> bool:
    before = {load.partition.name: await scrape_histogram(load.partition.url) for load in loads}
    pids = [p.pid for p in tenants] + [
        pid for load in loads for pid in [load.partition.pid, *load.fleet.pids()]
    ]
    cpu_before = {pid: cpu_seconds(pid) for pid in pids}
    began = time.monotonic()
    probes = await asyncio.gather(*(load.probe.run(window_s, qps=qps) for load in loads))
    elapsed = time.monotonic() - began
    met = True
    total = sum(load.fleet.nodes for load in loads)
    for load, probe in zip(loads, probes, strict=True):
        after = await scrape_histogram(load.partition.url)
        met = probe_verdict(load.partition.name, probe, before[load.partition.name], after, elapsed) and met
    for load in loads:
        name = load.partition.name
        server_cpu, server_rss = usage([load.partition.pid], cpu_before, elapsed)
        print_usage(f"{name} API server", Usage(load.fleet.nodes, server_cpu, server_rss), history)
        fleet_cpu, fleet_rss = usage(load.fleet.pids(), cpu_before, elapsed)
        print_usage(f"{name} hollow kubelets", Usage(load.fleet.nodes, fleet_cpu, fleet_rss), history)
    for tenant in tenants:
        tenant_cpu, tenant_rss = usage([tenant.pid], cpu_before, elapsed)
        print_usage(f"{tenant.name} API server (pod watches)", Usage(total, tenant_cpu, tenant_rss), history)
    return met


async def grow_and_wait(loads: list[ResourcePartitionLoad], total: int, timeout_s: float) -> bool:
    """Grows every fleet to its share of ``total``; True once every node is Ready (no process died)."""
    share, extra = divmod(total, len(loads))
    for index, load in enumerate(loads):
        load.fleet.grow_to(share + (1 if index < extra else 0))
    results = await asyncio.gather(
        *(wait_ready(load.nodes, load.fleet, timeout_s=timeout_s) for load in loads)
    )
    all_ready = True
    for load, (ready, waited) in zip(loads, results, strict=True):
        print(f"  {load.partition.name}: {ready}/{load.fleet.nodes} Ready after {waited:.1f}s", flush=True)
        if load.fleet.exited():
            print(
                f"# {load.partition.name}: hollow kubelet process(es) {load.fleet.exited()} exited",
                flush=True,
            )
        all_ready = all_ready and ready >= load.fleet.nodes and not load.fleet.exited()
        load.probe.node_names = ready_hollow_nodes(load.nodes)
    return all_ready


async def resource_partition_load(
    rp: Partition, client: ApiClient, group: asyncio.TaskGroup, fleet: HollowFleet
) -> ResourcePartitionLoad:
    """The probe's namespace and node in ``rp``, and a synced Node informer (run in ``group``)."""
    probe = MixedLoad(client, namespace=PROBE_NAMESPACE, probe_node=PROBE_NODE)
    await probe.prepare()
    nodes = Informer(client, NODES)
    watcher = group.create_task(nodes.run())
    await nodes.wait_for_sync()
    return ResourcePartitionLoad(rp, fleet, nodes, probe, watcher)


async def step_through(
    loads: list[ResourcePartitionLoad], tenants: list[Partition], args: argparse.Namespace
) -> int:
    """Every step in turn (after a 0-node baseline); the largest total that met the target."""
    best = 0
    history: dict[str, Usage] = {}
    for target in [0, *args.steps]:
        print(f"step {target} nodes over {len(loads)} resource partitions:", flush=True)
        ready = await grow_and_wait(loads, target, args.ready_timeout_s)
        met = await measure_nodes_step(
            loads, tenants, window_s=args.window_s, qps=args.probe_qps, history=history
        )
        met = met and ready
        print(f"  step {target}: {'meets' if met else 'misses'} the p99 <= {TARGET_S:g} s target", flush=True)
        if not met:
            break
        best = target
    return best


async def run_nodes(args: argparse.Namespace, workdir: Path) -> None:
    names = [f"tp{i}" for i in range(args.tenant_partitions)] + [
        f"rp{j}" for j in range(args.resource_partitions)
    ]
    with running_partitions(names, workdir) as partitions, contextlib.ExitStack() as fleets:
        tenants, resources = partitions[: args.tenant_partitions], partitions[args.tenant_partitions :]
        watch_tenants = ",".join(str(t.kubeconfig) for t in tenants)
        extra = ("--tenant-server-kubeconfig", watch_tenants) if tenants else ()
        async with contextlib.AsyncExitStack() as clients, asyncio.TaskGroup() as group:
            loads = []
            for rp in resources:
                client = await clients.enter_async_context(
                    ApiClient(config_for_url(rp.url), request_timeout=60)
                )
                fleet = HollowFleet(
                    rp.url,
                    workdir,
                    fleets,
                    args.nodes_per_process,
                    [],
                    prefix=f"{NODE_PREFIX}-{rp.name}-",
                    extra_args=extra,
                )
                loads.append(await resource_partition_load(rp, client, group, fleet))
            best = await step_through(loads, tenants, args)
            for load in loads:
                load.watcher.cancel()
    if best == args.steps[-1]:
        print(f"# every step met the target: {best} nodes is the largest step measured, not a limit found")
    line(
        "scale_out_hollow_nodes",
        best,
        "nodes",
        f">= {TARGET_NODES} nodes over {args.resource_partitions} resource partitions"
        f" at API p99 <= {TARGET_S:g} s",
        best >= TARGET_NODES,
    )


# -- (b) pods scheduled across tenant partitions ----------------------------------------------------


async def create_pods(session: aiohttp.ClientSession, tenant: Partition, *, first: int, count: int) -> str:
    """``count`` unbound pods in tenant partition ``tenant``; answers the resourceVersion after them."""
    await post_all(
        session,
        f"{tenant.url}/api/v1/namespaces/{NAMESPACE}/pods",
        [pod_object(i) for i in range(first, first + count)],
    )
    async with session.get(
        f"{tenant.url}/api/v1/namespaces/{NAMESPACE}/pods", params={"limit": "1"}
    ) as answer:
        return str((await answer.json())["metadata"]["resourceVersion"])


async def binding_round(
    session: aiohttp.ClientSession,
    tenants: list[Partition],
    resources: list[Partition],
    *,
    first: int,
    args: argparse.Namespace,
    logs: Path,
) -> float:
    """Pods created in every one of ``tenants``, then their schedulers started together: pods bound
    per second over all of them (first binding seen to last)."""
    versions = await asyncio.gather(
        *(create_pods(session, t, first=first, count=args.sched_pods) for t in tenants)
    )
    providers = ["--resource-providers", ",".join(str(rp.kubeconfig) for rp in resources)]
    schedulers = [
        start_scheduler(t.url, logs / f"{t.name}-scheduler-{len(tenants)}.log", providers) for t in tenants
    ]
    try:
        spans = await asyncio.gather(
            *(
                watch_until_bound(session, t.url, args.sched_pods, version, args.deadline)
                for t, version in zip(tenants, versions, strict=True)
            )
        )
    finally:
        for process in schedulers:
            stop_group(process)
    seconds = max(last for _, last in spans) - min(began for began, _ in spans)
    return len(tenants) * args.sched_pods / max(seconds, 1e-9)


async def run_scheduling(args: argparse.Namespace, workdir: Path) -> None:
    names = ["tp0", "tp1"] + [f"rp{j}" for j in range(args.resource_partitions)]
    with running_partitions(names, workdir) as partitions:
        tenants, resources = partitions[:2], partitions[2:]
        async with aiohttp.ClientSession(connector=aiohttp.TCPConnector(limit=256)) as session:
            namespace = [{"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": NAMESPACE}}]
            for tenant in tenants:
                await post_all(session, f"{tenant.url}/api/v1/namespaces", namespace)
            await asyncio.gather(
                *(
                    post_all(
                        session,
                        f"{rp.url}/api/v1/nodes",
                        [node_object(i) for i in range(args.sched_nodes) if i % len(resources) == j],
                        with_status=True,
                    )
                    for j, rp in enumerate(resources)
                )
            )
            one = await binding_round(session, tenants[:1], resources, first=0, args=args, logs=workdir)
            line("scale_out_sched_one_tp_pods_per_s", one, "pods/s")
            two = await binding_round(
                session, tenants, resources, first=args.sched_pods, args=args, logs=workdir
            )
            line("scale_out_sched_two_tps_pods_per_s", two, "pods/s")
    line("scale_out_sched_two_over_one", two / one, "x", ">= 1.0", two / one >= 1.0)
    print(
        f"# {args.sched_nodes} nodes over {args.resource_partitions} resource partitions,"
        f" {args.sched_pods} pods per tenant partition per round; scheduler logs in {workdir}",
        flush=True,
    )


def main() -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--part", choices=("nodes", "scheduling", "all"), default="all")
    parser.add_argument("--resource-partitions", type=int, default=2)
    parser.add_argument(
        "--tenant-partitions",
        type=int,
        default=1,
        help="(nodes) tenant partitions every hollow node watches for pods (default 1)",
    )
    parser.add_argument(
        "--steps",
        type=step_list,
        default=step_list("2000,5000,10000,15000,20000"),
        help="(nodes) total node counts to measure at (default 2000,5000,10000,15000,20000)",
    )
    parser.add_argument("--nodes-per-process", type=int, default=1000)
    parser.add_argument("--window-s", type=float, default=20.0, help="(nodes) probe window per step")
    parser.add_argument(
        "--probe-qps", type=float, default=30.0, help="(nodes) probe calls/s per resource partition"
    )
    parser.add_argument("--ready-timeout-s", type=float, default=900.0)
    parser.add_argument("--sched-nodes", type=int, default=1000, help="(scheduling) Node objects")
    parser.add_argument("--sched-pods", type=int, default=5000, help="(scheduling) pods per tenant partition")
    parser.add_argument(
        "--deadline", type=float, default=600.0, help="(scheduling) seconds to wait for bindings"
    )
    args = parser.parse_args()
    if args.resource_partitions < 1 or args.tenant_partitions < 0 or args.nodes_per_process < 1:
        parser.error("--resource-partitions and --nodes-per-process must be at least 1")
    interrupt_on_signals()
    print_machine()
    workdir = Path(tempfile.mkdtemp(prefix="arktos-scale-out-bench-"))
    print(f"# logs and kubeconfigs in {workdir}", flush=True)
    try:
        if args.part in ("nodes", "all"):
            asyncio.run(run_nodes(args, workdir))
        if args.part in ("scheduling", "all"):
            asyncio.run(run_scheduling(args, workdir))
    except KeyboardInterrupt:
        print("# interrupted; every process stopped", file=sys.stderr)
        return 130
    return 0


if __name__ == "__main__":
    sys.exit(main())
