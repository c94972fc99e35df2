"""A scripted kubelet streaming server for the pod-proxy tests (test_pod_proxy.py).

Serves the tenant-qualified routes of the kubelet's streaming server over TLS on loopback —
/containerLogs, /exec, /attach, /portForward — answering WebSocket upgrades with aiohttp and SPDY/3.1
upgrades through httpstream's connection takeover, with the session code of httpstream.
It requires a client certificate from the cluster CA (as the real kubelet's --client-ca-file) and
records what reached it (path, query, headers, the client certificate's CN) so tests can check
what the API server forwarded. The "containers" are scripts: logs are numbered lines written slowly
when followed; exec echoes stdin upper-cased and answers `tar cf - PATH` with a real tar stream.
"""

from __future__ import annotations

import asyncio
import io
import os
import socket
import ssl
import subprocess
import tarfile
import threading
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from aiohttp import web
from apiserver_process import E2E_NODE_NAME

from httpstream.channel_protocol import (
    EXEC_PROTOCOLS_PREFERRED,
    PORTFORWARD_SPDY_PROTOCOL,
    PORTFORWARD_TUNNEL_PROTOCOL,
    PORTFORWARD_WEBSOCKET_PROTOCOLS_PREFERRED,
    SPDY_EXEC_PROTOCOLS_PREFERRED,
    negotiate_protocol,
)
from httpstream.exec_session import (
    ExecOptions,
    ExecStreams,
    accept_spdy_exec_streams,
    websocket_exec_streams,
)
from httpstream.portforward_session import (
    ChannelPortForwardStreams,
    PortForwardStreams,
    parse_ports_query,
    spdy_portforward_streams,
    tunnelled_portforward_streams,
)
from httpstream.spdy_connection import SpdyConnection
from httpstream.upgrade_takeover import accept_upgrade
from tools.cluster_credentials import ClusterCredentials, ensure_cluster_credentials

LOG_LINES = 4
FOLLOW_INTERVAL_S = 0.5
# A pod whose "container" is not started: the kubelet's own error Status, passed through by the API server.
WAITING_POD = "waiting"
WAITING_MESSAGE = 'container "c" in pod "waiting" is waiting to start: ContainerCreating'
CP_CONTENT = b"copied through exec\n"


@dataclass
class Seen:
    method: str
    path: str
    query: list[tuple[str, str]]
    headers: dict[str, str]
    client_cn: str


@dataclass
class FakeKubelet:
    port: int
    seen: list[Seen] = field(default_factory=list)
    runner: web.AppRunner | None = None

    def last(self, prefix: str) -> Seen:
        return [s for s in self.seen if s.path.startswith(prefix)][-1]


def _client_cn(request: web.Request) -> str:
    ssl_object = request.transport.get_extra_info("ssl_object") if request.transport else None
    peer = ssl_object.getpeercert() if ssl_object is not None else None
    for rdn in (peer or {}).get("subject", ()):
        for key, value in rdn:
            if key == "commonName":
                return str(value)
    return ""


def _flag(request: web.Request, name: str) -> bool:
    # The API server re-encodes the streams as upstream does ("1"); accept "true" as well.
    return request.query.get(name, "") in ("1", "true")


def _exec_options(request: web.Request) -> ExecOptions:
    return ExecOptions(stdin=_flag(request, "stdin"), stdout=_flag(request, "stdout"),
                       stderr=_flag(request, "stderr"), tty=_flag(request, "tty"),
                       command=tuple(request.query.getall("command", [])))


def _tar_of(path: str) -> bytes:
    buffer = io.BytesIO()
    with tarfile.open(fileobj=buffer, mode="w") as archive:
        info = tarfile.TarInfo(path.lstrip("/"))
        info.size = len(CP_CONTENT)
        archive.addfile(info, io.BytesIO(CP_CONTENT))
    return buffer.getvalue()


async def _scripted_exec(streams: ExecStreams) -> None:
    command = list(streams.options.command)
    if command[:2] == ["tar", "cf"]:
        await streams.write_stdout(_tar_of(command[-1]))
        await streams.finish(0)
        return
    received = b""
    if streams.options.stdin:
        async for chunk in streams.stdin():
            received += chunk
    await streams.write_stdout(b"hello " + " ".join(command).encode() + b"\n" + received.upper())
    await streams.write_stderr(b"to stderr\n")
    await streams.finish(3 if command[:1] == ["fail"] else 0)


