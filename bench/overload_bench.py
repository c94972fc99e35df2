"""Overload bench: one tenant floods the API server with LISTs and watches; another tenant's GETs
are timed. With and without API Priority and Fairness, in the same run.

Issue 10's scenario: tenant ``acme`` holds a ~2 MB namespace (1,000 ConfigMaps of 2 KiB) and runs
500 LIST loops of it at once plus 200 watches (and a writer, so the watches carry events); tenant
``globex`` GETs one of its ConfigMaps 100 times a second, and the scheduler's identity reads its
leader-election Lease 10 times a second. The API server is started twice on the
same store: with priority and fairness (the default) and with ``--enable-priority-and-fairness=false``
(max-in-flight limits only). For each it prints globex's GET p50/p99/max and how many were
refused or failed; acme's LISTs/s, MB/s, their latency and 429s; watch events; the server's peak
RSS (VmHWM, reset when the load starts) and CPU seconds; the server's own rejection counters.

The server is a real process (TLS; every tenant user a client certificate with ``O=tenant:T``, as
hack/setup-tenant-user.sh issues them) pinned to the first core; the load generators are separate
processes (bench/_overload_load.py, aiohttp + uvloop) pinned to the other cores, so they neither
share the server's interpreter nor its core. Target: globex's GET p99 <= 1 s with fairness on, and
RSS bounded. Not a test: nothing fails on a missed target.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import ssl
import subprocess
import sys
import tempfile
import threading
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import aiohttp
from api_bench import line, print_machine
from server_process import LOAD_CPUS, REPO_ROOT, SERVER_CPUS, free_port, pin_to

sys.path.insert(0, str(REPO_ROOT))
from pki.certificates import ensure_client_cert, load_ca
from tools.cluster_credentials import ClusterCredentials, ensure_cluster_credentials

LOAD = Path(__file__).with_name("_overload_load.py")
TENANTS = ("acme", "globex")  # the flooding tenant, the measured one
NAMESPACE = "load"
HOT = "hot"  # acme's ConfigMap the writer updates
PROBE = f"/api/v1/namespaces/{NAMESPACE}/configmaps/probe"  # what globex GETs
# What the scheduler GETs: its leader-election Lease, the request whose delay made it exit before.
LEASE = "/apis/coordination.k8s.io/v1/namespaces/kube-system/leases/kube-scheduler"
SCHEDULER = "system:kube-scheduler"
RBAC = "/apis/rbac.authorization.k8s.io/v1/tenants"
# The probe (globex's GETs) shares the load generators' core: it runs at a higher priority so that
# its own scheduling delays are not read as the server's latency; the flood runs at normal priority.
PROBE_NICENESS = -10
SETTLE_S = 5.0  # after the load processes' start-up: their 700 TLS handshakes are done by then


@dataclass(frozen=True)
class Cluster:
    url: str
    port: int
    credentials: ClusterCredentials
    data_dir: Path
    users: dict[str, tuple[Path, Path]]  # tenant (or the scheduler) -> its (cert, key)

    def admin_context(self) -> ssl.SSLContext:
        context = ssl.create_default_context(cafile=str(self.credentials.ca_cert))
        context.load_cert_chain(self.credentials.admin_cert, self.credentials.admin_key)
        return context


def make_cluster(workdir: Path) -> Cluster:
    port = free_port()
    url = f"https://127.0.0.1:{port}"
    credentials = ensure_cluster_credentials(workdir / "certs", server=url, hosts=["127.0.0.1"],
                                             node_name="bench-node")
    ca = load_ca(credentials.cert_dir)
    users = {}
    for tenant in TENANTS:
        cert, key = workdir / "certs" / f"{tenant}-admin.crt", workdir / "certs" / f"{tenant}-admin.key"
        ensure_client_cert(ca, cert, key, common_name="admin", organizations=(f"tenant:{tenant}",))
        users[tenant] = (cert, key)
    cert, key = workdir / "certs" / "scheduler.crt", workdir / "certs" / "scheduler.key"
    ensure_client_cert(ca, cert, key, common_name=SCHEDULER)
    users[SCHEDULER] = (cert, key)
    return Cluster(url, port, credentials, workdir / "data", users)


def start_server(cluster: Cluster, *, fairness: bool, log_path: Path) -> subprocess.Popen[bytes]:
    c = cluster.credentials
    command = [sys.executable, "-m", "server", "--data-dir", str(cluster.data_dir),
               "--storage", f"sqlite:///{cluster.data_dir / 'arktos.db'}",
               "--bind-address", "127.0.0.1", "--secure-port", str(cluster.port),
               "--tls-cert-file", str(c.serving_cert), "--tls-private-key-file", str(c.serving_key),
               "--client-ca-file", str(c.ca_cert), "--service-account-key-file", str(c.sa_public_key),
               "--service-account-signing-key-file", str(c.sa_key),
               f"--enable-priority-and-fairness={str(fairness).lower()}"]
    cluster.data_dir.mkdir(parents=True, exist_ok=True)
    with log_path.open("ab") as log:
        process = subprocess.Popen(command, cwd=REPO_ROOT, stdout=log, stderr=subprocess.STDOUT,
                                   stdin=subprocess.DEVNULL, start_new_session=True,
                                   preexec_fn=lambda: pin_to(SERVER_CPUS))
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise RuntimeError(f"server exited ({process.returncode}); log:\n{log_path.read_text()[-3000:]}")
        if asyncio.run(_ready(cluster)):
            return process
        time.sleep(0.2)
    raise RuntimeError(f"server not ready in 60 s; log:\n{log_path.read_text()[-3000:]}")


async def _ready(cluster: Cluster) -> bool:
    try:
        async with aiohttp.ClientSession() as session, session.get(
                f"{cluster.url}/readyz", ssl=cluster.admin_context(), timeout=aiohttp.ClientTimeout(2)) as r:
            return r.status == 200
    except (aiohttp.ClientError, TimeoutError, ConnectionError):
        return False


def stop_server(process: subprocess.Popen[bytes]) -> None:
    os.killpg(process.pid, 15)
    try:
        process.wait(timeout=20)
    except subprocess.TimeoutExpired:
        os.killpg(process.pid, 9)
        process.wait(timeout=20)


def tenant_objects(tenant: str, *, objects: int, size: int) -> list[tuple[str, dict[str, Any]]]:
    """What the tenant controller would make (namespace, admin-role and its binding to ``admin``)
    and the bench's ConfigMaps: ``objects`` of ``size`` bytes for acme, one probe for globex."""
    base = f"/api/v1/tenants/{tenant}/namespaces"
    grant = {"apiGroup": "rbac.authorization.k8s.io", "kind": "ClusterRole", "name": "admin-role"}
    made: list[tuple[str, dict[str, Any]]] = [
        ("/api/v1/tenants", {"kind": "Tenant", "apiVersion": "v1", "metadata": {"name": tenant}}),
        (base, {"kind": "Namespace", "apiVersion": "v1", "metadata": {"name": NAMESPACE}}),
        (f"{RBAC}/{tenant}/clusterroles", {
            "kind": "ClusterRole", "apiVersion": "rbac.authorization.k8s.io/v1",
            "metadata": {"name": "admin-role"},
            "rules": [{"apiGroups": ["*"], "resources": ["*"], "verbs": ["*"]}]}),
        (f"{RBAC}/{tenant}/clusterrolebindings", {
            "kind": "ClusterRoleBinding", "apiVersion": "rbac.authorization.k8s.io/v1",
            "metadata": {"name": "admin-role-binding"}, "roleRef": grant,
            "subjects": [{"apiGroup": "rbac.authorization.k8s.io", "kind": "User", "name": "admin"}]}),
    ]
    names = [f"cm-{i:05}" for i in range(objects)] + [HOT] if tenant == "acme" else [PROBE.rsplit("/", 1)[1]]
    made += [(f"{base}/{NAMESPACE}/configmaps", {"kind": "ConfigMap", "apiVersion": "v1",
                                                 "metadata": {"name": name}, "data": {"payload": "x" * size}})
             for name in names]
    return made


