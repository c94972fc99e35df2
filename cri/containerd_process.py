"""Starts and stops a private containerd the way ``hack/lib/containerd.sh`` does, for tests and tools.

The machines have no systemd, so containerd runs as our child: ``containerd --config DIR/config.toml``
with the configuration from :mod:`cri.containerd_config`, its own socket, its log in ``DIR``. When the
binaries are missing they are installed with apt (``containerd runc containernetworking-plugins``); if
that is impossible :class:`ContainerdUnavailable` says why - callers must fail, never skip silently.

Stopping also ends the ``containerd-shim-runc-v2`` processes this instance started (they outlive
containerd by design) and unmounts what it left under its directories, so a test leaves no trace.
`ContainerdProcess.kill` is a crash instead: the shims and containers keep running, and a
`ContainerdProcess.start` on the same layout picks them up again (what arktos-up's supervisor does).
"""

from __future__ import annotations

import os
import shutil
import signal
import socket
import subprocess
import time
from pathlib import Path

from cri.apt_install import AptInstallError, apt_install
from cri.containerd_config import CNI_BIN_DIR, ContainerdLayout, write_config
from cri.hostport_rules import remove_for_subnet

APT_PACKAGES = ("containerd", "runc", "containernetworking-plugins", "iptables")


class ContainerdUnavailable(RuntimeError):
    """containerd could not be installed or started; the message carries the reason and the log tail."""


def _missing_binaries() -> list[str]:
    missing = [b for b in ("containerd", "ctr", "runc", "iptables") if shutil.which(b) is None]
    if not Path(CNI_BIN_DIR, "bridge").exists():
        missing.append(f"{CNI_BIN_DIR}/bridge")
    return missing


def ensure_installed() -> None:
    """Install containerd, runc and the CNI plugins with apt when any is missing (needs root)."""
    if not _missing_binaries():
        return
    try:
        apt_install(APT_PACKAGES)
    except AptInstallError as err:
        raise ContainerdUnavailable(f"missing {_missing_binaries()}: {err}") from err
    if _missing_binaries():
        raise ContainerdUnavailable(f"still missing after apt-get install: {_missing_binaries()}")


def _socket_accepts(path: Path) -> bool:
    with socket.socket(socket.AF_UNIX, socket.SOCK_STREAM) as sock:
        try:
            sock.connect(str(path))
        except OSError:
            return False
    return True


def _pids_mentioning(needle: str) -> list[int]:
    """Processes whose command line names ``needle`` (our socket path identifies our shims)."""
    pids = []
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit() or int(entry.name) == os.getpid():
            continue
        try:
            cmdline = (entry / "cmdline").read_bytes().replace(b"\0", b" ").decode(errors="replace")
        except OSError:
            continue
        if needle in cmdline and "containerd-shim" in cmdline:
            pids.append(int(entry.name))
    return pids


def _children(pid: int) -> list[int]:
    try:
        return [int(p) for p in Path(f"/proc/{pid}/task/{pid}/children").read_text().split()]
    except OSError:
        return []


def _unmount_under(base: Path) -> None:
    """Lazily unmount every mount below ``base`` (deepest first): rootfs overlays, netns, shm."""
    prefix = str(base.resolve()) + "/"
    mounts = [line.split()[1] for line in Path("/proc/self/mounts").read_text().splitlines()]
    for target in sorted((m for m in mounts if m.startswith(prefix)), key=len, reverse=True):
        subprocess.run(["umount", "-l", target], capture_output=True, check=False)


class ContainerdProcess:
    """One containerd child process over a :class:`ContainerdLayout`."""

    def __init__(self, layout: ContainerdLayout) -> None:
        self.layout = layout
        self._proc: subprocess.Popen[bytes] | None = None

    @property
    def endpoint(self) -> str:
        return self.layout.endpoint

    @property
    def address(self) -> str:
        """The socket path, as ``ctr --address`` wants it."""
        return str(self.layout.socket)

    def start(self, timeout: float = 20.0) -> None:
        ensure_installed()
        write_config(self.layout)
        log = self.layout.log_file.open("ab")
        # A new session: Ctrl-C in a terminal reaches us, and we decide when containerd stops.
        self._proc = subprocess.Popen(
            ["containerd", "--config", str(self.layout.config_file)],
            stdout=log, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL, start_new_session=True,
        )
        log.close()
        self.layout.pid_file.write_text(str(self._proc.pid))
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self._proc.poll() is not None:
                raise ContainerdUnavailable(f"containerd exited {self._proc.returncode}: {self.log_tail()}")
            if _socket_accepts(self.layout.socket):
                return
            time.sleep(0.05)
        self.stop()
        raise ContainerdUnavailable(f"containerd socket not ready after {timeout}s: {self.log_tail()}")

    def log_tail(self, lines: int = 30) -> str:
        try:
            return "\n".join(self.layout.log_file.read_text(errors="replace").splitlines()[-lines:])
        except OSError:
            return "(no log)"

    def kill(self) -> None:
        """SIGKILL containerd alone, as a crash would. Its shims keep running - containerd starts
        each in a process group of its own and they are not its children once started (upstream's
        containerd.service stops only the main process too: KillMode=process) - and with them the
        containers; `start` again and the new containerd reconnects to them."""
        proc, self._proc = self._proc, None
        if proc is not None and proc.poll() is None:
            proc.kill()
            proc.wait()

    def stop(self, timeout: float = 10.0, remove_dirs: bool = False) -> None:
        """SIGTERM containerd (SIGKILL after ``timeout``), then our shims, then our mounts."""
        proc, self._proc = self._proc, None
        if proc is not None and proc.poll() is None:
            proc.send_signal(signal.SIGTERM)
            try:
                proc.wait(timeout)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait()
        for shim in _pids_mentioning(str(self.layout.socket)):
            # The shim's children are the containers' PID 1s; killing one ends its PID namespace.
            for pid in (*_children(shim), shim):
                try:
                    os.kill(pid, signal.SIGKILL)
                except ProcessLookupError:
                    pass
        _unmount_under(self.layout.base)
        remove_for_subnet(self.layout.pod_subnet)  # no CNI DEL ran for the killed sandboxes
        # The CNI bridge outlives its last pod; it is ours (named per instance), so it goes with us.
        if Path("/sys/class/net", self.layout.bridge_name).exists():
            subprocess.run(["ip", "link", "delete", self.layout.bridge_name],
                           capture_output=True, check=False)
        if remove_dirs:
            shutil.rmtree(self.layout.base, ignore_errors=True)
