"""``fsGroup``: a pod's volumes made group-owned by, and group-accessible to, the pod's fsGroup.

Upstream's ``volume.SetVolumeOwnership`` (pkg/volume/volume_linux.go), which emptyDir, configMap,
secret, downwardAPI and projected volumes call after setting up (hostPath never): every file and
directory below the volume gets group ``fsGroup`` (``lchown(path, -1, gid)``) and its mode ORed with
``rw-rw----`` (``r--r-----`` for the read-only API data volumes), directories also with the setgid
bit and ``--x--x---`` so files made later inherit the group; symlinks are not chmod-ed (that would
change their targets). A failing chown or chmod is logged and skipped, as upstream does. The
containers get ``fsGroup`` as a supplemental group (`kubelet.security_context`), which is what makes
the files reachable to a non-root ``runAsUser``.
"""

from __future__ import annotations

import logging
import os
import stat
from collections.abc import Iterator
from pathlib import Path
from typing import Any

log = logging.getLogger(__name__)

RW_MASK = 0o660
RO_MASK = 0o440
EXEC_MASK = 0o110


def pod_fs_group(pod: dict[str, Any]) -> int | None:
    """``spec.securityContext.fsGroup``, None when unset."""
    value = ((pod.get("spec") or {}).get("securityContext") or {}).get("fsGroup")
    return value if isinstance(value, int) and not isinstance(value, bool) else None


def _walk(root: Path) -> Iterator[str]:
    yield str(root)
    for directory, subdirs, files in os.walk(root):
        for name in (*subdirs, *files):
            yield os.path.join(directory, name)


def _change(path: str, fs_group: int, mask: int) -> None:
    try:
        os.lchown(path, -1, fs_group)
        info = os.lstat(path)
        if stat.S_ISLNK(info.st_mode):
            return
        wanted = mask | (stat.S_ISGID | EXEC_MASK if stat.S_ISDIR(info.st_mode) else 0)
        os.chmod(path, stat.S_IMODE(info.st_mode) | wanted)
    except OSError as e:
        log.warning("setting fsGroup %d on %s failed: %s", fs_group, path, e)


def set_volume_ownership(root: Path, fs_group: int | None, *, read_only: bool) -> None:
    """Gives everything below ``root`` (``root`` included) to ``fs_group``; nothing without one."""
    if fs_group is None or not root.is_dir():
        return
    mask = RO_MASK if read_only else RW_MASK
    for path in _walk(root):
        _change(path, fs_group, mask)