async def populate(cluster: Cluster, *, objects: int, size: int) -> None:
    connector = aiohttp.TCPConnector(limit=64, ssl=cluster.admin_context())
    async with aiohttp.ClientSession(connector=connector) as session:
        async def create(path: str, body: dict[str, Any]) -> None:
            async with session.post(cluster.url + path, json=body) as response:
                if response.status not in (201, 409):
                    raise RuntimeError(f"POST {path}: {response.status} {await response.text()}")

        for tenant in TENANTS:
            made = tenant_objects(tenant, objects=objects, size=size)
            for path, body in made[:4]:  # the tenant, its namespace and RBAC, in order
                await create(path, body)
            await asyncio.gather(*(create(path, body) for path, body in made[4:]))
        await create(LEASE.rsplit("/", 1)[0], {
            "kind": "Lease", "apiVersion": "coordination.k8s.io/v1", "metadata": {"name": "kube-scheduler"},
            "spec": {"holderIdentity": "bench", "leaseDurationSeconds": 15}})


class Memory:
    """The server's resident memory: VmHWM reset at `start` (clear_refs 5), VmRSS sampled."""

    def __init__(self, pid: int) -> None:
        self.pid = pid
        self.samples: list[float] = []
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._sample, daemon=True)

    def field_mb(self, name: str) -> float:
        for text in Path(f"/proc/{self.pid}/status").read_text().splitlines():
            if text.startswith(name + ":"):
                return int(text.split()[1]) / 1024
        return 0.0

    def cpu_seconds(self) -> float:
        fields = Path(f"/proc/{self.pid}/stat").read_text().rsplit(")", 1)[1].split()
        return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")

    def start(self) -> bool:
        try:
            Path(f"/proc/{self.pid}/clear_refs").write_text("5")
            reset = True
        except OSError:
            reset = False  # not root: VmHWM then covers start-up and populate too
        self._thread.start()
        return reset

    def stop(self) -> None:
        self._stop.set()
        self._thread.join(timeout=5)

    def _sample(self) -> None:
        while not self._stop.wait(0.1):
            self.samples.append(self.field_mb("VmRSS"))


