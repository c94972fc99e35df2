"""How fast etcd takes writes through our client, raw and through the etcd storage backend.

The raw rate is plain etcd Puts through the same gRPC stubs and channel the backend uses, at the
API server's write concurrency (64 in flight: wrk's connections in bench/api_bench.py); it is the
ceiling for creates through an API server on etcd (the issue's target: creates through one API
server ≥ 25 % of it). The backend rate is EtcdBackend.create, a transaction comparing the key's
mod_revision. With no ``--etcd`` a member is started on loopback with its data in a temp
directory; etcd runs on the first core and this load generator on the second (one core: shared).
Run:

    .venv/bin/python bench/etcd_put_rate.py [--etcd etcd://127.0.0.1:2379] [--writes N] [--concurrency 64]

Prints ``name: value unit`` lines.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import os
import sys
import tempfile
import time
from collections.abc import Awaitable, Callable, Iterator
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "test" / "e2e"))

from aetcd import rpc
from etcd_process import running_etcd

from server.storage.etcd import EtcdBackend
from server.storage.etcd_connection import EtcdTLS, open_channel, parse_etcd_url

VALUE = b"x" * 1024  # about the size of a small Pod's JSON


async def rate(writes: int, concurrency: int, write: Callable[[int, int], Awaitable[object]]) -> float:
    """Writes per second with ``concurrency`` workers each doing ``writes // concurrency``."""
    per_worker = writes // concurrency

    async def worker(index: int) -> None:
        for serial in range(per_worker):
            await write(index, serial)

    started = time.perf_counter()
    await asyncio.gather(*(worker(i) for i in range(concurrency)))
    return per_worker * concurrency / (time.perf_counter() - started)


async def figures(url: str, writes: int, concurrency: int) -> None:
    endpoints = parse_etcd_url(url)
    store = EtcdBackend(endpoints)
    await store.start()
    channel = open_channel(endpoints.target(), endpoints, EtcdTLS())  # as the backend opens its own
    kv = rpc.KVStub(channel)

    async def raw_put(worker: int, serial: int) -> object:
        return await kv.Put(rpc.PutRequest(key=f"/bench/raw/{worker}/{serial:06d}".encode(), value=VALUE))

    async def create(worker: int, serial: int) -> object:
        return await store.create(f"/registry/pods/bench/w{worker}/{serial:06d}", VALUE)

    print(f"raw_etcd_puts_1_writer: {await rate(writes // 8, 1, raw_put):.0f} puts/s")
    print(f"raw_etcd_puts_{concurrency}_writers: {await rate(writes, concurrency, raw_put):.0f} puts/s")
    creates = await rate(writes, concurrency, create)
    print(f"etcd_backend_creates_{concurrency}_writers: {creates:.0f} creates/s")
    full = page = float("inf")
    for _ in range(3):
        started = time.perf_counter()
        listed = await store.list("/registry/pods/bench/")
        full = min(full, time.perf_counter() - started)
        started = time.perf_counter()
        await store.list("/registry/pods/bench/", limit=500)
        page = min(page, time.perf_counter() - started)
    print(f"etcd_backend_list_{len(listed.items)}_keys: {full * 1000:.1f} ms")
    print(f"etcd_backend_list_first_500: {page * 1000:.1f} ms")
    await channel.close()
    await store.close()


def pin(pid: int, cpus: list[int]) -> None:
    """Every thread of ``pid`` on ``cpus`` (threads it starts later inherit it)."""
    for tid in os.listdir(f"/proc/{pid}/task"):
        os.sched_setaffinity(int(tid), cpus)


@contextlib.contextmanager
def local_member() -> Iterator[str]:
    """A member on the first core, this load generator on the others."""
    cpus = sorted(os.sched_getaffinity(0))
    load = cpus[1:] or cpus
    with tempfile.TemporaryDirectory() as scratch, running_etcd(Path(scratch)) as member:
        assert member.process is not None
        pin(member.process.pid, cpus[:1])
        os.sched_setaffinity(0, load)
        print(f"# local etcd member on cpu {cpus[0]}, load on cpu {','.join(map(str, load))}")
        yield member.storage_url


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--etcd", default="", help="an existing etcd:// URL (default: start a member)")
    parser.add_argument("--writes", type=int, default=20_000)
    parser.add_argument("--concurrency", type=int, default=64)
    args = parser.parse_args()
    import uvloop  # the API server's loop

    with contextlib.ExitStack() as stack:
        url = args.etcd or stack.enter_context(local_member())
        uvloop.run(figures(url, args.writes, args.concurrency))


if __name__ == "__main__":
    main()
