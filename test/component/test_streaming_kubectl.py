"""httpstream against the real kubectl binaries: exec over SPDY/3.1 and WebSocket v5, port-forward over
the KEP-4006 WebSocket tunnel and over plain SPDY.

Each test starts a tiny fake API server on loopback (raw asyncio for SPDY upgrades, aiohttp for WebSockets)
that answers `GET pod` and the streaming upgrade with a scripted session, then runs stock kubectl against it
and checks what kubectl prints and its exit code.  Also records the bytes kubectl sends over SPDY and decodes
its SYN_STREAM frames with a fresh parser (header blocks through the SPDY/3 zlib dictionary).
Leaves out TLS, authentication and real containers (the kubelet's and API server's tests cover those).
"""

from __future__ import annotations

import asyncio
import json
import os
import shutil
import socket
from collections.abc import AsyncIterator, Awaitable, Callable
from pathlib import Path
from urllib.parse import parse_qs, urlsplit

import pytest
from aiohttp import web
from kubectl_binaries import KUBECTL_LABELS, kubectl_binary
from kubernetes.client import ApiClient, Configuration, CoreV1Api
from kubernetes.stream import portforward as kubernetes_portforward
from kubernetes.stream import stream as kubernetes_stream

from httpstream.channel_protocol import (
    CHANNEL_V4,
    CHANNEL_V5,
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
from httpstream.spdy_frames import HeaderDecompressor, SynStreamFrame, decode_frame


@pytest.fixture(params=KUBECTL_LABELS)
def kubectl(request: pytest.FixtureRequest) -> Path:
    """Each test runs with kubectl 1.32 and 1.37 (both installed by `make`; a missing one fails)."""
    return Path(kubectl_binary(request.param))


POD = {
    "apiVersion": "v1", "kind": "Pod",
    "metadata": {"name": "p", "namespace": "default", "uid": "1"},
    "spec": {"containers": [{"name": "c", "image": "busybox", "ports": [{"containerPort": 8080}]}]},
    "status": {"phase": "Running"},
}
# Just enough legacy discovery for kubectl to resolve "pods".
DISCOVERY = {
    "/api": {"kind": "APIVersions", "versions": ["v1"],
             "serverAddressByClientCIDRs": [{"clientCIDR": "0.0.0.0/0", "serverAddress": "127.0.0.1"}]},
    "/apis": {"kind": "APIGroupList", "apiVersion": "v1", "groups": []},
    "/api/v1": {"kind": "APIResourceList", "groupVersion": "v1", "resources": [
        {"name": "pods", "singularName": "pod", "namespaced": True, "kind": "Pod", "shortNames": ["po"],
         "verbs": ["create", "delete", "get", "list", "patch", "update", "watch"]},
        {"name": "pods/exec", "singularName": "", "namespaced": True, "kind": "PodExecOptions",
         "verbs": ["create", "get"]},
        {"name": "pods/portforward", "singularName": "", "namespaced": True, "kind": "PodPortForwardOptions",
         "verbs": ["create", "get"]},
    ]},
}


def plain_response(path: str) -> object:
    return DISCOVERY.get(path, POD)


PROTOCOLS = web.AppKey("protocols", list[str])
# What the fake server is willing to speak for exec, most preferred first.
EXEC_PREFERENCE = web.AppKey("exec_preference", list[str])


def exec_options(query: str) -> ExecOptions:
    params = parse_qs(query)

    def flag(name: str) -> bool:
        return params.get(name, ["false"])[0] in ("true", "1")

    return ExecOptions(stdin=flag("stdin"), stdout=flag("stdout"), stderr=flag("stderr"), tty=flag("tty"),
                       command=tuple(params.get("command", [])))


async def scripted_exec(streams: ExecStreams) -> None:
    """The fake container: echoes stdin upper-cased, writes to stderr, exits 3."""
    received = b""
    if streams.options.stdin:
        async for chunk in streams.stdin():
            received += chunk
    greeting = b"hello " + " ".join(streams.options.command).encode() + b"\n"
    await streams.write_stdout(greeting + received.upper())
    await streams.write_stderr(b"to stderr\n")
    await streams.finish(3)


async def scripted_portforward(session: PortForwardStreams) -> None:
    """The fake pod port: answers one HTTP request per forwarded connection."""
    async for request in session.requests():
        data = b""
        while b"\r\n\r\n" not in data:
            chunk = await request.read()
            if not chunk:
                break
            data += chunk
        body = f"port {request.port} says hi".encode()
        head = b"HTTP/1.1 200 OK\r\nContent-Length: %d\r\nConnection: close\r\n\r\n" % len(body)
        await request.write(head + body)
        await request.close_write()


class RecordingReader:
    """Wraps a StreamReader and keeps every byte read (for decoding kubectl's frames afterwards)."""

    def __init__(self, reader: asyncio.StreamReader) -> None:
        self._reader = reader
        self.recorded = bytearray()

    async def readexactly(self, n: int) -> bytes:
        data = await self._reader.readexactly(n)
        self.recorded += data
        return data


async def spdy_fake_server(recordings: list[bytes]) -> Callable[[asyncio.StreamReader, asyncio.StreamWriter],
                                                                 Awaitable[None]]:
    async def handle(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        head = (await reader.readuntil(b"\r\n\r\n")).decode()
        request_line, *lines = head.split("\r\n")
        _, target, _ = request_line.split(" ", 2)
        headers: dict[str, list[str]] = {}
        for line in lines:
            if ":" in line:
                name, value = line.split(":", 1)
                headers.setdefault(name.strip().lower(), []).append(value.strip())
        url = urlsplit(target)
        if headers.get("upgrade", [""])[0].lower() != "spdy/3.1":
            body = json.dumps(plain_response(url.path)).encode()
            writer.write(b"HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nConnection: close\r\n"
                         b"Content-Length: %d\r\n\r\n%s" % (len(body), body))
            await writer.drain()
            writer.close()
            return
        offered = headers.get("x-stream-protocol-version", [])
        portforward = url.path.endswith("/portforward")
        preferred = (PORTFORWARD_SPDY_PROTOCOL,) if portforward else SPDY_EXEC_PROTOCOLS_PREFERRED
        protocol = negotiate_protocol(offered, preferred)
        assert protocol is not None, offered
        writer.write(b"HTTP/1.1 101 Switching Protocols\r\nConnection: Upgrade\r\nUpgrade: SPDY/3.1\r\n"
                     b"X-Stream-Protocol-Version: %s\r\n\r\n" % protocol.encode())
        await writer.drain()
        recorder = RecordingReader(reader)
        try:
            if portforward:
                session = spdy_portforward_streams(recorder, writer)
                try:
                    await scripted_portforward(session)
                finally:
                    await session.close()
            else:
                connection = SpdyConnection(recorder, writer, server=True)
                connection.start()
                streams = await accept_spdy_exec_streams(connection, exec_options(url.query), protocol)
                await scripted_exec(streams)
        finally:
            recordings.append(bytes(recorder.recorded))
            writer.close()

    return handle


@pytest.fixture
async def spdy_server(tmp_path: Path) -> AsyncIterator[tuple[Path, list[bytes]]]:
    recordings: list[bytes] = []
    server = await asyncio.start_server(await spdy_fake_server(recordings), "127.0.0.1", 0)
    port = server.sockets[0].getsockname()[1]
    yield write_kubeconfig(tmp_path, port), recordings
    server.close()


async def websocket_exec(request: web.Request) -> web.StreamResponse:
    offered = request.headers.getall("Sec-WebSocket-Protocol", [])
    preference: list[str] = request.app[EXEC_PREFERENCE]
    protocol = negotiate_protocol(offered, preference)
    assert protocol is not None
    ws = web.WebSocketResponse(protocols=(protocol,))
    await ws.prepare(request)
    request.app[PROTOCOLS].append(protocol)
    await scripted_exec(websocket_exec_streams(ws, exec_options(request.query_string), protocol))
    return ws


async def websocket_portforward(request: web.Request) -> web.StreamResponse:
    offered = request.headers.getall("Sec-WebSocket-Protocol", [])
    protocol = negotiate_protocol(offered, PORTFORWARD_WEBSOCKET_PROTOCOLS_PREFERRED)
    if protocol is None:
        return web.Response(status=400, text="no protocol")
    ws = web.WebSocketResponse(protocols=(protocol,))
    await ws.prepare(request)
    request.app[PROTOCOLS].append(protocol)
    if protocol == PORTFORWARD_TUNNEL_PROTOCOL:
        session = tunnelled_portforward_streams(ws)
    else:
        session = ChannelPortForwardStreams(ws, parse_ports_query(request.query.getall("ports")))
    try:
        await scripted_portforward(session)
    finally:
        await session.close()
    return ws


async def get_plain(request: web.Request) -> web.Response:
    return web.json_response(plain_response(request.path))


# (kubeconfig, protocols the server negotiated, the server's exec protocol preference: mutable)
FakeWebSocketServer = tuple[Path, list[str], list[str]]


@pytest.fixture
async def websocket_server(tmp_path: Path) -> AsyncIterator[FakeWebSocketServer]:
    app = web.Application()
    app[PROTOCOLS] = []
    app[EXEC_PREFERENCE] = [*EXEC_PROTOCOLS_PREFERRED]
    for path in ("/api/v1/namespaces/default/pods/p", *DISCOVERY):
        app.router.add_get(path, get_plain)
    app.router.add_route("*", "/api/v1/namespaces/default/pods/p/exec", websocket_exec)
    app.router.add_route("*", "/api/v1/namespaces/default/pods/p/portforward", websocket_portforward)
    runner = web.AppRunner(app)
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0)
    await site.start()
    port = site._server.sockets[0].getsockname()[1]  # type: ignore[union-attr]
    yield write_kubeconfig(tmp_path, port), app[PROTOCOLS], app[EXEC_PREFERENCE]
    await runner.cleanup()


def write_kubeconfig(tmp_path: Path, port: int) -> Path:
    path = tmp_path / "kubeconfig"
    path.write_text(json.dumps({
        "apiVersion": "v1", "kind": "Config", "current-context": "fake",
        "clusters": [{"name": "fake", "cluster": {"server": f"http://127.0.0.1:{port}"}}],
        "users": [{"name": "fake", "user": {}}],
        "contexts": [{"name": "fake",
                      "context": {"cluster": "fake", "user": "fake", "namespace": "default"}}],
    }))
    return path


async def run_kubectl(kubectl: Path, kubeconfig: Path, *args: str, stdin: bytes = b"",
                      env: dict[str, str] | None = None) -> tuple[int, str, str]:
    process = await asyncio.create_subprocess_exec(
        str(kubectl), "--kubeconfig", str(kubeconfig), *args,
        stdin=asyncio.subprocess.PIPE, stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.PIPE,
        env={**os.environ, **(env or {})})
    out, err = await asyncio.wait_for(process.communicate(stdin), 60)
    assert process.returncode is not None
    return process.returncode, out.decode(), err.decode()


def syn_streams(recorded: bytes) -> list[SynStreamFrame]:
    """Parse kubectl's raw bytes with a fresh decompressor: only its SYN_STREAMs."""
    decompressor = HeaderDecompressor()
    frames: list[SynStreamFrame] = []
    offset = 0
    while offset + 8 <= len(recorded):
        length = int.from_bytes(recorded[offset + 5:offset + 8], "big")
        payload = recorded[offset + 8:offset + 8 + length]
        frame = decode_frame(recorded[offset:offset + 8], payload, decompressor)
        if isinstance(frame, SynStreamFrame):
            frames.append(frame)
        offset += 8 + length
    return frames


async def test_kubectl_exec_over_spdy_prints_stdout_and_exits_with_sent_code(
        kubectl: Path, spdy_server: tuple[Path, list[bytes]]) -> None:
    kubeconfig, recordings = spdy_server
    code, out, err = await run_kubectl(kubectl, kubeconfig, "exec", "-i", "p", "--", "cat", "-",
                                       stdin=b"typed input\n",
                                       env={"KUBECTL_REMOTE_COMMAND_WEBSOCKETS": "false"})
    assert out == "hello cat -\nTYPED INPUT\n"
    assert "to stderr" in err
    assert code == 3, err
    kinds = {frame.headers["streamtype"][0] for frame in syn_streams(recordings[-1])}
    assert kinds == {"error", "stdin", "stdout", "stderr"}


async def test_kubectl_exec_over_websocket_v5(kubectl: Path, websocket_server: FakeWebSocketServer) -> None:
    kubeconfig, protocols, _ = websocket_server
    code, out, err = await run_kubectl(kubectl, kubeconfig, "exec", "-i", "p", "--", "cat", "-",
                                       stdin=b"over websocket\n")
    assert protocols == [CHANNEL_V5]
    assert out == "hello cat -\nOVER WEBSOCKET\n"
    assert "to stderr" in err
    assert code == 3, err


async def http_get_through(kubectl: Path, kubeconfig: Path, env: dict[str, str]) -> str:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        local_port = probe.getsockname()[1]
    process = await asyncio.create_subprocess_exec(
        str(kubectl), "--kubeconfig", str(kubeconfig), "port-forward", "p", f"{local_port}:8080",
        stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.PIPE, env={**os.environ, **env})
    try:
        assert process.stdout is not None
        line = await asyncio.wait_for(process.stdout.readline(), 30)
        assert b"Forwarding from" in line, line
        reader, writer = await asyncio.open_connection("127.0.0.1", local_port)
        writer.write(b"GET / HTTP/1.1\r\nHost: x\r\n\r\n")
        await writer.drain()
        response = await asyncio.wait_for(reader.read(), 30)
        writer.close()
        return response.decode()
    finally:
        process.terminate()
        await process.wait()


async def test_kubectl_port_forward_over_websocket_tunnel(
        kubectl: Path, websocket_server: FakeWebSocketServer) -> None:
    kubeconfig, protocols, _ = websocket_server
    response = await http_get_through(kubectl, kubeconfig, {})
    assert response.startswith("HTTP/1.1 200 OK") and response.endswith("port 8080 says hi")
    assert protocols == [PORTFORWARD_TUNNEL_PROTOCOL]


async def test_kubectl_port_forward_over_spdy(kubectl: Path, spdy_server: tuple[Path, list[bytes]]) -> None:
    kubeconfig, _ = spdy_server
    response = await http_get_through(kubectl, kubeconfig, {"KUBECTL_PORT_FORWARD_WEBSOCKETS": "false"})
    assert response.endswith("port 8080 says hi")


@pytest.mark.parametrize("label", KUBECTL_LABELS)
def test_kubectl_binaries_present(label: str) -> None:
    assert shutil.which(kubectl_binary(label))


def python_client_api(kubeconfig: Path) -> CoreV1Api:
    server = json.loads(kubeconfig.read_text())["clusters"][0]["cluster"]["server"]
    configuration = Configuration(host=server)
    return CoreV1Api(ApiClient(configuration))


def python_client_exec(api: CoreV1Api) -> tuple[str, str, int | None]:
    response = kubernetes_stream(api.connect_get_namespaced_pod_exec, "p", "default", command=["echo", "hi"],
                                 stdin=False, stdout=True, stderr=True, tty=False, _preload_content=False)
    response.run_forever(timeout=20)
    return response.read_stdout(), response.read_stderr(), response.returncode


@pytest.mark.parametrize("server_protocols", [EXEC_PROTOCOLS_PREFERRED, (CHANNEL_V4,)], ids=["v5", "v4-only"])
async def test_python_client_exec_over_channels(websocket_server: FakeWebSocketServer,
                                               server_protocols: tuple[str, ...]) -> None:
    kubeconfig, protocols, preference = websocket_server
    preference[:] = server_protocols
    out, err, code = await asyncio.to_thread(python_client_exec, python_client_api(kubeconfig))
    assert protocols == [server_protocols[0]]
    assert (out, err, code) == ("hello echo hi\n", "to stderr\n", 3)


def python_client_port_forward(api: CoreV1Api) -> bytes:
    connect = api.connect_get_namespaced_pod_portforward
    forwarder = kubernetes_portforward(connect, "p", "default", ports="8080")
    sock = forwarder.socket(8080)
    sock.settimeout(20)
    sock.sendall(b"GET / HTTP/1.1\r\nHost: x\r\n\r\n")
    received = b""
    while not received.endswith(b"says hi"):
        chunk = sock.recv(4096)
        if not chunk:
            break
        received += chunk
    sock.close()
    return received


async def test_python_client_port_forward_over_v4_channels(websocket_server: FakeWebSocketServer) -> None:
    kubeconfig, protocols, _ = websocket_server
    received = await asyncio.to_thread(python_client_port_forward, python_client_api(kubeconfig))
    assert protocols == [CHANNEL_V4]
    assert received.startswith(b"HTTP/1.1 200 OK") and received.endswith(b"port 8080 says hi")
