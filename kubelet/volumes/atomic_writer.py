"""Writes a volume's files so a container never sees half of an update.

Upstream's ``AtomicWriter`` (pkg/volume/util/atomic_writer.go), which configMap, secret,
downwardAPI and projected volumes share: the payload goes into a fresh hidden directory
``..<timestamp>``, then the symlink ``..data`` is swapped to it by a rename (atomic on one
filesystem), and each top-level name of the payload is a symlink ``name -> ..data/name``. A
refresh with new contents therefore changes every file at once, in place for running containers
(they mount the volume directory, not the files); an unchanged payload writes nothing. The old
timestamped directory and names gone from the payload are removed afterwards.
"""

from __future__ import annotations

import logging
import os
import shutil
import tempfile
import time
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path, PurePosixPath

log = logging.getLogger(__name__)

DATA_DIR = "..data"
_DATA_TMP = "..data_tmp"
_MAX_PATH = 4096
_MAX_NAME = 255


class PayloadError(ValueError):
    """A payload path the writer refuses (upstream ``validatePath`` messages)."""


@dataclass(frozen=True, slots=True)
class FileProjection:
    data: bytes
    mode: int = 0o644


def validate_path(path: str) -> None:
    """Relative, no ``..`` element, not starting with ``..`` (the writer's own names), bounded."""
    if not path:
        raise PayloadError("invalid path: must not be empty")
    if len(path) > _MAX_PATH:
        raise PayloadError(f"invalid path: must be less than or equal to {_MAX_PATH} characters")
    if PurePosixPath(path).is_absolute():
        raise PayloadError(f"invalid path: must be relative path: {path}")
    parts = path.split("/")
    if any(len(part) > _MAX_NAME for part in parts):
        raise PayloadError(f"invalid path: must not contain a component longer than {_MAX_NAME} characters")
    if ".." in parts:
        raise PayloadError(f"invalid path: must not contain '..': {path}")
    if path.startswith(".."):
        raise PayloadError(f"invalid path: must not start with '..': {path}")


def _clean(payload: Mapping[str, FileProjection]) -> dict[str, FileProjection]:
    cleaned: dict[str, FileProjection] = {}
    for path, projection in payload.items():
        validate_path(path)
        cleaned[str(PurePosixPath(path))] = projection
    return cleaned


def _current_dir(target: Path) -> Path | None:
    try:
        return target / os.readlink(target / DATA_DIR)
    except OSError:
        return None


def _unchanged(current: Path | None, payload: Mapping[str, FileProjection]) -> bool:
    if current is None or not current.is_dir():
        return False
    existing = {str(p.relative_to(current)) for p in current.rglob("*") if p.is_file()}
    if existing != set(payload):
        return False
    for path, projection in payload.items():
        file = current / path
        if file.read_bytes() != projection.data or (file.stat().st_mode & 0o7777) != projection.mode:
            return False
    return True


def _write_payload(directory: Path, payload: Mapping[str, FileProjection]) -> None:
    for path, projection in payload.items():
        file = directory / path
        file.parent.mkdir(parents=True, exist_ok=True, mode=0o755)
        file.write_bytes(projection.data)
        os.chmod(file, projection.mode)  # explicit: the umask must not narrow a defaultMode


def _top_level(payload: Mapping[str, FileProjection]) -> set[str]:
    return {path.split("/", 1)[0] for path in payload}


def write_atomically(target: Path, payload: Mapping[str, FileProjection]) -> bool:
    """Makes ``target`` show exactly ``payload``; answers whether anything was written."""
    cleaned = _clean(payload)
    target.mkdir(parents=True, exist_ok=True)
    old = _current_dir(target)
    if _unchanged(old, cleaned):
        return False
    stamp = time.strftime("..%Y_%m_%d_%H_%M_%S.", time.gmtime())
    fresh = Path(tempfile.mkdtemp(prefix=stamp, dir=target))
    os.chmod(fresh, 0o755)
    _write_payload(fresh, cleaned)
    tmp_link = target / _DATA_TMP
    tmp_link.unlink(missing_ok=True)
    os.symlink(fresh.name, tmp_link)
    os.rename(tmp_link, target / DATA_DIR)  # the atomic moment
    wanted = _top_level(cleaned)
    for name in sorted(wanted):
        link = target / name
        if not link.is_symlink():
            os.symlink(f"{DATA_DIR}/{name}", link)
    if old is not None and old != fresh:
        shutil.rmtree(old, ignore_errors=True)
    old_names = set() if old is None else {p.name for p in target.iterdir()
                                           if p.is_symlink() and not p.name.startswith("..")}
    for name in old_names - wanted:
        (target / name).unlink(missing_ok=True)
    log.debug("wrote %d file(s) to %s", len(cleaned), target)
    return True