def load_process(cluster: Cluster, role: str, tenant: str, until: float, *, out: Path, niceness: int = 0,
                 **options: object) -> subprocess.Popen[bytes]:
    cert, key = cluster.users[tenant]
    command = [sys.executable, str(LOAD), role, "--out", str(out), "--url", cluster.url,
               "--ca", str(cluster.credentials.ca_cert), "--cert", str(cert), "--key", str(key),
               "--namespace", NAMESPACE, "--until", str(until)]
    for name, value in options.items():
        command += [f"--{name}", str(value)]
    def place() -> None:
        pin_to(LOAD_CPUS)
        os.nice(niceness)

    return subprocess.Popen(command, stdin=subprocess.DEVNULL, preexec_fn=place)


def run_load(cluster: Cluster, args: argparse.Namespace, workdir: Path) -> list[dict[str, Any]]:
    """Start every load process, wait for them; their tallies (lists..., watches, gets, lease)."""
    until = time.time() + args.startup + args.duration
    per_process = -(-args.lists // args.list_processes)
    outs = [workdir / f"tally-{i}.json" for i in range(args.list_processes + 3)]
    processes = [load_process(cluster, "lists", "acme", until, out=outs[i], concurrency=per_process)
                 for i in range(args.list_processes)]
    processes.append(load_process(cluster, "watches", "acme", until, out=outs[-3], concurrency=args.watches,
                                  rate=args.writes, name=HOT))
    processes.append(load_process(cluster, "gets", "globex", until, out=outs[-2], niceness=PROBE_NICENESS,
                                  concurrency=10, rate=args.get_rate, path=PROBE))
    processes.append(load_process(cluster, "gets", SCHEDULER, until, out=outs[-1], niceness=PROBE_NICENESS,
                                  concurrency=2, rate=10, path=LEASE))
    for process in processes:
        if process.wait(timeout=args.startup + args.duration + 120) != 0:
            raise RuntimeError(f"load process {process.args[2]} failed ({process.returncode})")
    tallies = [json.loads(out.read_bytes()) for out in outs]
    tallies[-1]["role"] = "lease"
    return tallies


def percentile(values: list[float], fraction: float) -> float:
    if not values:
        return float("nan")
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(fraction * len(ordered)))]


