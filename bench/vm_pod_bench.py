"""VM pod start-up latency and VMs per node on a real single node running the qemu VM runtime.

Brings up a single-node cluster with ``hack/arktos-up.sh`` (temp dirs, a free TLS port, bridge
``arktos-pb0``: bench/_arktos_up.py; the script also starts ``python -m vmruntime``, qemu under
TCG, as the kubelet's ``vm`` runtime), or reuses one with ``--keep-cluster URL|KUBECONFIG``.

1. Latency: ``--vms`` VM pods (image ``cirros``: the locally built VM image; 1 vCPU,
   ``--memory-mib``), ``--parallel`` at a time. Per VM, from the client sending its create to
   (a) the watch event showing phase Running with ``virtualMachineStatus.powerState`` running,
   and (b) the guest's ``arktos-vm: <name> ready`` line appearing in the pod log (polled every
   0.25 s through pods/log, as ``kubectl logs`` reads it). p50/p99/max of both; the target from
   the issue is p50 <= 10 s to Running under TCG, whose guests take ~6-7 s to userspace. Each VM
   is deleted (and its deletion awaited) once measured, unless ``--keep``, so the next one boots
   on an idle node.
2. VMs per node (bench/_vm_capacity.py): ``--max-vms`` VM pods of ``--memory-mib`` at once; the
   scheduler's count (allocatable / request), qemu RSS per VM and host MemAvailable, and
   VMs-per-node = min(allocatable-based, MemAvailable-before / RSS). ``--max-vms 0`` skips it.

Its own cluster is stopped with Ctrl-C as a user would; afterwards /proc is checked for any qemu
left under the cluster's data dir. Needs root. Not a test: nothing fails on a slow run.

    .venv/bin/python bench/vm_pod_bench.py [--vms 10] [--parallel 1] [--memory-mib 256]
        [--max-vms 8] [--capacity-cpu-request 100m] [--keep] [--keep-cluster URL|KUBECONFIG]
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import sys
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from _arktos_up import ClusterStartError, arktos_up
from _interrupts import interrupt_on_signals
from _vm_capacity import measure_capacity
from _vm_pods import (
    PODS,
    PodLogReader,
    percentile,
    qemu_processes,
    unschedulable_reason,
    vm_pod_body,
    vm_running,
)
from api_bench import line, print_machine
from pod_startup_bench import client_config, wait_node_ready
from server_process import REPO_ROOT

sys.path.insert(0, str(REPO_ROOT))
from client.cache import ObjectKey
from client.config import ClientConfig, load_kubeconfig
from client.errors import ApiError
from client.informer import Informer
from client.resources import ResourceRef
from client.rest import ApiClient

NAMESPACES = ResourceRef("", "v1", "namespaces", "Namespace")
TENANT = "system"
NAMESPACE = "vm-pod-bench"
TARGET_P50_S = 10.0
LOG_POLL_S = 0.25
DELETE_TIMEOUT_S = 90.0


class VmWatch:
    """When the watch first showed each VM pod running, and when each was deleted."""

    def __init__(self, informer: Informer) -> None:
        self.informer = informer
        self.running_at: dict[str, float] = {}
        self._running: dict[str, asyncio.Event] = {}
        self._gone: dict[str, asyncio.Event] = {}
        informer.add_handler(self._on_event)

    @staticmethod
    def _event(table: dict[str, asyncio.Event], name: str) -> asyncio.Event:
        return table.setdefault(name, asyncio.Event())

    def _on_event(self, event_type: str, key: ObjectKey) -> None:
        if event_type == "DELETED":
            self._event(self._gone, key.name).set()
            return
        pod = self.informer.get(key)
        if key.name not in self.running_at and pod is not None and vm_running(pod):
            self.running_at[key.name] = time.perf_counter()
            self._event(self._running, key.name).set()

    async def wait(self, name: str, *, gone: bool, timeout_s: float) -> bool:
        event = self._event(self._gone if gone else self._running, name)
        with contextlib.suppress(TimeoutError):
            async with asyncio.timeout(timeout_s):
                await event.wait()
        return event.is_set()


@dataclass(frozen=True)
class VmSample:
    name: str
    running_s: float | None
    booted_s: float | None


async def poll_boot(logs: PodLogReader, name: str, *, sent: float, timeout_s: float) -> float | None:
    """Seconds from ``sent`` to the first log read that holds the guest's ready line."""
    deadline = sent + timeout_s
    while time.perf_counter() < deadline:
        if await logs.booted(name):
            return time.perf_counter() - sent
        await asyncio.sleep(LOG_POLL_S)
    return None


