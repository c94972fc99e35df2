"""API server benchmarks for this machine: creates/s, GETs/s, LIST of 10k pods, watch fan-out.

Starts a real server (`python -m server`, SQLite) on loopback and prints one `name: value unit`
line per figure, with the issue's target beside it:
  pod creates/s through the API, 64 concurrent connections (wrk + lua/create_pods.lua), and
      its ratio to the raw SQLite commit rate (bench/storage_commit_rate.py; pass it with
      --raw-commit-rate, as bench/run-all.sh does)            target ratio >= 0.25
  single-object GETs/s (wrk, 64 connections)                   target >= 10,000/s
      and their ratio to a bare aiohttp+uvloop handler answering a same-size body under the
      same wrk load (bench/bare_aiohttp.py, same core)          target ratio >= 0.8
  LIST of 10,000 pods, as JSON and as a Table                  target <= 0.5 s
  watch fan-out to 1,000 watchers, p50/p99 from write sent     target p99 <= 50 ms
With --storage etcd (bench/etcd_servers.py: a local etcd, the CPU split printed): the same
figures for one API server on etcd (names end in _etcd; creates against the raw etcd put rate of
bench/storage_commit_rate.py's etcd step, --raw-commit-rate, target >= 0.25; fan-out target
p99 <= 100 ms), then creates through two servers behind HAProxy (_etcd_2_servers) and their ratio
to one server's (target >= 1.3).
Not a test: nothing fails on a missed target; the README quotes the figures.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import os
import platform
import statistics
import time
import urllib.request
from collections.abc import Iterator
from pathlib import Path

import aiohttp
import orjson
import py_spy
from bare_aiohttp import running_bare_server
from etcd_servers import running_api_on_etcd
from server_process import RunningServer, running_server
from watch_fanout import measure
from wrk_load import run_wrk

TABLE_ACCEPT = "application/json;as=Table;v=v1;g=meta.k8s.io"
SEED_CONCURRENCY = 64


def line(name: str, value: float, unit: str, target: str = "", met: bool | None = None) -> None:
    verdict = "" if met is None else ("met" if met else "BELOW TARGET")
    suffix = f"  [target {target}: {verdict}]" if target else ""
    print(f"{name}: {value:.6g} {unit}{suffix}", flush=True)


def print_machine() -> None:
    model = "unknown"
    for text in Path("/proc/cpuinfo").read_text().splitlines():
        if text.startswith("model name"):
            model = text.split(":", 1)[1].strip()
            break
    mem_kib = next(
        int(t.split()[1]) for t in Path("/proc/meminfo").read_text().splitlines() if t.startswith("MemTotal:")
    )
    print(f"machine_nproc: {len(os.sched_getaffinity(0))} cpus")
    print(f"machine_cpu_model: {model}")
    print(f"machine_ram: {mem_kib / (1 << 20):.1f} GiB")
    print(f"machine_python: {platform.python_version()}", flush=True)


async def create_namespace(session: aiohttp.ClientSession, url: str, name: str) -> None:
    body = {"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": name}}
    async with session.post(f"{url}/api/v1/namespaces", json=body) as response:
        if response.status not in (201, 409):
            raise RuntimeError(f"cannot create namespace {name}: {response.status} {await response.text()}")


async def seed_pods(session: aiohttp.ClientSession, url: str, namespace: str, count: int) -> None:
    """Creates ``count`` pods with SEED_CONCURRENCY requests in flight."""
    names = iter(range(count))

    async def worker() -> None:
        for i in names:
            pod = {
                "apiVersion": "v1",
                "kind": "Pod",
                "metadata": {"name": f"p-{i:05d}", "labels": {"i": str(i)}},
                "spec": {"containers": [{"name": "c", "image": "busybox:1.36"}]},
            }
            async with session.post(
                f"{url}/api/v1/namespaces/{namespace}/pods",
                data=orjson.dumps(pod),
                headers={"Content-Type": "application/json"},
            ) as response:
                if response.status != 201:
                    raise RuntimeError(f"seeding pod {i}: {response.status} {await response.text()}")

    await asyncio.gather(*(worker() for _ in range(SEED_CONCURRENCY)))


async def time_list(
    session: aiohttp.ClientSession, url: str, accept: str, expected: int, rounds: int = 5
) -> float:
    """Median seconds for the whole LIST response to arrive; checks the count once."""
    durations = []
    body = b""
    for _ in range(rounds):
        start = time.perf_counter()
        async with session.get(url, headers={"Accept": accept}) as response:
            body = await response.read()
            response.raise_for_status()
        durations.append(time.perf_counter() - start)
    decoded = orjson.loads(body)
    got = len(decoded.get("rows") if decoded.get("kind") == "Table" else decoded["items"])
    if got != expected:
        raise RuntimeError(f"LIST returned {got} objects, expected {expected}")
    return statistics.median(durations)


@contextlib.contextmanager
def profiled(server: RunningServer | None, folder: Path | None, name: str) -> Iterator[None]:
    """py-spy on the API server while the block runs (``--py-spy DIR``), then where time went."""
    if folder is None or server is None:
        yield
        return
    folder.mkdir(parents=True, exist_ok=True)
    sampler = py_spy.attach(server.process.pid, folder / f"apiserver-{name}.txt")
    try:
        yield
    finally:
        py_spy.stop(sampler)
    py_spy.report(folder / f"apiserver-{name}.txt", f"API server during {name}", top=40)


def bench_creates(url: str, seconds: int, connections: int, raw_commit_rate: float | None, *,
                  suffix: str = "") -> float:
    result = run_wrk(
        f"{url}/api/v1/namespaces/bench/pods",
        connections=connections,
        seconds=seconds,
        script="create_pods.lua",
        script_args=["wrk"],
    )
    if result.non_2xx or result.socket_errors:
        print(f"# creates: {result.non_2xx} non-2xx responses, {result.socket_errors} socket errors")
    line(f"api_pod_creates_per_s{suffix}", result.ok_per_s, "creates/s")
    raw = "raw_etcd_puts" if suffix else "raw_sqlite_commits"
    if raw_commit_rate:
        ratio = result.ok_per_s / raw_commit_rate
        line(f"ratio_pod_creates_to_{raw}", ratio,
             f"(= {result.ok_per_s:.0f} / {raw_commit_rate:.0f})", ">= 0.25", ratio >= 0.25)
    else:
        print(f"# ratio_pod_creates_to_{raw}: no --raw-commit-rate given")
    return result.ok_per_s


def bench_gets(url: str, seconds: int, connections: int, *, suffix: str = "") -> None:
    """The API's single-object GETs, then the bare aiohttp baseline with a body of the same size."""
    target = f"{url}/api/v1/namespaces/bench-list/pods/p-00000"
    headers = ["Accept: application/json"]
    with urllib.request.urlopen(urllib.request.Request(target, headers={"Accept": "application/json"})) as r:
        body_bytes = len(r.read())
    result = run_wrk(target, connections=connections, seconds=seconds, headers=headers)
    if result.non_2xx or result.socket_errors:
        print(f"# gets: {result.non_2xx} non-2xx responses, {result.socket_errors} socket errors")
    line(f"api_get_per_s{suffix}", result.ok_per_s, "gets/s", ">= 10000", result.ok_per_s >= 10_000)
    if suffix:
        return  # the bare-handler ratio belongs to the SQLite run
    with running_bare_server(body_bytes) as bare_url:
        bare = run_wrk(bare_url, connections=connections, seconds=seconds, headers=headers)
    line("bare_aiohttp_get_per_s", bare.ok_per_s, f"gets/s ({body_bytes}-byte body)")
    ratio = result.ok_per_s / bare.ok_per_s if bare.ok_per_s else 0.0
    line("ratio_api_gets_to_bare_aiohttp", ratio, f"(= {result.ok_per_s:.0f} / {bare.ok_per_s:.0f})",
         ">= 0.8", ratio >= 0.8)


