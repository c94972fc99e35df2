"""Writes Linux initramfs archives (cpio ``newc``, gzip) from Python.

The guests boot a Debian kernel with a busybox initramfs; each VM additionally gets a small second
archive holding its own configuration (hostname, public key, user data). The kernel unpacks
concatenated compressed archives in order, later files overriding earlier ones, so a per-VM initrd is
simply ``image initrd + config archive`` — no rebuilding of the image and no config drive needed.
The format is the kernel's ``Documentation/driver-api/early-userspace/buffer-format.rst``.
"""

from __future__ import annotations

import gzip
import stat
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path

_MAGIC = b"070701"
_TRAILER = "TRAILER!!!"


@dataclass(frozen=True, slots=True)
class Entry:
    """One archive member: a directory (``data`` None, ``mode`` dir), a file or a symlink (``link``)."""

    path: str
    mode: int
    data: bytes = b""
    link: str = ""


def directory(path: str, perm: int = 0o755) -> Entry:
    return Entry(path, stat.S_IFDIR | perm)


def regular_file(path: str, data: bytes, perm: int = 0o644) -> Entry:
    return Entry(path, stat.S_IFREG | perm, data)


def symlink(path: str, target: str) -> Entry:
    return Entry(path, stat.S_IFLNK | 0o777, link=target)


def _pad4(length: int) -> bytes:
    return b"\0" * ((4 - length % 4) % 4)


def _header(inode: int, mode: int, size: int, name_size: int) -> bytes:
    # ino mode uid gid nlink mtime filesize devmajor devminor rdevmajor rdevminor namesize check
    fields = (inode, mode, 0, 0, 1, 0, size, 0, 0, 0, 0, name_size, 0)
    return _MAGIC + b"".join(f"{value:08X}".encode() for value in fields)


def newc_archive(entries: Iterable[Entry]) -> bytes:
    """An uncompressed ``newc`` archive of ``entries`` (root-owned, mtime 0: reproducible)."""
    out = bytearray()
    inode = 1
    for entry in [*entries, Entry(_TRAILER, 0)]:
        name = entry.path.lstrip("/").encode() + b"\0"
        body = entry.link.encode() if stat.S_ISLNK(entry.mode) else entry.data
        header = _header(0 if entry.path == _TRAILER else inode, entry.mode, len(body), len(name))
        out += header + name + _pad4(len(header) + len(name))
        out += body + _pad4(len(body))
        inode += 1
    return bytes(out)


def gzip_archive(entries: Iterable[Entry]) -> bytes:
    return gzip.compress(newc_archive(entries), compresslevel=6, mtime=0)


def entries_from_tree(root: Path) -> list[Entry]:
    """Every file, directory and symlink below ``root`` (sorted, so parents precede children)."""
    entries: list[Entry] = []
    for path in sorted(root.rglob("*")):
        relative = str(path.relative_to(root))
        info = path.lstat()
        if stat.S_ISLNK(info.st_mode):
            entries.append(symlink(relative, str(path.readlink())))
        elif stat.S_ISDIR(info.st_mode):
            entries.append(directory(relative, stat.S_IMODE(info.st_mode)))
        elif stat.S_ISREG(info.st_mode):
            entries.append(regular_file(relative, path.read_bytes(), stat.S_IMODE(info.st_mode)))
    return entries
