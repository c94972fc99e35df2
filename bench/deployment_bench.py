"""How long a 1,000-replica Deployment takes to have every pod created, bound (and ready).

Starts a real API server (`server_process.running_server`), the controller manager with the
deployment and replicaset controllers, and — unless ``--scheduler no`` or it is missing — the
scheduler (`python -m scheduler`), all as their own processes; creates ``--nodes`` Node objects,
then one Deployment of ``--replicas`` pods, and prints the seconds from the Deployment's creation
until all pods exist, are bound to a node, and are Ready. There is no kubelet: the test helper
`test/component/fake_kubelet.FakeKubelet` marks bound pods Running+Ready and, when no scheduler
runs, binds them itself (round-robin); the output says which did the binding.
Not a test: nothing fails on a slow run. Issue 4 asks for the figure, not a target.

    .venv/bin/python bench/deployment_bench.py [--replicas 1000] [--nodes 50] [--scheduler auto|yes|no]
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

from server_process import LOAD_CPUS, REPO_ROOT, pin_to, running_server

sys.path.insert(0, str(REPO_ROOT))
sys.path.insert(0, str(REPO_ROOT / "test" / "component"))
from fake_kubelet import FakeKubelet, ensure_node

from client.cache import ObjectKey
from client.config import config_for_url
from client.informer import Informer
from client.resources import ALL_TENANTS, ResourceRef
from client.rest import ApiClient

PODS = ResourceRef("", "v1", "pods", "Pod")
NAMESPACES = ResourceRef("", "v1", "namespaces", "Namespace")
DEPLOYMENTS = ResourceRef("apps", "v1", "deployments", "Deployment")


@contextlib.contextmanager
def component(args: list[str], log_path: Path) -> Iterator[subprocess.Popen[bytes]]:
    with log_path.open("wb") as log:
        process = subprocess.Popen(
            [sys.executable, "-m", *args],
            cwd=REPO_ROOT,
            stdout=log,
            stderr=subprocess.STDOUT,
            stdin=subprocess.DEVNULL,
            start_new_session=True,
            preexec_fn=lambda: pin_to(LOAD_CPUS),
        )
    try:
        yield process
    finally:
        process.terminate()
        try:
            process.wait(timeout=15)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait(timeout=15)


class Milestones:
    """When the last pod was created, bound and became ready (from a watch on pods)."""

    def __init__(self, informer: Informer, replicas: int) -> None:
        self.informer = informer
        self.replicas = replicas
        self.created: set[ObjectKey] = set()
        self.bound: set[ObjectKey] = set()
        self.ready: set[ObjectKey] = set()
        self.at: dict[str, float] = {}
        self.all_ready = asyncio.Event()
        informer.add_handler(self._on_event)

    def _on_event(self, event_type: str, key: ObjectKey) -> None:
        pod = self.informer.get(key)
        if pod is None or key.namespace != "bench":
            return
        self.created.add(key)
        if (pod.get("spec") or {}).get("nodeName"):
            self.bound.add(key)
        conditions = (pod.get("status") or {}).get("conditions") or []
        if any(c.get("type") == "Ready" and c.get("status") == "True" for c in conditions):
            self.ready.add(key)
        now = time.monotonic()
        for name, found in (("created", self.created), ("bound", self.bound), ("ready", self.ready)):
            if name not in self.at and len(found) >= self.replicas:
                self.at[name] = now
                if name == "ready":
                    self.all_ready.set()


async def measure(url: str, *, replicas: int, nodes: int, scheduler_running: bool, limit_s: float) -> None:
    async with ApiClient(config_for_url(url)) as client:
        await asyncio.gather(*(ensure_node(client, f"bench-node-{i}") for i in range(nodes)))
        await client.create(
            NAMESPACES,
            {"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": "bench"}},
            tenant="system",
        )
        watcher = Informer(client, PODS, tenant=ALL_TENANTS)
        milestones = Milestones(watcher, replicas)
        watch_task = asyncio.create_task(watcher.run())
        await watcher.wait_for_sync()
        node_names = [f"bench-node-{i}" for i in range(nodes)]
        async with FakeKubelet(client, nodes=node_names, bind=not scheduler_running, workers=64):
            labels = {"app": "bench"}
            body = {
                "apiVersion": "apps/v1",
                "kind": "Deployment",
                "metadata": {"name": "bench"},
                "spec": {
                    "replicas": replicas,
                    "selector": {"matchLabels": labels},
                    "template": {
                        "metadata": {"labels": labels},
                        "spec": {
                            "containers": [
                                {
                                    "name": "c",
                                    "image": "busybox:1.36",
                                    "resources": {"requests": {"cpu": "1m", "memory": "1Mi"}},
                                }
                            ]
                        },
                    },
                },
            }
            start = time.monotonic()
            await client.create(DEPLOYMENTS, body, tenant="system", namespace="bench")
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(milestones.all_ready.wait(), limit_s)
        watch_task.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await watch_task
    binder = "the scheduler" if scheduler_running else "the fake kubelet (no scheduler)"
    print(f"# deployment of {replicas} replicas on {nodes} nodes; pods bound by {binder}")
    for name, found in (
        ("created", milestones.created),
        ("bound", milestones.bound),
        ("ready", milestones.ready),
    ):
        figure = f"deployment_{replicas}_replicas_all_{name}"  # `name: value unit`, as run-all.sh sums up
        if name in milestones.at:
            print(
                f"{figure}: {milestones.at[name] - start:.2f} s "
                f"({replicas / (milestones.at[name] - start):.0f} pods/s)"
            )
        else:
            print(f"{figure}: not reached in {limit_s:.0f} s ({len(found)}/{replicas})")


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--replicas", type=int, default=1000)
    parser.add_argument("--nodes", type=int, default=50)
    parser.add_argument("--scheduler", choices=("auto", "yes", "no"), default="auto")
    parser.add_argument("--timeout", type=float, default=300.0)
    args = parser.parse_args()
    use_scheduler = args.scheduler == "yes" or (
        args.scheduler == "auto" and (REPO_ROOT / "scheduler" / "__main__.py").exists()
    )
    with running_server() as server, contextlib.ExitStack() as stack:
        logs = server.log_path.parent
        stack.enter_context(
            component(
                ["controllers", "--master", server.url, "--controllers", "deployment,replicaset"],
                logs / "kcm.log",
            )
        )
        if use_scheduler:
            stack.enter_context(
                component(
                    ["scheduler", "--master", server.url, "--leader-elect", "false"], logs / "scheduler.log"
                )
            )
        pin_to(LOAD_CPUS)
        asyncio.run(
            measure(
                server.url,
                replicas=args.replicas,
                nodes=args.nodes,
                scheduler_running=use_scheduler,
                limit_s=args.timeout,
            )
        )
    return 0


if __name__ == "__main__":
    sys.exit(main())
