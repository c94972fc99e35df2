"""DNS load from inside a pod (bench/service_bench.py runs ``python3 -c <this file> SVC.NS SECONDS N,M``).

Runs in the cluster's python image (Debian's python3 + python3-dnslib), so it imports only the standard
library and dnslib. For each concurrency in the list, that many clients, each on its own UDP socket (its
own conntrack flow, so kube-proxy spreads them over the DNS pods as it spreads a node's resolvers), ask
one query after another for the A record of SVC.NS.svc.<domain> (the ``svc.`` entry of resolv.conf's
search list) for SECONDS against the pod's nameserver (the cluster DNS Service IP). Prints one JSON
line per concurrency: answered, failed, elapsed, latencies.
"""

import asyncio
import json
import sys
import time

from dnslib import DNSRecord

TIMEOUT_S = 2.0


class _Replies(asyncio.DatagramProtocol):
    def __init__(self) -> None:
        self.waiting: dict[int, asyncio.Future[DNSRecord]] = {}

    def datagram_received(self, data: bytes, addr: tuple[str, int]) -> None:
        reply = DNSRecord.parse(data)
        future = self.waiting.pop(reply.header.id, None)
        if future is not None and not future.done():
            future.set_result(reply)


def _resolv_conf() -> tuple[str, str]:
    """The first nameserver and the cluster's ``svc.<domain>`` search entry."""
    with open("/etc/resolv.conf") as resolv:
        lines = [line.split() for line in resolv]
    server = next(words[1] for words in lines if words and words[0] == "nameserver")
    searched = next(words[1:] for words in lines if words and words[0] == "search")
    domain = next(word for word in searched if word.startswith("svc."))
    return server, domain


async def _client(server: str, name: str, deadline: float, latencies: list[float]) -> int:
    loop = asyncio.get_running_loop()
    transport, replies = await loop.create_datagram_endpoint(_Replies, remote_addr=(server, 53))
    failed, query_id = 0, 0
    try:
        while time.perf_counter() < deadline:
            query_id = query_id % 65535 + 1
            query = DNSRecord.question(name, "A")
            query.header.id = query_id
            future: asyncio.Future[DNSRecord] = loop.create_future()
            replies.waiting[query_id] = future
            sent = time.perf_counter()
            transport.sendto(query.pack())
            try:
                reply = await asyncio.wait_for(future, TIMEOUT_S)
            except TimeoutError:
                replies.waiting.pop(query_id, None)
                failed += 1
                continue
            if reply.header.rcode == 0 and reply.rr:
                latencies.append(time.perf_counter() - sent)
            else:
                failed += 1
    finally:
        transport.close()
    return failed


async def _run(service: str, seconds: float, clients: int) -> dict[str, object]:
    (server, domain), latencies = _resolv_conf(), []
    name = f"{service}.{domain}"
    started = time.perf_counter()
    failures = await asyncio.gather(*(_client(server, name, started + seconds, latencies)
                                      for _ in range(clients)))
    elapsed = time.perf_counter() - started
    latencies.sort()
    return {"clients": clients, "server": server, "name": name, "answered": len(latencies),
            "failed": sum(failures), "elapsed_s": elapsed, "latencies_s": latencies}


def main() -> None:
    name, seconds = sys.argv[1], float(sys.argv[2])
    for clients in (int(c) for c in sys.argv[3].split(",")):
        print(json.dumps(asyncio.run(_run(name, seconds, clients))), flush=True)


main()
