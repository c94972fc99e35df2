"""What the runtime knows: its sandboxes and VM containers, loaded from disk and kept in step with it.

The gRPC servicers share one `Inventory`. It answers lookups (raising `UnknownObject` for an id it
does not have, which the servicers turn into ``NOT_FOUND`` as containerd does), persists every
change, and at start-up re-adopts what a previous runtime process left: records are read back, VMs
whose shim still runs stay running, VMs that ended meanwhile become exited with their exit code,
containers of a vanished sandbox and unreadable records are cleaned up, and stray qemu/shim
processes under our root that no record owns are killed.
"""

from __future__ import annotations

import asyncio
import base64
import binascii
import logging
import shutil
from pathlib import Path

from cri import vm_annotations
from vmruntime.guest import GuestConfig
from vmruntime.images import ImageStore
from vmruntime.machines import Machines
from vmruntime.records import ContainerRecord, RecordStore, SandboxRecord

log = logging.getLogger(__name__)

MAX_SOCKET_PATH = 107  # sun_path
MAX_USER_DATA = 65535  # ARKTOS.md §4: userData is at most 65535 bytes


class UnknownObject(LookupError):
    """No sandbox, container or image with that id/name."""


class InvalidRequest(ValueError):
    """The request cannot be carried out as given (bad user data, wrong state, ...)."""


def power_state(record: ContainerRecord) -> str:
    """Arktos's VM power states: running | paused | suspended | shutdown | crashed | nostate."""
    if record.state == "created":
        return "nostate"
    if record.state == "exited":
        return "shutdown" if record.exit_code == 0 else "crashed"
    if record.suspended:
        return "suspended"
    return "paused" if record.reason == vm_annotations.REASON_PAUSED else "running"


def guest_config(name: str, hostname: str, settings: dict[str, str]) -> GuestConfig:
    """The guest's settings from the container's annotations (`cri.vm_annotations`)."""
    encoded = settings.get(vm_annotations.USER_DATA, "")
    try:
        user_data = base64.b64decode(encoded, validate=True) if encoded else b""
    except (binascii.Error, ValueError) as e:
        raise InvalidRequest(f"userData is not valid base64: {e}") from e
    if len(user_data) > MAX_USER_DATA:
        raise InvalidRequest(f"userData is {len(user_data)} bytes; at most {MAX_USER_DATA} are allowed")
    return GuestConfig(vm_name=name, hostname=hostname,
                       public_key=settings.get(vm_annotations.PUBLIC_KEY, ""),
                       key_pair_name=settings.get(vm_annotations.KEY_PAIR_NAME, ""),
                       user_data=user_data,
                       cloud_init_script=settings.get(vm_annotations.CLOUD_INIT_SCRIPT, ""))


class Inventory:
    def __init__(self, root: Path, images: ImageStore) -> None:
        self.store = RecordStore(root)
        self.images = images
        self.machines = Machines(self.store)
        self.sandboxes: dict[str, SandboxRecord] = {}
        self.containers: dict[str, ContainerRecord] = {}
        probe = self.store.qmp_socket("0" * 64)
        if len(str(probe)) > MAX_SOCKET_PATH:
            raise InvalidRequest(f"--root {root} is too long for the VMs' QMP socket paths")

    # -- start-up -----------------------------------------------------------------------------------

    async def adopt(self) -> None:
        self.sandboxes = {s.id: s for s in self.store.load_sandboxes()}
        records, broken = self.store.load_containers()
        for directory in broken:
            shutil.rmtree(directory, ignore_errors=True)
        for record in records:
            if record.sandbox_id not in self.sandboxes:
                log.info("removing VM %s of vanished sandbox %s", record.id, record.sandbox_id)
                await self.machines.destroy(record)
                continue
            self.containers[record.id] = record
            if self.machines.refresh(record):
                self.store.save_container(record)
        killed = self.machines.kill_orphans(set(self.containers))
        running = sum(1 for c in self.containers.values() if c.state == "running")
        log.info("adopted %d sandboxes, %d VMs (%d running); killed %d stray processes",
                 len(self.sandboxes), len(self.containers), running, len(killed))

    # -- lookups ------------------------------------------------------------------------------------

    def sandbox(self, sandbox_id: str) -> SandboxRecord:
        found = self.sandboxes.get(sandbox_id)
        if found is None:
            raise UnknownObject(f"pod sandbox {sandbox_id!r} not found")
        return found

    def container(self, container_id: str) -> ContainerRecord:
        found = self.containers.get(container_id)
        if found is None:
            raise UnknownObject(f"container {container_id!r} not found")
        if self.machines.refresh(found):
            self.store.save_container(found)
        return found

    def containers_of(self, sandbox_id: str) -> list[ContainerRecord]:
        return [c for c in self.containers.values() if c.sandbox_id == sandbox_id]

    def refreshed_containers(self) -> list[ContainerRecord]:
        for record in self.containers.values():
            if self.machines.refresh(record):
                self.store.save_container(record)
        return list(self.containers.values())

    # -- changes ------------------------------------------------------------------------------------

    def add_sandbox(self, record: SandboxRecord) -> None:
        self.store.save_sandbox(record)
        self.sandboxes[record.id] = record

    def save_sandbox(self, record: SandboxRecord) -> None:
        self.store.save_sandbox(record)

    async def remove_sandbox(self, sandbox_id: str) -> None:
        for record in self.containers_of(sandbox_id):
            await self.remove_container(record.id)
        self.sandboxes.pop(sandbox_id, None)
        self.store.delete_sandbox(sandbox_id)

    async def add_container(self, record: ContainerRecord, hostname: str) -> None:
        image = self.images.find(record.image_ref)
        if image is None:
            raise UnknownObject(f"image {record.image!r} not found")
        guest = guest_config(record.name, hostname, record.annotations)
        try:
            await asyncio.to_thread(self.machines.prepare, record, image, guest)
        except BaseException:
            # No half-written VM directory (initrd written, overlay not) outlives a failed create.
            await asyncio.to_thread(self.store.delete_container, record.id)
            raise
        self.store.save_container(record)
        self.containers[record.id] = record

    def save_container(self, record: ContainerRecord) -> None:
        self.store.save_container(record)

    def launch(self, record: ContainerRecord) -> None:
        image = self.images.find(record.image_ref)
        if image is None:
            raise InvalidRequest(f"image {record.image!r} of container {record.id} is gone from the store")
        self.machines.launch(record, image)
        self.store.save_container(record)

    async def remove_container(self, container_id: str) -> None:
        record = self.containers.pop(container_id, None)
        if record is not None:
            async with self.machines.lock(container_id):
                await self.machines.destroy(record)
