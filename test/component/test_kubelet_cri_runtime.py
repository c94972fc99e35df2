"""Drives `kubelet.cri_runtime.CriRuntime` against a real containerd of its own.

Covers: health and ``containerd://<version>``; ``ensure_image`` for busybox under IfNotPresent (pulled
from the session registry when absent), Always (pulled again, same image) and Never, and a missing image
(ErrImagePull, ErrImageNeverPull); a pod as the API returns it → ``run_sandbox`` (pod IP from our own
subnet) → a busybox container with ``limits.memory: 64Mi`` running, its CRI log file holding its
output, the cgroup v1 memory limit and PID-namespace isolation seen from inside (ExecSync); a
container exiting 3 reported by the PLEG listener and ``list_containers``; stop/remove leaving nothing.
Leaves out: the kubelet's pod worker (it uses this runtime through the protocol), streaming, volumes.
containerd is installed with apt when missing; failing that, the tests fail rather than skip.
"""

from __future__ import annotations

import asyncio
import time
import uuid
from collections.abc import AsyncIterator, Awaitable, Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
from containerd_env import private_containerd

from cri.client import CriClient
from cri.containerd_process import ContainerdProcess
from kubelet.cri_runtime import CriRuntime
from kubelet.runtime import RuntimeOperationError

pytestmark = pytest.mark.e2e

BUSYBOX = "docker.io/library/busybox:1.36"
CGROUP_PARENT = "/arktos-kt"  # our own, removed at the end


@pytest.fixture(scope="module")
def containerd(tmp_path_factory: pytest.TempPathFactory) -> Iterator[ContainerdProcess]:
    # Own bridge and subnet: never collides with test_containerd_cri.py or a running cluster.
    with private_containerd(tmp_path_factory.mktemp("containerd"), pod_subnet="10.98.0.0/16",
                            bridge_name="arktos-kt0", cgroup_parent=CGROUP_PARENT) as process:
        yield process


@pytest.fixture
async def runtime(containerd: ContainerdProcess, tmp_path: Path) -> AsyncIterator[CriRuntime]:
    rt = CriRuntime("containerRuntime", containerd.endpoint, log_root=tmp_path / "pods",
                    cgroup_parent=CGROUP_PARENT, relist_s=0.2, pull_timeout_s=20)
    try:
        yield rt
    finally:
        for sandbox in await rt.list_sandboxes():
            await rt.remove_sandbox(sandbox.id)
        await rt.aclose()


@pytest.fixture
async def cri(containerd: ContainerdProcess) -> AsyncIterator[CriClient]:
    client = CriClient(containerd.endpoint, timeout=30)
    yield client
    await client.close()


def _pod(name: str, containers: list[dict[str, Any]]) -> dict[str, Any]:
    return {
        "apiVersion": "v1", "kind": "Pod",
        "metadata": {"name": name, "namespace": "default", "tenant": "system", "uid": str(uuid.uuid4()),
                     "labels": {"app": name}},
        "spec": {"nodeName": "node-1", "restartPolicy": "Never", "containers": containers},
    }


async def _wait_for(predicate: Callable[[], Awaitable[bool]], within_s: float = 10.0) -> None:
    deadline = time.monotonic() + within_s
    while time.monotonic() < deadline:
        if await predicate():
            return
        await asyncio.sleep(0.05)
    raise AssertionError("condition not met in time")


async def test_health_and_version(runtime: CriRuntime) -> None:
    health = await runtime.health()
    assert health.ready, health
    assert runtime.runtime_version().startswith("containerd://")
    assert runtime.runtime_version() != "containerd://unknown"


async def test_ensure_image_honours_pull_policy(runtime: CriRuntime, cri: CriClient) -> None:
    local = await cri.image_status(BUSYBOX)  # the fixture pulled busybox:1.36, not :latest
    assert local is not None and await cri.image_status("busybox") is None
    first = await runtime.ensure_image("busybox", "IfNotPresent")
    assert first.pulled and first.image_ref == local.id  # one manifest under both tags
    again = await runtime.ensure_image("docker.io/library/busybox:latest", "IfNotPresent")
    assert again.image_ref == local.id and not again.pulled
    t0 = time.perf_counter()
    always = await runtime.ensure_image(BUSYBOX, "Always")
    print(f"\nAlways (a pull of a present image): {1000 * (time.perf_counter() - t0):.0f} ms")
    assert always.image_ref == local.id and always.pulled
    assert (await runtime.ensure_image(BUSYBOX, "Never")).image_ref == local.id

    with pytest.raises(RuntimeOperationError) as never:
        await runtime.ensure_image("docker.io/library/nosuchimage:1", "Never")
    assert never.value.reason == "ErrImageNeverPull"
    assert 'Container image "docker.io/library/nosuchimage:1" is not present' in never.value.message
    with pytest.raises(RuntimeOperationError) as missing:
        await runtime.ensure_image("docker.io/library/nosuchimage:1", "IfNotPresent")
    assert missing.value.reason == "ErrImagePull"
    assert missing.value.message.startswith("rpc error: code = ")


