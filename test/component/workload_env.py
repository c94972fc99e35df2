"""Shared scaffolding of the workload controller tests: a controller manager process, a client,
polling with a deadline, and object builders.

The workload tests run `python -m controllers --master URL --controllers ...` against the
component suite's plain-HTTP server (as arktos-up runs it, in its own process) and play the
kubelet with `fake_kubelet.FakeKubelet`. Kept out of conftest.py so the test modules import it by
a unique name.
"""

from __future__ import annotations

import asyncio
import subprocess
import sys
import uuid
from collections.abc import Awaitable, Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from apiserver_process import REPO_ROOT, log_tail, stop_process

from client.resources import ResourceRef
from client.rest import ApiClient

PODS = ResourceRef("", "v1", "pods", "Pod")
NAMESPACES = ResourceRef("", "v1", "namespaces", "Namespace")
TENANTS = ResourceRef("", "v1", "tenants", "Tenant")
DEPLOYMENTS = ResourceRef("apps", "v1", "deployments", "Deployment")
REPLICA_SETS = ResourceRef("apps", "v1", "replicasets", "ReplicaSet")
REPLICATION_CONTROLLERS = ResourceRef("", "v1", "replicationcontrollers", "ReplicationController")
STATEFUL_SETS = ResourceRef("apps", "v1", "statefulsets", "StatefulSet")
DAEMON_SETS = ResourceRef("apps", "v1", "daemonsets", "DaemonSet")
PVCS = ResourceRef("", "v1", "persistentvolumeclaims", "PersistentVolumeClaim")
EVENTS = ResourceRef("", "v1", "events", "Event")
NODES = ResourceRef("", "v1", "nodes", "Node")

WAIT_S = 30.0


@contextmanager
def controller_manager(url: str, controllers: str, log_path: Path) -> Iterator[Path]:
    """Runs the controller manager with ``--controllers`` until the block ends; yields the log."""
    log_path.parent.mkdir(parents=True, exist_ok=True)
    with log_path.open("ab") as log:
        process = subprocess.Popen(
            [sys.executable, "-m", "controllers", "--master", url, "--controllers", controllers],
            cwd=REPO_ROOT,
            stdout=log,
            stderr=subprocess.STDOUT,
            stdin=subprocess.DEVNULL,
            start_new_session=True,
        )
    try:
        yield log_path
    finally:
        code = stop_process(process)
        assert code == 0, f"controller manager exited {code}:\n{log_tail(log_path)}"


async def eventually(
    check: Callable[[], Awaitable[Any]],
    what: str,
    *,
    log_path: Path | None = None,
    within_s: float = WAIT_S,
    interval: float = 0.1,
) -> Any:
    """Polls ``check`` until it answers something truthy (which is returned) or fails after
    ``within_s`` seconds with the controller manager's log."""
    deadline = asyncio.get_running_loop().time() + within_s
    last: Any = None
    while asyncio.get_running_loop().time() < deadline:
        last = await check()
        if last:
            return last
        await asyncio.sleep(interval)
    tail = log_tail(log_path) if log_path else ""
    raise AssertionError(f"still waiting after {within_s:.0f} s for {what} (last: {last!r})\n{tail}")


async def new_namespace(client: ApiClient, tenant: str = "system") -> str:
    name = f"wl-{uuid.uuid4().hex[:8]}"
    await client.create(
        NAMESPACES, {"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": name}}, tenant=tenant
    )
    return name


async def new_tenant(client: ApiClient, name: str) -> None:
    """A tenant with namespace ``default`` (the server or tenant controller may add it)."""
    await client.create(
        TENANTS,
        {"apiVersion": "v1", "kind": "Tenant", "metadata": {"name": name}, "spec": {"storageClusterId": "0"}},
    )


async def pods_of(
    client: ApiClient, namespace: str, selector: str, tenant: str = "system", *, active_only: bool = True
) -> list[dict[str, Any]]:
    items = (await client.list(PODS, tenant=tenant, namespace=namespace, label_selector=selector)).get(
        "items"
    ) or []
    if active_only:
        items = [p for p in items if not p["metadata"].get("deletionTimestamp")]
    return list(items)


def is_ready(pod: dict[str, Any]) -> bool:
    return any(
        c.get("type") == "Ready" and c.get("status") == "True"
        for c in (pod.get("status") or {}).get("conditions") or []
    )


def container(image: str, name: str = "web") -> dict[str, Any]:
    return {"name": name, "image": image}


def deployment_body(
    name: str,
    *,
    replicas: int,
    image: str = "nginx:1.27",
    strategy: dict[str, Any] | None = None,
    min_ready_seconds: int = 0,
    revision_history_limit: int | None = None,
) -> dict[str, Any]:
    labels = {"app": name}
    spec: dict[str, Any] = {
        "replicas": replicas,
        "selector": {"matchLabels": labels},
        "template": {"metadata": {"labels": labels}, "spec": {"containers": [container(image)]}},
    }
    if strategy is not None:
        spec["strategy"] = strategy
    if min_ready_seconds:
        spec["minReadySeconds"] = min_ready_seconds
    if revision_history_limit is not None:
        spec["revisionHistoryLimit"] = revision_history_limit
    return {"apiVersion": "apps/v1", "kind": "Deployment", "metadata": {"name": name}, "spec": spec}


async def events_for(client: ApiClient, namespace: str, name: str, tenant: str = "system") -> list[str]:
    """Reasons of the Events recorded about object ``name``."""
    items = (await client.list(EVENTS, tenant=tenant, namespace=namespace)).get("items") or []
    return [e.get("reason", "") for e in items if (e.get("involvedObject") or {}).get("name") == name]
