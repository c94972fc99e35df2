"""A pod's volumes on the node: made before its containers start, refreshed, removed with the pod.

Upstream's volume manager + plugins in small. Every volume of a pod lives under
``<root_dir>/pods/<uid>/volumes/<plugin>/<name>`` with upstream's plugin directory names
(``kubernetes.io~empty-dir``, ``~configmap``, ``~secret``, ``~downward-api``, ``~projected``), so
the layout reads the same on disk. emptyDir is a 0777 directory, a tmpfs for ``medium: Memory``;
secret, downwardAPI and projected volumes are always on a tmpfs (upstream wraps them in a Memory
emptyDir: what a pod is handed never touches the node's disk), configMaps on disk; each tmpfs is
sized as upstream's ``calculateEmptyDirMemorySize`` (`kubelet.volumes.tmpfs`). hostPath is the
host's own path after the type check. configMap, secret, downwardAPI and projected volumes are
written by the `atomic_writer` and are mounted read-only, as upstream does for API data volumes
since 1.10. With ``fsGroup`` every volume but hostPath is given to that group
(`kubelet.volumes.ownership`). `cleanup` unmounts a pod's tmpfs mounts before it deletes the pod's
directory, and `orphaned_pods` finds directories of pods no longer bound here (after a restart).
`container_mounts` turns a container's ``volumeMounts`` (``subPath``/``subPathExpr``,
``readOnly``) into runtime mounts.
"""

from __future__ import annotations

import asyncio
import logging
import os
import shutil
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from apis.quantity import QuantityError, parse_quantity
from kubelet.container_env import expand_references
from kubelet.runtime import Mount
from kubelet.volumes.atomic_writer import FileProjection, PayloadError, write_atomically
from kubelet.volumes.host_path import check_host_path
from kubelet.volumes.ownership import RO_MASK, pod_fs_group, set_volume_ownership
from kubelet.volumes.payloads import Payload, PayloadContext, VolumeError, volume_payload
from kubelet.volumes.tmpfs import mount_tmpfs, unmount_all_under

log = logging.getLogger(__name__)

PLUGIN_DIRS = {"emptyDir": "kubernetes.io~empty-dir", "configMap": "kubernetes.io~configmap",
               "secret": "kubernetes.io~secret", "downwardAPI": "kubernetes.io~downward-api",
               "projected": "kubernetes.io~projected"}
_WRITTEN = frozenset({"configMap", "secret", "downwardAPI", "projected"})
_IN_MEMORY = frozenset({"secret", "downwardAPI", "projected"})  # upstream's Memory emptyDir wrappers


class NamedVolumeError(VolumeError):
    """A volume failed; ``volume`` names it for upstream's ``MountVolume.SetUp failed`` message."""

    def __init__(self, volume: str, message: str) -> None:
        super().__init__(f'MountVolume.SetUp failed for volume "{volume}" : {message}')
        self.volume = volume
        self.detail = message


@dataclass(frozen=True, slots=True)
class PreparedVolume:
    """Where a volume is on the host, and whether containers may only read it."""

    host_path: Path
    read_only: bool
    creates_subpaths: bool  # emptyDir/hostPath: a missing subPath is made (upstream makeMounts)


def _kind(volume: dict[str, Any]) -> str:
    for key in ("emptyDir", "hostPath", *_WRITTEN):
        if volume.get(key) is not None:
            return key
    others = [k for k in volume if k != "name"]
    return others[0] if others else ""


