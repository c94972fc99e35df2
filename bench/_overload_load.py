"""Load generator processes of bench/overload_bench.py, one role per process.

Roles, each a tenant user with a client certificate over TLS, as ``hack/setup-tenant-user.sh``
makes them:
- ``lists``: N loops, each LISTing the tenant's big namespace again as soon as the last one ended;
- ``watches``: N watches from a LIST's resourceVersion (as informers start them), re-opened when
  they end, and a writer updating one ConfigMap a few times a second so that events flow;
- ``gets``: GETs of one object at a steady rate (sent on schedule, not after the previous
  answer, so a slow server cannot hide its latency by slowing the sender).
A 429 is counted and its ``Retry-After`` honoured, as client-go does. Every role stops at
``--until`` (a wall-clock time all roles share) and writes one JSON object to ``--out``: counts,
bytes, errors and the latency of each answered request in milliseconds.
"""

from __future__ import annotations

import argparse
import asyncio
import ssl
import time
from dataclasses import asdict, dataclass, field
from pathlib import Path

import aiohttp
import orjson
import uvloop

CLIENT_ERRORS = (aiohttp.ClientError, TimeoutError, ConnectionError)


@dataclass
class Tally:
    role: str
    ok: int = 0
    throttled: int = 0
    failed: int = 0
    events: int = 0
    writes: int = 0
    writes_refused: int = 0
    bytes: int = 0
    errors: dict[str, int] = field(default_factory=dict)
    latencies_ms: list[float] = field(default_factory=list)
    sent_at: list[float] = field(default_factory=list)  # gets: epoch seconds each answered GET was sent

    def error(self, what: str) -> None:
        self.failed += 1
        self.errors[what] = self.errors.get(what, 0) + 1


def parse_args() -> argparse.Namespace:
    parser = argparse.ArgumentParser()
    parser.add_argument("role", choices=("lists", "watches", "gets"))
    parser.add_argument("--url", required=True, help="https://host:port")
    parser.add_argument("--ca", required=True)
    parser.add_argument("--cert", required=True)
    parser.add_argument("--key", required=True)
    parser.add_argument("--namespace", default="load")
    parser.add_argument("--until", type=float, required=True, help="epoch seconds to stop at")
    parser.add_argument("--concurrency", type=int, default=1)
    parser.add_argument("--rate", type=float, default=0.0, help="gets: requests/s; watches: writes/s")
    parser.add_argument("--name", default="", help="watches: the ConfigMap the writer updates")
    parser.add_argument("--path", default="", help="gets: what to GET")
    parser.add_argument("--out", required=True, help="file the tally is written to")
    return parser.parse_args()


def left(args: argparse.Namespace) -> float:
    return args.until - time.time()


async def throttled(tally: Tally, response: aiohttp.ClientResponse, args: argparse.Namespace) -> bool:
    """Count a 429 and sleep its Retry-After (within the run); False for any other answer."""
    if response.status != 429:
        return False
    tally.throttled += 1
    await response.read()
    await asyncio.sleep(max(0.0, min(float(response.headers.get("Retry-After", "1")), left(args))))
    return True


async def list_loop(session: aiohttp.ClientSession, args: argparse.Namespace, tally: Tally) -> None:
    url = f"{args.url}/api/v1/namespaces/{args.namespace}/configmaps"
    while left(args) > 0:
        started = time.perf_counter()
        try:
            async with session.get(url) as response:
                if await throttled(tally, response, args):
                    continue
                if response.status != 200:
                    tally.error(f"http {response.status}")
                    await response.read()
                    continue
                async for chunk in response.content.iter_any():
                    tally.bytes += len(chunk)
            tally.ok += 1
            tally.latencies_ms.append((time.perf_counter() - started) * 1000)
        except CLIENT_ERRORS as e:
            tally.error(type(e).__name__)
            await asyncio.sleep(0.2)


async def resource_version(session: aiohttp.ClientSession, url: str) -> str:
    async with session.get(url, params={"limit": "1"}) as response:
        return str((await response.json())["metadata"]["resourceVersion"])


