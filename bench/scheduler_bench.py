"""Scheduler throughput: pods bound per second for 5,000 nodes and 10,000 pods.

Starts a real API server (`python -m server`, SQLite, plain HTTP on loopback, pinned to the first
core — bench/server_process.py), creates 5,000 Node objects (plain objects: allocatable 32 CPU /
128 GiB / 110 pods, Ready, no kubelet) and 10,000 pods (100m CPU, 128 MiB each) with 64 requests
in flight, all *before* the scheduler starts, then runs `python -m scheduler --master URL
--leader-elect false` on the other core(s) and watches the namespace until every pod has a
``spec.nodeName``. Prints:
  scheduler_pods_per_s      pods / (last binding seen - first binding seen)   target >= 2000
  scheduler_total_seconds   scheduler start to last binding (includes its initial list/watch sync)
and the machine. Not a test: nothing fails on a missed target. ``--scheduled-events false`` shows
what recording a ``Scheduled`` Event per pod costs (the API server is the bottleneck here);
``--py-spy DIR`` samples the scheduler and the API server while pods are bound (bench/py_spy.py)
and prints where each one's time went.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import aiohttp
import orjson
import py_spy
from api_bench import line, print_machine
from server_process import LOAD_CPUS, REPO_ROOT, pin_to, running_server, stop_group

CONCURRENCY = 64
# SCHEDULER_BENCH_PROFILE=path: run the scheduler under cProfile (stats written when it stops).
PROFILE_ARGS = (
    ["-m", "cProfile", "-o", os.environ["SCHEDULER_BENCH_PROFILE"]]
    if os.environ.get("SCHEDULER_BENCH_PROFILE")
    else []
)
NAMESPACE = "sched-bench"
JSON = {"Content-Type": "application/json"}
MERGE_PATCH = {"Content-Type": "application/merge-patch+json"}


def node_object(i: int) -> dict[str, Any]:
    return {
        "apiVersion": "v1",
        "kind": "Node",
        "metadata": {
            "name": f"node-{i:05d}",
            "labels": {
                "kubernetes.io/hostname": f"node-{i:05d}",
                "topology.kubernetes.io/zone": f"zone-{i % 3}",
            },
        },
        "status": {
            "capacity": {"cpu": "32", "memory": "128Gi", "pods": "110", "ephemeral-storage": "500Gi"},
            "allocatable": {"cpu": "32", "memory": "128Gi", "pods": "110", "ephemeral-storage": "500Gi"},
            "conditions": [{"type": "Ready", "status": "True"}],
        },
    }


def pod_object(i: int) -> dict[str, Any]:
    return {
        "apiVersion": "v1",
        "kind": "Pod",
        "metadata": {"name": f"pod-{i:05d}", "labels": {"app": "bench"}},
        "spec": {
            "containers": [
                {
                    "name": "c",
                    "image": "busybox:1.36",
                    "resources": {"requests": {"cpu": "100m", "memory": "128Mi"}},
                }
            ]
        },
    }


async def post_all(
    session: aiohttp.ClientSession, url: str, bodies: list[dict[str, Any]], *, with_status: bool = False
) -> float:
    """POSTs every body with CONCURRENCY in flight; answers the seconds it took. ``with_status``:
    then PATCH the object's ``/status`` with the body's status, since our API server (unlike
    upstream's node strategy) drops status on create."""
    started = time.monotonic()
    items = iter(bodies)

    async def worker() -> None:
        for body in items:
            async with session.post(url, data=orjson.dumps(body), headers=JSON) as response:
                if response.status not in (201, 409):
                    raise RuntimeError(f"POST {url}: {response.status} {await response.text()}")
            if with_status:
                status_url = f"{url}/{body['metadata']['name']}/status"
                async with session.patch(
                    status_url, data=orjson.dumps({"status": body["status"]}), headers=MERGE_PATCH
                ) as response:
                    if response.status != 200:
                        raise RuntimeError(f"PATCH {status_url}: {response.status} {await response.text()}")

    await asyncio.gather(*(worker() for _ in range(CONCURRENCY)))
    return time.monotonic() - started


async def watch_until_bound(
    session: aiohttp.ClientSession, url: str, count: int, resource_version: str, deadline_s: float
) -> tuple[float, float]:
    """(monotonic time of the first binding seen, of the last)."""
    bound: set[str] = set()
    first = last = 0.0
    params = {"watch": "true", "resourceVersion": resource_version, "timeoutSeconds": str(int(deadline_s))}
    timeout = aiohttp.ClientTimeout(total=deadline_s + 10)
    async with session.get(
        f"{url}/api/v1/namespaces/{NAMESPACE}/pods", params=params, timeout=timeout
    ) as response:
        async for raw in response.content:
            event = orjson.loads(raw)
            pod = event.get("object") or {}
            if (pod.get("spec") or {}).get("nodeName"):
                bound.add(pod["metadata"]["name"])
                last = time.monotonic()
                first = first or last
                if len(bound) >= count:
                    return first, last
    raise RuntimeError(f"only {len(bound)} of {count} pods bound within {deadline_s}s")


def cpu_seconds(pid: int) -> float:
    """user+system CPU seconds a live process has used."""
    try:
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    except OSError:
        return 0.0
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def start_scheduler(url: str, log_path: Path, extra: list[str]) -> subprocess.Popen[bytes]:
    with log_path.open("wb") as log:
        return subprocess.Popen(
            [
                sys.executable,
                *PROFILE_ARGS,
                "-m",
                "scheduler",
                "--master",
                url,
                "--leader-elect",
                "false",
                *extra,
            ],
            cwd=REPO_ROOT,
            stdout=log,
            stderr=subprocess.STDOUT,
            stdin=subprocess.DEVNULL,
            start_new_session=True,
            preexec_fn=lambda: pin_to(LOAD_CPUS),
        )


async def bench(url: str, args: argparse.Namespace, log_path: Path, server_pid: int) -> None:
    connector = aiohttp.TCPConnector(limit=CONCURRENCY * 2)
    async with aiohttp.ClientSession(connector=connector) as session:
        await post_all(
            session,
            f"{url}/api/v1/namespaces",
            [{"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": NAMESPACE}}],
        )
        seconds = await post_all(
            session, f"{url}/api/v1/nodes", [node_object(i) for i in range(args.nodes)], with_status=True
        )
        line("scheduler_bench_node_creates_per_s", args.nodes / seconds, "nodes/s")
        seconds = await post_all(
            session, f"{url}/api/v1/namespaces/{NAMESPACE}/pods", [pod_object(i) for i in range(args.pods)]
        )
        line("scheduler_bench_pod_creates_per_s", args.pods / seconds, "pods/s")
        async with session.get(f"{url}/api/v1/namespaces/{NAMESPACE}/pods", params={"limit": "1"}) as r:
            resource_version = (await r.json())["metadata"]["resourceVersion"]
        extra = ["--record-scheduled-events", args.scheduled_events]
        started = time.monotonic()
        server_cpu_before = cpu_seconds(server_pid)
        process = start_scheduler(url, log_path, extra)
        samplers = profile_both(args.py_spy, scheduler_pid=process.pid, server_pid=server_pid)
        try:
            first, last = await watch_until_bound(session, url, args.pods, resource_version, args.deadline)
        finally:
            scheduler_cpu = cpu_seconds(process.pid)
            server_cpu = cpu_seconds(server_pid) - server_cpu_before
            for sampler in samplers.values():
                py_spy.stop(sampler)
            stop_group(process)
    # Which side limits the rate: CPU seconds each used while the scheduler ran, against wall time.
    print(
        f"# while scheduling ({last - started:.1f} s wall): api server cpu {server_cpu:.1f} s, "
        f"scheduler cpu {scheduler_cpu:.1f} s"
    )
    rate = args.pods / max(last - first, 1e-9)
    line("scheduler_pods_per_s", rate, "pods/s", ">= 2000", rate >= 2000)
    line("scheduler_total_seconds", last - started, "s")
    print(
        f"# {args.nodes} nodes, {args.pods} pods pre-created; Scheduled events: {args.scheduled_events}; "
        f"scheduler log: {log_path}",
        flush=True,
    )
    for name in samplers:
        py_spy.report(args.py_spy / f"{name}.txt", f"{name} while scheduling")


def profile_both(folder: Path | None, *, scheduler_pid: int, server_pid: int
                 ) -> dict[str, subprocess.Popen[bytes]]:
    """py-spy samplers on the scheduler and the API server while pods are bound (``--py-spy``)."""
    if folder is None:
        return {}
    folder.mkdir(parents=True, exist_ok=True)
    return {name: py_spy.attach(pid, folder / f"{name}.txt")
            for name, pid in (("scheduler", scheduler_pid), ("apiserver", server_pid))}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--nodes", type=int, default=5000)
    parser.add_argument("--pods", type=int, default=10_000)
    parser.add_argument("--deadline", type=float, default=300.0, help="seconds to wait for all bindings")
    parser.add_argument("--scheduled-events", choices=("true", "false"), default="true")
    parser.add_argument("--py-spy", type=Path, metavar="DIR",
                        help="profile the scheduler and the API server with py-spy into DIR")
    args = parser.parse_args()
    print_machine()
    pin_to(LOAD_CPUS)
    with running_server(keep_dir=True) as server:
        asyncio.run(
            bench(server.url, args, server.log_path.with_name("kube-scheduler.log"), server.process.pid)
        )


if __name__ == "__main__":
    main()
