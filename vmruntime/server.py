"""The runtime process: a grpc.aio server on a unix socket serving RuntimeService, ImageService and
VmService over one `Inventory`.

Start-up adopts the VMs a previous runtime left under ``--root`` before the socket is opened, so the
kubelet never sees a half-loaded runtime. Shutting the runtime down leaves the VMs running (their
shims own them), as stopping containerd leaves containers running; ``--stop-vms-on-exit`` kills them
instead and tears the sandboxes' pod networks down (tests and ``arktos::vmruntime::stop`` use it).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
import signal
from dataclasses import dataclass
from pathlib import Path

import grpc.aio

from cri.stubs import pb_grpc
from vmruntime.cni import DEFAULT_BIN_DIR, CniNetwork
from vmruntime.image_service import ImageServicer
from vmruntime.images import ImageStore
from vmruntime.inventory import Inventory
from vmruntime.podnet import PodNetworks
from vmruntime.runtime_service import RuntimeServicer
from vmruntime.vm_service import VmServicer

log = logging.getLogger(__name__)

GRACE_S = 5.0


@dataclass(frozen=True, slots=True)
class ServerSettings:
    listen: str  # unix:///path/arktos-vm.sock
    root: Path
    image_dir: Path
    stop_vms_on_exit: bool = False
    cni_conf_dir: Path | None = None  # the node's CNI network (containerd's conf dir); None: no NICs
    cni_bin_dir: Path = DEFAULT_BIN_DIR


def socket_path(listen: str) -> Path:
    for prefix in ("unix://", "unix:"):
        if listen.startswith(prefix):
            return Path(listen[len(prefix):])
    return Path(listen)


async def serve(settings: ServerSettings) -> None:
    """Run until SIGTERM/SIGINT."""
    networks = None
    if settings.cni_conf_dir is not None:
        networks = PodNetworks(CniNetwork(settings.cni_conf_dir, settings.cni_bin_dir), settings.root)
    inventory = Inventory(settings.root, ImageStore(settings.image_dir), networks)
    await inventory.adopt()
    server = grpc.aio.server()
    pb_grpc.add_RuntimeServiceServicer_to_server(RuntimeServicer(inventory), server)
    pb_grpc.add_ImageServiceServicer_to_server(ImageServicer(inventory.images), server)
    pb_grpc.add_VmServiceServicer_to_server(VmServicer(inventory), server)
    path = socket_path(settings.listen)
    path.parent.mkdir(parents=True, exist_ok=True)
    with contextlib.suppress(FileNotFoundError):
        path.unlink()
    server.add_insecure_port(f"unix://{path}")
    await server.start()
    os.chmod(path, 0o660)
    log.info("arktos-vm-runtime serving on unix://%s (root %s, images %s: %s)", path, settings.root,
             settings.image_dir, ", ".join(i.names[0] for i in inventory.images.all()) or "none")
    stopping = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(sig, stopping.set)
    try:
        await stopping.wait()
    finally:
        await server.stop(GRACE_S)
        if settings.stop_vms_on_exit:
            await inventory.stop_everything()
        with contextlib.suppress(FileNotFoundError):
            path.unlink()
        with contextlib.suppress(OSError):  # empty once no VM's QMP socket is left
            inventory.store.socket_dir.rmdir()
        log.info("arktos-vm-runtime stopped")
