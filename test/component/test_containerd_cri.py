"""Drives a real containerd through our CRI client: images, pod sandboxes, containers, exec, limits.

Covers: CRI Version/Status; busybox pulled from the session registry resolving by short and full names
(a missing name fails the pull);
a pod on the bridge CNI network (pod IP) running ``sh -c 'echo hi; sleep 30'`` through
RunPodSandbox → CreateContainer → StartContainer → ContainerStatus → its CRI log file → ExecSync →
Stop/Remove; a host-network pod; a cgroup v1 memory limit seen from inside; PID namespace isolation;
errors for missing images and containers; a container outliving a containerd crash (SIGKILL) and
found running again by the restarted containerd. Each test's timings are printed (``-s``).
Leaves out: streaming Exec/Attach/PortForward URLs (the kubelet's streaming server owns those) and the
kubelet itself. containerd is installed with apt when missing; if that fails the tests fail, never skip.
"""

from __future__ import annotations

import asyncio
import socket
import time
import uuid
from collections.abc import AsyncIterator, Iterator
from pathlib import Path

import pytest
from containerd_env import BUSYBOX, cri_client, pull_images
from registry_env import shared_registry

from cri.client import CriClient
from cri.containerd_config import ContainerdLayout
from cri.containerd_process import ContainerdProcess
from cri.errors import CriError, NotFound
from cri.stubs import pb

pytestmark = pytest.mark.e2e


@pytest.fixture(scope="module")
def containerd(tmp_path_factory: pytest.TempPathFactory) -> Iterator[ContainerdProcess]:
    base = tmp_path_factory.mktemp("containerd")
    # A subnet and bridge of its own, so a cluster's containerd on the same host is not disturbed.
    process = ContainerdProcess(ContainerdLayout(base, pod_subnet="10.99.0.0/16", bridge_name="arktos-test0",
                                                 registry=shared_registry()))
    process.start()
    try:
        asyncio.run(pull_images(process.endpoint, (BUSYBOX,)))
        yield process
    finally:
        process.stop(remove_dirs=True)
        _remove_cgroup_parents("arktos-test")


def _remove_cgroup_parents(parent: str) -> None:
    """The per-pod cgroup parents the tests chose (runc leaves the empty parents in each v1 hierarchy)."""
    for hierarchy in Path("/sys/fs/cgroup").iterdir():
        root = hierarchy / parent
        if root.is_dir():
            for cgroup in sorted((p for p in root.rglob("*") if p.is_dir()), key=lambda p: -len(p.parts)):
                cgroup.rmdir()
            root.rmdir()


@pytest.fixture
async def cri(containerd: ContainerdProcess) -> AsyncIterator[CriClient]:
    async with cri_client(containerd) as client:
        yield client


def _sandbox_config(tmp_path: Path, name: str, host_network: bool = False) -> pb.PodSandboxConfig:
    uid = str(uuid.uuid4())
    config = pb.PodSandboxConfig(
        metadata=pb.PodSandboxMetadata(name=name, uid=uid, namespace="default", attempt=0),
        log_directory=str(tmp_path / f"default_{name}_{uid}"),
        labels={"io.kubernetes.pod.name": name},
        linux=pb.LinuxPodSandboxConfig(cgroup_parent=f"/arktos-test/pod{uid}"),
    )
    if host_network:
        # Upstream kubelet leaves the hostname empty for host-network pods; containerd rejects one.
        config.linux.security_context.namespace_options.network = pb.NODE
    else:
        config.hostname = name
    return config


def _container_config(name: str, command: list[str], memory_limit: int = 0) -> pb.ContainerConfig:
    config = pb.ContainerConfig(
        metadata=pb.ContainerMetadata(name=name, attempt=0),
        image=pb.ImageSpec(image=BUSYBOX),
        command=command,
        log_path=f"{name}/0.log",
        envs=[pb.KeyValue(key="GREETING", value="hi")],
    )
    # v1 pods get a per-container PID namespace (kubelet sets CONTAINER unless shareProcessNamespace).
    config.linux.security_context.namespace_options.pid = pb.CONTAINER
    if memory_limit:
        config.linux.resources.memory_limit_in_bytes = memory_limit
    return config


async def _run_pod(cri: CriClient, tmp_path: Path, name: str, command: list[str], *,
                   host_network: bool = False, memory_limit: int = 0) -> tuple[pb.PodSandboxConfig, str, str]:
    sandbox_config = _sandbox_config(tmp_path, name, host_network)
    t0 = time.perf_counter()
    sandbox_id = await cri.run_pod_sandbox(sandbox_config)
    t1 = time.perf_counter()
    container_id = await cri.create_container(sandbox_id, _container_config("main", command, memory_limit),
                                              sandbox_config)
    await cri.start_container(container_id)
    t2 = time.perf_counter()
    print(f"\n{name}: RunPodSandbox {1000 * (t1 - t0):.0f} ms, Create+Start {1000 * (t2 - t1):.0f} ms")
    return sandbox_config, sandbox_id, container_id


async def test_version_and_status(cri: CriClient) -> None:
    version = await cri.version()
    assert version.runtime_name == "containerd"
    assert version.runtime_api_version == "v1"
    status = await cri.status()
    conditions = {c.type: c.status for c in status.status.conditions}
    assert conditions == {"RuntimeReady": True, "NetworkReady": True}


