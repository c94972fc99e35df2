"""Gateway overhead per request: p50/p99 through `python -m gateway` vs straight to the partition.

Starts one partition (`python -m server`, TLS, SQLite, request-header authentication for the
front proxy) and the gateway in front of it (`python -m gateway`, TLS, as arktos-up-scale-out.sh
runs it), seeds a namespace with a few ConfigMaps, then runs the same load against both in the
same run, alternating rounds so machine noise hits both alike: 1 client (the latency a request
pays) and N concurrent clients (under load), keep-alive connections (aiohttp), each client sending
requests back to back — GET of one object and a small LIST
(``--list-size`` objects) — as the system admin by client certificate (the gateway forwards it with
its front-proxy certificate and X-Remote-* headers) and by bearer token (passed through). Prints
one line per figure: p50 and p99 latency in ms and requests/s for direct and gateway, and the
gateway's added p50/p99.
Not a test: nothing fails; the README quotes the figures. On this 2-core machine the server, the
gateway and the load generator share the cores, so the added latency includes the gateway's CPU
competing with the server's.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import os
import ssl
import statistics
import subprocess
import sys
import tempfile
import time
import urllib.request
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import aiohttp
import orjson

REPO_ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO_ROOT))
from server_process import free_port, stop_group  # noqa: E402

from tools.cluster_credentials import ClusterCredentials, ensure_cluster_credentials  # noqa: E402

NAMESPACE = "bench"
READY_TIMEOUT_S = 60.0


@dataclass(frozen=True)
class Endpoints:
    direct: str
    gateway: str
    credentials: ClusterCredentials


def _start(command: list[str], log_path: Path) -> subprocess.Popen[bytes]:
    with log_path.open("wb") as log:
        return subprocess.Popen(command, cwd=REPO_ROOT, stdout=log, stderr=subprocess.STDOUT,
                                stdin=subprocess.DEVNULL, start_new_session=True)


def _wait_ready(url: str, context: ssl.SSLContext, process: subprocess.Popen[bytes], log_path: Path) -> None:
    deadline = time.monotonic() + READY_TIMEOUT_S
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise RuntimeError(f"{url} exited; log:\n{log_path.read_text()[-3000:]}")
        with contextlib.suppress(OSError):
            with urllib.request.urlopen(f"{url}/readyz", timeout=2, context=context) as answer:
                if answer.status == 200:
                    return
        time.sleep(0.2)
    raise RuntimeError(f"{url} not ready; log:\n{log_path.read_text()[-3000:]}")


@contextlib.contextmanager
def running_pair(workdir: Path) -> Iterator[Endpoints]:
    """One TLS partition and the gateway in front of it."""
    server_port, gateway_port = free_port(), free_port()
    c = ensure_cluster_credentials(workdir / "certs", server=f"https://127.0.0.1:{gateway_port}",
                                   hosts=["127.0.0.1"], node_name="bench-node")
    direct, gateway = f"https://127.0.0.1:{server_port}", f"https://127.0.0.1:{gateway_port}"
    server_cmd = [
        sys.executable, "-m", "server", "--data-dir", str(workdir / "tp0"),
        "--storage", f"sqlite:///{workdir / 'tp0.db'}", "--bind-address", "127.0.0.1",
        "--secure-port", str(server_port), "--tls-cert-file", str(c.serving_cert),
        "--tls-private-key-file", str(c.serving_key), "--client-ca-file", str(c.ca_cert),
        "--token-auth-file", str(c.token_file), "--service-account-key-file", str(c.sa_public_key),
        "--service-account-signing-key-file", str(c.sa_key),
        "--requestheader-client-ca-file", str(c.front_proxy_ca_cert),
        "--requestheader-allowed-names", "front-proxy-client",
    ]  # fmt: skip
    gateway_cmd = [
        sys.executable, "-m", "gateway", "--bind-address", "127.0.0.1", "--secure-port", str(gateway_port),
        "--tls-cert-file", str(c.serving_cert), "--tls-private-key-file", str(c.serving_key),
        "--client-ca-file", str(c.ca_cert), "--token-auth-file", str(c.token_file),
        "--proxy-client-cert-file", str(c.front_proxy_client_cert),
        "--proxy-client-key-file", str(c.front_proxy_client_key),
        "--tenant-partition", f"tp0={direct}", "--resource-partition", f"rp0={direct}",
        "--partition-ca-file", str(c.ca_cert), "--partition-kubeconfig", str(c.admin_kubeconfig),
        "--log-level", "WARNING",
    ]  # fmt: skip
    context = ssl.create_default_context(cafile=str(c.ca_cert))
    context.load_cert_chain(c.admin_cert, c.admin_key)
    processes = []
    try:
        processes.append(_start(server_cmd, workdir / "tp0.log"))
        _wait_ready(direct, context, processes[0], workdir / "tp0.log")
        processes.append(_start(gateway_cmd, workdir / "gateway.log"))
        _wait_ready(gateway, context, processes[1], workdir / "gateway.log")
        yield Endpoints(direct, gateway, c)
    finally:
        for process in reversed(processes):
            stop_group(process)


def _session(endpoints: Endpoints, *, by_token: bool, clients: int) -> aiohttp.ClientSession:
    context = ssl.create_default_context(cafile=str(endpoints.credentials.ca_cert))
    headers = {"Accept": "application/json"}
    if by_token:
        headers["Authorization"] = f"Bearer {endpoints.credentials.admin_token}"
    else:
        context.load_cert_chain(endpoints.credentials.admin_cert, endpoints.credentials.admin_key)
    return aiohttp.ClientSession(connector=aiohttp.TCPConnector(ssl=context, limit=clients), headers=headers)


async def seed(endpoints: Endpoints, list_size: int) -> None:
    async with _session(endpoints, by_token=False, clients=4) as session:
        async with session.post(f"{endpoints.direct}/api/v1/namespaces", data=orjson.dumps(
                {"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": NAMESPACE}}),
                headers={"Content-Type": "application/json"}) as answer:
            assert answer.status == 201, await answer.text()
        for i in range(list_size):
            body = {"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": f"cm-{i}"},
                    "data": {"key": "value" * 20}}
            async with session.post(f"{endpoints.direct}/api/v1/namespaces/{NAMESPACE}/configmaps",
                                    data=orjson.dumps(body),
                                    headers={"Content-Type": "application/json"}) as a:
                assert a.status == 201, await a.text()


async def measure(session: aiohttp.ClientSession, url: str, *, clients: int,
                  requests: int) -> tuple[list[float], float]:
    """Latencies (s) of ``clients`` x ``requests`` back-to-back GETs of ``url``, and the wall time."""
    latencies: list[float] = []

    async def client() -> None:
        for _ in range(requests):
            started = time.perf_counter()
            async with session.get(url) as answer:
                await answer.read()
                if answer.status != 200:
                    raise RuntimeError(f"GET {url}: {answer.status}")
            latencies.append(time.perf_counter() - started)

    began = time.perf_counter()
    await asyncio.gather(*(client() for _ in range(clients)))
    return latencies, time.perf_counter() - began


def _quantile(values: list[float], q: float) -> float:
    return statistics.quantiles(values, n=100, method="inclusive")[int(q * 100) - 1] * 1000


async def compare(endpoints: Endpoints, args: argparse.Namespace, *, by_token: bool, clients: int) -> None:
    """Both targets, alternating rounds so machine noise hits both alike; one line per figure."""
    identity = "token" if by_token else "cert"
    cases = [("get", f"/api/v1/namespaces/{NAMESPACE}/configmaps/cm-0"),
             (f"list{args.list_size}", f"/api/v1/namespaces/{NAMESPACE}/configmaps")]
    per_client = max(1, args.requests // clients)
    async with _session(endpoints, by_token=by_token, clients=clients) as session:
        for name, path in cases:
            results: dict[str, list[float]] = {"direct": [], "gateway": []}
            walls: dict[str, float] = {"direct": 0.0, "gateway": 0.0}
            for _ in range(args.rounds):
                for where, base in (("direct", endpoints.direct), ("gateway", endpoints.gateway)):
                    latencies, wall = await measure(session, base + path, clients=clients,
                                                    requests=per_client)
                    results[where] += latencies
                    walls[where] += wall
            label = f"gateway_bench {name} {identity} {clients} client{'s' if clients > 1 else ''}"
            for where in ("direct", "gateway"):
                values = results[where]
                rate = len(values) / walls[where]
                print(f"{label} {where}: p50 {_quantile(values, 0.5):.2f} ms, "
                      f"p99 {_quantile(values, 0.99):.2f} ms, {rate:.0f} req/s", flush=True)
            added50 = _quantile(results["gateway"], 0.5) - _quantile(results["direct"], 0.5)
            added99 = _quantile(results["gateway"], 0.99) - _quantile(results["direct"], 0.99)
            print(f"{label} added by the gateway: p50 {added50:+.2f} ms, p99 {added99:+.2f} ms", flush=True)


async def run(endpoints: Endpoints, args: argparse.Namespace) -> None:
    await seed(endpoints, args.list_size)
    for clients in args.clients:
        for by_token in (False, True):
            await compare(endpoints, args, by_token=by_token, clients=clients)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--clients", type=lambda text: [int(n) for n in text.split(",")], default=[1, 16],
                        help="concurrent clients, comma list (default 1,16: latency alone, then under load)")
    parser.add_argument("--requests", type=int, default=1000, help="requests per round, over all clients")
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--list-size", type=int, default=10)
    args = parser.parse_args()
    print(f"gateway_bench: {os.cpu_count()} cpus; {args.requests} requests x {args.rounds} rounds per case"
          f" and target, alternating; clients {args.clients}", flush=True)
    with tempfile.TemporaryDirectory(prefix="gateway-bench-") as workdir:
        with running_pair(Path(workdir)) as endpoints:
            asyncio.run(run(endpoints, args))


if __name__ == "__main__":
    main()
