"""HAProxy in TCP mode in front of several servers, started by tests and benchmarks.

TCP mode passes TLS through (client certificates reach the servers) as hack/lib/haproxy.sh runs it
for arktos-up; here without health checks (the caller starts and stops the servers itself) and
round robin over connections. Debian's haproxy, installed with apt when missing.
"""

from __future__ import annotations

import contextlib
import shutil
import socket
import subprocess
import tempfile
import time
from collections.abc import Iterator
from pathlib import Path

from apiserver_process import free_port, log_tail, stop_process

READY_TIMEOUT_S = 10.0


def ensure_installed() -> None:
    if shutil.which("haproxy"):
        return
    for command in (["apt-get", "update", "-qq"], ["apt-get", "install", "-y", "-qq", "haproxy"]):
        subprocess.run(command, check=True, capture_output=True)


def config(port: int, backends: list[tuple[str, int]]) -> str:
    servers = "\n".join(f"    server s{i} {host}:{p}" for i, (host, p) in enumerate(backends))
    return (f"global\n    log stdout format raw local0 err\n"
            f"defaults\n    mode tcp\n    timeout connect 2s\n    timeout client 1h\n    timeout server 1h\n"
            f"frontend api\n    bind 127.0.0.1:{port}\n    default_backend servers\n"
            f"backend servers\n    balance roundrobin\n{servers}\n")


def _accepting(port: int) -> bool:
    with socket.socket() as sock:
        sock.settimeout(0.5)
        return sock.connect_ex(("127.0.0.1", port)) == 0


@contextlib.contextmanager
def running_haproxy(backends: list[tuple[str, int]], *, port: int = 0) -> Iterator[int]:
    """HAProxy on loopback ``port`` (0: a free one), round robin over ``backends`` (host, port);
    yields its port."""
    ensure_installed()
    workdir = Path(tempfile.mkdtemp(prefix="arktos-haproxy-"))
    port = port or free_port()
    (workdir / "haproxy.cfg").write_text(config(port, backends))
    log = workdir / "haproxy.log"
    with log.open("wb") as out:
        process = subprocess.Popen(["haproxy", "-db", "-f", str(workdir / "haproxy.cfg")], stdout=out,
                                   stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL, start_new_session=True)
    try:
        deadline = time.monotonic() + READY_TIMEOUT_S
        while not _accepting(port):
            if process.poll() is not None or time.monotonic() > deadline:
                raise RuntimeError(f"haproxy did not start:\n{log_tail(log)}")
            time.sleep(0.05)
        yield port
    finally:
        stop_process(process)
        shutil.rmtree(workdir, ignore_errors=True)
