"""A pod's volumes on the node: made before its containers start, refreshed, removed with the pod.

Upstream's volume manager + plugins in small. Every volume of a pod lives under
``<root_dir>/pods/<uid>/volumes/<plugin>/<name>`` with upstream's plugin directory names
(``kubernetes.io~empty-dir``, ``~configmap``, ``~secret``, ``~downward-api``, ``~projected``), so
the layout reads the same on disk. emptyDir is a plain directory (also for ``medium: Memory``:
no tmpfs is mounted here); hostPath is the host's own path after the type check; configMap,
secret, downwardAPI and projected volumes are written by the `atomic_writer` and are mounted
read-only, as upstream does for API data volumes since 1.10. `container_mounts` turns a
container's ``volumeMounts`` (``subPath``/``subPathExpr``, ``readOnly``) into runtime mounts.
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

from kubelet.container_env import expand_references
from kubelet.runtime import Mount
from kubelet.volumes.atomic_writer import PayloadError, write_atomically
from kubelet.volumes.host_path import check_host_path
from kubelet.volumes.payloads import PayloadContext, VolumeError, volume_payload

log = logging.getLogger(__name__)

PLUGIN_DIRS = {"emptyDir": "kubernetes.io~empty-dir", "configMap": "kubernetes.io~configmap",
               "secret": "kubernetes.io~secret", "downwardAPI": "kubernetes.io~downward-api",
               "projected": "kubernetes.io~projected"}
_WRITTEN = frozenset({"configMap", "secret", "downwardAPI", "projected"})


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
        if kind == "emptyDir":
            # 0777 as upstream's emptyDir, so containers running as any user can write.
            await asyncio.to_thread(_make_shared_dir, target)
            return PreparedVolume(target, read_only=False, creates_subpaths=True)
        payload = await volume_payload(context, volume)
        if payload is not None:
            await asyncio.to_thread(write_atomically, target, payload)
        return PreparedVolume(target, read_only=True, creates_subpaths=False)

    async def refresh(self, context: PayloadContext) -> None:
        """Rewrites the API data volumes (changed ConfigMaps/Secrets, renewed tokens) in place."""
        pod = context.pod
        uid = str((pod.get("metadata") or {}).get("uid", ""))
        for volume in (pod.get("spec") or {}).get("volumes") or []:
            kind, name = _kind(volume), str(volume.get("name") or "")
            if kind not in _WRITTEN:
                continue
            try:
                payload = await volume_payload(context, volume)
                if payload is not None:
                    await asyncio.to_thread(write_atomically, self.volume_dir(uid, kind, name), payload)
            except (VolumeError, PayloadError, OSError) as e:
                log.warning("pod %s: refresh of volume %s failed: %s", uid, name, e)

    async def cleanup(self, pod_uid: str) -> None:
        """Removes ``pods/<uid>`` (volume contents included; hostPath data is the host's and stays)."""
        if not pod_uid or "/" in pod_uid or pod_uid in (".", ".."):
            return
        await asyncio.to_thread(shutil.rmtree, self.pod_dir(pod_uid), True)


def _make_shared_dir(path: Path) -> None:
    path.mkdir(parents=True, exist_ok=True)
    os.chmod(path, 0o777)


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
