"""kube-proxy as a process for component tests, and the busybox web pods they reach.

Why this exists: the proxy tests (Services, network isolation) each run ``python -m proxy`` against a
TLS API server with the ``system:kube-proxy`` credentials, with a chain prefix of their own, and must
remove its rules however the test ends; their pods are busybox ``httpd`` answering with their own
name. Those parts live here once.
"""

from __future__ import annotations

import asyncio
import subprocess
import sys
import time
import uuid
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Any

from apiserver_process import REPO_ROOT, stop_process
from kubelet_process import eventually

from client.rest import ApiClient
from proxy.service import PODS

NODE = "e2e-node"  # the node name apiserver_process's credentials are made for


def start_proxy(certs: Path, log: Path, prefix: str, pod_subnet: str, *extra: str) -> subprocess.Popen[bytes]:
    with log.open("ab") as out:
        return subprocess.Popen(
            [sys.executable, "-m", "proxy", "--kubeconfig", str(certs / "kube-proxy.kubeconfig"),
             "--hostname-override", NODE, "--cluster-cidr", pod_subnet, "--iptables-chain-prefix", prefix,
             "--min-sync-period", "200ms", "--sync-period", "30s", *extra],
            cwd=REPO_ROOT, stdout=out, stderr=subprocess.STDOUT, start_new_session=True)


def stop_and_clean(process: subprocess.Popen[bytes], prefix: str) -> None:
    stop_process(process)
    subprocess.run([sys.executable, "-m", "proxy", "--cleanup", "--iptables-chain-prefix", prefix],
                   cwd=REPO_ROOT, check=True, capture_output=True, timeout=60)


def web_container(name: str, port: int = 8080) -> dict[str, Any]:
    """busybox httpd answering ``name`` on ``port``."""
    script = f"mkdir -p /www && echo {name} > /www/index.html && exec httpd -f -p {port} -h /www"
    return {"name": "web" if port == 8080 else f"web{port}", "image": "busybox:1.36",
            "command": ["sh", "-c", script]}


async def pod_ip(client: ApiClient, tenant: str, namespace: str, name: str, work: Path, *,
                 within_s: float = 120) -> str:
    """The pod's IP once it is Running (fails with the kubelet's log in ``work`` otherwise)."""
    async def running() -> str | None:
        pod = await client.get(PODS, name, tenant=tenant, namespace=namespace)
        status = pod.get("status") or {}
        return status.get("podIP") if status.get("phase") == "Running" else None

    ip: str = await eventually(running, f"pod {tenant}/{namespace}/{name} Running", work, within_s=within_s)
    return ip


async def ask(ip: str, port: int) -> str:
    """The body of ``GET /`` at ip:port (the answering pod's name); raises when refused."""
    reader, writer = await asyncio.wait_for(asyncio.open_connection(ip, port), 3)
    try:
        writer.write(b"GET / HTTP/1.0\r\nHost: x\r\n\r\n")
        await writer.drain()
        answer = await asyncio.wait_for(reader.read(), 3)
    finally:
        writer.close()
    return answer.decode(errors="replace").rpartition("\r\n\r\n")[2].strip()


def log_tail(path: Path) -> str:
    return path.read_text(errors="replace")[-3000:] if path.exists() else "(no log)"


async def wait_for(check: Callable[[], Awaitable[bool]], what: str, log: Path, *,
                   within_s: float = 30) -> None:
    """Fails with the tail of ``log`` (the proxy's) unless ``check()`` holds within ``within_s``."""
    deadline = time.monotonic() + within_s
    while time.monotonic() < deadline:
        if await check():
            return
        await asyncio.sleep(0.25)
    raise AssertionError(f"not within {within_s:.0f}s: {what}\n{log_tail(log)}")


def unique(name: str) -> str:
    return f"{name}-{uuid.uuid4().hex[:5]}"


def iptables_save(table: str) -> str:
    return subprocess.run(["iptables-save", "-t", table], capture_output=True, text=True, check=True).stdout
