"""VMs per node at a given memory size: what the scheduler admits and what the host can hold.

Two limits bound how many VMs one node runs. The scheduler's is arithmetic: the node's
allocatable memory (and CPU) over each VM pod's request, as upstream's NodeResourcesFit filter
counts it. The host's is measured: ``--max-vms`` VM pods are started together, and once their
guests have booted the resident memory of every qemu (from /proc) and the host's MemAvailable
are read. A TCG guest touches only part of its RAM, so a qemu's RSS is well under its ``-m``;
VMs-per-node is the smaller of the allocatable-based count and MemAvailable-before-the-VMs over
the largest measured RSS. The qemus' idle CPU (utime+stime over a few seconds) is printed too:
on a 2-core machine under TCG, CPU, not memory, may be what runs out first.

The capacity pods request ``--capacity-cpu-request`` CPU (default 100m) while their *limit*
stays one vCPU: with the default request (the limit, one whole core) a 2-core node would admit
two VMs whatever their memory, and the count would say nothing about memory.
"""

from __future__ import annotations

import asyncio
import contextlib
import sys
import time
from pathlib import Path
from typing import Any

from _vm_pods import (
    CLOCK_TICKS,
    PODS,
    PodLogReader,
    mem_available_bytes,
    qemu_processes,
    unschedulable_reason,
    vm_pod_body,
    vm_running,
)
from api_bench import line
from server_process import REPO_ROOT

sys.path.insert(0, str(REPO_ROOT))
from apis.pod_resources import CPU, MEMORY, amount
from client.errors import ApiError
from client.informer import Informer
from client.rest import ApiClient

MIB = 1 << 20
CPU_SAMPLE_S = 5.0
LOG_POLL_S = 0.5


def allocatable_counts(node: dict[str, Any], *, memory_mib: int, cpu_request: str) -> tuple[int, int, int]:
    """(by memory, by CPU, by the pod limit): how many such VM pods the scheduler fits on an empty node."""
    allocatable = (node.get("status") or {}).get("allocatable") or {}
    by_memory = amount(MEMORY, allocatable.get(MEMORY, "0")) // (memory_mib * MIB)
    milli_cpu = amount(CPU, cpu_request)
    by_cpu = amount(CPU, allocatable.get(CPU, "0")) // milli_cpu if milli_cpu > 0 else by_memory
    return by_memory, by_cpu, int(allocatable.get("pods") or 110)


