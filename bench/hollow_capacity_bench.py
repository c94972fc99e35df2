"""How many hollow nodes one control plane holds while API calls stay within p99 <= 1 s.

Starts a real API server (`server_process.running_server`, SQLite, pinned to the first core),
then hollow kubelet processes (``python -m kubelet --hollow --nodes K``, at most
``--nodes-per-process`` nodes each, pinned with this script to the other core) in steps
(``--steps``, default 500,1000,2000,3000,5000 nodes). At each step it waits until every hollow
node is Ready (seen through a Node watch), then for ``--window-s`` runs a mixed probe load
(bench/_api_probe.py: GET node, GET pod, LIST the pods of a namespace, POST+DELETE a pod, PATCH
a node's status) while the nodes heartbeat (a Lease renewal every 10 s, NodeStatus checks every
10 s). Per step it prints the Ready count, the probe's client-side p50/p99 per call, the server's
own p50/p99 (histogram buckets) for read-only and mutating calls over all its traffic, and the
CPU and RSS of the API server and of the kubelet processes. A step meets the target (upstream's
API call latency SLO, as the issue states it: mutating and read-only calls p99 <= 1 s) when every
node is Ready, every probe call's p99 and both server-side p99s are <= 1 s and no probe call
failed. It stops at the first step that does not, or after the last; the final line is the
largest node count that met the target (the issue's target: 5,000 hollow nodes).

``--deployment-pods-per-node N`` then starts the scheduler and the controller manager and runs a
Deployment of N pods per node on the nodes present, timing it to all pods Running (off by
default: on this 2-core machine 10 pods per node at 5,000 nodes takes far longer than the rest).
Not a test: nothing fails on a missed target.

    .venv/bin/python bench/hollow_capacity_bench.py [--steps 500,1000,2000,3000,5000]
        [--nodes-per-process 1000] [--window-s 20] [--probe-qps 30] [--deployment-pods-per-node 0]
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import os
import subprocess
import sys
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from _interrupts import interrupt_on_signals
from api_bench import line, print_machine
from server_process import LOAD_CPUS, REPO_ROOT, pin_to, running_server

sys.path.insert(0, str(REPO_ROOT))
from _api_probe import (
    MUTATING_VERBS,
    NODES,
    PODS,
    PROBE_OPERATIONS,
    READ_ONLY_VERBS,
    TENANT,
    MixedLoad,
    ProbeResult,
    bucket_quantile,
    percentile,
    scrape_histogram,
)

from client.cache import ObjectKey
from client.config import config_for_url
from client.informer import Informer
from client.resources import ResourceRef
from client.rest import ApiClient

DEPLOYMENTS = ResourceRef("apps", "v1", "deployments", "Deployment")
TARGET_S = 1.0
TARGET_NODES = 5000
NODE_PREFIX = "hcap"
PROBE_NAMESPACE = "capacity-probe"
PROBE_NODE = "bench-probe-node"


@contextlib.contextmanager
def component(args: list[str], log_path: Path) -> Iterator[subprocess.Popen[bytes]]:
    """``python -m <args>`` on the load core(s); SIGTERM (then SIGKILL) when the block ends."""
    with log_path.open("wb") as log:
        process = subprocess.Popen([sys.executable, "-m", *args], cwd=REPO_ROOT, stdout=log,
                                   stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL,
                                   start_new_session=True, preexec_fn=lambda: pin_to(LOAD_CPUS))
    try:
        yield process
    finally:
        process.terminate()
        try:
            process.wait(timeout=30)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait(timeout=15)


def cpu_seconds(pid: int) -> float:
    """utime + stime of a process (fields 14 and 15 of /proc/PID/stat), 0 once it is gone."""
    try:
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    except OSError:
        return 0.0
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def rss_bytes(pid: int) -> int:
    with contextlib.suppress(OSError):
        for text in Path(f"/proc/{pid}/status").read_text().splitlines():
            if text.startswith("VmRSS:"):
                return int(text.split()[1]) * 1024
    return 0


@dataclass
class HollowFleet:
    """The hollow kubelet processes; `grow_to` adds processes until ``total`` nodes are hosted."""

    url: str
    logs: Path
    stack: contextlib.ExitStack
    per_process: int
    processes: list[subprocess.Popen[bytes]]
    nodes: int = 0
    prefix: str = NODE_PREFIX  # node names start with it (bench/scale_out_bench.py: one per partition)
    extra_args: tuple[str, ...] = ()  # more kubelet flags (e.g. --tenant-server-kubeconfig)

    def grow_to(self, total: int) -> None:
        while self.nodes < total:
            count = min(self.per_process, total - self.nodes)
            index = len(self.processes)
            self.processes.append(self.stack.enter_context(component(
                ["kubelet", "--master", self.url, "--hostname-override", f"{self.prefix}{index:02d}",
                 "--hollow", "--nodes", str(count), "--log-level", "WARNING", *self.extra_args],
                self.logs / f"hollow-kubelet-{self.prefix}{index:02d}.log")))
            self.nodes += count

    def exited(self) -> list[int]:
        return [p.pid for p in self.processes if p.poll() is not None]

    def pids(self) -> list[int]:
        return [p.pid for p in self.processes]


def is_ready(node: dict[str, Any]) -> bool:
    return any(c.get("type") == "Ready" and c.get("status") == "True"
               for c in (node.get("status") or {}).get("conditions") or [])


def ready_hollow_nodes(nodes: Informer) -> list[str]:
    return [n["metadata"]["name"] for n in nodes.objects()
            if n["metadata"]["name"].startswith(NODE_PREFIX) and is_ready(n)]


async def wait_ready(nodes: Informer, fleet: HollowFleet, *, timeout_s: float) -> tuple[int, float]:
    began = time.monotonic()
    last_print = began
    ready = 0
    while time.monotonic() - began < timeout_s:
        ready = len(ready_hollow_nodes(nodes))
        if ready >= fleet.nodes or fleet.exited():
            break
        if time.monotonic() - last_print >= 15:
            last_print = time.monotonic()
            print(f"  {last_print - began:5.0f}s: {ready}/{fleet.nodes} Ready", flush=True)
        await asyncio.sleep(1)
    return ready, time.monotonic() - began


@dataclass(frozen=True)
class StepFigures:
    nodes: int
    ready: int
    probe: ProbeResult
    server_p99: dict[str, float]  # "read-only" / "mutating" -> bucket bound
    met: bool


async def measure_step(url: str, load: MixedLoad, fleet: HollowFleet, *, ready: int, server_pid: int,
                       window_s: float, qps: float) -> StepFigures:
    hist_before = await scrape_histogram(url)
    cpu_before = {pid: cpu_seconds(pid) for pid in [server_pid, *fleet.pids()]}
    began = time.monotonic()
    probe = await load.run(window_s, qps=qps)
    elapsed = time.monotonic() - began
    hist_after = await scrape_histogram(url)
    cpu = {pid: (cpu_seconds(pid) - before) / elapsed for pid, before in cpu_before.items()}
    for op_name in sorted(probe.samples):
        samples = probe.samples[op_name]
        print(f"  {op_name:24s} p50 {percentile(samples, 0.5) * 1000:7.1f} ms  "
              f"p99 {percentile(samples, 0.99) * 1000:7.1f} ms  ({len(samples)} calls, "
              f"{probe.errors.get(op_name, 0)} failed)")
    server_p99: dict[str, float] = {}
    for label, verbs in (("read-only", READ_ONLY_VERBS), ("mutating", MUTATING_VERBS)):
        p50, count = bucket_quantile(hist_before, hist_after, verbs, 0.50)
        server_p99[label], _ = bucket_quantile(hist_before, hist_after, verbs, 0.99)
        print(f"  server {label:17s} p50 <= {p50:g} s  p99 <= {server_p99[label]:g} s  "
              f"({count} requests, {count / elapsed:.0f}/s)")
    kubelet_cpu = sum(v for pid, v in cpu.items() if pid != server_pid)
    kubelet_rss = sum(rss_bytes(pid) for pid in fleet.pids())
    print(f"  apiserver CPU {cpu[server_pid] * 100:.0f}% of a core, "
          f"RSS {rss_bytes(server_pid) / 2**20:.0f} MiB; "
          f"hollow kubelets ({len(fleet.processes)} processes) CPU {kubelet_cpu * 100:.0f}%, "
          f"RSS {kubelet_rss / 2**20:.0f} MiB", flush=True)
    client_ok = (len(probe.samples) == PROBE_OPERATIONS
                 and all(percentile(s, 0.99) <= TARGET_S for s in probe.samples.values()))
    server_ok = all(p99 <= TARGET_S for p99 in server_p99.values())
    met = ready >= fleet.nodes and client_ok and server_ok and not probe.errors
    return StepFigures(nodes=fleet.nodes, ready=ready, probe=probe, server_p99=server_p99, met=met)


async def run_deployment(client: ApiClient, url: str, *, replicas: int, limit_s: float, logs: Path,
                         stack: contextlib.ExitStack) -> None:
    """Scheduler + controller manager, one Deployment of ``replicas`` pods, seconds to all Running."""
    stack.enter_context(component(["scheduler", "--master", url, "--leader-elect", "false"],
                                  logs / "scheduler.log"))
    stack.enter_context(component(["controllers", "--master", url, "--controllers", "deployment,replicaset"],
                                  logs / "controller-manager.log"))
    pods = Informer(client, PODS, tenant=TENANT, namespace="default", label_selector="app=hollow-capacity")
    running: set[ObjectKey] = set()
    done = asyncio.Event()

    def on_event(_event_type: str, key: ObjectKey) -> None:
        pod = pods.get(key)
        if pod is not None and (pod.get("status") or {}).get("phase") == "Running":
            running.add(key)
            if len(running) >= replicas:
                done.set()

    pods.add_handler(on_event)
    template = {"metadata": {"labels": {"app": "hollow-capacity"}},
                "spec": {"containers": [{"name": "c", "image": "busybox"}]}}
    body = {"apiVersion": "apps/v1", "kind": "Deployment", "metadata": {"name": "hollow-capacity"},
            "spec": {"replicas": replicas, "selector": {"matchLabels": {"app": "hollow-capacity"}},
                     "template": template}}
    async with asyncio.TaskGroup() as group:
        watcher = group.create_task(pods.run())
        await pods.wait_for_sync()
        began = time.monotonic()
        await client.create(DEPLOYMENTS, body, tenant=TENANT, namespace="default")
        with contextlib.suppress(TimeoutError):
            async with asyncio.timeout(limit_s):
                await done.wait()
        elapsed = time.monotonic() - began
        watcher.cancel()
    if done.is_set():
        line(f"hollow_deployment_{replicas}_pods_running", elapsed, "s")
    else:
        print(f"# deployment: only {len(running)}/{replicas} pods Running after {elapsed:.0f}s (limit)")


async def measure(url: str, *, server_pid: int, logs: Path, stack: contextlib.ExitStack,
                  args: argparse.Namespace) -> None:
    fleet = HollowFleet(url, logs, stack, args.nodes_per_process, [])
    best = 0
    async with ApiClient(config_for_url(url), request_timeout=60) as client, asyncio.TaskGroup() as group:
        load = MixedLoad(client, namespace=PROBE_NAMESPACE, probe_node=PROBE_NODE)
        await load.prepare()
        nodes = Informer(client, NODES)
        watcher = group.create_task(nodes.run())
        await nodes.wait_for_sync()
        for target in args.steps:
            fleet.grow_to(target)
            ready, waited = await wait_ready(nodes, fleet, timeout_s=args.ready_timeout_s)
            print(f"step {target} nodes: {ready}/{fleet.nodes} Ready after {waited:.1f}s", flush=True)
            if fleet.exited():
                print(f"# hollow kubelet process(es) {fleet.exited()} exited; logs in {logs}", flush=True)
            load.node_names = ready_hollow_nodes(nodes)
            step = await measure_step(url, load, fleet, ready=ready, server_pid=server_pid,
                                      window_s=args.window_s, qps=args.probe_qps)
            print(f"  step {target}: {'meets' if step.met else 'misses'} the p99 <= {TARGET_S:g} s target",
                  flush=True)
            if not step.met:
                break
            best = target
        if args.deployment_pods_per_node > 0:
            await run_deployment(client, url, replicas=args.deployment_pods_per_node * fleet.nodes,
                                 limit_s=args.deployment_limit_s, logs=logs, stack=stack)
        else:
            print("# deployment run skipped (--deployment-pods-per-node 0)")
        watcher.cancel()
    if best == args.steps[-1]:
        print(f"# every step met the target: {best} nodes is the largest step measured, not a limit found")
    line("hollow_capacity_nodes", best, "nodes", f">= {TARGET_NODES} nodes at API p99 <= {TARGET_S:g} s",
         best >= TARGET_NODES)


def step_list(text: str) -> list[int]:
    steps = sorted({int(part) for part in text.split(",") if part.strip()})
    if not steps or steps[0] < 1:
        raise argparse.ArgumentTypeError("steps are positive node counts, e.g. 500,1000,2000")
    return steps


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--steps", type=step_list, default=step_list("500,1000,2000,3000,5000"),
                        help="node counts to measure at, comma-separated (default 500,1000,2000,3000,5000)")
    parser.add_argument("--nodes-per-process", type=int, default=1000,
                        help="hollow nodes per kubelet process (default 1000)")
    parser.add_argument("--window-s", type=float, default=20.0, help="probe window per step (default 20)")
    parser.add_argument("--probe-qps", type=float, default=30.0, help="probe calls per second (default 30)")
    parser.add_argument("--ready-timeout-s", type=float, default=600.0,
                        help="how long a step may take to get every node Ready (default 600)")
    parser.add_argument("--deployment-pods-per-node", type=int, default=0,
                        help="after the steps, a Deployment of this many pods per node (default 0: none)")
    parser.add_argument("--deployment-limit-s", type=float, default=900.0)
    args = parser.parse_args()
    if args.nodes_per_process < 1:
        parser.error("--nodes-per-process must be at least 1")
    interrupt_on_signals()
    print_machine()
    pin_to(LOAD_CPUS)
    try:
        with running_server(keep_dir=True) as server, contextlib.ExitStack() as stack:
            logs = server.log_path.parent
            print(f"# logs in {logs}", flush=True)
            asyncio.run(measure(server.url, server_pid=server.process.pid, logs=logs, stack=stack, args=args))
    except KeyboardInterrupt:
        print("# interrupted; every process stopped", file=sys.stderr)
        return 130
    return 0


if __name__ == "__main__":
    sys.exit(main())
