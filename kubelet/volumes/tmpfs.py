"""Memory-backed volume directories: mounting a tmpfs on them, finding and removing such mounts.

Upstream's secret, projected and downwardAPI volumes are an emptyDir with ``medium: Memory``
underneath, so what a pod is given never touches the node's disk; ``emptyDir.medium: Memory`` is the
same tmpfs asked for directly. As upstream's emptyDir ``setupTmpfs`` this mounts ``tmpfs`` with
``size=`` the volume's limit and ``noswap`` where the kernel has it (6.4+: tmpfs pages are then never
written to swap either), and is idempotent: a directory that already is a tmpfs mount point is left
as it is, which is how a restarted kubelet keeps the mounts of the pods it adopts. We also mount
``nosuid,nodev`` (upstream does not): nothing a pod is handed needs setuid files or device nodes.

Mounting needs CAP_SYS_ADMIN (the kubelet runs as root); the calls are libc's ``mount``/``umount2``
through ctypes, blocking and quick, so callers run them off the event loop.
"""

from __future__ import annotations

import ctypes
import errno
import logging
import os
import re
import threading
from pathlib import Path

log = logging.getLogger(__name__)

MS_NOSUID = 0x2
MS_NODEV = 0x4
MNT_DETACH = 0x2
_MOUNTINFO = Path("/proc/self/mountinfo")
_OCTAL = re.compile(r"\\([0-7]{3})")

_libc = ctypes.CDLL(None, use_errno=True)
_noswap_lock = threading.Lock()
_noswap_supported: bool | None = None  # learnt from the first mount (the kernel cannot change)


class MountError(OSError):
    """mount(2)/umount2(2) failed; ``errno`` and the text say why."""


def _unescape(field: str) -> str:
    """mountinfo writes space, tab, newline and backslash as octal escapes (``\\040``)."""
    return _OCTAL.sub(lambda m: chr(int(m.group(1), 8)), field)


def mounts() -> dict[Path, str]:
    """Every mount point of this mount namespace → its filesystem type (``/proc/self/mountinfo``)."""
    found: dict[Path, str] = {}
    for line in _MOUNTINFO.read_text().splitlines():
        fields = line.split(" ")
        if "-" not in fields:
            continue
        separator = fields.index("-")
        found[Path(_unescape(fields[4]))] = fields[separator + 1]
    return found


def is_tmpfs_mount(path: Path) -> bool:
    return mounts().get(path.resolve()) == "tmpfs"


def mounts_under(base: Path) -> list[Path]:
    """Mount points strictly below ``base``, deepest first (the order to unmount them in)."""
    root = base.resolve()
    below = [p for p in mounts() if root in p.parents]
    return sorted(below, key=lambda p: len(p.parts), reverse=True)


def _mount(target: Path, options: str) -> int:
    result = _libc.mount(b"tmpfs", os.fsencode(target), b"tmpfs", ctypes.c_ulong(MS_NOSUID | MS_NODEV),
                         options.encode())
    return 0 if result == 0 else ctypes.get_errno()


def mount_tmpfs(target: Path, *, size_bytes: int | None, mode: int = 0o777) -> bool:
    """A tmpfs on ``target`` (made if missing) unless it already has one; answers whether it mounted.
    Raises `MountError`."""
    global _noswap_supported
    target.mkdir(parents=True, exist_ok=True)
    if is_tmpfs_mount(target):
        return False
    options = f"mode={mode:o}" + (f",size={size_bytes}" if size_bytes else "")
    with _noswap_lock:
        code = errno.EINVAL
        if _noswap_supported is not False:
            code = _mount(target, options + ",noswap")
            if _noswap_supported is None:  # before 6.4 the kernel refuses the option with EINVAL
                _noswap_supported = code != errno.EINVAL
        if not _noswap_supported:
            code = _mount(target, options)
    if code != 0:
        raise MountError(code, f"mount -t tmpfs -o {options} tmpfs {target}: {os.strerror(code)}")
    log.debug("mounted tmpfs (%s) on %s", options, target)
    return True


def unmount(target: Path) -> None:
    """Unmounts ``target``; a busy mount is detached (the kernel frees it once unused); a path that is
    no mount point is fine. Raises `MountError` otherwise."""
    code = 0 if _libc.umount2(os.fsencode(target), 0) == 0 else ctypes.get_errno()
    if code == errno.EBUSY:
        code = 0 if _libc.umount2(os.fsencode(target), MNT_DETACH) == 0 else ctypes.get_errno()
    if code not in (0, errno.EINVAL, errno.ENOENT):
        raise MountError(code, f"umount {target}: {os.strerror(code)}")


def unmount_all_under(base: Path) -> int:
    """Unmounts every mount below ``base`` (deepest first); answers how many there were."""
    found = mounts_under(base) if base.exists() else []
    for mount_point in found:
        unmount(mount_point)
    return len(found)
