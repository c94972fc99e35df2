"""Helpers for the scale-out component tests: partitions as plain loopback servers, component processes.

A tenant or resource partition here is just a `python -m server` with its own store (the
component suite's plain-HTTP servers); the components under test run as real processes with the
scale-out flags (``--resource-providers``, ``--tenant-server-kubeconfig``) naming the other
partitions' kubeconfigs, exactly as hack/arktos-up-scale-out.sh starts them. Kept out of
conftest.py so test modules import it by a unique name.
"""

from __future__ import annotations

import asyncio
import subprocess
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from apiserver_process import REPO_ROOT, ApiServerProcess, log_tail, stop_process

from client.errors import NotFound
from client.leaderelection import LEASES, micro_time
from client.rest import ApiClient
from controllers.nodelifecycle import PODS

NODE_LEASE_NAMESPACE = "kube-node-lease"


def kubeconfig_list(*servers: ApiServerProcess) -> str:
    return ",".join(str(s.kubeconfig) for s in servers)


@contextmanager
def component(module: str, log_path: Path, *args: str) -> Iterator[subprocess.Popen[bytes]]:
    """``python -m <module> ARGS...`` in its own process group while the block runs; its log
    tail is printed when the block ends (pytest shows it for a failing test)."""
    log_path.parent.mkdir(parents=True, exist_ok=True)
    with log_path.open("ab") as log:
        process = subprocess.Popen([sys.executable, "-m", module, *args], cwd=REPO_ROOT, stdout=log,
                                   stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL, start_new_session=True)
    try:
        yield process
    finally:
        stop_process(process)
        print(f"--- {module} log ---\n{log_tail(log_path)}")


async def log_contains(log_path: Path, text: str) -> bool:
    return text in await asyncio.to_thread(log_path.read_text)


async def renew_lease(client: ApiClient, name: str) -> None:
    """Creates or renews the node's Lease in ``kube-node-lease`` (what a kubelet does every 10 s)."""
    now = micro_time(datetime.now(UTC))
    try:
        lease = await client.get(LEASES, name, tenant="system", namespace=NODE_LEASE_NAMESPACE)
    except NotFound:
        await client.create(LEASES, {
            "apiVersion": "coordination.k8s.io/v1", "kind": "Lease", "metadata": {"name": name},
            "spec": {"holderIdentity": name, "leaseDurationSeconds": 40, "renewTime": now}},
            tenant="system", namespace=NODE_LEASE_NAMESPACE)
        return
    lease["spec"]["renewTime"] = now
    await client.update(LEASES, lease, tenant="system", namespace=NODE_LEASE_NAMESPACE)


async def bound_pod(client: ApiClient, tenant: str, namespace: str, name: str, node: str, *,
                    tolerations: list[dict[str, Any]] | None = None) -> dict[str, Any]:
    """A pod already bound to ``node`` and reported Running and Ready (no kubelet needed)."""
    await client.create(PODS, {"apiVersion": "v1", "kind": "Pod", "metadata": {"name": name},
                               "spec": {"nodeName": node, "tolerations": tolerations or [],
                                        "containers": [{"name": "c", "image": "busybox"}]}},
                        tenant=tenant, namespace=namespace)
    pod = await client.get(PODS, name, tenant=tenant, namespace=namespace)
    pod["status"] = {"phase": "Running", "conditions": [{"type": "Ready", "status": "True"}]}
    return await client.update(PODS, pod, tenant=tenant, namespace=namespace, subresource="status")


async def pod_leaving(client: ApiClient, tenant: str, namespace: str, name: str) -> bool:
    """The pod is gone, or being deleted (an eviction's DELETE leaves it terminating without a kubelet)."""
    try:
        pod = await client.get(PODS, name, tenant=tenant, namespace=namespace)
    except NotFound:
        return True
    return bool(pod["metadata"].get("deletionTimestamp"))


async def pod_gone(client: ApiClient, tenant: str, namespace: str, name: str) -> bool:
    try:
        await client.get(PODS, name, tenant=tenant, namespace=namespace)
    except NotFound:
        return True
    return False