class PodVolumes:
    """Sets up the volumes of the pods on this node under ``root_dir``."""

    def __init__(self, root_dir: Path) -> None:
        self.root_dir = root_dir

    def pod_dir(self, pod_uid: str) -> Path:
        return self.root_dir / "pods" / pod_uid

    def volume_dir(self, pod_uid: str, kind: str, name: str) -> Path:
        return self.pod_dir(pod_uid) / "volumes" / PLUGIN_DIRS[kind] / name

    async def setup(self, context: PayloadContext) -> dict[str, PreparedVolume]:
        """Makes (or rewrites) every volume of the pod; raises `NamedVolumeError`."""
        pod = context.pod
        uid = str((pod.get("metadata") or {}).get("uid", ""))
        prepared: dict[str, PreparedVolume] = {}
        for volume in (pod.get("spec") or {}).get("volumes") or []:
            name = str(volume.get("name") or "")
            try:
                prepared[name] = await self._setup_one(context, uid, name, volume)
            except (VolumeError, PayloadError, OSError) as e:
                detail = e.detail if isinstance(e, NamedVolumeError) else str(e)
                raise NamedVolumeError(name, detail) from e
        return prepared

    async def _setup_one(self, context: PayloadContext, uid: str, name: str,
                         volume: dict[str, Any]) -> PreparedVolume:
        kind = _kind(volume)
        if kind == "hostPath":
            source = volume["hostPath"]
            path = Path(str(source.get("path") or ""))
            await asyncio.to_thread(check_host_path, path, str(source.get("type") or ""))
            return PreparedVolume(path, read_only=False, creates_subpaths=True)
        if kind not in PLUGIN_DIRS:
            raise VolumeError(f"{kind or 'this'} volumes are not supported by this kubelet")
        target = self.volume_dir(uid, kind, name)
        fs_group = pod_fs_group(context.pod)
        if kind == "emptyDir":
            medium = str(volume["emptyDir"].get("medium") or "")
            if medium not in ("", "Memory"):
                raise VolumeError(f'unknown storage medium "{medium}"')
            size = tmpfs_size(context, volume["emptyDir"].get("sizeLimit")) if medium else None
            await asyncio.to_thread(_make_empty_dir, target, size, fs_group)
            return PreparedVolume(target, read_only=False, creates_subpaths=True)
        if kind in _IN_MEMORY:
            await asyncio.to_thread(mount_tmpfs, target, size_bytes=tmpfs_size(context, None))
        await self._write(context, target, volume)
        return PreparedVolume(target, read_only=True, creates_subpaths=False)

    async def _write(self, context: PayloadContext, target: Path, volume: dict[str, Any]) -> None:
        """Writes the volume's payload; with ``fsGroup`` the files stay group-readable and belong
        to the group (the mode is widened in the payload, so an unchanged payload is not rewritten)."""
        payload = await volume_payload(context, volume)
        if payload is None:
            return
        fs_group = pod_fs_group(context.pod)
        if fs_group is not None:
            payload = _group_readable(payload)
        if await asyncio.to_thread(write_atomically, target, payload):
            await asyncio.to_thread(set_volume_ownership, target, fs_group, read_only=True)

    async def refresh(self, context: PayloadContext) -> None:
        """Rewrites the API data volumes (changed ConfigMaps/Secrets, renewed tokens) in place."""
        pod = context.pod
        uid = str((pod.get("metadata") or {}).get("uid", ""))
        for volume in (pod.get("spec") or {}).get("volumes") or []:
            kind, name = _kind(volume), str(volume.get("name") or "")
            if kind not in _WRITTEN:
                continue
            try:
                await self._write(context, self.volume_dir(uid, kind, name), volume)
            except (VolumeError, PayloadError, OSError) as e:
                log.warning("pod %s: refresh of volume %s failed: %s", uid, name, e)

    async def cleanup(self, pod_uid: str) -> None:
        """Unmounts the pod's tmpfs volumes, then removes ``pods/<uid>`` (volume contents included;
        hostPath data is the host's and stays)."""
        if not pod_uid or "/" in pod_uid or pod_uid in (".", ".."):
            return
        await asyncio.to_thread(_remove_pod_dir, self.pod_dir(pod_uid))

    def orphaned_pods(self, known: set[str]) -> list[str]:
        """Uids with a directory under ``pods/`` that are not in ``known`` (upstream's
        ``cleanupOrphanedPodDirs`` finds them the same way after a restart)."""
        pods = self.root_dir / "pods"
        if not pods.is_dir():
            return []
        return sorted(p.name for p in pods.iterdir() if p.is_dir() and p.name not in known)


def _remove_pod_dir(pod_dir: Path) -> None:
    unmounted = unmount_all_under(pod_dir)
    if unmounted:
        log.info("unmounted %d volume(s) of %s", unmounted, pod_dir)
    shutil.rmtree(pod_dir, ignore_errors=True)


