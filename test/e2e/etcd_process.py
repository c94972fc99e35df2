"""Start, kill and restart a real etcd member for tests (Debian's etcd-server 3.4, /usr/bin/etcd).

The machines have no systemd: etcd runs as our child on free loopback ports with its data in a
directory the test owns. When the binary is missing it is installed with apt (``etcd-server``); if
that is impossible `EtcdUnavailable` says why — callers fail, never skip silently. Readiness is
etcd's own ``/health`` on the client port. `EtcdProcess.kill` is a crash (SIGKILL); ``start``
again on the same data directory is etcd restarting after it. TLS (``tls=EtcdTLSFiles(...)``)
serves the client port over HTTPS and asks clients for certificates signed by the CA.
"""

from __future__ import annotations

import contextlib
import os
import shutil
import signal
import ssl
import subprocess
import time
import urllib.error
import urllib.request
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

from apiserver_process import free_port, log_tail, stop_process

from pki.certificates import ensure_ca, issue_client_cert, issue_serving_cert

APT_PACKAGES = ("etcd-server",)
READY_TIMEOUT_S = 30.0


class EtcdUnavailable(RuntimeError):
    """etcd could not be installed or started; the message carries the reason and the log tail."""


def ensure_installed() -> None:
    """Install etcd-server with apt when ``etcd`` is missing (needs root)."""
    if shutil.which("etcd"):
        return
    if os.geteuid() != 0:
        raise EtcdUnavailable("etcd is missing and we are not root: apt-get install -y etcd-server")
    env = {**os.environ, "DEBIAN_FRONTEND": "noninteractive"}
    for cmd in (["apt-get", "update", "-qq"], ["apt-get", "install", "-y", "-qq", *APT_PACKAGES]):
        done = subprocess.run(cmd, capture_output=True, text=True, env=env, check=False)
        if done.returncode != 0:
            raise EtcdUnavailable(f"{' '.join(cmd)} failed: {done.stderr.strip()[-1500:]}")
    if not shutil.which("etcd"):
        raise EtcdUnavailable("etcd still missing after apt-get install etcd-server")


@dataclass(frozen=True)
class EtcdTLSFiles:
    """Server certificate and key for etcd's client port, the CA its clients' certificates must be
    signed by, and one such client pair (the health probe's)."""

    ca_file: Path
    cert_file: Path
    key_file: Path
    client_cert_file: Path
    client_key_file: Path


def make_tls_files(directory: Path) -> EtcdTLSFiles:
    """A CA in ``directory``, etcd's serving pair for 127.0.0.1 and one client pair it signed."""
    ca = ensure_ca(directory)
    paths: list[Path] = []
    for name, pair in (("server", issue_serving_cert(ca, hosts=["127.0.0.1"], common_name="etcd")),
                       ("client", issue_client_cert(ca, common_name="kube-apiserver-etcd-client"))):
        for suffix, data in ((".crt", pair.certificate_pem()), (".key", pair.private_key_pem())):
            paths.append(directory / f"{name}{suffix}")
            paths[-1].write_bytes(data)
    return EtcdTLSFiles(ca.cert_path, *paths)


