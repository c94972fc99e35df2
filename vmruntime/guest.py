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

On the pod network (`vmruntime.podnet`) the kernel command line carries ``ip=`` (`kernel_ip_argument`);
init loads the virtio NIC driver and applies it with busybox ``ifconfig``/``route`` (the kernel's own
``ip=`` handling runs before modules load, so it never sees the NIC), then serves ``/www`` with busybox
``httpd`` on port 80 (a page naming the VM) and runs ``dropbear`` on port 22 (public-key logins only,
root's ``authorized_keys`` from the pod's ``publicKey``).

Ctrl-Alt-Del is the graceful power-off signal: init sets ``ctrl-alt-del`` to 0 so the kernel turns
the key press (QMP ``send-key``) into SIGINT for PID 1, and traps it into ``poweroff -f``; qemu then
exits 0. (ACPI ``system_powerdown`` would need the button and evdev modules plus acpid.)
"""

from __future__ import annotations

import ipaddress
import re
from dataclasses import dataclass

from vmruntime.initramfs import Entry, directory, gzip_archive, regular_file

HEARTBEAT_S = 2
# Modules the guest needs for its virtio disk and NIC, in dependency order (Debian builds them as
# modules, so the kernel's own ``ip=`` autoconfiguration never sees the NIC: init applies ``ip=``).
GUEST_MODULES = ("virtio_ring", "virtio", "virtio_pci_modern_dev", "virtio_pci_legacy_dev", "virtio_pci",
                "virtio_blk", "failover", "net_failover", "virtio_net")
WEB_ROOT = "/www"

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
ipconf=
for arg in $(cat /proc/cmdline); do case "$arg" in ip=*) ipconf=${arg#ip=} ;; esac; done
if [ -n "$ipconf" ]; then
    # ip=<client>:<server>:<gateway>:<netmask>:<hostname>:<device>:<autoconf> (the kernel's nfsroot form)
    IFS=: read -r addr _ gw mask _ dev _ <<IPCONF
$ipconf
IPCONF
    dev=${dev:-eth0}
    for _ in 1 2 3 4 5 6 7 8 9 10; do [ -e "/sys/class/net/$dev" ] && break; sleep 0.2; done
    ifconfig lo 127.0.0.1 up
    if ifconfig "$dev" "$addr" netmask "$mask" up && { [ -z "$gw" ] || route add default gw "$gw"; }; then
        echo "arktos-vm: network $dev $addr netmask $mask gateway ${gw:-none}"
    else
        echo "arktos-vm: network $dev could not be configured"
    fi
fi
if [ -s /arktos/authorized_keys ]; then
    mkdir -p /root/.ssh && cp /arktos/authorized_keys /root/.ssh/authorized_keys
    chmod 700 /root /root/.ssh && chmod 600 /root/.ssh/authorized_keys
    echo "arktos-vm: installed $(grep -c . /root/.ssh/authorized_keys) public key(s) for root"
fi
if [ -n "$ipconf" ]; then
    mkdir -p WEB_ROOT && echo "arktos-vm $(hostname)" > WEB_ROOT/index.html
    httpd -p 80 -h WEB_ROOT && echo "arktos-vm: httpd serving WEB_ROOT on port 80"
    if command -v dropbear >/dev/null; then
        mkdir -p /etc/dropbear /dev/pts && mount -t devpts devpts /dev/pts 2>/dev/null
        dropbearkey -t ed25519 -f /etc/dropbear/dropbear_ed25519_host_key >/dev/null 2>&1
        dropbear -r /etc/dropbear/dropbear_ed25519_host_key -p 22 -s \
            && echo "arktos-vm: dropbear listening on port 22"
    fi
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
""".replace("HEARTBEAT", str(HEARTBEAT_S)).replace("WEB_ROOT", WEB_ROOT)


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


@dataclass(frozen=True, slots=True)
class GuestNic:
    """The guest's NIC on the pod network: qemu runs in ``netns_path`` and opens ``tap``; the guest
    uses ``mac`` (the sandbox interface's) and the pod IP, given to it as a kernel ``ip=`` argument."""

    netns_path: str
    tap: str
    mac: str
    ip: str
    prefix_length: int
    gateway: str
    device: str = "eth0"


_HOSTNAME_UNSAFE = re.compile(r"[^A-Za-z0-9.-]")


def kernel_ip_argument(nic: GuestNic, hostname: str) -> str:
    """``ip=<client>::<gateway>:<netmask>:<hostname>:<device>:off``, the kernel's static form
    (Documentation/admin-guide/nfs/nfsroot.rst), which the guest's init applies."""
    netmask = ipaddress.IPv4Network(f"0.0.0.0/{nic.prefix_length}").netmask
    host = _HOSTNAME_UNSAFE.sub("-", hostname)[:63]
    return f"ip={nic.ip}::{nic.gateway}:{netmask}:{host}:{nic.device}:off"
