"""A private containerd for the kubelet's component tests (imported by a unique name).

Each test module gets its own containerd with its own bridge and pod subnet, so modules never
collide with each other or with a running cluster, and removes the cgroups runc leaves behind
under the module's cgroup parent.
"""

from __future__ import annotations

import asyncio
import contextlib
import sys
from collections.abc import AsyncIterator, Iterator
from pathlib import Path

from cri.client import CriClient
from cri.containerd_config import ContainerdLayout
from cri.containerd_process import ContainerdProcess

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
from registry_env import shared_registry

BUSYBOX = "docker.io/library/busybox:1.36"


async def pull_images(endpoint: str, images: tuple[str, ...]) -> None:
    """CRI PullImage for each, as a kubelet would (through containerd's registry hosts)."""
    client = CriClient(endpoint, timeout=120)
    try:
        for image in images:
            await client.pull_image(image)
    finally:
        await client.close()


@contextlib.asynccontextmanager
async def cri_client(process: ContainerdProcess, call_timeout_s: float = 30) -> AsyncIterator[CriClient]:
    """A CRI client; when done, every pod sandbox goes (whatever a failing test left behind)."""
    client = CriClient(process.endpoint, timeout=call_timeout_s)
    try:
        yield client
    finally:
        for sandbox in await client.list_pod_sandbox():
            await client.stop_pod_sandbox(sandbox.id)
            await client.remove_pod_sandbox(sandbox.id)
        await client.close()


@contextlib.contextmanager
def private_containerd(base: Path, *, pod_subnet: str, bridge_name: str, cgroup_parent: str,
                       pulled: tuple[str, ...] = (BUSYBOX,)) -> Iterator[ContainerdProcess]:
    """containerd (installed with apt if missing) pulling from the session's registry, ``pulled``
    images already present (what a node that ran pods before has)."""
    layout = ContainerdLayout(base, pod_subnet=pod_subnet, bridge_name=bridge_name,
                              registry=shared_registry())
    process = ContainerdProcess(layout)
    process.start()
    try:
        asyncio.run(pull_images(process.endpoint, pulled))
        yield process
    finally:
        process.stop(remove_dirs=True)
        remove_cgroups(cgroup_parent.strip("/"))


def remove_cgroups(parent: str) -> None:
    """runc leaves the empty per-pod cgroups under the parent in each v1 hierarchy; deepest first."""
    for hierarchy in Path("/sys/fs/cgroup").iterdir():
        root = hierarchy / parent
        if root.is_dir():
            for cgroup in sorted((p for p in root.rglob("*") if p.is_dir()), key=lambda p: -len(p.parts)):
                cgroup.rmdir()
            root.rmdir()
