"""VM lifecycle: launching qemu through a shim, watching it end, and the power/reboot/snapshot verbs.

Each container record owns one directory (`vmruntime.records`). Launching writes the VM's initrd
(image initrd + its `vmruntime.guest` config archive) and qcow2 overlay once, then starts
``python -m vmruntime.shim`` in a new session. The VM's state is read, not remembered: running while
the shim lives, exited with the code in ``exit.json`` once qemu ended. Pausing keeps the CRI state
RUNNING (the qemu process lives); the record's ``reason`` says ``Paused``/``Suspended``.

Snapshots are qemu internal snapshots (HMP ``savevm``/``loadvm``) in the VM's qcow2 overlay: RAM,
device state and disk together, so a restore returns the running guest to exactly the snapshot's
state (its heartbeat count and boot counter rewind). Every QMP use of one VM is serialized by a lock
(qemu's QMP socket serves one client at a time).
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import os
import re
import signal
import subprocess
import sys
import time
from pathlib import Path

from vmruntime import qmp
from vmruntime.guest import GuestConfig, GuestNic, config_archive
from vmruntime.images import VmImage
from vmruntime.qemu import VmSize, create_overlay, qemu_command
from vmruntime.records import ContainerRecord, RecordStore
from vmruntime.shim import EXIT_FILE, QEMU_PID_FILE

log = logging.getLogger(__name__)

POLL_S = 0.1
UNKNOWN_EXIT = 255
_SNAPSHOT_ID = re.compile(r"[^A-Za-z0-9._-]")


class MachineError(RuntimeError):
    """An operation on a VM failed (qemu refused it, or the VM is not in a state that allows it)."""


def now_ns() -> int:
    return time.time_ns()


def _cmdline(pid: int) -> str:
    try:
        return Path(f"/proc/{pid}/cmdline").read_bytes().replace(b"\0", b" ").decode(errors="replace")
    except OSError:
        return ""


class Machines:
    """Runs the VMs of a `RecordStore`; one instance per runtime process."""

    def __init__(self, store: RecordStore) -> None:
        self.store = store
        self._children: dict[str, subprocess.Popen[bytes]] = {}
        self._locks: dict[str, asyncio.Lock] = {}

    def lock(self, container_id: str) -> asyncio.Lock:
        return self._locks.setdefault(container_id, asyncio.Lock())

    def paths(self, container_id: str) -> dict[str, Path]:
        directory = self.store.container_dir(container_id)
        paths = {name: directory / file for name, file in (
            ("overlay", "overlay.qcow2"), ("initrd", "initrd.img"),
            ("exit", EXIT_FILE), ("qemu_pid", QEMU_PID_FILE))}
        paths["qmp"] = self.store.qmp_socket(container_id)
        return paths

    # -- launching ----------------------------------------------------------------------------------

    def prepare(self, record: ContainerRecord, image: VmImage, guest: GuestConfig) -> None:
        """Write the VM's initrd and overlay disk (blocking: call in a thread)."""
        paths = self.paths(record.id)
        paths["initrd"].parent.mkdir(parents=True, exist_ok=True)
        paths["initrd"].write_bytes(image.initrd.read_bytes() + config_archive(guest))
        create_overlay(image.disk, paths["overlay"])

    def launch(self, record: ContainerRecord, image: VmImage, nic: GuestNic | None = None,
               hostname: str = "") -> None:
        """Start the shim (and so qemu, on the pod network when ``nic`` is given); updates ``record``
        (the caller saves it)."""
        paths = self.paths(record.id)
        paths["exit"].unlink(missing_ok=True)
        paths["qmp"].unlink(missing_ok=True)
        command = qemu_command(name=record.name, size=VmSize(record.vcpus, record.memory_mib),
                               kernel=image.kernel, initrd=paths["initrd"], disk=paths["overlay"],
                               qmp_socket=paths["qmp"], nic=nic, hostname=hostname)
        shim_log = (self.store.container_dir(record.id) / "shim.log").open("ab")
        with shim_log:
            child = subprocess.Popen(
                [sys.executable, "-m", "vmruntime.shim", "--log", record.log_path,
                 "--state-dir", str(self.store.container_dir(record.id)), "--", *command],
                stdin=subprocess.DEVNULL, stdout=shim_log, stderr=shim_log, start_new_session=True,
                cwd=str(Path(__file__).resolve().parent.parent))
        self._children[record.id] = child
        record.shim_pid = child.pid
        record.state = "running"
        record.started_at = now_ns()
        record.finished_at = 0
        record.exit_code = 0
        record.reason = record.message = ""
        record.suspended = record.stop_requested = False
        record.launches += 1

    # -- observing ----------------------------------------------------------------------------------

    def shim_alive(self, record: ContainerRecord) -> bool:
        child = self._children.get(record.id)
        if child is not None:
            return child.poll() is None
        if record.shim_pid <= 0:
            return False
        return str(self.store.container_dir(record.id)) in _cmdline(record.shim_pid)

    def qemu_pid(self, record: ContainerRecord) -> int:
        try:
            return int(self.paths(record.id)["qemu_pid"].read_text())
        except (OSError, ValueError):
            return 0

    def refresh(self, record: ContainerRecord) -> bool:
        """Fold a VM that ended into its record; True when the record changed (caller saves it)."""
        if record.state != "running" or self.shim_alive(record):
            return False
        self._children.pop(record.id, None)
        try:
            ended = json.loads(self.paths(record.id)["exit"].read_text())
            record.exit_code = int(ended["exit_code"])
            record.finished_at = int(float(ended["finished_at"]) * 1e9)
        except (OSError, ValueError, KeyError):
            record.exit_code, record.finished_at = UNKNOWN_EXIT, now_ns()
            record.message = "the VM's shim ended without recording qemu's exit"
        record.state = "exited"
        record.suspended = False
        if record.stop_requested:
            record.reason = "Stopped" if record.exit_code == 0 else "Killed"
        else:
            record.reason = "Completed" if record.exit_code == 0 else "Error"
        return True

    async def live_status(self, record: ContainerRecord) -> str:
        """qemu's own run state (QMP ``query-status``: running, paused, ...), for verbose status."""
        if record.state != "running":
            return "not running"
        async with self.lock(record.id):
            try:
                results = await qmp.run_commands(self.paths(record.id)["qmp"], ("query-status", None),
                                                 timeout_s=5)
            except qmp.QmpError as e:
                return f"unknown ({e})"
        return str(results[0].get("status", "unknown"))

    # -- power --------------------------------------------------------------------------------------

    async def _qmp(self, record: ContainerRecord, *commands: tuple[str, dict[str, object] | None]) -> None:
        if record.state != "running" or not self.shim_alive(record):
            raise MachineError(f"VM {record.id} is not running")
        try:
            await qmp.run_commands(self.paths(record.id)["qmp"], *commands)
        except qmp.QmpError as e:
            raise MachineError(str(e)) from e

    async def pause(self, record: ContainerRecord, *, suspended: bool = False) -> None:
        await self._qmp(record, ("stop", None))
        record.suspended = suspended
        record.reason = "Suspended" if suspended else "Paused"

    async def resume(self, record: ContainerRecord) -> None:
        await self._qmp(record, ("cont", None))
        record.suspended = False
        record.reason = ""

    async def reboot(self, record: ContainerRecord) -> None:
        """A hardware reset (QMP ``system_reset``), then running even if it was paused."""
        await self._qmp(record, ("system_reset", None), ("cont", None))
        record.suspended = False
        record.reason = ""

    async def stop(self, record: ContainerRecord, *, timeout_s: float) -> None:
        """Graceful power-off (Ctrl-Alt-Del: the guest's init powers off, qemu exits 0) within
        ``timeout_s``, then SIGKILL for qemu — the CRI's StopContainer contract, with the key press
        standing for SIGTERM."""
        if record.state != "running":
            return
        record.stop_requested = True
        if timeout_s > 0 and self.shim_alive(record):
            try:
                await self._qmp(record, ("cont", None), ("send-key", {"keys": [
                    {"type": "qcode", "data": "ctrl"}, {"type": "qcode", "data": "alt"},
                    {"type": "qcode", "data": "delete"}]}))
            except MachineError as e:
                log.info("graceful power-off of %s not possible: %s", record.id, e)
            if await self._wait_shim(record, timeout_s):
                return
        for pid in (self.qemu_pid(record), record.shim_pid):
            if pid > 0 and str(self.store.container_dir(record.id)) in _cmdline(pid):
                with contextlib.suppress(ProcessLookupError):
                    os.kill(pid, signal.SIGKILL if pid != record.shim_pid else signal.SIGTERM)
                break  # killing qemu makes the shim record the exit and end
        if not await self._wait_shim(record, 10):
            with contextlib.suppress(ProcessLookupError):
                os.kill(record.shim_pid, signal.SIGKILL)
            await self._wait_shim(record, 5)

    async def _wait_shim(self, record: ContainerRecord, timeout_s: float) -> bool:
        deadline = time.monotonic() + timeout_s
        while self.shim_alive(record):
            if time.monotonic() >= deadline:
                return False
            await asyncio.sleep(POLL_S)
        return True

    # -- snapshots ----------------------------------------------------------------------------------

    async def snapshot(self, record: ContainerRecord, name: str) -> str:
        snapshot_id = _SNAPSHOT_ID.sub("-", name)[:64] or f"snap-{int(time.time())}"
        await self._human(record, f"savevm {snapshot_id}")
        if snapshot_id not in record.snapshots:
            record.snapshots.append(snapshot_id)
        return snapshot_id

    async def restore(self, record: ContainerRecord, snapshot_id: str) -> None:
        if snapshot_id not in record.snapshots:
            raise MachineError(f"VM {record.id} has no snapshot {snapshot_id!r}")
        await self._human(record, f"loadvm {snapshot_id}")

    async def _human(self, record: ContainerRecord, command_line: str) -> None:
        if record.state != "running" or not self.shim_alive(record):
            raise MachineError(f"VM {record.id} is not running")
        try:
            output = await qmp.run_human(self.paths(record.id)["qmp"], command_line)
        except qmp.QmpError as e:
            raise MachineError(str(e)) from e
        if output.strip():
            raise MachineError(f"{command_line}: {output.strip()}")

    # -- clean-up -----------------------------------------------------------------------------------

    async def destroy(self, record: ContainerRecord) -> None:
        """Kill the VM if it runs and delete its directory."""
        await self.stop(record, timeout_s=0)
        self._children.pop(record.id, None)
        self._locks.pop(record.id, None)
        self.store.qmp_socket(record.id).unlink(missing_ok=True)
        await asyncio.to_thread(self.store.delete_container, record.id)

    def kill_orphans(self, known: set[str]) -> list[int]:
        """Kill shims and qemus running from our container directory that no record owns (a
        record deleted by hand, a crash between launch and save); returns their pids."""
        root = str(self.store.container_root) + "/"
        killed = []
        for entry in Path("/proc").iterdir():
            if not entry.name.isdigit() or int(entry.name) == os.getpid():
                continue
            cmdline = _cmdline(int(entry.name))
            if root not in cmdline:
                continue
            owner = cmdline.split(root, 1)[1].split("/", 1)[0].split(" ", 1)[0]
            if owner not in known:
                with contextlib.suppress(ProcessLookupError):
                    os.kill(int(entry.name), signal.SIGKILL)
                killed.append(int(entry.name))
        return killed
