"""Hollow-node scale: N hollow nodes in one kubelet process, then a big Deployment on them.

Starts a real API server (`server_process.running_server`), one ``python -m kubelet --hollow
--nodes N`` process, the scheduler and the controller manager (deployment, replicaset), each its
own process. Waits until every hollow node is Ready, creates one Deployment of ``--replicas``
pods and prints: seconds until all nodes were Ready, seconds from the Deployment's creation until
every pod was Running (observed through a watch), the API server's request latency p50/p99 over
the run (from the ``apiserver_request_duration_seconds`` histogram deltas, i.e. bucket upper
bounds, non-watch requests) and a client-side p99 of a GET probe made every 200 ms, and the
machine it ran on. When the pods do not all run within ``--limit-s`` it reports how many did.
Not a test: nothing fails on a slow run.

    .venv/bin/python bench/hollow_bench.py [--nodes 500] [--replicas 5000] [--limit-s 900]
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import os
import platform
import re
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import aiohttp
from server_process import REPO_ROOT, running_server

sys.path.insert(0, str(REPO_ROOT))
from client.cache import ObjectKey
from client.config import config_for_url
from client.informer import Informer
from client.resources import ALL_TENANTS, ResourceRef
from client.rest import ApiClient

PODS = ResourceRef("", "v1", "pods", "Pod")
NODES = ResourceRef("", "v1", "nodes", "Node")
DEPLOYMENTS = ResourceRef("apps", "v1", "deployments", "Deployment")
_BUCKET = re.compile(r'^apiserver_request_duration_seconds_bucket\{verb="([^"]*)",.*le="([^"]+)"\} (\d+)$')


@contextlib.contextmanager
def component(args: list[str], log_path: Path) -> Iterator[subprocess.Popen[bytes]]:
    with log_path.open("wb") as log:
        process = subprocess.Popen([sys.executable, "-m", *args], cwd=REPO_ROOT, stdout=log,
                                   stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL,
                                   start_new_session=True)
    try:
        yield process
    finally:
        process.terminate()
        try:
            process.wait(timeout=15)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()


def machine() -> str:
    model = ""
    with contextlib.suppress(OSError):
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                model = line.split(":", 1)[1].strip()
                break
    mem_gib = os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES") / 2**30
    return (f"{os.cpu_count()} cpus ({model or platform.machine()}), {mem_gib:.0f} GiB, "
            f"{platform.platform()}, Python {platform.python_version()}")


async def scrape(url: str) -> str:
    async with aiohttp.ClientSession() as session, session.get(f"{url}/metrics") as response:
        return await response.text()


def histogram(text: str) -> dict[float, int]:
    """Cumulative non-watch request counts per bucket bound, summed over every verb/resource."""
    buckets: dict[float, int] = {}
    for line in text.splitlines():
        match = _BUCKET.match(line)
        if match and match.group(1) != "watch":
            bound = float("inf") if match.group(2) == "+Inf" else float(match.group(2))
            buckets[bound] = buckets.get(bound, 0) + int(match.group(3))
    return buckets


def quantile(before: dict[float, int], after: dict[float, int], q: float) -> tuple[float, int]:
    """(upper bound of the bucket holding quantile q, requests) of the requests between scrapes."""
    delta = {b: after.get(b, 0) - before.get(b, 0) for b in after}
    total = delta.get(float("inf"), 0)
    for bound in sorted(delta):
        if total and delta[bound] >= q * total:
            return bound, total
    return float("nan"), total


def percentile(samples: list[float], q: float) -> float:
    ordered = sorted(samples)
    return ordered[min(len(ordered) - 1, int(q * len(ordered)))] if ordered else float("nan")


async def probe(client: ApiClient, name: str, samples: list[float]) -> None:
    while True:
        started = time.perf_counter()
        await client.get(NODES, name)
        samples.append(time.perf_counter() - started)
        await asyncio.sleep(0.2)


async def measure(url: str, *, nodes: int, replicas: int, limit_s: float, logs: Path) -> None:
    async with ApiClient(config_for_url(url), request_timeout=60) as client:
        started = time.monotonic()
        ready = 0
        while time.monotonic() - started < limit_s:
            items = (await client.list(NODES)).get("items") or []
            ready = sum(any(c.get("type") == "Ready" and c.get("status") == "True"
                            for c in (n.get("status") or {}).get("conditions") or []) for n in items)
            if ready >= nodes:
                break
            await asyncio.sleep(1)
        print(f"{ready}/{nodes} hollow nodes Ready after {time.monotonic() - started:.1f}s")
        pods = Informer(client, PODS, tenant=ALL_TENANTS, label_selector="app=hollow-bench")
        running: set[ObjectKey] = set()
        done = asyncio.Event()

        def on_event(_type: str, key: ObjectKey) -> None:
            pod = pods.get(key)
            if pod is not None and (pod.get("status") or {}).get("phase") == "Running":
                running.add(key)
            if len(running) >= replicas:
                done.set()

        pods.add_handler(on_event)
        async with asyncio.TaskGroup() as group:
            watcher = group.create_task(pods.run())
            await pods.wait_for_sync()
            latencies: list[float] = []
            prober = group.create_task(probe(client, "bench-hollow-0", latencies))
            before = histogram(await scrape(url))
            body = {"apiVersion": "apps/v1", "kind": "Deployment", "metadata": {"name": "hollow-bench"},
                    "spec": {"replicas": replicas, "selector": {"matchLabels": {"app": "hollow-bench"}},
                             "template": {"metadata": {"labels": {"app": "hollow-bench"}},
                                          "spec": {"containers": [{"name": "c", "image": "busybox:1.36"}]}}}}
            created = time.monotonic()
            await client.create(DEPLOYMENTS, body, tenant="system", namespace="default")
            with contextlib.suppress(TimeoutError):
                async with asyncio.timeout(limit_s):
                    while not done.is_set():
                        await asyncio.sleep(5)
                        print(f"  {time.monotonic() - created:6.0f}s: {len(running)} Running", flush=True)
            elapsed = time.monotonic() - created
            after = histogram(await scrape(url))
            watcher.cancel()
            prober.cancel()
    if done.is_set():
        print(f"all {replicas} pods Running {elapsed:.1f}s after the Deployment was created")
    else:
        print(f"only {len(running)}/{replicas} pods Running after {elapsed:.0f}s (limit)")
    p50, count = quantile(before, after, 0.50)
    p99, _ = quantile(before, after, 0.99)
    print(f"API server latency over the run ({count} non-watch requests): p50 <= {p50}s, p99 <= {p99}s")
    print(f"client GET probe ({len(latencies)} samples): p50 {percentile(latencies, 0.5) * 1000:.0f} ms, "
          f"p99 {percentile(latencies, 0.99) * 1000:.0f} ms")
    print(f"logs in {logs}")


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--nodes", type=int, default=500)
    parser.add_argument("--replicas", type=int, default=5000)
    parser.add_argument("--limit-s", type=float, default=900)
    args = parser.parse_args()
    print(f"machine: {machine()}")
    with running_server(keep_dir=True) as server:
        logs = server.log_path.parent
        with component(["kubelet", "--master", server.url, "--hostname-override", "bench", "--hollow",
                        "--nodes", str(args.nodes)], logs / "hollow-kubelet.log"), \
                component(["scheduler", "--master", server.url, "--leader-elect", "false"],
                          logs / "scheduler.log"), \
                component(["controllers", "--master", server.url, "--controllers", "deployment,replicaset"],
                          logs / "controller-manager.log"):
            asyncio.run(measure(server.url, nodes=args.nodes, replicas=args.replicas,
                                limit_s=args.limit_s, logs=logs))
    return 0


if __name__ == "__main__":
    sys.exit(main())