async def watch_loop(session: aiohttp.ClientSession, args: argparse.Namespace, tally: Tally) -> None:
    url = f"{args.url}/api/v1/namespaces/{args.namespace}/configmaps"
    revision = ""
    while left(args) > 0:
        try:
            revision = revision or await resource_version(session, url)
            params = {"watch": "true", "resourceVersion": revision, "allowWatchBookmarks": "true"}
            async with session.get(url, params=params) as response:
                if await throttled(tally, response, args):
                    continue
                tally.ok += 1
                async for line in response.content:
                    event = orjson.loads(line)
                    if event["type"] == "ERROR":
                        revision = ""  # expired: start again from a fresh LIST
                        break
                    revision = event["object"]["metadata"]["resourceVersion"]
                    tally.events += 1
        except CLIENT_ERRORS as e:
            tally.error(type(e).__name__)
            await asyncio.sleep(0.2)


async def writer(session: aiohttp.ClientSession, args: argparse.Namespace, tally: Tally) -> None:
    url = f"{args.url}/api/v1/namespaces/{args.namespace}/configmaps/{args.name}"
    headers = {"Content-Type": "application/merge-patch+json"}
    while left(args) > 0 and args.rate > 0:
        body = orjson.dumps({"data": {"tick": str(tally.writes)}})
        try:
            async with session.patch(url, data=body, headers=headers) as response:
                await response.read()
                if response.status == 200:
                    tally.writes += 1
                elif response.status == 429:
                    tally.writes_refused += 1  # the writer is the flooding tenant too
        except CLIENT_ERRORS as e:
            tally.error(f"write {type(e).__name__}")
        await asyncio.sleep(1 / args.rate)


async def get_loop(session: aiohttp.ClientSession, args: argparse.Namespace, tally: Tally,
                   offset: float) -> None:
    """One of ``concurrency`` senders, each on its own schedule of rate/concurrency GETs/s."""
    url = args.url + args.path
    interval = args.concurrency / args.rate
    due = time.perf_counter() + offset * interval
    while left(args) > 0:
        await asyncio.sleep(max(0.0, due - time.perf_counter()))
        due += interval
        started = time.perf_counter()
        try:
            async with session.get(url) as response:
                await response.read()
                elapsed = (time.perf_counter() - started) * 1000
                if response.status == 200:
                    tally.ok += 1
                    tally.latencies_ms.append(elapsed)
                    tally.sent_at.append(time.time() - elapsed / 1000)
                elif response.status == 429:
                    tally.throttled += 1
                else:
                    tally.error(f"http {response.status}")
        except CLIENT_ERRORS as e:
            tally.error(type(e).__name__)


async def run(args: argparse.Namespace) -> Tally:
    context = ssl.create_default_context(cafile=args.ca)
    context.load_cert_chain(args.cert, args.key)
    connector = aiohttp.TCPConnector(limit=0, ssl=context)
    timeout = aiohttp.ClientTimeout(total=None, sock_connect=30, sock_read=90)
    tally = Tally(args.role)
    async with aiohttp.ClientSession(connector=connector, timeout=timeout) as session:
        if args.role == "lists":
            jobs = [list_loop(session, args, tally) for _ in range(args.concurrency)]
        elif args.role == "watches":
            jobs = [watch_loop(session, args, tally) for _ in range(args.concurrency)]
            jobs.append(writer(session, args, tally))
        else:
            jobs = [get_loop(session, args, tally, i / args.concurrency) for i in range(args.concurrency)]
        tasks = [asyncio.create_task(job) for job in jobs]
        # Watches never end by themselves: stop everything at the shared deadline.
        await asyncio.wait(tasks, timeout=max(0.0, left(args)) + 5)
        for task in tasks:
            task.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)
    return tally


def main() -> None:
    args = parse_args()
    tally = uvloop.run(run(args))
    Path(args.out).write_bytes(orjson.dumps(asdict(tally)))


if __name__ == "__main__":
    main()