async def test_pod_runs_isolated_with_limits_and_logs(runtime: CriRuntime, cri: CriClient) -> None:
    container = {"name": "main", "image": BUSYBOX, "command": ["sh", "-c"],
                 "args": ["echo $(GREETING); sleep 30"],
                 "env": [{"name": "GREETING", "value": "hello"}],
                 "resources": {"limits": {"memory": "64Mi"}}}
    pod = _pod("web", [container])
    image = await runtime.ensure_image(BUSYBOX, "IfNotPresent")
    sandbox = await runtime.run_sandbox(pod)
    assert sandbox.state == "ready" and sandbox.ip.startswith("10.98.")
    uid = pod["metadata"]["uid"]
    assert (sandbox.pod.uid, sandbox.pod.name, sandbox.pod.tenant) == (uid, "web", "system")

    created = await runtime.create_container(sandbox, pod, container, attempt=0, image_ref=image.image_ref)
    assert (created.state, created.name, created.image, created.pod_uid) == (
        "created", "main", BUSYBOX, pod["metadata"]["uid"])
    await runtime.start_container(created.id)
    [running] = await runtime.list_containers(pod_uid=pod["metadata"]["uid"])
    assert (running.id, running.state, running.sandbox_id) == (created.id, "running", sandbox.id)
    assert running.started_at > 0
    log_file = Path(running.log_path)
    assert log_file.name == "0.log" and log_file.parent.name == "main"
    assert log_file.parent.parent.name == f"default_web_{pod['metadata']['uid']}"

    def read_log() -> str:
        return log_file.read_text() if log_file.exists() else ""

    async def logged() -> bool:
        return "hello" in await asyncio.to_thread(read_log)
    await _wait_for(logged)

    limit = await cri.exec_sync(created.id, ["cat", "/sys/fs/cgroup/memory/memory.limit_in_bytes"], 10)
    assert int(limit.stdout) == 64 * 1024 * 1024
    hostname = await cri.exec_sync(created.id, ["cat", "/etc/hostname"], 10)
    assert hostname.stdout == b"web\n"
    ps = await cri.exec_sync(created.id, ["ps", "-o", "pid,comm"], 10)
    rows = [line.split() for line in ps.stdout.decode().splitlines()[1:]]
    assert ["1", "sleep"] in rows and len(rows) <= 3, rows  # sh exec-ed sleep; ps: no pause, no host

    [listed] = [s for s in await runtime.list_sandboxes() if s.id == sandbox.id]
    assert listed.ip == sandbox.ip and listed.pod == sandbox.pod

    await runtime.stop_container(created.id, timeout_s=1)
    [stopped] = await runtime.list_containers(pod_uid=pod["metadata"]["uid"])
    assert stopped.state == "exited" and stopped.finished_at >= stopped.started_at
    await runtime.remove_container(created.id)
    assert await runtime.list_containers(pod_uid=pod["metadata"]["uid"]) == []
    await runtime.stop_sandbox(sandbox.id)
    await runtime.remove_sandbox(sandbox.id)
    assert await cri.list_pod_sandbox() == []
    assert await runtime.list_sandboxes() == []


async def test_pleg_reports_an_exit(runtime: CriRuntime, cri: CriClient) -> None:
    changed: list[str] = []
    runtime.on_change(changed.append)
    container = {"name": "crash", "image": BUSYBOX, "command": ["sh", "-c", "sleep 0.5; exit 3"]}
    pod = _pod("crasher", [container])
    uid = pod["metadata"]["uid"]
    sandbox = await runtime.run_sandbox(pod)
    created = await runtime.create_container(sandbox, pod, container, attempt=0,
                                             image_ref=(await runtime.ensure_image(BUSYBOX, "")).image_ref)
    await runtime.start_container(created.id)

    async def exited() -> bool:
        states = [c.state for c in await runtime.list_containers(pod_uid=uid)]
        return states == ["exited"] and changed.count(uid) >= 1
    await _wait_for(exited)
    [done] = await runtime.list_containers(pod_uid=uid)
    assert (done.exit_code, done.reason) == (3, "Error")
    assert done.finished_at > done.started_at > 0

    await runtime.remove_sandbox(sandbox.id)  # containerd removes the sandbox's containers with it
    assert await runtime.list_containers(pod_uid=uid) == []
    assert await cri.list_pod_sandbox() == []
    assert await cri.list_containers() == []