class CapacityRun:
    """Starts ``max_vms`` VM pods together, measures them once booted, and deletes them."""

    def __init__(self, client: ApiClient, informer: Informer, logs: PodLogReader, *, tenant: str,
                 namespace: str, data_dir: Path | None) -> None:
        self.client = client
        self.informer = informer
        self.logs = logs
        self.tenant = tenant
        self.namespace = namespace
        self.data_dir = data_dir
        self.names: list[str] = []

    def _pods(self) -> list[dict[str, Any]]:
        return [pod for pod in self.informer.objects() if pod["metadata"]["name"] in self.names]

    async def _wait(self, predicate_name: str, done: Any, timeout_s: float) -> bool:
        deadline = time.monotonic() + timeout_s
        while time.monotonic() < deadline:
            if await done():
                return True
            await asyncio.sleep(LOG_POLL_S)
        print(f"# capacity: not all {predicate_name} within {timeout_s:.0f}s", flush=True)
        return False

    async def start(self, *, max_vms: int, memory_mib: int, cpu_request: str, timeout_s: float) -> None:
        self.names = [f"vm-capacity-{index:03d}" for index in range(max_vms)]
        async with asyncio.TaskGroup() as group:
            for name in self.names:
                body = vm_pod_body(name, label="vm-capacity", memory_mib=memory_mib, cpu_request=cpu_request)
                group.create_task(self.client.create(PODS, body, tenant=self.tenant,
                                                     namespace=self.namespace))

        async def all_running() -> bool:
            pods = self._pods()
            return len(pods) == len(self.names) and all(vm_running(pod) for pod in pods)

        await self._wait("VM pods Running", all_running, timeout_s)

        async def all_booted() -> bool:
            running = [pod["metadata"]["name"] for pod in self._pods() if vm_running(pod)]
            return all(await asyncio.gather(*(self.logs.booted(name) for name in running)))

        await self._wait("running guests booted", all_booted, timeout_s)

    async def report(self, *, node: dict[str, Any], memory_mib: int, cpu_request: str,
                     max_vms: int, mem_available_start: int) -> None:
        by_memory, by_cpu, by_pods = allocatable_counts(node, memory_mib=memory_mib, cpu_request=cpu_request)
        pods = self._pods()
        running = [pod for pod in pods if vm_running(pod)]
        reasons = {unschedulable_reason(pod) for pod in pods if unschedulable_reason(pod)}
        line("vm_capacity_running_together", len(running), f"VMs of {max_vms} started "
             f"({memory_mib} MiB, 1 vCPU limit, {cpu_request} CPU request)")
        for reason in sorted(reasons):
            print(f"# capacity: unschedulable: {reason}", flush=True)
        first = {p.pid: p for p in qemu_processes(self.data_dir)}
        await asyncio.sleep(CPU_SAMPLE_S)
        second = qemu_processes(self.data_dir)
        mem_available_now = mem_available_bytes()
        line("vm_node_allocatable_by_memory", by_memory, f"VMs (allocatable memory / {memory_mib} MiB)")
        line("vm_node_allocatable_by_cpu", by_cpu,
             f"VMs (allocatable CPU / {cpu_request}; pods limit {by_pods})")
        line("host_mem_available_before_vms", mem_available_start / MIB, "MiB")
        line("host_mem_available_with_vms", mem_available_now / MIB, f"MiB ({len(second)} qemu running)")
        if not second:
            print("# capacity: no qemu process found: VMs-per-node not derived", flush=True)
            return
        rss = [p.rss_bytes for p in second]
        line("vm_qemu_rss_mean", sum(rss) / len(rss) / MIB, f"MiB (of -m {memory_mib} MiB)")
        line("vm_qemu_rss_max", max(rss) / MIB, "MiB")
        line("vm_qemu_pss_mean", sum(p.pss_bytes for p in second) / len(second) / MIB,
             f"MiB (anonymous {sum(p.anon_bytes for p in second) / len(second) / MIB:.0f} MiB)")
        line("host_mem_available_drop_per_vm", (mem_available_start - mem_available_now) / len(second) / MIB,
             "MiB (noisy: other processes share the host)")
        busy = [(p.cpu_ticks - first[p.pid].cpu_ticks) / CLOCK_TICKS / CPU_SAMPLE_S
                for p in second if p.pid in first]
        if busy:
            line("vm_qemu_idle_cpu_mean", 100 * sum(busy) / len(busy), "% of a core per booted VM")
        by_host = mem_available_start // max(rss)
        scheduler_limit = min(by_memory, by_cpu, by_pods)
        line("vms_per_node", min(scheduler_limit, by_host),
             f"VMs at {memory_mib} MiB (min of scheduler {scheduler_limit}, "
             f"MemAvailable/RSS {by_host})")

    async def delete(self, *, timeout_s: float) -> None:
        for name in self.names:
            with contextlib.suppress(ApiError):  # never created or already gone
                await self.client.delete(PODS, name, tenant=self.tenant, namespace=self.namespace,
                                         grace_period_seconds=1)

        async def all_gone() -> bool:
            return not self._pods()

        await self._wait("capacity VM pods deleted", all_gone, timeout_s)


async def measure_capacity(client: ApiClient, informer: Informer, logs: PodLogReader, *, node: dict[str, Any],
                           tenant: str, namespace: str, data_dir: Path | None, memory_mib: int,
                           max_vms: int, cpu_request: str, timeout_s: float) -> None:
    mem_available_start = mem_available_bytes()
    run = CapacityRun(client, informer, logs, tenant=tenant, namespace=namespace, data_dir=data_dir)
    started_at = time.monotonic()
    try:
        await run.start(max_vms=max_vms, memory_mib=memory_mib, cpu_request=cpu_request, timeout_s=timeout_s)
        print(f"# capacity: {max_vms} VM pods created, measured after {time.monotonic() - started_at:.1f}s",
              flush=True)
        await run.report(node=node, memory_mib=memory_mib, cpu_request=cpu_request, max_vms=max_vms,
                         mem_available_start=mem_available_start)
    finally:
        await run.delete(timeout_s=120.0)
