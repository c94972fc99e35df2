"""A partitioned cluster on loopback for the gateway tests: two TPs, two RPs, the gateway in front.

Four `python -m server` processes share one CERT_DIR (cluster CA, service-account keys, token
file, front-proxy CA and client pair — ``tools.cluster_credentials``), each with its own store, and
trust the front proxy by upstream's request-header flags. Each TP runs a controller manager (so a
new tenant gets its namespaces and ``admin-role-binding``, as on one cluster). The gateway
(`python -m gateway`) listens on its own port with the contract's flags; the admin kubeconfig of
CERT_DIR points at it, as arktos-up-scale-out.sh's does. `GatewayCluster.call` speaks raw HTTPS to
the gateway or to one partition directly, as any identity (certificate, token or none).
"""

from __future__ import annotations

import contextlib
import http.client
import json
import secrets
import ssl
import subprocess
import sys
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from apiserver_process import (
    REPO_ROOT,
    ApiServerProcess,
    free_port,
    stop_process,
    wait_until_ready,
)
from tenancy_env import Answer

from tools.cluster_credentials import ClusterCredentials, ensure_cluster_credentials
from tools.kubeconfig import ClientIdentity, ensure_client_kubeconfig

READY_TIMEOUT_S = 60.0
TOKEN_USERS = {"acme-token": ("admin", "acme"), "globex-token": ("admin", "globex")}


@dataclass
class GatewayCluster:
    workdir: Path
    credentials: ClusterCredentials
    tps: list[ApiServerProcess]
    rps: list[ApiServerProcess]
    gateway_port: int
    tokens: dict[str, str]
    processes: list[subprocess.Popen[bytes]] = field(default_factory=list)
    _contexts: dict[tuple[str, str], ssl.SSLContext] = field(default_factory=dict)

    @property
    def gateway_url(self) -> str:
        return f"https://127.0.0.1:{self.gateway_port}"

    @property
    def gateway_log(self) -> Path:
        return self.workdir / "gateway.log"

    def context(self, cert: Path | None = None, key: Path | None = None) -> ssl.SSLContext:
        cache_key = (str(cert), str(key))
        found = self._contexts.get(cache_key)
        if found is None:
            found = ssl.create_default_context(cafile=str(self.credentials.ca_cert))
            if cert is not None:
                found.load_cert_chain(cert, key)
            self._contexts[cache_key] = found
        return found

    def admin_context(self) -> ssl.SSLContext:
        return self.context(self.credentials.admin_cert, self.credentials.admin_key)

    def call(self, method: str, path: str, body: Any = None, *, port: int | None = None,
             context: ssl.SSLContext | None = None, token: str | None = None,
             headers: dict[str, str] | None = None, timeout: float = 15.0) -> Answer:
        """One request on a fresh connection to the gateway (or ``port``): with ``token`` and no
        ``context`` no client certificate is sent; with neither, the admin certificate is."""
        sent = {"Accept": "application/json", **(headers or {})}
        if token is not None:
            sent["Authorization"] = f"Bearer {token}"
        payload = None
        if body is not None:
            payload = json.dumps(body).encode()
            sent.setdefault("Content-Type", "application/json")
        if context is None:
            context = self.context() if token is not None else self.admin_context()
        connection = http.client.HTTPSConnection("127.0.0.1", port or self.gateway_port, timeout=timeout,
                                                 context=context)
        try:
            connection.request(method, path, body=payload, headers=sent)
            response = connection.getresponse()
            return Answer(response.status, {k.lower(): v for k, v in response.getheaders()}, response.read())
        finally:
            connection.close()


def _server(workdir: Path, name: str, credentials: ClusterCredentials, token_file: Path) -> ApiServerProcess:
    return ApiServerProcess(
        port=free_port(), data_dir=workdir / name, log_path=workdir / f"{name}-kube-apiserver.log",
        kubeconfig=credentials.admin_kubeconfig, credentials=credentials,
        extra_args=("--token-auth-file", str(token_file), *requestheader_args(credentials)))


def _start_controllers(workdir: Path, name: str, server: ApiServerProcess,
                       credentials: ClusterCredentials) -> subprocess.Popen[bytes]:
    from pki.certificates import load_ca

    kubeconfig = workdir / f"{name}-controller.kubeconfig"
    ensure_client_kubeconfig(kubeconfig, load_ca(credentials.cert_dir),
                             identity=ClientIdentity("system:kube-controller-manager"), server=server.url,
                             user="kube-controller-manager")
    with (workdir / f"{name}-controller-manager.log").open("ab") as log:
        return subprocess.Popen(
            [sys.executable, "-m", "controllers", "--kubeconfig", str(kubeconfig),
             "--use-service-account-credentials", "--leader-elect=false",
             "--controllers=*,-daemonset,-nodelifecycle"],
            cwd=REPO_ROOT, stdout=log, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL,
            start_new_session=True)