async def _scripted_portforward(session: PortForwardStreams) -> None:
    async for request in session.requests():
        data = b""
        while b"\r\n\r\n" not in data:
            chunk = await request.read()
            if not chunk:
                break
            data += chunk
        body = f"port {request.port} says hi".encode()
        await request.write(b"HTTP/1.1 200 OK\r\nContent-Length: %d\r\nConnection: close\r\n\r\n%s"
                            % (len(body), body))
        await request.close_write()


def _upgrade(request: web.Request) -> str:
    return request.headers.get("Upgrade", "").lower()


async def _container_logs(request: web.Request) -> web.StreamResponse:
    if request.match_info["pod"] == WAITING_POD:
        return web.json_response({"kind": "Status", "apiVersion": "v1", "metadata": {}, "status": "Failure",
                                  "message": WAITING_MESSAGE, "reason": "BadRequest", "code": 400},
                                 status=400)
    response = web.StreamResponse(headers={"Content-Type": "text/plain"})
    await response.prepare(request)
    container = request.match_info["container"]
    for index in range(1, LOG_LINES + 1):
        await response.write(f"{container} line {index}\n".encode())
        if request.query.get("follow") == "true":
            await asyncio.sleep(FOLLOW_INTERVAL_S)
    await response.write_eof()
    return response


async def _exec_or_attach(request: web.Request) -> web.StreamResponse:
    options = _exec_options(request)
    if _upgrade(request) == "websocket":
        protocol = negotiate_protocol(request.headers.getall("Sec-WebSocket-Protocol", []),
                                      EXEC_PROTOCOLS_PREFERRED)
        if protocol is None:
            return web.Response(status=400, text="no protocol")
        ws = web.WebSocketResponse(protocols=(protocol,))
        await ws.prepare(request)
        await _scripted_exec(websocket_exec_streams(ws, options, protocol))
        return ws
    protocol = negotiate_protocol(request.headers.getall("X-Stream-Protocol-Version", []),
                                  SPDY_EXEC_PROTOCOLS_PREFERRED)
    if _upgrade(request) != "spdy/3.1" or protocol is None:
        return web.Response(status=400, text="upgrade request required")
    connection = await accept_upgrade(request, protocol_headers={"X-Stream-Protocol-Version": protocol})
    spdy = SpdyConnection(connection.reader, connection.writer, server=True)
    spdy.start()
    try:
        await _scripted_exec(await accept_spdy_exec_streams(spdy, options, protocol))
    finally:
        await connection.close()
    return connection.response


async def _port_forward(request: web.Request) -> web.StreamResponse:
    session: PortForwardStreams
    if _upgrade(request) == "websocket":
        protocol = negotiate_protocol(request.headers.getall("Sec-WebSocket-Protocol", []),
                                      PORTFORWARD_WEBSOCKET_PROTOCOLS_PREFERRED)
        if protocol is None:
            return web.Response(status=400, text="no protocol")
        ws = web.WebSocketResponse(protocols=(protocol,))
        await ws.prepare(request)
        if protocol == PORTFORWARD_TUNNEL_PROTOCOL:
            session = tunnelled_portforward_streams(ws)
        else:
            session = ChannelPortForwardStreams(ws, parse_ports_query(request.query.getall("port")))
        try:
            await _scripted_portforward(session)
        finally:
            await session.close()
        return ws
    connection = await accept_upgrade(
        request, protocol_headers={"X-Stream-Protocol-Version": PORTFORWARD_SPDY_PROTOCOL})
    session = spdy_portforward_streams(connection.reader, connection.writer)
    try:
        await _scripted_portforward(session)
    finally:
        await session.close()
        await connection.close()
    return connection.response


def _recording(seen: list[Seen]) -> Any:
    @web.middleware
    async def record(request: web.Request, handler: Any) -> web.StreamResponse:
        seen.append(Seen(request.method, request.path, list(request.query.items()), dict(request.headers),
                         _client_cn(request)))
        response: web.StreamResponse = await handler(request)
        return response

    return record


