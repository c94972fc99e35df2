"""A hack/arktos-up.sh cluster with etcd and several API servers behind HAProxy, for e2e and fault tests.

Why this exists: the multi-server must-shows (a watch on one server sees the writes made through
another; a list continued on another server; a server or an etcd member killed under load) need
to reach each API server directly as well as through the load balancer, and to find the etcd
members. arktos-up names them by its variables (APISERVER_BACKEND_PORT+i, ETCD_CLIENT_PORT+2i) and
records their processes in $ARKTOS_DATA_DIR/run; this module turns those into URLs, SSL contexts
and pids. The node runs on this room's bridge and subnet (arktos-i12, 10.94.0.0/16), without the
VM runtime (nothing here runs VMs).
"""

from __future__ import annotations

import json
import random
import signal
import socket
import ssl
import urllib.request
from collections.abc import Iterator
from pathlib import Path

from apiserver_process import admin_ssl_context, free_port, log_tail, probe, stop_process
from recorded_process import Proc, recorded
from test_arktos_up import STOP_TIMEOUT_S, ArktosUp
from workload_cluster import workload_cluster_env

from tools.cluster_credentials import ClusterCredentials

NODE = "i12-node"
BRIDGE = "arktos-i12"
POD_SUBNET = "10.94.0.0/16"


def free_port_run(count: int) -> int:
    """The first of ``count`` consecutive free loopback ports (arktos-up numbers members and servers
    from a base port)."""
    for _ in range(200):
        base = random.randrange(20000, 40000 - count)
        sockets: list[socket.socket] = []
        try:
            for port in range(base, base + count):
                sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
                sockets.append(sock)
                sock.bind(("127.0.0.1", port))
            return base
        except OSError:
            continue
        finally:
            for sock in sockets:
                sock.close()
    raise AssertionError(f"no {count} consecutive free ports found")


def several_cluster_env(base: Path, *, servers: int = 2, members: int = 1,
                        etcd_restart_delay: float | None = None) -> dict[str, str]:
    """arktos-up's environment: STORAGE_BACKEND=etcd, ``members`` local etcd members and
    APISERVER_COUNT=``servers`` behind HAProxy."""
    env = workload_cluster_env(base, node=NODE, bridge=BRIDGE, subnet=POD_SUBNET)
    env.update({
        "STORAGE_BACKEND": "etcd",
        "APISERVER_COUNT": str(servers),
        "APISERVER_BACKEND_PORT": str(free_port_run(servers)),
        "ETCD_MEMBERS": str(members),
        "ETCD_CLIENT_PORT": str(free_port_run(2 * members)),
        "VM_RUNTIME_ENABLED": "false",
        "API_SECURE_PORT": str(free_port()),
    })
    if etcd_restart_delay is not None:
        env["ETCD_RESTART_DELAY"] = str(etcd_restart_delay)
    return env


class SeveralCluster:
    """The running cluster: the load balancer's URL, each server's, each etcd member's."""

    def __init__(self, up: ArktosUp) -> None:
        self.up = up
        self.env = up.env
        self.servers = int(self.env["APISERVER_COUNT"])
        self.members = int(self.env["ETCD_MEMBERS"])
        self.credentials = ClusterCredentials(Path(self.env["CERT_DIR"]), admin_token="")
        self.url = f"https://127.0.0.1:{self.env['API_SECURE_PORT']}"
        self.kubeconfig = Path(self.env["CERT_DIR"]) / "admin.kubeconfig"
        self.run_dir = Path(self.env["ARKTOS_DATA_DIR"]) / "run"
        self.log_dir = Path(self.env["LOG_DIR"])

    def ssl_context(self) -> ssl.SSLContext:
        return admin_ssl_context(self.credentials)

    def server_url(self, index: int) -> str:
        return f"https://127.0.0.1:{int(self.env['APISERVER_BACKEND_PORT']) + index}"

    def server_name(self, index: int) -> str:
        return f"kube-apiserver-{index}" if self.servers > 1 else "kube-apiserver"

    def etcd_name(self, index: int) -> str:
        return f"etcd-{index}" if self.members > 1 else "etcd"

    def etcd_url(self, index: int) -> str:
        return f"http://127.0.0.1:{int(self.env['ETCD_CLIENT_PORT']) + 2 * index}"

    def component(self, name: str) -> Proc | None:
        return recorded(self.run_dir, name)

    def ready(self, url: str | None = None) -> bool:
        return probe(f"{url or self.url}/readyz", context=self.ssl_context())

    def etcd_revision(self, index: int) -> int | None:
        """The member's current revision (its v3 JSON gateway), None when it does not answer."""
        request = urllib.request.Request(f"{self.etcd_url(index)}/v3/kv/range", method="POST",
                                         data=json.dumps({"key": "AA==", "count_only": True}).encode())
        try:
            with urllib.request.urlopen(request, timeout=2) as answer:
                return int(json.loads(answer.read())["header"]["revision"])
        except (OSError, ValueError, KeyError):
            return None

    def etcd_healthy(self, index: int) -> bool:
        try:
            with urllib.request.urlopen(f"{self.etcd_url(index)}/health", timeout=2) as answer:
                return bool(json.loads(answer.read()).get("health") == "true")
        except (OSError, ValueError):
            return False

    def report(self, *logs: str) -> str:
        parts = [self.up.report()]
        for name in logs:
            parts.append(f"--- {name}.log ---\n{log_tail(self.log_dir / f'{name}.log', max_lines=40)}")
        return "\n".join(parts)


def running_several_cluster(env: dict[str, str]) -> Iterator[SeveralCluster]:
    """Starts arktos-up.sh with ``env``; Ctrl-C when the generator is closed."""
    up = ArktosUp(env)
    try:
        up.start()
        yield SeveralCluster(up)
    finally:
        if up.process is not None and up.process.poll() is None:
            stop_process(up.process, sig=signal.SIGINT, timeout=STOP_TIMEOUT_S)