async def prepare_namespaces(url: str) -> None:
    async with aiohttp.ClientSession() as session:
        for namespace in ("bench", "bench-list", "bench-watch"):
            await create_namespace(session, url, namespace)


async def bench_list(url: str, args: argparse.Namespace, *, suffix: str = "") -> None:
    async with aiohttp.ClientSession(connector=aiohttp.TCPConnector(limit=SEED_CONCURRENCY)) as session:
        start = time.perf_counter()
        await seed_pods(session, url, "bench-list", args.list_size)
        line(
            f"seed_pod_creates_per_s_python_client{suffix}",
            args.list_size / (time.perf_counter() - start),
            "creates/s",
        )
        list_url = f"{url}/api/v1/namespaces/bench-list/pods"
        for label, accept in (("json", "application/json"), ("table", TABLE_ACCEPT)):
            seconds = await time_list(session, list_url, accept, args.list_size)
            name = f"list_{args.list_size}_pods_{label}_seconds{suffix}"
            line(name, seconds, "s", "<= 0.5", seconds <= 0.5)


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--raw-commit-rate", type=float, help="commits/s from bench/storage_commit_rate.py")
    parser.add_argument("--seconds", type=int, default=10, help="duration of each wrk run")
    parser.add_argument("--connections", type=int, default=64)
    parser.add_argument("--list-size", type=int, default=10_000)
    parser.add_argument("--watchers", type=int, default=1_000)
    parser.add_argument("--updates", type=int, default=20, help="updates measured for watch fan-out")
    parser.add_argument(
        "--watcher-processes",
        type=int,
        default=1,
        help="processes sharing the watchers (more, to rule out the reader as the bottleneck)",
    )
    parser.add_argument(
        "--only",
        choices=["list", "get", "create", "fanout"],
        action="append",
        help="run only these parts (repeatable); GET needs list's seeded pods",
    )
    parser.add_argument("--py-spy", type=Path, metavar="DIR",
                        help="profile the API server with py-spy during the GET and create runs, into DIR")
    parser.add_argument("--storage", choices=["sqlite", "etcd"], default="sqlite",
                        help="etcd: a local etcd, one server, then creates through two behind HAProxy")
    args = parser.parse_args()
    parts = set(args.only or ["list", "get", "create", "fanout"])

    print_machine()
    if args.storage == "etcd":
        bench_etcd(args, parts)
        return
    with running_server() as server:
        print(f"# server {server.url}, log {server.log_path}", flush=True)
        bench_parts(server.url, args, parts, server=server)