async def test_images_resolve_by_well_known_names(cri: CriClient) -> None:
    await cri.pull_image("busybox", deadline=60)
    by_short = await cri.image_status("busybox")
    by_tag = await cri.image_status(BUSYBOX)
    assert by_short is not None and by_tag is not None
    assert by_short.id == by_tag.id  # busybox:latest and :1.36 are one manifest in the registry
    assert "docker.io/library/busybox:1.36" in by_tag.repo_tags
    assert await cri.image_status("docker.io/library/nosuchimage:1") is None
    names = {tag for image in await cri.list_images() for tag in image.repo_tags}
    assert {"docker.io/library/busybox:latest", "docker.io/library/busybox:1.36"} <= names
    # A name the registry lacks fails the pull (the kubelet reports ErrImagePull from it).
    with pytest.raises(NotFound):
        await cri.pull_image("docker.io/library/nosuchimage:1", deadline=20)


async def test_pod_lifecycle_on_bridge_network(cri: CriClient, tmp_path: Path) -> None:
    sandbox_config, sandbox_id, container_id = await _run_pod(
        cri, tmp_path, "web", ["sh", "-c", "echo $GREETING; sleep 30"])

    sandbox = (await cri.pod_sandbox_status(sandbox_id)).status
    assert sandbox.state == pb.SANDBOX_READY
    assert sandbox.network.ip.startswith("10.99.")

    status = (await cri.container_status(container_id)).status
    assert status.state == pb.CONTAINER_RUNNING
    assert status.metadata.name == "main"
    log_file = Path(sandbox_config.log_directory) / "main/0.log"
    assert status.log_path == str(log_file)
    for _ in range(50):
        if log_file.exists() and log_file.read_text():
            break
        await asyncio.sleep(0.05)
    # CRI log format: "<RFC3339Nano> stdout F hi"
    assert log_file.read_text().split("\n")[0].split(" ", 3)[1:] == ["stdout", "F", "hi"]

    result = await cri.exec_sync(container_id, ["cat", "/etc/hostname"], timeout_seconds=10)
    assert (result.exit_code, result.stdout) == (0, b"web\n")
    failing = await cri.exec_sync(container_id, ["sh", "-c", "exit 3"], timeout_seconds=10)
    assert failing.exit_code == 3

    assert [c.id for c in await cri.list_containers(sandbox_id=sandbox_id)] == [container_id]
    t0 = time.perf_counter()
    await cri.stop_container(container_id, grace_seconds=1)
    print(f"StopContainer {1000 * (time.perf_counter() - t0):.0f} ms")
    stopped = (await cri.container_status(container_id)).status
    assert stopped.state == pb.CONTAINER_EXITED
    await cri.remove_container(container_id)
    with pytest.raises(NotFound):
        await cri.container_status(container_id)
    await cri.stop_pod_sandbox(sandbox_id)
    await cri.remove_pod_sandbox(sandbox_id)
    assert sandbox_id not in {s.id for s in await cri.list_pod_sandbox()}


async def test_host_network_pod_sees_the_host(cri: CriClient, tmp_path: Path) -> None:
    _, sandbox_id, container_id = await _run_pod(cri, tmp_path, "hostnet", ["sleep", "30"], host_network=True)
    result = await cri.exec_sync(container_id, ["hostname"], timeout_seconds=10)
    assert result.stdout.decode().strip() == socket.gethostname()
    sandbox = (await cri.pod_sandbox_status(sandbox_id)).status
    assert sandbox.linux.namespaces.options.network == pb.NODE


async def test_memory_limit_and_pid_isolation(cri: CriClient, tmp_path: Path) -> None:
    limit = 64 * 1024 * 1024
    _, _, container_id = await _run_pod(cri, tmp_path, "limited", ["sleep", "30"], memory_limit=limit)
    result = await cri.exec_sync(container_id, ["cat", "/sys/fs/cgroup/memory/memory.limit_in_bytes"], 10)
    assert int(result.stdout) == limit
    ps = await cri.exec_sync(container_id, ["ps", "-o", "pid,comm"], 10)
    rows = [line.split() for line in ps.stdout.decode().splitlines()[1:]]
    # Only the container's own sleep (PID 1) and the ps itself: no host or pause processes.
    assert ["1", "sleep"] in rows
    assert len(rows) <= 3, rows


async def test_errors_are_translated(cri: CriClient) -> None:
    with pytest.raises(NotFound):
        await cri.container_status("0" * 64)
    with pytest.raises(CriError):
        await cri.start_container("no-such-container")
    with pytest.raises(CriError):
        await cri.pull_image("docker.io/library/nosuchimage:1", deadline=20)


async def test_containers_outlive_a_containerd_crash_and_are_found_again(
        containerd: ContainerdProcess, cri: CriClient, tmp_path: Path) -> None:
    _, sandbox_id, container_id = await _run_pod(cri, tmp_path, "survivor", ["sleep", "60"])
    before = await cri.exec_sync(container_id, ["cat", "/proc/1/stat"], timeout_seconds=10)
    t0 = time.perf_counter()
    containerd.kill()
    containerd.start()
    # The same client: its channel reconnects, as the kubelet's does; until the CRI plugin has
    # loaded its state it answers "server is not initialized yet", and the kubelet retries.
    for _ in range(200):
        try:
            status = (await cri.container_status(container_id)).status
            break
        except CriError as e:
            assert "not initialized" in e.message, e
            await asyncio.sleep(0.05)
    else:
        raise AssertionError("the restarted containerd's CRI did not initialise in 10 s")
    print(f"containerd kill, start, CRI serving: {1000 * (time.perf_counter() - t0):.0f} ms")
    assert status.state == pb.CONTAINER_RUNNING
    assert (await cri.pod_sandbox_status(sandbox_id)).status.state == pb.SANDBOX_READY
    after = await cri.exec_sync(container_id, ["cat", "/proc/1/stat"], timeout_seconds=10)
    # /proc/1/stat of the container's PID namespace: same process (same start time), never restarted.
    assert after.stdout.split()[21] == before.stdout.split()[21] and after.exit_code == 0
