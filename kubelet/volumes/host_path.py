"""``hostPath`` volumes: the node's own path, checked against the declared ``type`` first.

Nothing is copied: the container bind-mounts the host path itself. What upstream's hostPath
plugin adds is the type check (``checkType`` in pkg/volume/hostpath): ``DirectoryOrCreate`` and
``FileOrCreate`` make what is missing (0755 directory, 0644 empty file), the other types require
the path to exist as that kind of file, and the empty type checks nothing. The error texts are
upstream's, so ``MountVolume.SetUp failed for volume ...`` events read the same.
"""

from __future__ import annotations

import os
import stat
from collections.abc import Callable
from pathlib import Path

from kubelet.volumes.payloads import VolumeError

_KINDS: dict[str, tuple[Callable[[int], bool], str]] = {
    "Directory": (stat.S_ISDIR, "a directory"),
    "File": (stat.S_ISREG, "a file"),
    "Socket": (stat.S_ISSOCK, "a socket file"),
    "CharDevice": (stat.S_ISCHR, "a character device"),
    "BlockDevice": (stat.S_ISBLK, "a block device"),
}


def _is(path: Path, test: Callable[[int], bool]) -> bool:
    try:
        return test(os.stat(path).st_mode)
    except OSError:
        return False


def check_host_path(path: Path, host_type: str) -> None:
    """Raises `VolumeError` when ``path`` is not what ``host_type`` demands (creating it for the
    ``...OrCreate`` types)."""
    if host_type == "":
        return
    if host_type == "DirectoryOrCreate":
        if not path.exists():
            path.mkdir(mode=0o755, parents=True)
            return
        host_type = "Directory"
    elif host_type == "FileOrCreate":
        if not path.exists():
            try:
                fd = os.open(path, os.O_CREAT | os.O_WRONLY, 0o644)
            except OSError as e:
                raise VolumeError(f"hostPath type check failed: {e}") from e
            os.close(fd)
            return
        host_type = "File"
    if host_type not in _KINDS:
        raise VolumeError(f"{host_type} is an invalid volume type")
    test, what = _KINDS[host_type]
    if not _is(path, test):
        raise VolumeError(f"hostPath type check failed: {path} is not {what}")
