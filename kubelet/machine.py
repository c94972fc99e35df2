"""What the node is: capacity and identity read from the machine, as cAdvisor tells upstream's kubelet.

Capacity (cpu count, MemTotal from /proc/meminfo, pods, ephemeral-storage from the root
filesystem), nodeInfo (kernel, PRETTY_NAME from /etc/os-release, machine and boot ids,
architecture in Go's naming) and the InternalIP (the address of the default route). Hollow nodes
report fixed, generous figures instead, as kubemark's do, so the scheduler sees identical nodes.
"""

from __future__ import annotations

import os
import platform
import socket
from dataclasses import dataclass
from pathlib import Path

_GO_ARCH = {"x86_64": "amd64", "aarch64": "arm64", "armv7l": "arm", "ppc64le": "ppc64le",
            "s390x": "s390x"}


@dataclass(frozen=True, slots=True)
class MachineFacts:
    cpu: int
    memory_bytes: int
    ephemeral_storage_bytes: int
    kernel_version: str
    os_image: str
    architecture: str
    machine_id: str
    boot_id: str


def read_machine() -> MachineFacts:
    stat = os.statvfs("/")
    return MachineFacts(
        cpu=os.cpu_count() or 1, memory_bytes=_meminfo_kib("MemTotal") * 1024,
        ephemeral_storage_bytes=stat.f_blocks * stat.f_frsize,
        kernel_version=platform.release(), os_image=_os_image(),
        architecture=_GO_ARCH.get(platform.machine(), platform.machine()),
        machine_id=_read("/etc/machine-id"), boot_id=_read("/proc/sys/kernel/random/boot_id"))


def hollow_machine(real: MachineFacts, index: int) -> MachineFacts:
    """The machine a hollow node claims to be: 8 cpus, 32 GiB, 100 GiB of disk."""
    return MachineFacts(cpu=8, memory_bytes=32 << 30, ephemeral_storage_bytes=100 << 30,
                        kernel_version=real.kernel_version, os_image=real.os_image,
                        architecture=real.architecture, machine_id=f"hollow-{index:08x}",
                        boot_id=real.boot_id)


def memory_available_bytes() -> int:
    return _meminfo_kib("MemAvailable") * 1024


def disk_available_fraction(path: str = "/") -> float:
    stat = os.statvfs(path)
    return stat.f_bavail / stat.f_blocks if stat.f_blocks else 1.0


def primary_ip() -> str:
    """The source address of the default route (no packet is sent by a UDP connect)."""
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as sock:
        try:
            sock.connect(("10.255.255.255", 1))
            address: str = sock.getsockname()[0]
            return address
        except OSError:
            return "127.0.0.1"


def hollow_ip(index: int) -> str:
    return f"10.{240 + (index >> 16) % 16}.{(index >> 8) & 255}.{index & 255 or 1}"


def _meminfo_kib(field: str) -> int:
    try:
        for line in Path("/proc/meminfo").read_text().splitlines():
            if line.startswith(field + ":"):
                return int(line.split()[1])
    except (OSError, ValueError, IndexError):
        pass
    return 0


def _os_image() -> str:
    try:
        for line in Path("/etc/os-release").read_text().splitlines():
            if line.startswith("PRETTY_NAME="):
                return line.split("=", 1)[1].strip().strip('"')
    except OSError:
        pass
    return "Linux"


def _read(path: str) -> str:
    try:
        return Path(path).read_text().strip()
    except OSError:
        return ""