def seconds(value: float | None) -> str:
    return f"{value:.2f}s" if value is not None else "timed out"


def describe(pod: dict[str, Any] | None) -> str:
    if pod is None:
        return "not in the watch cache"
    status = pod.get("status") or {}
    return (f"phase {status.get('phase')}, node {(pod.get('spec') or {}).get('nodeName')}, "
            f"vm {status.get('virtualMachineStatus')}, "
            f"{unschedulable_reason(pod) or status.get('reason') or ''}")


class LatencyRun:
    def __init__(self, client: ApiClient, watch: VmWatch, logs: PodLogReader, *, memory_mib: int,
                 timeout_s: float, keep: bool) -> None:
        self.client = client
        self.watch = watch
        self.logs = logs
        self.memory_mib = memory_mib
        self.timeout_s = timeout_s
        self.keep = keep
        self.samples: list[VmSample] = []

    async def one(self, index: int) -> None:
        name = f"vm-latency-{index:03d}"
        body = vm_pod_body(name, label="vm-latency", memory_mib=self.memory_mib)
        sent = time.perf_counter()
        await self.client.create(PODS, body, tenant=TENANT, namespace=NAMESPACE)
        boot = asyncio.create_task(poll_boot(self.logs, name, sent=sent, timeout_s=self.timeout_s))
        running = await self.watch.wait(name, gone=False, timeout_s=self.timeout_s)
        booted_s = await boot
        running_s = self.watch.running_at[name] - sent if running else None
        self.samples.append(VmSample(name, running_s, booted_s))
        pod = self.watch.informer.get(ObjectKey(TENANT, NAMESPACE, name))
        print(f"# {name}: running {seconds(running_s)}, guest ready {seconds(booted_s)}"
              + ("" if running else f" ({describe(pod)})"), flush=True)
        if booted_s is None:
            tail = (await self.logs.text(name) or "<no log>").splitlines()[-5:]
            print(f"# {name}: last log lines: {tail}", flush=True)
        if not self.keep:
            await self.delete(name)

    async def delete(self, name: str) -> None:
        with contextlib.suppress(ApiError):
            await self.client.delete(PODS, name, tenant=TENANT, namespace=NAMESPACE, grace_period_seconds=1)
        if not await self.watch.wait(name, gone=True, timeout_s=DELETE_TIMEOUT_S):
            print(f"# {name} still terminating after {DELETE_TIMEOUT_S:.0f}s", flush=True)

    async def run(self, *, vms: int, parallel: int) -> None:
        indexes = iter(range(vms))

        async def worker() -> None:
            for index in indexes:
                await self.one(index)

        async with asyncio.TaskGroup() as group:
            for _ in range(max(1, min(parallel, vms))):
                group.create_task(worker())

    def report(self, *, vms: int) -> None:
        running = [s.running_s for s in self.samples if s.running_s is not None]
        booted = [s.booted_s for s in self.samples if s.booted_s is not None]
        print(f"vm_pod_count: {len(running)}/{vms} Running, {len(booted)}/{vms} guests ready", flush=True)
        if running:
            p50 = percentile(running, 0.50)
            line("vm_pod_running_p50", p50, "s", f"<= {TARGET_P50_S:g} s",
                 p50 <= TARGET_P50_S and len(running) == vms)
            line("vm_pod_running_p99", percentile(running, 0.99), "s")
            line("vm_pod_running_max", max(running), "s")
        if booted:
            # Running is reported once qemu is up; the guest's ready line is when a user's VM is usable.
            ready_p50 = percentile(booted, 0.50)
            line("vm_guest_ready_p50", ready_p50, "s", f"<= {TARGET_P50_S:g} s",
                 ready_p50 <= TARGET_P50_S and len(booted) == vms)
            line("vm_guest_ready_p99", percentile(booted, 0.99), "s")
            line("vm_guest_ready_max", max(booted), "s")


@dataclass(frozen=True)
class BenchOptions:
    vms: int
    parallel: int
    memory_mib: int
    max_vms: int
    capacity_cpu_request: str
    timeout_s: float
    keep: bool