def bench_parts(url: str, args: argparse.Namespace, parts: set[str], *, server: RunningServer | None = None,
                suffix: str = "") -> float:
    """The selected figures against the server at ``url``; returns creates/s (0 when not run)."""
    asyncio.run(prepare_namespaces(url))
    if parts & {"list", "get"}:
        asyncio.run(bench_list(url, args, suffix=suffix))
    if "get" in parts:
        with profiled(server, args.py_spy, "gets"):
            bench_gets(url, args.seconds, args.connections, suffix=suffix)
    creates = 0.0
    if "create" in parts:
        with profiled(server, args.py_spy, "creates"):
            creates = bench_creates(url, args.seconds, args.connections, args.raw_commit_rate, suffix=suffix)
    if "fanout" in parts:
        bench_fanout(url, args, suffix=suffix)
    return creates


def bench_etcd(args: argparse.Namespace, parts: set[str]) -> None:
    """One server on etcd (every selected figure), then creates through two behind HAProxy."""
    with running_api_on_etcd(1) as (url, split):
        print(f"# one API server on etcd at {url}: {split}", flush=True)
        one = bench_parts(url, args, parts, suffix="_etcd")
    if "create" not in parts:
        return
    with running_api_on_etcd(2) as (url, split):
        print(f"# two API servers on etcd behind HAProxy at {url}: {split}", flush=True)
        asyncio.run(prepare_namespaces(url))
        two = bench_creates(url, args.seconds, args.connections, None, suffix="_etcd_2_servers")
    ratio = two / one if one else 0.0
    line("ratio_pod_creates_two_servers_to_one_etcd", ratio, f"(= {two:.0f} / {one:.0f})", ">= 1.3",
         ratio >= 1.3)


def bench_fanout(url: str, args: argparse.Namespace, *, suffix: str = "") -> None:
    """The server's fan-out as a bare reader sees it (the target), then as aiohttp clients do."""
    for reader, reader_suffix in (("raw", ""), ("aiohttp", "_aiohttp_reader")):
        fanout = asyncio.run(
            measure(url, namespace="bench-watch", watchers=args.watchers, updates=args.updates,
                    processes=args.watcher_processes, reader=reader, pod_name=f"fanout-{reader}")
        )
        if fanout.missed:
            print(f"# watch fan-out ({reader} reader): {fanout.missed} of {fanout.watchers * fanout.updates} "
                  "deliveries missing")
        name = f"watch_fanout_{fanout.watchers}"
        line(f"{name}_p50_ms{reader_suffix}{suffix}", fanout.p50_ms, "ms")
        if reader_suffix:
            line(f"{name}_p99_ms{reader_suffix}{suffix}", fanout.p99_ms, "ms")
        else:
            target = 100 if suffix else 50  # the etcd target is the 100 ms
            line(f"{name}_p99_ms{suffix}", fanout.p99_ms, "ms", f"<= {target}", fanout.p99_ms <= target)


if __name__ == "__main__":
    main()
