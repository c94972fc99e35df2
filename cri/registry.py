"""The local image registry: Debian's ``docker-registry`` (Distribution 2.8), our child process.

``docker-registry serve DIR/config.yml`` with filesystem storage under ``DIR/storage`` and plain HTTP
on a loopback address; images get there with :mod:`cri.image_push` and containerd pulls them through
its ``hosts.toml`` mirrors (:mod:`cri.containerd_config`). ``hack/lib/registry.sh`` runs the same
config for arktos-up; the tests start one per session (``test/registry_env.py``). Installed with apt
when missing (needs root); if that is impossible :class:`RegistryUnavailable` says why.
"""

from __future__ import annotations

import asyncio
import shutil
import signal
import subprocess
from dataclasses import dataclass
from pathlib import Path

from cri.apt_install import AptInstallError, apt_install
from cri.image_push import PushError, wait_ready

APT_PACKAGE = "docker-registry"


class RegistryUnavailable(RuntimeError):
    """docker-registry could not be installed or started; the message carries the reason and log tail."""


@dataclass(frozen=True)
class RegistryLayout:
    """One registry instance: everything under ``base``, serving on ``address`` (``host:port``)."""

    base: Path
    address: str

    @property
    def storage(self) -> Path:
        return self.base / "storage"

    @property
    def config_file(self) -> Path:
        return self.base / "config.yml"

    @property
    def log_file(self) -> Path:
        return self.base / "registry.log"


def render_config(layout: RegistryLayout) -> str:
    """Distribution's config: filesystem storage, deletes allowed, HTTP on the address, quiet logs.
    (No upload purging: a half-done upload of a concurrent push must not vanish under it.)"""
    return f"""version: 0.1
log:
  level: warn
  accesslog:
    disabled: true
storage:
  filesystem:
    rootdirectory: {layout.storage}
  delete:
    enabled: true
  maintenance:
    uploadpurging:
      enabled: false
http:
  addr: {layout.address}
"""


def write_config(layout: RegistryLayout) -> Path:
    layout.storage.mkdir(parents=True, exist_ok=True)
    layout.config_file.write_text(render_config(layout))
    return layout.config_file


def ensure_installed() -> None:
    """``apt-get install docker-registry`` when the binary is missing (needs root)."""
    if shutil.which("docker-registry"):
        return
    try:
        apt_install([APT_PACKAGE])
    except AptInstallError as err:
        raise RegistryUnavailable(f"docker-registry missing: {err}") from err


class RegistryProcess:
    """``docker-registry serve`` as a child in its own session, ready once ``GET /v2/`` answers."""

    def __init__(self, layout: RegistryLayout) -> None:
        self.layout = layout
        self._proc: subprocess.Popen[bytes] | None = None

    @property
    def address(self) -> str:
        return self.layout.address

    def start(self, timeout: float = 20.0) -> None:
        ensure_installed()
        write_config(self.layout)
        with self.layout.log_file.open("ab") as log:
            self._proc = subprocess.Popen(
                ["docker-registry", "serve", str(self.layout.config_file)],
                stdout=log, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL, start_new_session=True)
        try:
            asyncio.run(wait_ready(self.address, timeout))
        except PushError as err:
            code = self._proc.poll()
            self.stop()
            raise RegistryUnavailable(f"{err} (exit {code}): {self.log_tail()}") from err

    def log_tail(self, lines: int = 20) -> str:
        try:
            return "\n".join(self.layout.log_file.read_text(errors="replace").splitlines()[-lines:])
        except OSError:
            return "(no log)"

    def stop(self, timeout: float = 10.0, remove_dirs: bool = False) -> None:
        proc, self._proc = self._proc, None
        if proc is not None and proc.poll() is None:
            proc.send_signal(signal.SIGTERM)
            try:
                proc.wait(timeout)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait()
        if remove_dirs:
            shutil.rmtree(self.layout.base, ignore_errors=True)


def main(argv: list[str] | None = None) -> int:
    """``python -m cri.registry DIR HOST:PORT``: write DIR/config.yml (what hack/lib/registry.sh runs)."""
    import sys

    args = sys.argv[1:] if argv is None else argv
    if len(args) != 2:
        print("usage: python -m cri.registry DIR HOST:PORT", file=sys.stderr)
        return 2
    print(write_config(RegistryLayout(Path(args[0]).resolve(), args[1])))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
