"""Start and stop a real API server process for the e2e tests.

The e2e suite drives the server exactly as a user does: a separate `python -m server` process
(or the whole `hack/arktos-up.sh`) listening on a free loopback port, with its own data
directory and log file. This module owns that lifecycle (free port, readiness wait on /readyz,
kubeconfig, bounded shutdown) so the fixtures in conftest.py stay short, and so a failed
start-up reports the server's own log instead of a bare timeout.

`start_apiserver(..., tls=True)` serves TLS only, as arktos-up.sh does: the CA, serving cert,
service-account keys, token file and admin kubeconfig (CN=system:admin, O=system:masters) come
from `tools.cluster_credentials` in `workdir/certs`, and probes authenticate with the admin cert.
Without `tls` the server listens on a plain loopback port (the component suite's raw HTTP).
"""

from __future__ import annotations

import http.client
import os
import signal
import socket
import ssl
import subprocess
import sys
import time
import urllib.error
import urllib.request
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path

from tools.cluster_credentials import ClusterCredentials, ensure_cluster_credentials

REPO_ROOT = Path(__file__).resolve().parents[2]
READY_TIMEOUT_S = 30.0
STOP_TIMEOUT_S = 10.0
SERVICE_ACCOUNT_ISSUER = "https://kubernetes.default.svc"
E2E_NODE_NAME = "e2e-node"


def free_port() -> int:
    """A loopback port nobody listens on right now (the kernel's choice for port 0)."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


def write_kubeconfig(path: Path, server_url: str) -> Path:
    """A kubeconfig without credentials for a plain-HTTP server, context `default`."""
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(
        "apiVersion: v1\nkind: Config\n"
        f"clusters:\n- name: e2e\n  cluster:\n    server: {server_url}\n"
        "users:\n- name: admin\n  user: {}\n"
        "contexts:\n- name: default\n  context:\n    cluster: e2e\n    user: admin\n"
        "current-context: default\n"
    )
    return path


def log_tail(log_path: Path, *, offset: int = 0, max_lines: int = 150) -> str:
    """The last lines written to a log since byte ``offset``, for failure reports."""
    try:
        with log_path.open("rb") as f:
            f.seek(offset)
            text = f.read().decode(errors="replace")
    except OSError as e:
        return f"<no log at {log_path}: {e}>"
    lines = text.splitlines()
    skipped = len(lines) - max_lines
    head = [f"... {skipped} earlier lines skipped ..."] if skipped > 0 else []
    return "\n".join(head + lines[-max_lines:])


def admin_ssl_context(credentials: ClusterCredentials) -> ssl.SSLContext:
    """Trusts the cluster CA and presents the admin client certificate."""
    context = ssl.create_default_context(cafile=str(credentials.ca_cert))
    context.load_cert_chain(credentials.admin_cert, credentials.admin_key)
    return context


def probe(url: str, *, timeout: float = 2.0, context: ssl.SSLContext | None = None) -> bool:
    try:
        with urllib.request.urlopen(url, timeout=timeout, context=context) as response:
            return bool(response.status == 200)
    except (urllib.error.URLError, OSError):
        return False


def wait_until_ready(
    url: str,
    process: subprocess.Popen[bytes],
    log_path: Path,
    *,
    timeout: float = READY_TIMEOUT_S,
    context: ssl.SSLContext | None = None,
) -> None:
    """Polls ``url``/readyz; raises with the server log if it dies or stays unready."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if probe(f"{url}/readyz", context=context):
            return
        if process.poll() is not None:
            raise RuntimeError(
                f"server exited with status {process.returncode} before /readyz answered;"
                f" log {log_path}:\n{log_tail(log_path)}"
            )
        time.sleep(0.1)
    raise RuntimeError(
        f"server at {url} not ready after {timeout:.0f}s; log {log_path}:\n{log_tail(log_path)}"
    )


def stop_process(
    process: subprocess.Popen[bytes], *, sig: int = signal.SIGTERM, timeout: float = STOP_TIMEOUT_S
) -> int:
    """Sends ``sig`` to the process group, waits, then SIGKILLs what is left. Returns the exit code."""
    if process.poll() is None:
        try:
            os.killpg(process.pid, sig)
        except ProcessLookupError:
            pass
        try:
            process.wait(timeout=timeout)
        except subprocess.TimeoutExpired:
            os.killpg(process.pid, signal.SIGKILL)
            process.wait(timeout=timeout)
    return process.returncode