async def measure(config: ClientConfig, options: BenchOptions, *, data_dir: Path | None) -> None:
    async with ApiClient(config, request_timeout=60) as client, \
            PodLogReader(config, tenant=TENANT, namespace=NAMESPACE) as logs:
        node = await wait_node_ready(client)
        print(f"# node {node['metadata']['name']} is Ready; allocatable "
              f"{(node.get('status') or {}).get('allocatable')}", flush=True)
        with contextlib.suppress(ApiError):  # 409: left by an earlier run on a kept cluster
            await client.create(NAMESPACES, {"apiVersion": "v1", "kind": "Namespace",
                                             "metadata": {"name": NAMESPACE}}, tenant=TENANT)
        informer = Informer(client, PODS, tenant=TENANT, namespace=NAMESPACE)
        watch = VmWatch(informer)
        async with asyncio.TaskGroup() as group:
            watcher = group.create_task(informer.run())
            await informer.wait_for_sync()
            if informer.objects():
                raise RuntimeError(f"namespace {NAMESPACE} still has pods from an earlier run")
            try:
                if options.vms > 0:
                    latency = LatencyRun(client, watch, logs, memory_mib=options.memory_mib,
                                         timeout_s=options.timeout_s, keep=options.keep)
                    try:
                        await latency.run(vms=options.vms, parallel=options.parallel)
                    finally:
                        latency.report(vms=options.vms)
                        if options.keep:
                            for sample in latency.samples:
                                await latency.delete(sample.name)
                if options.max_vms > 0:
                    await measure_capacity(client, informer, logs, node=node, tenant=TENANT,
                                           namespace=NAMESPACE, data_dir=data_dir,
                                           memory_mib=options.memory_mib, max_vms=options.max_vms,
                                           cpu_request=options.capacity_cpu_request,
                                           timeout_s=options.timeout_s + 30.0 * options.max_vms)
            finally:
                with contextlib.suppress(ApiError):
                    await client.delete(NAMESPACES, NAMESPACE, tenant=TENANT)
                watcher.cancel()


@contextlib.contextmanager
def cluster(keep: str | None) -> Iterator[tuple[ClientConfig, Path | None]]:
    """The client config and the data dir whose qemu processes are this cluster's (None: unknown)."""
    if keep:
        yield client_config(keep), None
        return
    started_at = time.monotonic()
    data_dir: Path | None = None
    try:
        with arktos_up() as up:
            print(f"# arktos-up.sh ready in {time.monotonic() - started_at:.1f}s; logs in {up.log_dir}",
                  flush=True)
            data_dir = up.log_dir.parent / "data"
            try:
                yield load_kubeconfig(up.kubeconfig), data_dir
            finally:
                print("# stopping the cluster (Ctrl-C)", flush=True)
    finally:
        if data_dir is not None:  # even after an interrupt: the check is that nothing is left
            left = qemu_processes(data_dir)
            print(f"# cluster stopped; qemu left under {data_dir}: "
                  + (", ".join(str(p.pid) for p in left) if left else "none"), flush=True)


def parse_options() -> tuple[BenchOptions, str | None]:
    parser = argparse.ArgumentParser(description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--vms", type=int, default=10, help="VMs to time, one by one (default 10)")
    parser.add_argument("--parallel", type=int, default=1, help="VMs booting at once in the latency run")
    parser.add_argument("--memory-mib", type=int, default=256, help="each VM's memory (default 256)")
    parser.add_argument("--max-vms", type=int, default=8,
                        help="VMs started together for the per-node count (default 8; 0 skips it)")
    parser.add_argument("--capacity-cpu-request", default="100m",
                        help="CPU request of the capacity VMs (their limit stays 1 vCPU; default 100m)")
    parser.add_argument("--timeout-s", type=float, default=120.0, help="per-VM wait for Running / ready")
    parser.add_argument("--keep", action="store_true", help="delete the timed VMs only at the end")
    parser.add_argument("--keep-cluster", metavar="URL|KUBECONFIG",
                        help="use this running cluster instead of starting hack/arktos-up.sh")
    args = parser.parse_args()
    if args.vms < 0 or args.max_vms < 0 or args.memory_mib < 96:
        parser.error("--vms/--max-vms must be >= 0 and --memory-mib >= 96 (the VM runtime's minimum)")
    return BenchOptions(vms=args.vms, parallel=args.parallel, memory_mib=args.memory_mib,
                        max_vms=args.max_vms,
                        capacity_cpu_request=args.capacity_cpu_request, timeout_s=args.timeout_s,
                        keep=args.keep), args.keep_cluster


def main() -> int:
    options, keep_cluster = parse_options()
    interrupt_on_signals()
    print_machine()
    try:
        with cluster(keep_cluster) as (config, data_dir):
            asyncio.run(measure(config, options, data_dir=data_dir))
    except ClusterStartError as e:
        print(f"# {e}", file=sys.stderr)
        return 1
    except KeyboardInterrupt:
        print("# interrupted; cluster stopped", file=sys.stderr)
        return 130
    return 0


if __name__ == "__main__":
    sys.exit(main())
