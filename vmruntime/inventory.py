"""What the runtime knows: its sandboxes and VM containers, loaded from disk and kept in step with it.

The gRPC servicers share one `Inventory`. It answers lookups (raising `UnknownObject` for an id it
does not have, which the servicers turn into ``NOT_FOUND`` as containerd does), persists every
change, and at start-up re-adopts what a previous runtime process left: records are read back, VMs
whose shim still runs stay running, VMs that ended meanwhile become exited with their exit code,
containers of a vanished sandbox and unreadable records are cleaned up, and stray qemu/shim
processes under our root that no record owns are killed, and so are pod network namespaces of ours
(`vmruntime.podnet`) that no sandbox record owns (CNI DEL, so host-local gets their IPs back).
"""

from __future__ import annotations

import asyncio
import base64
import binascii
import logging
import shutil
from pathlib import Path

from cri import vm_annotations
from vmruntime.guest import GuestConfig, GuestNic
from vmruntime.images import ImageStore
from vmruntime.machines import Machines
from vmruntime.podnet import TAP, NetworkSetupError, PodNetworks, netns_path
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


def cni_args(record: SandboxRecord) -> dict[str, str]:
    """``CNI_ARGS`` as containerd passes them for a pod."""
    return {"K8S_POD_NAMESPACE": record.namespace, "K8S_POD_NAME": record.name,
            "K8S_POD_INFRA_CONTAINER_ID": record.id, "K8S_POD_UID": record.uid}


def guest_nic(record: SandboxRecord) -> GuestNic | None:
    """The NIC a VM of this sandbox gets: none without a pod network (or once it is torn down)."""
    if not record.netns or not record.pod_ip:
        return None
    return GuestNic(netns_path=netns_path(record.netns), tap=TAP, mac=record.guest_mac, ip=record.pod_ip,
                    prefix_length=record.pod_prefix_length, gateway=record.pod_gateway)


class Inventory:
    def __init__(self, root: Path, images: ImageStore, networks: PodNetworks | None = None) -> None:
        self.store = RecordStore(root)
        self.images = images
        self.networks = networks
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
        orphaned = await self.networks.remove_orphans(set(self.sandboxes)) if self.networks else []
        running = sum(1 for c in self.containers.values() if c.state == "running")
        log.info("adopted %d sandboxes, %d VMs (%d running); killed %d stray processes; removed %d "
                 "orphaned pod networks", len(self.sandboxes), len(self.containers), running, len(killed),
                 len(orphaned))

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

    async def add_sandbox(self, record: SandboxRecord, *, pod_network: bool) -> None:
        """Record the sandbox, then (``pod_network`` and a CNI network configured) give it its
        namespace and pod IP; the record names the namespace before it exists, so a crash midway
        leaves nothing that adopt() or removal cannot find. A failed setup leaves no sandbox."""
        if pod_network and self.networks is not None:
            record.netns = self.networks.netns_name(record.id)
        self.store.save_sandbox(record)
        self.sandboxes[record.id] = record
        if not record.netns or self.networks is None:
            return
        try:
            network = await self.networks.setup(record.id, cni_args(record))
        except BaseException:
            self.sandboxes.pop(record.id, None)
            self.store.delete_sandbox(record.id)
            raise
        address = network.address
        record.pod_ip, record.pod_prefix_length = address.ip, address.prefix_length
        record.pod_gateway, record.guest_mac = address.gateway, address.mac
        record.cni_result = network.cni_result
        self.store.save_sandbox(record)

    async def remove_network(self, record: SandboxRecord) -> None:
        """CNI DEL and the namespace gone (idempotent); the record keeps the IP it had."""
        if not record.netns or self.networks is None:
            return
        await self.networks.teardown(record.id, record.netns, record.cni_result or None, cni_args(record))
        record.netns = ""
        self.store.save_sandbox(record)

    def save_sandbox(self, record: SandboxRecord) -> None:
        self.store.save_sandbox(record)

    async def remove_sandbox(self, sandbox_id: str) -> None:
        for record in self.containers_of(sandbox_id):
            await self.remove_container(record.id)
        sandbox = self.sandboxes.get(sandbox_id)
        if sandbox is not None:
            await self.remove_network(sandbox)
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
        sandbox = self.sandbox(record.sandbox_id)
        self.machines.launch(record, image, guest_nic(sandbox), sandbox.hostname or sandbox.name)
        self.store.save_container(record)

    async def stop_everything(self) -> None:
        """Kill every VM and tear every pod network down; the sandboxes become NOTREADY, so a kubelet
        makes new ones (a new network) rather than restarting VMs without one."""
        for record in list(self.containers.values()):
            await self.machines.stop(record, timeout_s=0)
        for sandbox in list(self.sandboxes.values()):
            sandbox.ready = False
            self.store.save_sandbox(sandbox)
            try:
                await self.remove_network(sandbox)
            except NetworkSetupError as e:
                log.warning("pod network of sandbox %s: %s", sandbox.id, e)

    async def remove_container(self, container_id: str) -> None:
        record = self.containers.pop(container_id, None)
        if record is not None:
            async with self.machines.lock(container_id):
                await self.machines.destroy(record)
