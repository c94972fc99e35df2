"""The runtime's state on disk under ``--root``: one JSON record per sandbox and per container.

A restarted runtime rebuilds everything it knows from these files (and the shims' pid/exit files),
so VMs survive a runtime restart the way containerd's containers do. Layout::

    ROOT/sandboxes/<id>.json            (with the sandbox's network namespace and pod IP)
    ROOT/containers/<id>/record.json   overlay.qcow2  initrd.img  qmp.sock  qemu.pid  exit.json  shim.pid

Records are written atomically (temp file + rename); a record that cannot be read is reported and
its VM cleaned up by the caller.
"""

from __future__ import annotations

import hashlib
import json
import logging
import os
import shutil
from dataclasses import asdict, dataclass, field, fields
from pathlib import Path
from typing import Any, Literal

log = logging.getLogger(__name__)

RecordedState = Literal["created", "running", "exited"]


@dataclass(slots=True)
class SandboxRecord:
    id: str
    name: str
    uid: str
    namespace: str
    attempt: int
    created_at: int  # ns since the epoch, as the CRI reports times
    log_directory: str
    hostname: str = ""
    runtime_handler: str = ""
    ready: bool = True
    labels: dict[str, str] = field(default_factory=dict)
    annotations: dict[str, str] = field(default_factory=dict)
    # The pod network (`vmruntime.podnet`): the namespace while it exists ("" once torn down), the
    # address the CNI ADD gave (kept after teardown, as containerd keeps a stopped sandbox's IP),
    # the MAC the guest takes over, and the ADD's result (the DEL's prevResult).
    netns: str = ""
    pod_ip: str = ""
    pod_prefix_length: int = 0
    pod_gateway: str = ""
    guest_mac: str = ""
    cni_result: dict[str, Any] = field(default_factory=dict)


@dataclass(slots=True)
class ContainerRecord:
    id: str
    sandbox_id: str
    name: str
    attempt: int
    image: str  # as the kubelet asked for it
    image_ref: str  # the store's image id
    log_path: str  # absolute
    created_at: int
    vcpus: int
    memory_mib: int
    state: RecordedState = "created"
    started_at: int = 0
    finished_at: int = 0
    exit_code: int = 0
    reason: str = ""
    message: str = ""
    shim_pid: int = 0
    launches: int = 0  # qemu starts (first start + power-on after a shutdown)
    suspended: bool = False
    stop_requested: bool = False
    snapshots: list[str] = field(default_factory=list)
    labels: dict[str, str] = field(default_factory=dict)
    annotations: dict[str, str] = field(default_factory=dict)


def _load(cls: type[Any], path: Path) -> Any:
    data = json.loads(path.read_text())
    known = {f.name for f in fields(cls)}
    return cls(**{k: v for k, v in data.items() if k in known})


def _save(record: object, path: Path) -> None:
    partial = path.with_suffix(".partial")
    partial.write_text(json.dumps(asdict(record), indent=1))  # type: ignore[call-overload]
    os.replace(partial, path)


def short_socket_dir(root: Path) -> Path:
    """``/run/arktos-vm/<digest of root>``: short, private to one runtime root, gone on reboot."""
    base = Path("/run") if os.access("/run", os.W_OK) else Path("/tmp")
    digest = hashlib.sha256(str(root.resolve()).encode()).hexdigest()[:12]
    return base / "arktos-vm" / digest


class RecordStore:
    """Reads and writes records; knows where each container's files live."""

    def __init__(self, root: Path) -> None:
        self.root = root
        self.sandbox_dir = root / "sandboxes"
        self.container_root = root / "containers"
        self.sandbox_dir.mkdir(parents=True, exist_ok=True)
        self.container_root.mkdir(parents=True, exist_ok=True)
        self.socket_dir = short_socket_dir(root)
        self.socket_dir.mkdir(parents=True, exist_ok=True, mode=0o700)

    def qmp_socket(self, container_id: str) -> Path:
        """A container's QMP socket: in `socket_dir`, since unix socket paths are limited to
        107 bytes and ``root`` may be deep (a test's temp directory)."""
        return self.socket_dir / f"{container_id[:24]}.qmp"

    def container_dir(self, container_id: str) -> Path:
        return self.container_root / container_id

    def save_sandbox(self, record: SandboxRecord) -> None:
        _save(record, self.sandbox_dir / f"{record.id}.json")

    def save_container(self, record: ContainerRecord) -> None:
        directory = self.container_dir(record.id)
        directory.mkdir(parents=True, exist_ok=True)
        _save(record, directory / "record.json")

    def delete_sandbox(self, sandbox_id: str) -> None:
        (self.sandbox_dir / f"{sandbox_id}.json").unlink(missing_ok=True)

    def delete_container(self, container_id: str) -> None:
        shutil.rmtree(self.container_dir(container_id), ignore_errors=True)

    def load_sandboxes(self) -> list[SandboxRecord]:
        records = []
        for path in sorted(self.sandbox_dir.glob("*.json")):
            try:
                records.append(_load(SandboxRecord, path))
            except (OSError, ValueError, TypeError) as e:
                log.warning("dropping unreadable sandbox record %s: %s", path, e)
                path.unlink(missing_ok=True)
        return records

    def load_containers(self) -> tuple[list[ContainerRecord], list[Path]]:
        """The readable records, and the directories of unreadable ones (their VMs are to be killed)."""
        records: list[ContainerRecord] = []
        broken: list[Path] = []
        for directory in sorted(p for p in self.container_root.iterdir() if p.is_dir()):
            try:
                records.append(_load(ContainerRecord, directory / "record.json"))
            except (OSError, ValueError, TypeError) as e:
                log.warning("unreadable container record in %s: %s", directory, e)
                broken.append(directory)
        return records, broken
