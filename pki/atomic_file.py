"""Write a file so that a reader sees the old content or the new one, never half of either.

Certificates, keys, token files and kubeconfigs are read by processes that may start at any
moment (a kubectl in another shell, a restarting server), and secrets must never exist, even
for an instant, with a mode wider than 0600. So every write goes to a temporary file created
with the final mode in the same directory, is flushed to disk, and is renamed over the target.
"""

from __future__ import annotations

import contextlib
import os
import tempfile
from pathlib import Path

SECRET_MODE = 0o600
PUBLIC_MODE = 0o644


def write_atomically(path: Path, data: bytes, *, mode: int) -> None:
    """Replaces ``path`` with ``data``; the file has ``mode`` from its first byte on."""
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp_name = tempfile.mkstemp(prefix=f".{path.name}.", dir=path.parent)
    try:
        with os.fdopen(fd, "wb") as tmp:
            # mkstemp creates 0600; set the final mode before any byte is written.
            os.fchmod(tmp.fileno(), mode)
            tmp.write(data)
            tmp.flush()
            os.fsync(tmp.fileno())
        os.replace(tmp_name, path)
    except BaseException:
        with contextlib.suppress(FileNotFoundError):
            os.unlink(tmp_name)
        raise


def write_secret(path: Path, data: bytes) -> None:
    """A private key, token file or kubeconfig with embedded credentials: owner-only."""
    write_atomically(path, data, mode=SECRET_MODE)


def write_public(path: Path, data: bytes) -> None:
    """A certificate or public key: world-readable, as upstream's local-up-cluster leaves them."""
    write_atomically(path, data, mode=PUBLIC_MODE)


def read_optional(path: Path) -> bytes | None:
    """The file's bytes, or None when it does not exist (or cannot be read)."""
    try:
        return path.read_bytes()
    except (FileNotFoundError, IsADirectoryError, PermissionError):
        return None