@dataclass
class EtcdProcess:
    """One single-member etcd cluster on loopback."""

    data_dir: Path
    log_path: Path
    client_port: int = field(default_factory=free_port)
    peer_port: int = field(default_factory=free_port)
    tls: EtcdTLSFiles | None = None
    extra_args: tuple[str, ...] = ()
    process: subprocess.Popen[bytes] | None = field(default=None, repr=False)

    @property
    def client_url(self) -> str:
        scheme = "https" if self.tls else "http"
        return f"{scheme}://127.0.0.1:{self.client_port}"

    @property
    def storage_url(self) -> str:
        """What ``--storage`` takes for this member."""
        return f"etcd://127.0.0.1:{self.client_port}"

    def command(self) -> list[str]:
        peer = f"http://127.0.0.1:{self.peer_port}"
        args = ["etcd", "--name", "n0", "--data-dir", str(self.data_dir),
                "--listen-client-urls", self.client_url, "--advertise-client-urls", self.client_url,
                "--listen-peer-urls", peer, "--initial-advertise-peer-urls", peer,
                "--initial-cluster", f"n0={peer}", "--log-level", "warn"]
        if self.tls is not None:
            args += ["--cert-file", str(self.tls.cert_file), "--key-file", str(self.tls.key_file),
                     "--trusted-ca-file", str(self.tls.ca_file), "--client-cert-auth"]
        return [*args, *self.extra_args]

    def start(self) -> EtcdProcess:
        ensure_installed()
        self.log_path.parent.mkdir(parents=True, exist_ok=True)
        with self.log_path.open("ab") as log:
            self.process = subprocess.Popen(self.command(), stdout=log, stderr=subprocess.STDOUT,
                                            stdin=subprocess.DEVNULL, start_new_session=True)
        self._wait_healthy()
        return self

    def _health_context(self) -> ssl.SSLContext | None:
        if self.tls is None:
            return None
        context = ssl.create_default_context(cafile=str(self.tls.ca_file))
        context.load_cert_chain(self.tls.client_cert_file, self.tls.client_key_file)
        return context

    def healthy(self) -> bool:
        try:
            with urllib.request.urlopen(f"{self.client_url}/health", timeout=2,
                                        context=self._health_context()) as response:
                return b'"health":"true"' in response.read()
        except (urllib.error.URLError, OSError):
            return False

    def _wait_healthy(self) -> None:
        assert self.process is not None
        deadline = time.monotonic() + READY_TIMEOUT_S
        while time.monotonic() < deadline:
            if self.healthy():
                return
            if self.process.poll() is not None:
                raise EtcdUnavailable(f"etcd exited with {self.process.returncode}; log "
                                      f"{self.log_path}:\n{log_tail(self.log_path)}")
            time.sleep(0.1)
        raise EtcdUnavailable(f"etcd not healthy after {READY_TIMEOUT_S:.0f}s:\n{log_tail(self.log_path)}")

    def kill(self) -> None:
        """A crash: SIGKILL, no chance to flush anything etcd had not already made durable."""
        if self.process is not None and self.process.poll() is None:
            os.killpg(self.process.pid, signal.SIGKILL)
            self.process.wait(timeout=10)

    def pause(self) -> None:
        """SIGSTOP: etcd keeps its sockets but answers nothing (a stalled or partitioned member)."""
        assert self.process is not None
        os.killpg(self.process.pid, signal.SIGSTOP)

    def resume(self) -> None:
        assert self.process is not None
        os.killpg(self.process.pid, signal.SIGCONT)

    def stop(self) -> int:
        return stop_process(self.process) if self.process is not None else 0


def start_etcd(workdir: Path, *, tls: EtcdTLSFiles | None = None,
               extra_args: tuple[str, ...] = ()) -> EtcdProcess:
    """A fresh member with its data and log under ``workdir`` (``extra_args`` appended to etcd's)."""
    for attempt in range(3):
        member = EtcdProcess(data_dir=workdir / "etcd-data", log_path=workdir / "etcd.log", tls=tls,
                             extra_args=extra_args)
        try:
            return member.start()
        except EtcdUnavailable as e:
            # A free port can be taken between choosing and binding it: pick others.
            if "address already in use" not in str(e) or attempt == 2:
                raise
            shutil.rmtree(member.data_dir, ignore_errors=True)
    raise AssertionError("unreachable")


@contextlib.contextmanager
def running_etcd(workdir: Path, *, tls: EtcdTLSFiles | None = None,
                 extra_args: tuple[str, ...] = ()) -> Iterator[EtcdProcess]:
    """`start_etcd`, stopped on exit: the body of every etcd fixture."""
    member = start_etcd(workdir, tls=tls, extra_args=extra_args)
    try:
        yield member
    finally:
        member.stop()
