"""A client for the streaming URLs a CRI runtime hands out for Exec, Attach and PortForward.

Why this exists: CRI's ``Exec``/``Attach``/``PortForward`` RPCs do not stream; they answer a one-time URL on
the runtime's own streaming server (containerd: ``http://127.0.0.1:<port>/exec/<token>``).  Upstream's
kubelet proxies the client's upgraded connection to that URL; we instead speak to it as a client-go
client would — an HTTP ``Upgrade: SPDY/3.1`` request with ``X-Stream-Protocol-Version``, then one SPDY
stream per role (k8s.io/client-go/tools/remotecommand for exec/attach, tools/portforward for
port-forward) — so the kubelet can bridge any client transport (WebSocket v5, SPDY, the KEP-4006 tunnel)
onto it.  Only plain ``http://`` URLs are supported (containerd's default; no TLS on the stream server).
"""

from __future__ import annotations

import asyncio
import contextlib
import itertools
import json
from dataclasses import dataclass
from urllib.parse import urlsplit

from httpstream.channel_protocol import (
    CHANNEL_V4,
    PORTFORWARD_SPDY_PROTOCOL,
    STREAM_PROTOCOL_HEADER,
    decode_status,
)
from httpstream.spdy_connection import SpdyConnection, SpdyStream

CONNECT_TIMEOUT_S = 10.0
_HEAD_LIMIT = 64 * 1024


class StreamUrlError(Exception):
    """The runtime's streaming server refused the upgrade or is unreachable."""


async def _upgrade(url: str, protocol: str, *, timeout_s: float) -> SpdyConnection:
    parts = urlsplit(url)
    if parts.scheme != "http" or not parts.hostname:
        raise StreamUrlError(f"unsupported streaming URL {url!r} (only http:// is supported)")
    target = parts.path + (f"?{parts.query}" if parts.query else "")
    writer: asyncio.StreamWriter | None = None
    try:
        async with asyncio.timeout(timeout_s):
            reader, writer = await asyncio.open_connection(parts.hostname, parts.port or 80)
            writer.write((f"POST {target} HTTP/1.1\r\nHost: {parts.netloc}\r\nConnection: Upgrade\r\n"
                          f"Upgrade: SPDY/3.1\r\n{STREAM_PROTOCOL_HEADER}: {protocol}\r\n"
                          "Content-Length: 0\r\n\r\n").encode())
            await writer.drain()
            head = await reader.readuntil(b"\r\n\r\n")
    except (OSError, asyncio.IncompleteReadError, asyncio.LimitOverrunError, TimeoutError) as exc:
        if writer is not None:
            writer.close()  # connected, then timed out or cut off: do not leak the socket
        raise StreamUrlError(f"cannot reach the runtime's streaming server at {url}: {exc!r}") from exc
    status_line = head.split(b"\r\n", 1)[0].decode(errors="replace")
    if " 101 " not in f"{status_line} ":
        body = b""
        with contextlib.suppress(OSError, TimeoutError):
            async with asyncio.timeout(1.0):
                body = await reader.read(_HEAD_LIMIT)
        writer.close()
        raise StreamUrlError(f"runtime refused the stream upgrade: {status_line}: "
                             f"{body.decode(errors='replace').strip()}")
    connection = SpdyConnection(reader, writer, server=False)
    connection.start()
    return connection


@dataclass(frozen=True, slots=True)
class ExecExit:
    """How the command ended: an exit code, or (``exit_code`` None) a failure the runtime described."""

    exit_code: int | None
    error: str | None = None


def exec_exit(payload: bytes) -> ExecExit:
    """Read a v4 error-stream Status: Success, NonZeroExitCode with its ExitCode cause, or another failure."""
    if not payload.strip():
        return ExecExit(0)
    try:
        doc = json.loads(payload)
    except ValueError:
        return ExecExit(None, payload.decode(errors="replace"))
    if not isinstance(doc, dict):
        return ExecExit(None, payload.decode(errors="replace"))
    if doc.get("status") == "Success" or doc.get("reason") == "NonZeroExitCode":
        return ExecExit(decode_status(payload).exit_code)
    return ExecExit(None, str(doc.get("message") or payload.decode(errors="replace")))


