"""``python -m scheduler`` as deployed: TLS server, the scheduler's own identity, leader election.

Starts a TLS-only API server with the credentials hack/arktos-up.sh makes, and the scheduler
process with ``certs/scheduler.kubeconfig`` (CN=system:kube-scheduler), default flags (so
``--leader-elect true``). Shows that the bootstrap ClusterRole system:kube-scheduler allows all
it does — watching pods of every tenant, nodes and namespaces, binding, recording events,
patching pod status, holding the Lease kube-system/kube-scheduler — by a pod of a tenant being
bound, a Scheduled event recorded, an unschedulable pod getting PodScheduled=False, and the Lease
naming a holder. Leaves out fail-over between two replicas (the leader-election tests cover the
Lease mechanics).
"""

from __future__ import annotations

import asyncio
import os
import re
import signal
import subprocess
import sys
from collections.abc import AsyncIterator, Iterator
from pathlib import Path

import pytest
from apiserver_process import ApiServerProcess, log_tail, start_apiserver
from scheduler_env import events_for, get_pod, make_node, make_pod, make_tenant, node_of, wait_for

from client.config import load_kubeconfig
from client.leaderelection import LEASES
from client.rest import ApiClient

REPO_ROOT = Path(__file__).resolve().parents[2]


@pytest.fixture(scope="module")
def tls_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[ApiServerProcess]:
    server = start_apiserver(tmp_path_factory.mktemp("tls"), tls=True)
    yield server
    server.stop()


@pytest.fixture
def scheduler_process(tls_server: ApiServerProcess, tmp_path: Path) -> Iterator[Path]:
    kubeconfig = tls_server.kubeconfig.with_name("scheduler.kubeconfig")
    log_path = tmp_path / "kube-scheduler.log"
    with log_path.open("wb") as log:
        process = subprocess.Popen(
            [sys.executable, "-m", "scheduler", "--kubeconfig", str(kubeconfig)],
            cwd=REPO_ROOT,
            stdout=log,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
    try:
        yield log_path
    finally:
        os.killpg(process.pid, signal.SIGTERM)
        try:
            process.wait(timeout=15)
        except subprocess.TimeoutExpired:
            os.killpg(process.pid, signal.SIGKILL)
            process.wait(timeout=15)
        print(log_tail(log_path))


@pytest.fixture
async def admin(tls_server: ApiServerProcess) -> AsyncIterator[ApiClient]:
    async with ApiClient(load_kubeconfig(tls_server.kubeconfig)) as client:
        yield client


async def test_scheduler_identity_binds_pods_and_holds_the_lease(
    admin: ApiClient, scheduler_process: Path
) -> None:
    await make_tenant(admin, "beta", "apps")
    await make_node(admin, "worker", cpu="2")
    await make_pod(admin, "beta", "apps", "fits", cpu="1")
    await make_pod(admin, "beta", "apps", "too-big", cpu="8")
    assert await node_of(admin, "beta", "apps", "fits", limit_s=30) == "worker"
    await wait_for(lambda: events_for(admin, "beta", "apps", "fits", "Scheduled"), what="Scheduled event")
    await wait_for(
        lambda: events_for(admin, "beta", "apps", "too-big", "FailedScheduling"), what="failure event"
    )

    async def marked_unschedulable() -> bool:
        pod = await get_pod(admin, "beta", "apps", "too-big")
        return any(c.get("reason") == "Unschedulable" for c in pod.get("status", {}).get("conditions") or [])

    await wait_for(marked_unschedulable, what="PodScheduled=False")
    lease = await admin.get(LEASES, "kube-scheduler", tenant="system", namespace="kube-system")
    assert lease["spec"].get("holderIdentity")
    text = await asyncio.to_thread(scheduler_process.read_text)
    # "403" as a status code, not inside a random leader id such as vm_2403594d-...
    assert "Forbidden" not in text and not re.search(r"\b403\b", text), text[-3000:]
