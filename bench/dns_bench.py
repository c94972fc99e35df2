"""Cluster DNS benchmark: queries/s and latency of `python -m clusterdns` answering from the API.

Starts a real API server (bench/server_process.py, first core) holding --services ClusterIP
Services and a few headless ones, then `python -m clusterdns` on loopback pinned to the same core
(the API server idles during the run), waits until it answers the last Service, and sends A
queries for random Services (a tenth of them for names that do not exist) from --concurrency
UDP sockets on the other core for --seconds. Prints one `name: value unit` line per figure:
  dns_queries_per_s     answered queries per second
  dns_p50_ms, dns_p99_ms  latency of one query, send to answer
  dns_zone_build_ms     rebuilding a tenant's zone after a change (the first query pays it)
  dns_rss_mib           resident memory of the DNS process afterwards
Not a test: nothing fails; the figures from a pod (through the Service IP and kube-proxy) come
from the e2e bench.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import random
import statistics
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

from dnslib import DNSRecord

sys.path.insert(0, str(Path(__file__).resolve().parent))
from server_process import LOAD_CPUS, REPO_ROOT, SERVER_CPUS, free_port, pin_to, running_server, stop_group

DOMAIN = "cluster.local"


def post(url: str, path: str, body: dict[str, object]) -> None:
    request = urllib.request.Request(url + path, data=json.dumps(body).encode(), method="POST",
                                     headers={"Content-Type": "application/json"})
    with urllib.request.urlopen(request, timeout=30) as response:
        response.read()


def fill(url: str, services: int) -> None:
    for i in range(services):
        post(url, "/api/v1/namespaces/default/services", {
            "apiVersion": "v1", "kind": "Service", "metadata": {"name": f"svc-{i}"},
            "spec": {"clusterIP": f"10.0.{1 + i // 250}.{1 + i % 250}",
                     "ports": [{"name": "http", "port": 80, "protocol": "TCP"}]}})
    for h in range(10):
        post(url, "/api/v1/namespaces/default/services", {
            "apiVersion": "v1", "kind": "Service", "metadata": {"name": f"headless-{h}"},
            "spec": {"clusterIP": "None", "ports": [{"name": "http", "port": 80, "protocol": "TCP"}]}})
        post(url, "/apis/discovery.k8s.io/v1/namespaces/default/endpointslices", {
            "apiVersion": "discovery.k8s.io/v1", "kind": "EndpointSlice", "addressType": "IPv4",
            "metadata": {"name": f"headless-{h}-1",
                         "labels": {"kubernetes.io/service-name": f"headless-{h}"}},
            "ports": [{"name": "http", "port": 8080, "protocol": "TCP"}],
            "endpoints": [{"addresses": [f"10.88.{h}.{e}"], "conditions": {"ready": True}}
                          for e in range(1, 11)]})


def ask(port: int, name: str) -> DNSRecord:
    return DNSRecord.parse(DNSRecord.question(name).send("127.0.0.1", port, timeout=2))


def wait_answering(port: int, name: str, *, within: float = 60) -> None:
    deadline = time.monotonic() + within
    while time.monotonic() < deadline:
        try:
            if ask(port, name).rr:
                return
        except OSError:
            pass
        time.sleep(0.2)
    raise RuntimeError(f"{name} not answered within {within}s")


class _Reply(asyncio.DatagramProtocol):
    def __init__(self) -> None:
        self.waiter: asyncio.Future[bytes] | None = None

    def datagram_received(self, data: bytes, addr: tuple[str, int]) -> None:
        if self.waiter is not None and not self.waiter.done():
            self.waiter.set_result(data)


async def load(port: int, packets: list[bytes], *, concurrency: int,
               seconds: float) -> tuple[int, list[float], int]:
    """(answered, latencies in s, lost) from ``concurrency`` sockets asking one at a time."""
    loop = asyncio.get_running_loop()
    latencies: list[float] = []
    lost = 0
    deadline = time.perf_counter() + seconds

    async def worker() -> None:
        nonlocal lost
        transport, protocol = await loop.create_datagram_endpoint(_Reply, remote_addr=("127.0.0.1", port))
        try:
            while time.perf_counter() < deadline:
                protocol.waiter = loop.create_future()
                started = time.perf_counter()
                transport.sendto(random.choice(packets))
                try:
                    await asyncio.wait_for(protocol.waiter, 2)
                    latencies.append(time.perf_counter() - started)
                except TimeoutError:
                    lost += 1
        finally:
            transport.close()

    await asyncio.gather(*(worker() for _ in range(concurrency)))
    return len(latencies), latencies, lost


def zone_build_ms(port: int, url: str) -> float:
    """Median time of the first answer after a Service change (the zone is rebuilt), less a warm one."""
    samples = []
    for i in range(5):
        post(url, "/api/v1/namespaces/default/services", {
            "apiVersion": "v1", "kind": "Service", "metadata": {"name": f"late-{i}"},
            "spec": {"clusterIP": f"10.0.200.{i + 1}", "ports": [{"port": 80}]}})
        wait_answering(port, f"late-{i}.default.svc.{DOMAIN}")
        started = time.perf_counter()
        ask(port, f"svc-0.default.svc.{DOMAIN}")
        warm = time.perf_counter() - started
        post(url, "/api/v1/namespaces/default/services", {
            "apiVersion": "v1", "kind": "Service", "metadata": {"name": f"later-{i}"},
            "spec": {"clusterIP": f"10.0.201.{i + 1}", "ports": [{"port": 80}]}})
        time.sleep(0.5)  # the watch event has arrived; the zone is stale until asked
        started = time.perf_counter()
        ask(port, f"svc-0.default.svc.{DOMAIN}")
        samples.append((time.perf_counter() - started - warm) * 1000)
    return statistics.median(samples)


def rss_mib(pid: int) -> float:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    return 0.0


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--services", type=int, default=1000)
    parser.add_argument("--concurrency", type=int, default=32)
    parser.add_argument("--seconds", type=float, default=10)
    args = parser.parse_args()
    with running_server() as server:
        fill(server.url, args.services)
        port = free_port()
        log = Path(server.log_path).with_name("clusterdns.log")
        with log.open("wb") as out:
            dns = subprocess.Popen(
                [sys.executable, "-m", "clusterdns", "--port", str(port), "--bind", "127.0.0.1",
                 "--server", server.url, "--health-port", str(free_port()), "--ready-port", str(free_port()),
                 "--probe-bind", "127.0.0.1", "--upstream", "127.0.0.1:1"],
                cwd=REPO_ROOT, stdout=out, stderr=subprocess.STDOUT, start_new_session=True,
                preexec_fn=lambda: pin_to(SERVER_CPUS))
        try:
            wait_answering(port, f"svc-{args.services - 1}.default.svc.{DOMAIN}")
            pin_to(LOAD_CPUS)
            names = [f"svc-{random.randrange(args.services)}.default.svc.{DOMAIN}" for _ in range(900)]
            names += [f"missing-{i}.default.svc.{DOMAIN}" for i in range(100)]
            packets = [DNSRecord.question(name).pack() for name in names]
            answered, latencies, lost = asyncio.run(load(port, packets, concurrency=args.concurrency,
                                                         seconds=args.seconds))
            latencies.sort()
            print(f"dns_queries_per_s: {answered / args.seconds:.0f} /s "
                  f"({args.services} Services, {args.concurrency} in flight, {lost} lost)")
            print(f"dns_p50_ms: {latencies[len(latencies) // 2] * 1000:.2f} ms")
            print(f"dns_p99_ms: {latencies[int(len(latencies) * 0.99)] * 1000:.2f} ms")
            print(f"dns_zone_build_ms: {zone_build_ms(port, server.url):.1f} ms ({args.services} Services)")
            print(f"dns_rss_mib: {rss_mib(dns.pid):.1f} MiB")
        finally:
            stop_group(dns)


if __name__ == "__main__":
    main()
