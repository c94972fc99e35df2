"""What runs inside a guest, and how a VM's configuration gets there.

The image's ``/init`` (`GUEST_INIT`, busybox ``sh`` as PID 1) mounts the pseudo filesystems, loads
the virtio disk driver, counts boots in the first 16 bytes of the VM's own disk (so reboots are
visible and a snapshot restore visibly rewinds the count), installs the public key, runs the user
data and the cloud-init script with their output on the console, then prints a heartbeat every
``HEARTBEAT_S`` seconds. Every line it writes starts with ``arktos-vm:``; tests and people read
the serial console through ``kubectl logs``.

A VM's configuration reaches the guest as a second initramfs archive (`config_archive`) that the
runtime appends to the image's initrd: files under ``/arktos/``. That replaces cloud-init's
config drive with something busybox can read without any driver.

Ctrl-Alt-Del is the graceful power-off signal: init sets ``ctrl-alt-del`` to 0 so the kernel turns
the key press (QMP ``send-key``) into SIGINT for PID 1, and traps it into ``poweroff -f``; qemu then
exits 0. (ACPI ``system_powerdown`` would need the button and evdev modules plus acpid.)
"""

from __future__ import annotations

from dataclasses import dataclass

from vmruntime.initramfs import Entry, directory, gzip_archive, regular_file

HEARTBEAT_S = 2
# Modules the guest needs for its virtio disk, in dependency order (Debian builds them as modules).
DISK_MODULES = ("virtio_ring", "virtio", "virtio_pci_modern_dev", "virtio_pci_legacy_dev", "virtio_pci",
                "virtio_blk")

GUEST_INIT = r"""#!/bin/sh
# PID 1 of an Arktos VM image (written by vmruntime.guest).
export PATH=/bin:/sbin
mount -t proc proc /proc
mount -t sysfs sysfs /sys
mount -t devtmpfs devtmpfs /dev 2>/dev/null
echo 0 > /proc/sys/kernel/ctrl-alt-del
trap 'echo "arktos-vm: power off requested"; sync; poweroff -f' INT
name=$(cat /arktos/vm-name 2>/dev/null || echo vm)
hostname "$(cat /arktos/hostname 2>/dev/null || echo "$name")"
echo "arktos-vm: $name booting (kernel $(uname -r), $(grep -c ^processor /proc/cpuinfo) vcpu)"
for m in $(cat /lib/modules/load-order 2>/dev/null); do insmod "/lib/modules/$m.ko" 2>/dev/null; done
n=1
for _ in 1 2 3 4 5 6 7 8 9 10; do [ -b /dev/vda ] && break; sleep 0.2; done
if [ -b /dev/vda ]; then
    n=$(dd if=/dev/vda bs=16 count=1 2>/dev/null | tr -dc 0-9)
    n=$(( ${n:-0} + 1 ))
    printf '%-16s' "$n" | dd of=/dev/vda bs=16 count=1 conv=notrunc 2>/dev/null
    sync
else
    echo "arktos-vm: no disk; boots are not counted"
fi
echo "arktos-vm: boot $n"
if [ -s /arktos/authorized_keys ]; then
    mkdir -p /root/.ssh && cp /arktos/authorized_keys /root/.ssh/authorized_keys
    chmod 700 /root/.ssh && chmod 600 /root/.ssh/authorized_keys
    echo "arktos-vm: installed $(grep -c . /root/.ssh/authorized_keys) public key(s) for root"
fi
[ -s /arktos/key-pair-name ] && echo "arktos-vm: key pair $(cat /arktos/key-pair-name)"
run_script() {
    echo "arktos-vm: running $2"
    sh "$1" </dev/null
    echo "arktos-vm: $2 exited $?"
}
if [ -s /arktos/user-data ]; then
    if head -n 1 /arktos/user-data | grep -q '^#cloud-config'; then
        echo "arktos-vm: user-data is #cloud-config; this guest only runs scripts"
    else
        run_script /arktos/user-data user-data
    fi
fi
[ -s /arktos/cloud-init-script ] && run_script /arktos/cloud-init-script cloud-init-user-data-script
echo "arktos-vm: $name ready"
i=0
while :; do
    sleep HEARTBEAT
    i=$((i + 1))
    echo "arktos-vm: heartbeat $i"
done
""".replace("HEARTBEAT", str(HEARTBEAT_S))


@dataclass(frozen=True, slots=True)
class GuestConfig:
    """Per-VM settings handed to the guest (decoded: ``user_data`` is the script itself)."""

    vm_name: str
    hostname: str = ""
    public_key: str = ""
    key_pair_name: str = ""
    user_data: bytes = b""
    cloud_init_script: str = ""


def config_archive(config: GuestConfig) -> bytes:
    """The gzip'd cpio with ``/arktos/*`` that is appended to the image's initrd."""
    files: list[Entry] = [directory("arktos"),
                          regular_file("arktos/vm-name", config.vm_name.encode()),
                          regular_file("arktos/hostname", (config.hostname or config.vm_name).encode())]
    if config.public_key:
        files.append(regular_file("arktos/authorized_keys", config.public_key.strip().encode() + b"\n",
                                  0o600))
    if config.key_pair_name:
        files.append(regular_file("arktos/key-pair-name", config.key_pair_name.encode()))
    if config.user_data:
        files.append(regular_file("arktos/user-data", config.user_data, 0o700))
    if config.cloud_init_script:
        files.append(regular_file("arktos/cloud-init-script", config.cloud_init_script.encode(), 0o700))
    return gzip_archive(files)
