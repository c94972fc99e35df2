"""Watch fan-out latency: one object updated, N open watches, write sent to event arrived.

The watchers run in a separate process (`python bench/watch_fanout.py watchers ...`) so that
reading 1,000 streams does not delay the writer's view of its own acknowledgements. Both
processes stamp times with CLOCK_MONOTONIC, which is system-wide on Linux, so arrival minus
ack is meaningful across them. Latency is clamped at 0: the server may deliver an event before
the writer has read its response. Watchers stamp bytes the moment they arrive and decode later.

Two readers: ``raw`` (default) is an asyncio protocol per connection that only stamps what
arrives (a few microseconds per arrival), so the figure is the server's delivery, not the
reader's; ``aiohttp`` reads each stream with aiohttp's client, as a Python client would — one
process reading 1,000 streams through it spends ~20 µs per event and stream, so its stamps
trail the server by up to that times 1,000 (bench/api_bench.py prints both).
"""

from __future__ import annotations

import argparse
import asyncio
import json
import statistics
import subprocess
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import cast
from urllib.parse import urlsplit

import aiohttp
import orjson
import uvloop

CONNECT_TIMEOUT_S = 60.0


@dataclass(frozen=True)
class FanoutResult:
    watchers: int
    updates: int
    p50_ms: float
    p99_ms: float
    max_ms: float
    missed: int


async def _watch(
    session: aiohttp.ClientSession,
    url: str,
    arrivals: list[tuple[float, bytes]],
    opened: asyncio.Event,
    counter: list[int],
    total: int,
) -> None:
    async with session.get(url, timeout=aiohttp.ClientTimeout(total=None, sock_read=None)) as response:
        response.raise_for_status()
        counter[0] += 1
        if counter[0] == total:
            opened.set()
        async for line in response.content:
            arrivals.append((time.monotonic(), line))


class _RawWatch(asyncio.Protocol):
    """One watch over a bare connection: sends the GET, stamps every piece of bytes received."""

    def __init__(self, request: bytes, opened: Callable[[], None]) -> None:
        self.request = request
        self.opened = opened
        self.pieces: list[tuple[float, bytes]] = []
        self.headers_seen = False

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        cast(asyncio.WriteTransport, transport).write(self.request)  # uvloop's are not subclasses

    def data_received(self, data: bytes) -> None:
        self.pieces.append((time.monotonic(), data))
        if not self.headers_seen and b"\r\n\r\n" in b"".join(p for _, p in self.pieces):
            self.headers_seen = True
            self.opened()

    def lines(self) -> list[tuple[float, bytes]]:
        """The event lines of the chunked body, each stamped when its last byte arrived."""
        stream = b"".join(piece for _, piece in self.pieces)
        ends, total = [], 0
        for _, piece in self.pieces:
            total += len(piece)
            ends.append(total)
        head, _, _ = stream.partition(b"\r\n\r\n")
        if not head.startswith(b"HTTP/1.1 200"):
            raise RuntimeError(f"watch answered {head[:80]!r}")
        offset, found = len(head) + 4, []
        while (newline := stream.find(b"\r\n", offset)) > 0:
            size = int(stream[offset:newline], 16)
            start, end = newline + 2, newline + 2 + size
            if size == 0 or end > len(stream):
                break
            piece = next(i for i, piece_end in enumerate(ends) if piece_end >= end)
            found.append((self.pieces[piece][0], stream[start:end]))
            offset = end + 2
        return found


async def run_raw_watchers(url: str, count: int) -> None:
    """`run_watchers` with `_RawWatch` connections instead of aiohttp's client."""
    parts = urlsplit(url)
    request = (f"GET {parts.path}?{parts.query} HTTP/1.1\r\nHost: {parts.netloc}\r\n"
               "Accept: application/json\r\n\r\n").encode()
    loop = asyncio.get_running_loop()
    opened, counter = asyncio.Event(), [0]

    def one_opened() -> None:
        counter[0] += 1
        if counter[0] == count:
            opened.set()

    watches = []
    for _ in range(count):
        _, watch = await loop.create_connection(lambda: _RawWatch(request, one_opened),
                                                parts.hostname, parts.port)
        watches.append(watch)
    try:
        await asyncio.wait_for(opened.wait(), CONNECT_TIMEOUT_S)
        print(json.dumps({"opened": counter[0]}), flush=True)
    except TimeoutError:
        print(json.dumps({"opened": counter[0], "error": "not all watches opened"}), flush=True)
    await loop.run_in_executor(None, sys.stdin.readline)
    print(json.dumps(_by_revision([w.lines() for w in watches])), flush=True)


def _by_revision(streams: list[list[tuple[float, bytes]]]) -> dict[str, list[float]]:
    per_rv: dict[str, list[float]] = {}
    for stream in streams:
        for stamp, line in stream:
            if line.strip():
                event = orjson.loads(line)
                per_rv.setdefault(event["object"]["metadata"]["resourceVersion"], []).append(stamp)
    return per_rv