async def server_counters(cluster: Cluster) -> list[str]:
    """The server's own count of what it refused (APF or max-in-flight) and timed out."""
    async with aiohttp.ClientSession() as session, session.get(
            f"{cluster.url}/metrics", ssl=cluster.admin_context()) as response:
        text = await response.text()
    wanted = ("apiserver_flowcontrol_rejected_requests_total{", "apiserver_dropped_requests_total{",
              "apiserver_request_terminations_total{")
    return [t for t in text.splitlines() if t.startswith(wanted)]


def report(mode: str, tallies: list[dict[str, Any]], memory: Memory, *, cpu: float, seconds: float,
           reset: bool, target_p99_ms: float, settle_at: float) -> None:
    lists = [t for t in tallies if t["role"] == "lists"]
    gets = next(t for t in tallies if t["role"] == "gets")
    watches = next(t for t in tallies if t["role"] == "watches")
    list_latency = [v for t in lists for v in t["latencies_ms"]]
    p99 = percentile(gets["latencies_ms"], 0.99)
    prefix = f"overload_{mode}"
    line(f"{prefix}_b_get_p50", percentile(gets["latencies_ms"], 0.50), "ms")
    line(f"{prefix}_b_get_p99", p99, "ms", "<= 1000 ms" if mode == "fairness_on" else "",
         p99 <= target_p99_ms if mode == "fairness_on" else None)
    line(f"{prefix}_b_get_max", max(gets["latencies_ms"], default=float("nan")), "ms")
    # The first seconds include every client's TLS handshake, which no request limit governs.
    settled = [ms for ms, at in zip(gets["latencies_ms"], gets["sent_at"], strict=True) if at >= settle_at]
    line(f"{prefix}_b_get_p99_after_connect", percentile(settled, 0.99), "ms")
    line(f"{prefix}_b_get_max_after_connect", max(settled, default=float("nan")), "ms")
    line(f"{prefix}_b_gets_ok", gets["ok"], "requests")
    line(f"{prefix}_b_gets_refused_429", gets["throttled"], "requests")
    line(f"{prefix}_b_gets_failed", gets["failed"], "requests")
    line(f"{prefix}_a_lists_ok_per_s", sum(t["ok"] for t in lists) / seconds, "lists/s")
    line(f"{prefix}_a_list_mb_per_s", sum(t["bytes"] for t in lists) / seconds / 1e6, "MB/s")
    line(f"{prefix}_a_list_p50", percentile(list_latency, 0.50), "ms")
    line(f"{prefix}_a_list_p99", percentile(list_latency, 0.99), "ms")
    line(f"{prefix}_a_lists_refused_429", sum(t["throttled"] for t in lists), "requests")
    line(f"{prefix}_a_lists_failed", sum(t["failed"] for t in lists), "requests")
    line(f"{prefix}_a_watch_events", watches["events"], "events")
    line(f"{prefix}_a_watch_opens_refused_429", watches["throttled"], "requests")
    line(f"{prefix}_a_writes_ok", watches["writes"], "updates")
    line(f"{prefix}_a_writes_refused_429", watches["writes_refused"], "updates")
    lease = next(t for t in tallies if t["role"] == "lease")
    line(f"{prefix}_scheduler_lease_get_p99", percentile(lease["latencies_ms"], 0.99), "ms")
    line(f"{prefix}_scheduler_lease_get_max", max(lease["latencies_ms"], default=float("nan")), "ms")
    line(f"{prefix}_scheduler_lease_gets_ok", lease["ok"], "requests")
    line(f"{prefix}_scheduler_lease_gets_refused_or_failed", lease["throttled"] + lease["failed"], "requests")
    line(f"{prefix}_server_rss_peak", memory.field_mb("VmHWM"), "MB" if reset else "MB (since start-up)")
    line(f"{prefix}_server_rss_max_sampled", max(memory.samples, default=0.0), "MB")
    line(f"{prefix}_server_cpu", cpu, "s")
    for tally in tallies:
        if tally["errors"]:
            print(f"# {mode} {tally['role']} errors: {dict(tally['errors'])}")


