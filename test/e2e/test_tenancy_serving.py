"""TLS by default; the plain port only when asked for, and then only on loopback.

Covers: the tenancy cluster's server, started with the flags hack/lib/apiserver.sh passes (no
`--port`), listens on exactly one socket, the TLS port, where plain HTTP gets no API answer; a
server started with `--port` also serves plain HTTP, bound to 127.0.0.1 only, and that port
trusts its caller as upstream's insecure port did; `--insecure-bind-address 0.0.0.0 --port P`
makes the server exit with a message saying the address is not loopback.
Leaves out: arktos-up.sh's API_INSECURE_PORT_ENABLED switch (test_arktos_up.py).
"""

from __future__ import annotations

import dataclasses
import http.client
import json
import re
import subprocess
from pathlib import Path

import pytest
from apiserver_process import REPO_ROOT, ApiServerProcess, free_port
from tenancy_env import TenancyEnv

pytestmark = [pytest.mark.e2e]


def listening_sockets(pid: int) -> set[tuple[str, int]]:
    """(address, port) of the TCP sockets process ``pid`` listens on, from `ss -ltnp`."""
    output = subprocess.run(["ss", "-ltnpH"], capture_output=True, text=True, timeout=10, check=True).stdout
    found = set()
    for line in output.splitlines():
        if f"pid={pid}," not in line:
            continue
        local = line.split()[3]
        address, _, port = local.rpartition(":")
        found.add((address.strip("[]"), int(port)))
    return found


def plain_http_answer(port: int) -> tuple[int, bytes] | None:
    """Status and body of a plain-HTTP GET /api, or None when the server does not answer HTTP."""
    connection = http.client.HTTPConnection("127.0.0.1", port, timeout=5)
    try:
        connection.request("GET", "/api")
        response = connection.getresponse()
        return response.status, response.read()
    except (OSError, http.client.HTTPException):
        return None
    finally:
        connection.close()


def test_only_tls_is_served_without_port_flag(tenancy_env: TenancyEnv) -> None:
    server = tenancy_env.server
    assert server.process is not None
    assert "--port" not in server.command()
    assert listening_sockets(server.process.pid) == {("127.0.0.1", server.port)}
    answer = plain_http_answer(server.port)
    # A TLS listener has nothing to say to plain HTTP (upstream answers 400 "Client sent an HTTP
    # request to an HTTPS server"); either way no API document comes back.
    assert answer is None or (answer[0] == 400 and b"APIVersions" not in answer[1]), answer
    # The same port over TLS, as the admin, does answer.
    assert tenancy_env.ok(tenancy_env.admin, "GET", "/api")["kind"] == "APIVersions"


def test_plain_port_is_opt_in_and_loopback(tenancy_env: TenancyEnv, tmp_path: Path) -> None:
    plain_port = free_port()
    server = dataclasses.replace(
        tenancy_env.server,
        port=free_port(),
        data_dir=tmp_path / "data",
        log_path=tmp_path / "kube-apiserver.log",
        extra_args=("--port", str(plain_port)),
        process=None,
    ).start()
    try:
        assert server.process is not None
        assert listening_sockets(server.process.pid) == {
            ("127.0.0.1", server.port),
            ("127.0.0.1", plain_port),
        }
        answer = plain_http_answer(plain_port)
        assert answer is not None and answer[0] == 200, answer
        assert json.loads(answer[1])["kind"] == "APIVersions"
    finally:
        server.stop()


def test_non_loopback_plain_port_is_refused(tenancy_env: TenancyEnv, tmp_path: Path) -> None:
    server: ApiServerProcess = dataclasses.replace(
        tenancy_env.server,
        port=free_port(),
        data_dir=tmp_path / "data",
        log_path=tmp_path / "kube-apiserver.log",
        extra_args=("--insecure-bind-address", "0.0.0.0", "--port", str(free_port())),
        process=None,
    )
    server.data_dir.mkdir(parents=True)
    result = subprocess.run(
        server.command(), cwd=REPO_ROOT, capture_output=True, text=True, timeout=60, stdin=subprocess.DEVNULL
    )
    assert result.returncode != 0
    assert re.search(r"insecure-bind-address 0\.0\.0\.0 is not a loopback address", result.stderr), (
        result.stderr
    )
