"""A private containerd for the kubelet's component tests (imported by a unique name).

Each test module gets its own containerd with its own bridge and pod subnet, so modules never
collide with each other or with a running cluster, and removes the cgroups runc leaves behind
under the module's cgroup parent.
"""

from __future__ import annotations

import contextlib
from collections.abc import AsyncIterator, Iterator
from pathlib import Path

from cri.containerd_config import ContainerdLayout
from cri.containerd_process import ContainerdProcess
from cri.images import build_and_import_all
from kubelet.cri_runtime import CriRuntime


@contextlib.contextmanager
def private_containerd(base: Path, *, pod_subnet: str, bridge_name: str,
                       cgroup_parent: str) -> Iterator[ContainerdProcess]:
    """containerd (installed with apt if missing) with the local images imported."""
    process = ContainerdProcess(ContainerdLayout(base, pod_subnet=pod_subnet, bridge_name=bridge_name))
    process.start()
    try:
        build_and_import_all(process.address)
        yield process
    finally:
        process.stop(remove_dirs=True)
        remove_cgroups(cgroup_parent.strip("/"))


@contextlib.asynccontextmanager
async def cri_runtime(process: ContainerdProcess, *, log_root: Path,
                      cgroup_parent: str) -> AsyncIterator[CriRuntime]:
    """The kubelet's CRI runtime on ``process`` for one test, closed after it."""
    runtime = CriRuntime("containerRuntime", process.endpoint, log_root=log_root, cgroup_parent=cgroup_parent)
    try:
        yield runtime
    finally:
        await runtime.aclose()


def remove_cgroups(parent: str) -> None:
    """runc leaves the empty per-pod cgroups under the parent in each v1 hierarchy; deepest first."""
    for hierarchy in Path("/sys/fs/cgroup").iterdir():
        root = hierarchy / parent
        if root.is_dir():
            for cgroup in sorted((p for p in root.rglob("*") if p.is_dir()), key=lambda p: -len(p.parts)):
                cgroup.rmdir()
            root.rmdir()