@dataclass
class ApiServerProcess:
    """A running `python -m server` on loopback and the files that belong to it.

    With ``credentials`` the server serves TLS only on ``port`` (the secure port); without, plain
    HTTP on ``port``.
    """

    port: int
    data_dir: Path
    log_path: Path
    kubeconfig: Path
    extra_args: tuple[str, ...] = ()
    credentials: ClusterCredentials | None = None
    process: subprocess.Popen[bytes] | None = field(default=None, repr=False)

    @property
    def url(self) -> str:
        scheme = "https" if self.credentials is not None else "http"
        return f"{scheme}://127.0.0.1:{self.port}"

    def ssl_context(self) -> ssl.SSLContext | None:
        """For urllib/http.client as system:admin; None for a plain-HTTP server."""
        return admin_ssl_context(self.credentials) if self.credentials is not None else None

    def http_connection(self, *, timeout: float) -> http.client.HTTPConnection:
        """A raw connection as system:admin (HTTPS when the server serves TLS)."""
        context = self.ssl_context()
        if context is None:
            return http.client.HTTPConnection("127.0.0.1", self.port, timeout=timeout)
        return http.client.HTTPSConnection("127.0.0.1", self.port, timeout=timeout, context=context)

    def serving_args(self) -> list[str]:
        if self.credentials is None:
            return ["--insecure-bind-address", "127.0.0.1", "--port", str(self.port)]
        c = self.credentials
        # The flags hack/lib/apiserver.sh passes; no --port, so no plain listener.
        return [
            "--bind-address", "127.0.0.1",
            "--secure-port", str(self.port),
            "--tls-cert-file", str(c.serving_cert),
            "--tls-private-key-file", str(c.serving_key),
            "--client-ca-file", str(c.ca_cert),
            "--service-account-key-file", str(c.sa_public_key),
            "--service-account-signing-key-file", str(c.sa_key),
            "--service-account-issuer", SERVICE_ACCOUNT_ISSUER,
            "--token-auth-file", str(c.token_file),
            "--audit-log-path", str(self.log_path.with_name("kube-apiserver-audit.log")),
        ]  # fmt: skip

    def command(self) -> list[str]:
        return [
            sys.executable,
            "-m",
            "server",
            "--data-dir",
            str(self.data_dir),
            *self.serving_args(),
            "--storage",
            f"sqlite:///{self.data_dir / 'arktos.db'}",
            # No controller manager makes the default service accounts here: as upstream's
            # integration servers, run without ServiceAccount admission. A test that wants it
            # passes "--disable-admission-plugins=" (the last flag wins).
            "--disable-admission-plugins=ServiceAccount",
            *self.extra_args,
        ]

    def start(self) -> ApiServerProcess:
        """Starts (or restarts, on the same data dir and port) and waits for /readyz."""
        self.data_dir.mkdir(parents=True, exist_ok=True)
        with self.log_path.open("ab") as log:
            self.process = subprocess.Popen(
                self.command(),
                cwd=REPO_ROOT,
                stdout=log,
                stderr=subprocess.STDOUT,
                stdin=subprocess.DEVNULL,
                start_new_session=True,
            )
        wait_until_ready(self.url, self.process, self.log_path, context=self.ssl_context())
        return self

    def stop(self) -> int:
        return stop_process(self.process) if self.process is not None else 0

    def log_size(self) -> int:
        try:
            return self.log_path.stat().st_size
        except OSError:
            return 0


def start_apiserver(workdir: Path, *, extra_args: Sequence[str] = (), tls: bool = False) -> ApiServerProcess:
    """A fresh server with its data, log and kubeconfig under ``workdir``.

    ``tls``: serve TLS only, with credentials made in ``workdir/certs`` (see the module docstring);
    the kubeconfig is then that directory's admin.kubeconfig.
    """
    port = free_port()
    credentials: ClusterCredentials | None = None
    if tls:
        server_url = f"https://127.0.0.1:{port}"
        credentials = ensure_cluster_credentials(
            workdir / "certs", server=server_url, hosts=["127.0.0.1"], node_name=E2E_NODE_NAME
        )
        kubeconfig = credentials.admin_kubeconfig
    else:
        kubeconfig = write_kubeconfig(workdir / "admin.kubeconfig", f"http://127.0.0.1:{port}")
    server = ApiServerProcess(
        port=port,
        data_dir=workdir / "data",
        log_path=workdir / "kube-apiserver.log",
        kubeconfig=kubeconfig,
        extra_args=tuple(extra_args),
        credentials=credentials,
    )
    return server.start()


# What the component conftest's `server_factory` fixture hands out: starts a server with extra flags.
ServerFactory = Callable[..., ApiServerProcess]
