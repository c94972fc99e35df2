"""Shared by the kubelet scale-out tests: two tenant partitions and one resource partition, each a real
``python -m server`` on loopback, and the reads a test makes of them.

The three servers share one service-account key pair (as the partitions of one Arktos cluster share
``CERT_DIR``), so each TP can answer the kubelet's TokenRequests. Kept out of conftest.py so the
test modules import it by a unique name.
"""

from __future__ import annotations

import contextlib
import subprocess
import sys
from collections.abc import AsyncIterator, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from apiserver_process import REPO_ROOT, ApiServerProcess, log_tail, stop_process

from client.config import config_for_url
from client.errors import NotFound
from client.events import EVENTS
from client.rest import ApiClient
from kubelet.status_writer import PODS
from kubelet.volumes.tmpfs import unmount_all_under


@dataclass(frozen=True)
class Partitions:
    tp0: ApiServerProcess
    tp1: ApiServerProcess
    rp0: ApiServerProcess

    def tenant_kubeconfigs(self) -> str:
        """The ``--tenant-server-kubeconfig`` value: tp0's, then tp1's."""
        return f"{self.tp0.kubeconfig},{self.tp1.kubeconfig}"


@dataclass(frozen=True)
class Clients:
    tp0: ApiClient
    tp1: ApiClient
    rp0: ApiClient


@contextlib.asynccontextmanager
async def clients_of(partitions: Partitions) -> AsyncIterator[Clients]:
    async with (ApiClient(config_for_url(partitions.tp0.url)) as tp0,
                ApiClient(config_for_url(partitions.tp1.url)) as tp1,
                ApiClient(config_for_url(partitions.rp0.url)) as rp0):
        yield Clients(tp0, tp1, rp0)


@contextlib.contextmanager
def kubelet_process(args: list[str], log_path: Path, *, root_dir: Path | None = None) -> Iterator[Path]:
    """``python -m kubelet ARGS`` for the block, its output in ``log_path``; it must exit 0 on SIGTERM.
    With ``root_dir``, the tmpfs mounts of its pods' volumes are removed after it stopped."""
    with log_path.open("ab") as log:
        process = subprocess.Popen([sys.executable, "-m", "kubelet", *args], cwd=REPO_ROOT, stdout=log,
                                   stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL, start_new_session=True)
    try:
        yield log_path
    finally:
        code = stop_process(process)
        if root_dir is not None:
            unmount_all_under(root_dir)
        assert code == 0, f"kubelet exited {code}:\n{log_tail(log_path)}"


def pod_body(name: str, node: str, **spec: Any) -> dict[str, Any]:
    return {"apiVersion": "v1", "kind": "Pod", "metadata": {"name": name},
            "spec": {"nodeName": node, "terminationGracePeriodSeconds": 1,
                     "containers": [{"name": "app", "image": "busybox:1.36"}], **spec}}


async def get_pod(client: ApiClient, name: str, *, tenant: str = "system",
                  namespace: str = "default") -> dict[str, Any] | None:
    try:
        return await client.get(PODS, name, tenant=tenant, namespace=namespace)
    except NotFound:
        return None


async def running(client: ApiClient, name: str, *, tenant: str = "system",
                  namespace: str = "default") -> dict[str, Any] | None:
    """The pod once its phase is Running on that server, else None."""
    pod = await get_pod(client, name, tenant=tenant, namespace=namespace)
    return pod if pod is not None and (pod.get("status") or {}).get("phase") == "Running" else None


async def pod_event_reasons(client: ApiClient, uid: str) -> set[str]:
    """The reasons of the Events about the pod with ``uid`` that this server holds (every tenant)."""
    listed = await client.list(EVENTS, tenant="all")
    return {str(e.get("reason")) for e in listed.get("items") or []
            if (e.get("involvedObject") or {}).get("uid") == uid}


async def pod_event_uids(client: ApiClient) -> set[str]:
    """The uids of every Pod some Event on this server is about."""
    listed = await client.list(EVENTS, tenant="all")
    return {str((e.get("involvedObject") or {}).get("uid")) for e in listed.get("items") or []
            if (e.get("involvedObject") or {}).get("kind") == "Pod"}