async def run_watchers(url: str, count: int) -> None:
    """Opens ``count`` watches, says `opened`, records arrivals until stdin says `stop`, prints them."""
    arrivals: list[list[tuple[float, bytes]]] = [[] for _ in range(count)]
    opened, counter = asyncio.Event(), [0]
    connector = aiohttp.TCPConnector(limit=0)
    async with aiohttp.ClientSession(connector=connector) as session:
        tasks = [
            asyncio.create_task(_watch(session, url, arrivals[i], opened, counter, count))
            for i in range(count)
        ]
        try:
            await asyncio.wait_for(opened.wait(), CONNECT_TIMEOUT_S)
            print(json.dumps({"opened": counter[0]}), flush=True)
        except TimeoutError:
            print(json.dumps({"opened": counter[0], "error": "not all watches opened"}), flush=True)
        await asyncio.get_running_loop().run_in_executor(None, sys.stdin.readline)
        for task in tasks:
            task.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)
    print(json.dumps(_by_revision(arrivals)), flush=True)


def percentile(values: list[float], fraction: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(fraction * len(ordered)))]


def spawn_watchers(watch_url: str, shares: list[int], reader: str) -> list[subprocess.Popen[str]]:
    """One watcher process per share; each prints `opened`, then its arrivals after `stop`."""
    return [
        subprocess.Popen(
            [sys.executable, __file__, "watchers", watch_url, str(share), "--reader", reader],
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            text=True,
        )
        for share in shares
    ]


async def _update(
    session: aiohttp.ClientSession, url: str, updates: int, interval_s: float
) -> dict[str, float]:
    """Patches the pod ``updates`` + 1 times (the first is a warm-up); the time each write was
    SENT, per resourceVersion. The server fans an event out before it answers the write, so
    latency is counted from the request, not from its acknowledgement."""
    acks: dict[str, float] = {}
    for i in range(updates + 1):
        patch = {"metadata": {"annotations": {"bench/seq": str(i)}}}
        sent = time.monotonic()
        async with session.patch(
            url, data=orjson.dumps(patch), headers={"Content-Type": "application/merge-patch+json"}
        ) as response:
            response.raise_for_status()
            body = await response.json()
            if i > 0:
                acks[body["metadata"]["resourceVersion"]] = sent
        await asyncio.sleep(interval_s)
    return acks


async def measure(
    base_url: str, *, namespace: str, watchers: int, updates: int, processes: int = 1,
    interval_s: float = 0.2, reader: str = "raw", pod_name: str = "fanout",
) -> FanoutResult:
    """Creates the target pod, starts the watcher process, updates the pod, collects latencies."""
    pod_path = f"{base_url}/api/v1/namespaces/{namespace}/pods"
    pod = {
        "apiVersion": "v1",
        "kind": "Pod",
        "metadata": {"name": pod_name},
        "spec": {"containers": [{"name": "c", "image": "busybox:1.36"}]},
    }
    async with aiohttp.ClientSession() as session:
        async with session.post(pod_path, json=pod) as response:
            response.raise_for_status()
            start_rv = (await response.json())["metadata"]["resourceVersion"]
        watch_url = f"{pod_path}?watch=1&fieldSelector=metadata.name%3D{pod_name}&resourceVersion={start_rv}"
        shares = [watchers // processes + (1 if i < watchers % processes else 0) for i in range(processes)]
        children = spawn_watchers(watch_url, shares, reader)
        for child in children:
            assert child.stdout is not None
            opened = json.loads(await asyncio.to_thread(child.stdout.readline))
            if opened.get("error"):
                print(f"# watch fan-out: {opened}", file=sys.stderr)
        await asyncio.sleep(1.0)  # let the server register the last watchers
        acks = await _update(session, f"{pod_path}/{pod_name}", updates, interval_s)
        await asyncio.sleep(2.0)
        outputs = [await asyncio.to_thread(child.communicate, "stop\n", 120) for child in children]
    per_rv: dict[str, list[float]] = {}
    for out, _ in outputs:
        for rv, stamps in json.loads(out.splitlines()[-1]).items():
            per_rv.setdefault(rv, []).extend(stamps)
    latencies = [max(0.0, stamp - acked) * 1000 for rv, acked in acks.items() for stamp in per_rv.get(rv, [])]
    missed = watchers * len(acks) - len(latencies)
    if not latencies:
        raise RuntimeError("no watch events arrived")
    return FanoutResult(
        watchers=watchers,
        updates=len(acks),
        p50_ms=statistics.median(latencies),
        p99_ms=percentile(latencies, 0.99),
        max_ms=max(latencies),
        missed=missed,
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("role", choices=["watchers"])
    parser.add_argument("url")
    parser.add_argument("count", type=int)
    parser.add_argument("--reader", choices=("raw", "aiohttp"), default="raw")
    args = parser.parse_args()
    uvloop.run((run_raw_watchers if args.reader == "raw" else run_watchers)(args.url, args.count))


if __name__ == "__main__":
    main()