class CriExecSession:
    """One exec/attach against the runtime: its stdin/stdout/stderr/resize streams and the exit outcome."""

    def __init__(self, connection: SpdyConnection, streams: dict[str, SpdyStream]) -> None:
        self._connection = connection
        self._streams = streams

    @property
    def has_stdin(self) -> bool:
        return "stdin" in self._streams

    async def write_stdin(self, data: bytes) -> None:
        if data and (stream := self._streams.get("stdin")) is not None:
            await stream.write(data)

    async def close_stdin(self) -> None:
        """Half-close stdin (SPDY FIN): the process sees EOF, as `kubectl exec -i` sends at input end."""
        if (stream := self._streams.get("stdin")) is not None:
            with contextlib.suppress(ConnectionError):
                await stream.close_write()

    async def read_stdout(self) -> bytes:
        """The next chunk of output; b"" at its end (or when the stream was not requested)."""
        stream = self._streams.get("stdout")
        return await stream.read() if stream is not None else b""

    async def read_stderr(self) -> bytes:
        stream = self._streams.get("stderr")
        return await stream.read() if stream is not None else b""

    async def resize(self, width: int, height: int) -> None:
        if (stream := self._streams.get("resize")) is not None:
            with contextlib.suppress(ConnectionError):
                await stream.write(json.dumps({"Width": width, "Height": height}).encode())

    async def wait_exit(self) -> ExecExit:
        """The runtime's verdict from the error stream (read to its end, so call it after the output)."""
        return exec_exit(await self._streams["error"].read_all())

    async def close(self) -> None:
        await self._connection.close()


async def open_exec(url: str, *, stdin: bool, stdout: bool, stderr: bool, tty: bool,
                    timeout_s: float = CONNECT_TIMEOUT_S) -> CriExecSession:
    """Connect to an Exec or Attach URL; the flags must be those the CRI request carried."""
    connection = await _upgrade(url, CHANNEL_V4, timeout_s=timeout_s)
    roles = ["error"]  # client-go creates the error stream first, then the rest
    roles += [role for role, wanted in (("stdin", stdin), ("stdout", stdout), ("stderr", stderr and not tty),
                                        ("resize", tty)) if wanted]
    streams: dict[str, SpdyStream] = {}
    try:
        for role in roles:
            streams[role] = await connection.create_stream({"streamtype": [role]}, reply_timeout=timeout_s)
    except (ConnectionError, TimeoutError) as exc:
        await connection.close()
        raise StreamUrlError(f"runtime did not accept the {role} stream: {exc!r}") from exc
    return CriExecSession(connection, streams)


@dataclass(slots=True)
class CriPortStream:
    """One forwarded connection into the sandbox: the data stream and its error stream."""

    port: int
    data: SpdyStream
    error: SpdyStream

    async def read(self) -> bytes:
        return await self.data.read()

    async def write(self, data: bytes) -> None:
        await self.data.write(data)

    async def close_write(self) -> None:
        with contextlib.suppress(ConnectionError):
            await self.data.close_write()

    async def read_error(self) -> str:
        """What the runtime reported for this connection ("" when it succeeded)."""
        return (await self.error.read_all()).decode(errors="replace")


class CriPortForward:
    """A port-forward connection to one sandbox; each `open_port` is one forwarded TCP connection."""

    def __init__(self, connection: SpdyConnection, timeout_s: float) -> None:
        self._connection = connection
        self._timeout_s = timeout_s
        self._request_ids = itertools.count()

    async def open_port(self, port: int) -> CriPortStream:
        request_id = str(next(self._request_ids))
        headers = {"port": [str(port)], "requestid": [request_id]}
        try:
            error = await self._connection.create_stream({**headers, "streamtype": ["error"]},
                                                         reply_timeout=self._timeout_s)
            await error.close_write()
            data = await self._connection.create_stream({**headers, "streamtype": ["data"]},
                                                        reply_timeout=self._timeout_s)
        except (ConnectionError, TimeoutError) as exc:
            raise StreamUrlError(f"runtime did not accept a stream for port {port}: {exc!r}") from exc
        return CriPortStream(port, data, error)

    async def close(self) -> None:
        await self._connection.close()


async def open_port_forward(url: str, *, timeout_s: float = CONNECT_TIMEOUT_S) -> CriPortForward:
    connection = await _upgrade(url, PORTFORWARD_SPDY_PROTOCOL, timeout_s=timeout_s)
    return CriPortForward(connection, timeout_s)