def gateway_command(credentials: ClusterCredentials, *, port: int, token_file: Path,
                    tps: list[ApiServerProcess], rps: list[ApiServerProcess]) -> list[str]:
    """``python -m gateway`` with the contract's flags, as arktos-up-scale-out.sh starts it."""
    c = credentials
    return [
        sys.executable, "-m", "gateway",
        "--bind-address", "127.0.0.1", "--secure-port", str(port),
        "--tls-cert-file", str(c.serving_cert), "--tls-private-key-file", str(c.serving_key),
        "--client-ca-file", str(c.ca_cert), "--token-auth-file", str(token_file),
        "--service-account-key-file", str(c.sa_public_key),
        "--proxy-client-cert-file", str(c.front_proxy_client_cert),
        "--proxy-client-key-file", str(c.front_proxy_client_key),
        *(a for i, tp in enumerate(tps) for a in ("--tenant-partition", f"tp{i}={tp.url}")),
        *(a for i, rp in enumerate(rps) for a in ("--resource-partition", f"rp{i}={rp.url}")),
        "--partition-ca-file", str(c.ca_cert), "--partition-kubeconfig", str(c.admin_kubeconfig),
    ]  # fmt: skip


def start_gateway(command: list[str], log_path: Path, *, url: str,
                  context: ssl.SSLContext) -> subprocess.Popen[bytes]:
    """Starts the gateway and waits for its /readyz (every partition reachable, maps synced)."""
    with log_path.open("ab") as log:
        process = subprocess.Popen(command, cwd=REPO_ROOT, stdout=log, stderr=subprocess.STDOUT,
                                   stdin=subprocess.DEVNULL, start_new_session=True)
    try:
        wait_until_ready(url, process, log_path, timeout=READY_TIMEOUT_S, context=context)
    except BaseException:
        stop_process(process)
        raise
    return process


def requestheader_args(credentials: ClusterCredentials) -> tuple[str, ...]:
    """A partition's flags to trust the gateway's front-proxy identity (upstream's request-header auth)."""
    return ("--requestheader-client-ca-file", str(credentials.front_proxy_ca_cert),
            "--requestheader-allowed-names", "front-proxy-client")


def _write_tokens(path: Path, credentials: ClusterCredentials) -> dict[str, str]:
    """The cluster's token file (the admin's row kept) plus one admin token per test tenant."""
    tokens = {label: secrets.token_hex(16) for label in TOKEN_USERS}
    rows = [credentials.token_file.read_text().rstrip("\n") + "\n"]
    rows += [f'{tokens[label]},{user},{label}-uid,"",,{tenant}\n'
             for label, (user, tenant) in TOKEN_USERS.items()]
    path.write_text("".join(rows))
    path.chmod(0o600)
    return tokens


@contextlib.contextmanager
def gateway_cluster(workdir: Path) -> Iterator[GatewayCluster]:
    gateway_port = free_port()
    credentials = ensure_cluster_credentials(workdir / "certs", server=f"https://127.0.0.1:{gateway_port}",
                                             hosts=["127.0.0.1"], node_name="gw-node")
    token_file = workdir / "tokens.csv"
    tokens = _write_tokens(token_file, credentials)
    tps = [_server(workdir, f"tp{i}", credentials, token_file) for i in range(2)]
    rps = [_server(workdir, f"rp{i}", credentials, token_file) for i in range(2)]
    cluster = GatewayCluster(workdir, credentials, tps, rps, gateway_port, tokens)
    try:
        for server in (*tps, *rps):
            server.start()
        for i, tp in enumerate(tps):
            cluster.processes.append(_start_controllers(workdir, f"tp{i}", tp, credentials))
        command = gateway_command(credentials, port=gateway_port, token_file=token_file, tps=tps, rps=rps)
        cluster.processes.append(start_gateway(command, cluster.gateway_log, url=cluster.gateway_url,
                                               context=cluster.admin_context()))
        yield cluster
    finally:
        for process in cluster.processes:
            stop_process(process)
        for server in (*tps, *rps):
            server.stop()