def run_mode(cluster: Cluster, args: argparse.Namespace, *, fairness: bool, first: bool,
             workdir: Path) -> None:
    mode = "fairness_on" if fairness else "fairness_off"
    log_path = workdir / f"kube-apiserver-{mode}.log"
    process = start_server(cluster, fairness=fairness, log_path=log_path)
    try:
        if first:
            started = time.monotonic()
            asyncio.run(populate(cluster, objects=args.objects, size=args.object_size))
            print(f"# populated {args.objects} ConfigMaps of {args.object_size} B in "
                  f"{time.monotonic() - started:.1f} s", flush=True)
        memory = Memory(process.pid)
        line(f"overload_{mode}_server_rss_before", memory.field_mb("VmRSS"), "MB")
        reset = memory.start()
        cpu_before = memory.cpu_seconds()
        settle_at = time.time() + args.startup + SETTLE_S
        tallies = run_load(cluster, args, workdir)
        cpu = memory.cpu_seconds() - cpu_before
        memory.stop()
        report(mode, tallies, memory, cpu=cpu, seconds=args.duration + args.startup, reset=reset,
               target_p99_ms=1000.0, settle_at=settle_at)
        for counter in asyncio.run(server_counters(cluster)):
            print(f"# {mode} server: {counter}")
    finally:
        stop_server(process)
    print(f"# {mode} server log: {log_path}", flush=True)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--duration", type=float, default=30.0, help="seconds of load per mode")
    parser.add_argument("--startup", type=float, default=3.0, help="seconds the load processes get to start")
    parser.add_argument("--objects", type=int, default=1000)
    parser.add_argument("--object-size", type=int, default=2048)
    parser.add_argument("--lists", type=int, default=500, help="acme's concurrent LIST loops")
    parser.add_argument("--list-processes", type=int, default=2)
    parser.add_argument("--watches", type=int, default=200)
    parser.add_argument("--writes", type=float, default=5.0, help="updates/s of acme's watched namespace")
    parser.add_argument("--get-rate", type=float, default=100.0, help="globex's GETs/s")
    parser.add_argument("--modes", default="on,off", help="fairness on, off or both (in that order)")
    args = parser.parse_args()
    print_machine()
    print(f"# server on cpus {sorted(SERVER_CPUS)}, load on cpus {sorted(LOAD_CPUS)}; "
          f"load average {os.getloadavg()[0]:.2f} (other work shares this machine)", flush=True)
    with tempfile.TemporaryDirectory(prefix="arktos-overload-") as directory:
        workdir = Path(directory)
        cluster = make_cluster(workdir)
        modes = [m.strip() for m in args.modes.split(",") if m.strip()]
        for index, mode in enumerate(modes):
            run_mode(cluster, args, fairness=mode == "on", first=index == 0, workdir=workdir)


if __name__ == "__main__":
    main()
