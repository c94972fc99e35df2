"""``python -m scheduler`` as deployed: TLS server, the scheduler's own identity, leader election.

Starts a TLS-only API server with the credentials hack/arktos-up.sh makes, and the scheduler
process with ``certs/scheduler.kubeconfig`` (CN=system:kube-scheduler), default flags (so
``--leader-elect true``). Shows that the bootstrap ClusterRole system:kube-scheduler allows all
it does — watching pods of every tenant, nodes and namespaces, binding, recording events,
patching pod status, holding the Lease kube-system/kube-scheduler — by a pod of a tenant being
bound, a Scheduled event recorded, an unschedulable pod getting PodScheduled=False, and the Lease
naming a holder; and a scheduler whose Lease is taken exits with status 1 ("leaderelection lost").
Leaves out fail-over between two replicas (the leader-election tests cover the Lease mechanics).
"""

from __future__ import annotations

import asyncio
import os
import re
import signal
import subprocess
import sys
from collections.abc import AsyncIterator, Iterator
from datetime import UTC, datetime
from pathlib import Path

import pytest
from apiserver_process import ApiServerProcess, log_tail, start_apiserver
from scheduler_env import events_for, get_pod, make_node, make_pod, make_tenant, node_of, wait_for

from client.config import load_kubeconfig
from client.leaderelection import LEASES, micro_time
from client.rest import ApiClient

REPO_ROOT = Path(__file__).resolve().parents[2]


@pytest.fixture(scope="module")
def tls_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[ApiServerProcess]:
    server = start_apiserver(tmp_path_factory.mktemp("tls"), tls=True)
    yield server
    server.stop()


def start_scheduler(server: ApiServerProcess, log_path: Path, *flags: str) -> subprocess.Popen[bytes]:
    kubeconfig = server.kubeconfig.with_name("scheduler.kubeconfig")
    with log_path.open("wb") as log:
        return subprocess.Popen(
            [sys.executable, "-m", "scheduler", "--kubeconfig", str(kubeconfig), *flags],
            cwd=REPO_ROOT,
            stdout=log,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )


@pytest.fixture
def scheduler_process(tls_server: ApiServerProcess, tmp_path: Path) -> Iterator[Path]:
    log_path = tmp_path / "kube-scheduler.log"
    process = start_scheduler(tls_server, log_path)
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


async def test_scheduler_whose_lease_is_taken_exits_nonzero(admin: ApiClient, tls_server: ApiServerProcess,
                                                             tmp_path: Path) -> None:
    """Upstream's kube-scheduler exits ("leaderelection lost") when it cannot renew its Lease within
    the renew deadline; arktos-up's supervisor then starts it again as a candidate."""
    log_path = tmp_path / "kube-scheduler.log"
    process = start_scheduler(tls_server, log_path, "--leader-elect-lease-duration", "3s",
                              "--leader-elect-renew-deadline", "2s", "--leader-elect-retry-period", "500ms")
    try:
        async def leading() -> bool:
            return "became leader" in await asyncio.to_thread(log_path.read_text)

        await wait_for(leading, what="the scheduler leading")
        lease = await admin.get(LEASES, "kube-scheduler", tenant="system", namespace="kube-system")
        lease["spec"].update(holderIdentity="intruder", leaseDurationSeconds=3600,
                             renewTime=micro_time(datetime.now(UTC)))
        await admin.update(LEASES, lease, tenant="system", namespace="kube-system")
        code = await asyncio.to_thread(process.wait, 15)
        assert code == 1, log_tail(log_path)
        assert "leaderelection lost" in log_path.read_text()
        lease = await admin.get(LEASES, "kube-scheduler", tenant="system", namespace="kube-system")
        assert lease["spec"]["holderIdentity"] == "intruder"  # the ousted leader did not write back
    finally:
        if process.poll() is None:
            os.killpg(process.pid, signal.SIGKILL)
            process.wait()
