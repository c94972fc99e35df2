"""Hollow mode as a process: ``python -m kubelet --hollow --nodes 50`` with the real control plane.

Covers one kubelet process registering 50 hollow nodes that all turn Ready and keep their
Leases, and — with the controller manager (deployment, replicaset) and scheduler processes — a
500-replica Deployment whose pods all reach Running on those nodes. Leaves out the 500-node /
5,000-pod scale (bench/hollow_bench.py) and real containers.
"""

from __future__ import annotations

import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from apiserver_process import REPO_ROOT, ApiServerProcess, log_tail, stop_process
from kubelet_env import conditions, eventually
from workload_env import DEPLOYMENTS, controller_manager, deployment_body

from client.config import config_for_url
from client.leaderelection import LEASES
from client.rest import ApiClient
from kubelet.node import NODES
from kubelet.status_writer import PODS

HOLLOW_NODES = 50
REPLICAS = 500


def start(args: list[str], log_path: Path) -> subprocess.Popen[bytes]:
    with log_path.open("ab") as log:
        return subprocess.Popen([sys.executable, "-m", *args], cwd=REPO_ROOT, stdout=log,
                                stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL, start_new_session=True)


@pytest.fixture
def hollow_kubelet(apiserver: ApiServerProcess, tmp_path: Path) -> Iterator[Path]:
    log_path = tmp_path / "hollow-kubelet.log"
    process = start(["kubelet", "--master", apiserver.url, "--hostname-override", "hk", "--hollow",
                     "--nodes", str(HOLLOW_NODES), "--hollow-start-delay", "0.2"], log_path)
    try:
        yield log_path
    finally:
        code = stop_process(process)
        assert code == 0, f"hollow kubelet exited {code}:\n{log_tail(log_path)}"


@pytest.fixture
def scheduler(apiserver: ApiServerProcess, tmp_path: Path) -> Iterator[Path]:
    log_path = tmp_path / "scheduler.log"
    process = start(["scheduler", "--master", apiserver.url, "--leader-elect", "false"], log_path)
    try:
        yield log_path
    finally:
        stop_process(process)


async def test_fifty_hollow_nodes_run_a_500_replica_deployment(
        apiserver: ApiServerProcess, hollow_kubelet: Path, scheduler: Path, tmp_path: Path) -> None:
    async with ApiClient(config_for_url(apiserver.url)) as client:
        async def all_ready() -> bool:
            nodes = [n for n in (await client.list(NODES)).get("items") or []
                     if n["metadata"]["name"].startswith("hk-hollow-")]
            return len(nodes) == HOLLOW_NODES and all(
                conditions(n)["Ready"] == "True" and conditions(n)["ContainerRuntimeReady"] == "True"
                for n in nodes)

        await eventually(all_ready, f"{HOLLOW_NODES} Ready hollow nodes", within=60)

        async def all_leased() -> bool:
            leases = (await client.list(LEASES, tenant="system", namespace="kube-node-lease")).get("items")
            names = {lease["metadata"]["name"] for lease in leases or []}
            return {f"hk-hollow-{i}" for i in range(HOLLOW_NODES)} <= names

        # Renewals are spread over the 10 s interval, so the last node's first Lease comes late.
        await eventually(all_leased, "a Lease per hollow node", within=20)
        with controller_manager(apiserver.url, "deployment,replicaset", tmp_path / "cm.log"):
            body = deployment_body("hollow-web", replicas=REPLICAS, image="busybox:1.36")
            await client.create(DEPLOYMENTS, body, tenant="system", namespace="default")
            started = time.monotonic()

            async def all_running() -> Any:
                pods = (await client.list_all(PODS, tenant="system", namespace="default",
                                              label_selector="app=hollow-web")).get("items") or []
                running = [p for p in pods if (p.get("status") or {}).get("phase") == "Running"]
                return pods if len(running) == REPLICAS else None

            try:
                pods = await eventually(all_running, f"{REPLICAS} Running pods", within=180)
            except AssertionError as e:
                raise AssertionError(f"{e}\nkubelet:\n{log_tail(hollow_kubelet)}\n"
                                     f"scheduler:\n{log_tail(scheduler)}") from None
            elapsed = time.monotonic() - started
        nodes_used = {p["spec"]["nodeName"] for p in pods}
        assert nodes_used <= {f"hk-hollow-{i}" for i in range(HOLLOW_NODES)}
        assert len(nodes_used) == HOLLOW_NODES  # the scheduler spreads over all of them
        print(f"{REPLICAS} pods Running on {HOLLOW_NODES} hollow nodes in {elapsed:.1f}s")