def serving_context(cert: Path, key: Path, client_ca: Path) -> ssl.SSLContext:
    context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    context.load_cert_chain(cert, key)
    context.load_verify_locations(cafile=str(client_ca))
    context.verify_mode = ssl.CERT_REQUIRED
    return context


def loopback_credentials(cert_dir: Path) -> ClusterCredentials:
    """A cluster's credentials for servers and a kubelet on 127.0.0.1 (the node's address)."""
    return ensure_cluster_credentials(cert_dir, server="https://127.0.0.1:6443", hosts=["127.0.0.1"],
                                      node_name=E2E_NODE_NAME, node_ips=["127.0.0.1"])


def kubelet_thread(credentials: ClusterCredentials) -> KubeletThread:
    """The fake kubelet with the cluster's kubelet serving pair, requiring the cluster CA's clients."""
    return KubeletThread(serving_context(credentials.kubelet_serving_cert, credentials.kubelet_serving_key,
                                         credentials.ca_cert))


async def start_fake_kubelet(context: ssl.SSLContext) -> FakeKubelet:
    seen: list[Seen] = []
    app = web.Application(middlewares=[_recording(seen)])
    app.router.add_get("/containerLogs/{tenant}/{namespace}/{pod}/{container}", _container_logs)
    for kind in ("exec", "attach"):
        # The API server names the pod's uid too (the kubelet's uid routes); both forms answer.
        app.router.add_route("*", f"/{kind}/{{tenant}}/{{namespace}}/{{pod}}/{{container}}", _exec_or_attach)
        app.router.add_route("*", f"/{kind}/{{tenant}}/{{namespace}}/{{pod}}/{{uid}}/{{container}}",
                             _exec_or_attach)
    app.router.add_route("*", "/portForward/{tenant}/{namespace}/{pod}", _port_forward)
    app.router.add_route("*", "/portForward/{tenant}/{namespace}/{pod}/{uid}", _port_forward)
    runner = web.AppRunner(app, handle_signals=False, shutdown_timeout=1)
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0, ssl_context=context)
    await site.start()
    port = site._server.sockets[0].getsockname()[1]  # type: ignore[union-attr]
    return FakeKubelet(port=port, seen=seen, runner=runner)


class KubeletThread:
    """The fake kubelet on its own event loop in a thread, so module-scoped fixtures and plain
    (synchronous) tests can share it while kubectl and the python client block."""

    def __init__(self, context: ssl.SSLContext) -> None:
        self._context = context
        self._loop = asyncio.new_event_loop()
        self._thread = threading.Thread(target=self._loop.run_forever, name="fake-kubelet", daemon=True)
        self.kubelet: FakeKubelet | None = None

    def start(self) -> FakeKubelet:
        self._thread.start()
        future = asyncio.run_coroutine_threadsafe(start_fake_kubelet(self._context), self._loop)
        self.kubelet = future.result(timeout=10)
        return self.kubelet

    def stop(self) -> None:
        if self.kubelet is not None and self.kubelet.runner is not None:
            asyncio.run_coroutine_threadsafe(self.kubelet.runner.cleanup(), self._loop).result(timeout=10)
        self._loop.call_soon_threadsafe(self._loop.stop)
        self._thread.join(timeout=10)
        self._loop.close()


def http_through_port_forward(argv: list[str], *, local_port: int, websockets: str, timeout: float) -> bytes:
    """Runs ``kubectl port-forward`` (``argv``, forwarding ``local_port``), sends one HTTP request
    through it to the scripted container's port and returns what came back (its greeting)."""
    env = {**os.environ, "KUBECTL_PORT_FORWARD_WEBSOCKETS": websockets}
    with subprocess.Popen(argv, stdout=subprocess.PIPE, stderr=subprocess.PIPE, env=env) as process:
        try:
            assert process.stdout is not None
            line = process.stdout.readline()
            assert b"Forwarding from" in line, line
            with socket.create_connection(("127.0.0.1", local_port), timeout=timeout) as sock:
                sock.sendall(b"GET / HTTP/1.1\r\nHost: x\r\n\r\n")
                return read_until_greeting(sock)
        finally:
            process.terminate()
            process.wait(timeout=timeout)


def read_until_greeting(sock: socket.socket) -> bytes:
    received = b""
    while not received.endswith(b"says hi"):
        chunk = sock.recv(4096)
        if not chunk:
            break
        received += chunk
    return received
