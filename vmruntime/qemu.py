"""The qemu command line for one VM, its size from the CRI resources, and installing qemu on first use.

MACHINE.md: ``/dev/kvm`` exists here but hangs guests, so every VM runs under TCG (``-accel tcg``);
``-machine pc`` (``microvm -smp 2`` hangs). The serial console is qemu's stdio, which the shim turns
into the CRI log; the QMP socket is the control channel; the VM's disk is a qcow2 overlay on the
image's base disk, which is what makes ``savevm``/``loadvm`` snapshots possible. qemu runs with
``-sandbox on,...``: its seccomp filter (libseccomp, built into Debian's qemu) refuses what a VM
never needs, so a guest that breaks into the emulator is still fenced.
"""

from __future__ import annotations

import math
import os
import shutil
import subprocess
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path

from cri import vm_annotations
from vmruntime.guest import GuestNic, kernel_ip_argument

QEMU = "qemu-system-x86_64"
QEMU_IMG = "qemu-img"
APT_PACKAGES = ("qemu-system-x86", "qemu-utils")
DEFAULT_MEMORY_MIB = 256
MIN_MEMORY_MIB = 96  # the kernel plus the unpacked initramfs
MAX_VCPUS = 4
KERNEL_ARGS = "console=ttyS0 loglevel=5 panic=-1"
# qemu's seccomp filter: besides the default blacklist, no obsolete syscalls, no setuid/setgid,
# no fork/exec and no scheduler/NUMA/priority changes — a guest that escapes into qemu gets few
# syscalls to go on with. Measured with this runtime's VMs (qemu 7.2, Debian 12): boot, QMP
# pause/resume, savevm/loadvm, system_reset, power-off all work under it.
SANDBOX = "on,obsolete=deny,elevateprivileges=deny,spawn=deny,resourcecontrol=deny"


class QemuUnavailable(RuntimeError):
    """qemu is missing and could not be installed; the message says what to run."""


def _missing() -> list[str]:
    return [b for b in (QEMU, QEMU_IMG) if shutil.which(b) is None]


def ensure_installed() -> None:
    """``apt-get install --no-install-recommends qemu-system-x86 qemu-utils`` when missing (root only)."""
    if not _missing():
        return
    if os.geteuid() != 0:
        raise QemuUnavailable("qemu missing and not root: apt-get install -y --no-install-recommends "
                              + " ".join(APT_PACKAGES))
    env = {**os.environ, "DEBIAN_FRONTEND": "noninteractive"}
    for cmd in (["apt-get", "update", "-qq"],
                ["apt-get", "install", "-y", "-qq", "--no-install-recommends", *APT_PACKAGES]):
        done = subprocess.run(cmd, capture_output=True, text=True, env=env, check=False)
        if done.returncode != 0:
            raise QemuUnavailable(f"{' '.join(cmd)} failed: {done.stderr.strip()[-1500:]}")
    if _missing():
        raise QemuUnavailable(f"still missing after apt-get install: {_missing()}")


@dataclass(frozen=True, slots=True)
class VmSize:
    vcpus: int
    memory_mib: int


def vm_size(*, cpu_quota: int, cpu_period: int, cpu_shares: int, memory_limit_bytes: int,
            settings: Mapping[str, str]) -> VmSize:
    """vCPUs: the annotation, else ceil(CPU limit), else ceil(request from shares), at least 1 and at
    most `MAX_VCPUS`; memory: the annotation, else the memory limit, else `DEFAULT_MEMORY_MIB`."""
    vcpus = 0
    if vm_annotations.VCPUS in settings:
        vcpus = int(settings[vm_annotations.VCPUS])
    elif cpu_quota > 0 and cpu_period > 0:
        vcpus = math.ceil(cpu_quota / cpu_period)
    elif cpu_shares > 2:  # 2 is the CRI's "no request" minimum
        vcpus = math.ceil(cpu_shares / 1024)
    memory = DEFAULT_MEMORY_MIB
    if vm_annotations.MEMORY_MIB in settings:
        memory = int(settings[vm_annotations.MEMORY_MIB])
    elif memory_limit_bytes > 0:
        memory = memory_limit_bytes // (1024 * 1024)
    return VmSize(vcpus=max(1, min(MAX_VCPUS, vcpus)), memory_mib=max(MIN_MEMORY_MIB, memory))


def create_overlay(base: Path, overlay: Path) -> None:
    """A qcow2 overlay backed by the image's base disk: the VM writes only here."""
    done = subprocess.run([QEMU_IMG, "create", "-q", "-f", "qcow2", "-b", str(base), "-F", "qcow2",
                           str(overlay)], capture_output=True, text=True, check=False)
    if done.returncode != 0:
        raise QemuUnavailable(f"qemu-img create failed: {done.stderr.strip()}")


def nic_arguments(nic: GuestNic) -> list[str]:
    """A virtio NIC on the sandbox's tap with the sandbox interface's MAC (no option ROM: the
    kernel is booted directly, and ``-nodefaults`` hosts need not have ipxe's ROMs)."""
    return ["-netdev", f"tap,id=net0,ifname={nic.tap},script=no,downscript=no",
            "-device", f"virtio-net-pci,netdev=net0,mac={nic.mac},romfile="]


def qemu_command(*, name: str, size: VmSize, kernel: Path, initrd: Path, disk: Path,
                 qmp_socket: Path, nic: GuestNic | None = None, hostname: str = "") -> list[str]:
    """The VM: TCG, no default devices, serial on stdio, QMP on a unix socket, the overlay disk,
    qemu itself under its seccomp sandbox (`SANDBOX`). With a ``nic``, qemu is started inside the
    sandbox's network namespace (``nsenter --net``, which execs qemu: the pid stays qemu's) with the
    NIC, and the kernel gets the ``ip=`` argument."""
    append = KERNEL_ARGS if nic is None else f"{KERNEL_ARGS} {kernel_ip_argument(nic, hostname or name)}"
    prefix = [] if nic is None else ["nsenter", f"--net={nic.netns_path}", "--"]
    return [
        *prefix, QEMU, "-name", name, "-sandbox", SANDBOX,
        "-accel", "tcg", "-machine", "pc", "-nodefaults", "-no-user-config",
        "-display", "none", "-serial", "stdio",
        "-smp", str(size.vcpus), "-m", f"{size.memory_mib}M",
        "-kernel", str(kernel), "-initrd", str(initrd), "-append", append,
        "-drive", f"file={disk},if=virtio,format=qcow2,cache=writeback",
        "-qmp", f"unix:{qmp_socket},server=on,wait=off",
        *([] if nic is None else nic_arguments(nic)),
    ]
