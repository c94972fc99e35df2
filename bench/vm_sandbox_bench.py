"""What qemu's seccomp sandbox costs a VM: boot-to-userspace time with and without ``-sandbox``.

Boots the runtime's own VM image (`vmruntime.images`) with the exact command line the VM runtime
uses (`vmruntime.qemu.qemu_command`, which carries ``-sandbox on,...``) and with the same line minus
the sandbox, alternating, ``--rounds`` times each, and prints the median seconds from qemu's start to
the guest's ``arktos-vm: <name> ready`` console line, plus the qemu process's seccomp mode as the
kernel reports it. Run as root (qemu and the image are installed/built on first use):
``.venv/bin/python bench/vm_sandbox_bench.py [--rounds 3]``.
"""

from __future__ import annotations

import argparse
import statistics
import subprocess
import tempfile
import time
from pathlib import Path

from vmruntime.guest import GuestConfig, config_archive
from vmruntime.images import DEFAULT_IMAGE_DIR, build_image
from vmruntime.qemu import VmSize, create_overlay, ensure_installed, qemu_command

BOOT_TIMEOUT_S = 120.0


def _without_sandbox(command: list[str]) -> list[str]:
    at = command.index("-sandbox")
    return command[:at] + command[at + 2:]


def _seccomp_mode(pid: int) -> str:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("Seccomp:"):
            return line.split(":", 1)[1].strip()
    return "?"


def boot_once(work: Path, *, sandboxed: bool) -> tuple[float, str]:
    """Seconds to the guest's ready line, and qemu's seccomp mode (0 none, 2 filter)."""
    image = build_image(DEFAULT_IMAGE_DIR)
    initrd, overlay = work / "initrd.img", work / "overlay.qcow2"
    initrd.write_bytes(image.initrd.read_bytes() + config_archive(GuestConfig(vm_name="bench")))
    overlay.unlink(missing_ok=True)
    create_overlay(image.disk, overlay)
    command = qemu_command(name="bench", size=VmSize(1, 128), kernel=image.kernel, initrd=initrd,
                           disk=overlay, qmp_socket=work / "qmp.sock")
    if not sandboxed:
        command = _without_sandbox(command)
    started = time.monotonic()
    qemu = subprocess.Popen(command, stdin=subprocess.DEVNULL, stdout=subprocess.PIPE,
                            stderr=subprocess.STDOUT)
    try:
        assert qemu.stdout is not None
        for raw in iter(qemu.stdout.readline, b""):
            if b"arktos-vm: bench ready" in raw:
                return time.monotonic() - started, _seccomp_mode(qemu.pid)
            if time.monotonic() - started > BOOT_TIMEOUT_S:
                break
        raise RuntimeError(f"no ready line within {BOOT_TIMEOUT_S:.0f}s (sandboxed={sandboxed})")
    finally:
        qemu.kill()
        qemu.wait()


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--rounds", type=int, default=3)
    args = parser.parse_args()
    ensure_installed()
    times: dict[bool, list[float]] = {True: [], False: []}
    modes: dict[bool, str] = {}
    with tempfile.TemporaryDirectory(prefix="vm-sandbox-bench-") as tmp:
        for _ in range(args.rounds):
            for sandboxed in (True, False):
                seconds, modes[sandboxed] = boot_once(Path(tmp), sandboxed=sandboxed)
                times[sandboxed].append(seconds)
    for sandboxed, label in ((True, "with_sandbox"), (False, "without_sandbox")):
        rounds = ", ".join(f"{t:.2f}" for t in times[sandboxed])
        print(f"vm_boot_to_ready_{label}: {statistics.median(times[sandboxed]):.2f} s "
              f"(rounds {rounds}; qemu Seccomp mode {modes[sandboxed]})")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