def _make_empty_dir(path: Path, size: int | None, fs_group: int | None) -> None:
    """0777 as upstream's emptyDir, so containers running as any user can write; a tmpfs when
    ``size`` says Memory (the tmpfs root gets the same mode)."""
    if size is not None:
        mount_tmpfs(path, size_bytes=size or None, mode=0o777)
    path.mkdir(parents=True, exist_ok=True)
    os.chmod(path, 0o777)
    set_volume_ownership(path, fs_group, read_only=False)


def _group_readable(payload: Payload) -> Payload:
    return {path: FileProjection(p.data, p.mode | RO_MASK) for path, p in payload.items()}


def _bytes(value: Any) -> int | None:
    if value in (None, ""):
        return None
    try:
        return parse_quantity(value).integer_value
    except QuantityError:
        return None


def pod_memory_limit(pod: dict[str, Any]) -> int | None:
    """The pod's memory limit as upstream's ``ResourceConfigForPod`` computes it: only when every
    container declares one — the larger of the regular containers' sum and the biggest init
    container's."""
    spec = pod.get("spec") or {}
    def limits(containers: list[dict[str, Any]]) -> list[int | None]:
        return [_bytes(((c.get("resources") or {}).get("limits") or {}).get("memory")) for c in containers]
    regular, init = limits(spec.get("containers") or []), limits(spec.get("initContainers") or [])
    if not regular or any(v is None for v in (*regular, *init)):
        return None
    return max(sum(v for v in regular if v), max((v for v in init if v), default=0))


def tmpfs_size(context: PayloadContext, size_limit: Any) -> int:
    """Upstream's ``calculateEmptyDirMemorySize``: the node's allocatable memory, lowered to the
    pod's memory limit and then to the volume's ``sizeLimit`` when those are positive and smaller;
    0 means the kernel's default (half the RAM) when nothing is known."""
    size = _bytes(context.allocatable.get("memory")) or 0
    for bound in (pod_memory_limit(context.pod), _bytes(size_limit)):
        if bound and bound > 0 and (size == 0 or bound <= size):
            size = bound
    return size


def _subpath_host(volume: PreparedVolume, sub_path: str, volume_name: str) -> Path:
    """``volume/sub_path``, which must stay inside the volume once symlinks are resolved
    (upstream's safe subpath check); made as a directory when missing on emptyDir/hostPath."""
    if Path(sub_path).is_absolute() or ".." in Path(sub_path).parts:
        raise VolumeError(f"invalid subpath {sub_path!r} for volume {volume_name!r}")
    host = volume.host_path / sub_path
    if not os.path.lexists(host) and volume.creates_subpaths:
        host.mkdir(parents=True, exist_ok=True)
    resolved, base = os.path.realpath(host), os.path.realpath(volume.host_path)
    if resolved != base and not resolved.startswith(base + os.sep):
        raise VolumeError(f"subpath {sub_path!r} of volume {volume_name!r} is outside the volume")
    return Path(resolved)


def container_mounts(container: dict[str, Any], volumes: Mapping[str, PreparedVolume],
                     env: Mapping[str, str]) -> tuple[Mount, ...]:
    """The runtime mounts of ``container``'s ``volumeMounts``; raises `VolumeError`."""
    mounts: list[Mount] = []
    for entry in container.get("volumeMounts") or []:
        name = str(entry.get("name") or "")
        volume = volumes.get(name)
        if volume is None:
            raise VolumeError(f'cannot find volume "{name}" to mount into container '
                              f'"{container.get("name", "")}"')
        sub_path = str(entry.get("subPath") or "")
        if entry.get("subPathExpr"):
            sub_path = expand_references(str(entry["subPathExpr"]), env)
        host = _subpath_host(volume, sub_path, name) if sub_path else volume.host_path
        mounts.append(Mount(container_path=str(entry.get("mountPath") or ""), host_path=str(host),
                            read_only=bool(entry.get("readOnly")) or volume.read_only))
    return tuple(mounts)
