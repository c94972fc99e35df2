"""Taking over an aiohttp server connection after answering `101 Switching Protocols` ourselves.

Why this exists: aiohttp (3.14) only treats `Upgrade: websocket` (and `tcp`) as upgrades.  kubectl's SPDY
fallback sends `Upgrade: SPDY/3.1`; upstream's kubelet and API server answer it by hijacking the connection
(k8s.io/apimachinery/pkg/util/httpstream/spdy.responseUpgrader).  Here we do the same inside aiohttp:
install a raw-bytes parser on the request's protocol (`protocol.set_parser`) *before* the 101 goes out, so
every byte the client sends after it reaches us instead of aiohttp's HTTP parser, then write straight to
the transport.  The result is a (reader, writer) pair that `SpdyConnection` (or a plain byte proxy, as the
API server's pod proxy uses it) consumes.

Used by the kubelet's streaming server and the API server's pod proxy; the API is deliberately small:

    connection = await accept_upgrade(request, protocol_headers={"X-Stream-Protocol-Version": chosen})
    spdy = SpdyConnection(connection.reader, connection.writer, server=True)
    ...
    await connection.close()
    return connection.response          # the handler must return it (aiohttp then closes the socket)

A proxy that relays a backend's own 101 (upstream's UpgradeAwareHandler) passes `upgrade=None` and the
backend's headers as `protocol_headers`, so the client sees exactly what the backend agreed to, then
`splice`s the two connections (the API server's pod proxy to a kubelet, the gateway to a partition).

This is the one module of `httpstream` that imports aiohttp: it is glue for aiohttp servers by definition.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import Mapping
from typing import cast

from aiohttp import web

SPDY_UPGRADE = "SPDY/3.1"
# Above this many unread bytes we stop reading the socket until the consumer catches up.
_READ_HIGH_WATER = 1 << 20
_RELAY_SIZE = 1 << 16


def is_upgrade_request(request: web.BaseRequest, upgrade: str | None = SPDY_UPGRADE) -> bool:
    """`Connection: Upgrade` with `Upgrade: <upgrade>` (case-insensitive, as Go's httpstream checks).

    `upgrade=None` accepts any protocol (httpstream.IsUpgradeRequest, what a proxy relays blindly).
    """
    connection_tokens = {t.strip().lower() for t in request.headers.get("Connection", "").split(",")}
    offered = request.headers.get("Upgrade", "").strip()
    if upgrade is None:
        return "upgrade" in connection_tokens and bool(offered)
    return "upgrade" in connection_tokens and offered.lower() == upgrade.lower()


class UpgradedReader:
    """The bytes the client sent after the upgrade; also the parser aiohttp feeds (`feed_data`/`feed_eof`)."""

    def __init__(self, transport: asyncio.Transport | None) -> None:
        self._transport = transport
        self._buffer = bytearray()
        self._eof = False
        self._wakeup = asyncio.Event()
        self._paused = False

    # -- the parser side, called by aiohttp's RequestHandler.data_received / connection_lost --------------

    def feed_data(self, data: bytes) -> tuple[bool, bytes]:
        self._buffer += data
        self._wakeup.set()
        if len(self._buffer) > _READ_HIGH_WATER and self._transport is not None and not self._paused:
            self._paused = True
            self._transport.pause_reading()
        return False, b""

    def feed_eof(self) -> None:
        self._eof = True
        self._wakeup.set()

    # -- the consumer side -------------------------------------------------------------------------------

    async def _wait(self) -> None:
        self._wakeup.clear()
        await self._wakeup.wait()

    def _taken(self, n: int) -> bytes:
        chunk = bytes(self._buffer[:n])
        del self._buffer[:n]
        if self._paused and len(self._buffer) <= _READ_HIGH_WATER // 2 and self._transport is not None:
            self._paused = False
            with contextlib.suppress(RuntimeError):
                self._transport.resume_reading()
        return chunk

    async def readexactly(self, n: int) -> bytes:
        """Exactly `n` bytes; `asyncio.IncompleteReadError` if the client closed first."""
        while len(self._buffer) < n:
            if self._ended():
                partial = self._taken(len(self._buffer))
                raise asyncio.IncompleteReadError(partial, n)
            await self._wait()
        return self._taken(n)

    async def read(self, n: int = 65536) -> bytes:
        """Up to `n` (all buffered if negative) bytes as soon as any are there; b"" at EOF (for proxying)."""
        while not self._buffer:
            if self._ended():
                return b""
            await self._wait()
        return self._taken(len(self._buffer) if n < 0 else min(n, len(self._buffer)))

    def at_eof(self) -> bool:
        return self._ended() and not self._buffer

    def _ended(self) -> bool:
        # A closing transport has stopped reading the socket: nothing more can arrive even before
        # aiohttp's connection_lost gets round to feed_eof.
        return self._eof or (self._transport is not None and self._transport.is_closing())


class UpgradedWriter:
    """Writes to the hijacked transport; `drain()` honours the transport's flow control."""

    def __init__(self, response: web.StreamResponse, transport: asyncio.Transport) -> None:
        self._response = response
        self._transport = transport
        self._pending = bytearray()

    def write(self, data: bytes) -> None:
        self._pending += data

    async def drain(self) -> None:
        if not self._pending:
            return
        data = bytes(self._pending)
        self._pending.clear()
        if self._transport.is_closing():
            raise ConnectionResetError("connection closed")
        # StreamResponse.write on a 101 response writes raw bytes (no chunking: a 1xx has no body
        # framing) and waits while the transport is paused.
        await self._response.write(data)

    def close(self) -> None:
        self._pending.clear()
        self._transport.close()

    def is_closing(self) -> bool:
        return self._transport.is_closing()


class RawConnection:
    """An upgraded connection: `reader`, `writer`, and the prepared 101 the handler must return."""

    def __init__(self, reader: UpgradedReader, writer: UpgradedWriter, response: web.StreamResponse) -> None:
        self.reader = reader
        self.writer = writer
        self.response = response

    async def close(self) -> None:
        """Flush and close the socket (idempotent); the handler still returns `response` afterwards."""
        with contextlib.suppress(ConnectionError, RuntimeError):
            await self.writer.drain()
        self.response.force_close()
        self.writer.close()


async def accept_upgrade(request: web.BaseRequest, *, protocol_headers: Mapping[str, str] | None = None,
                         upgrade: str | None = SPDY_UPGRADE) -> RawConnection:
    """Answer 101 (`Connection: Upgrade`, `Upgrade: <upgrade>`, `protocol_headers`); take the connection.

    The caller has already checked `is_upgrade_request` and negotiated its protocol (e.g. picked an
    `X-Stream-Protocol-Version`).  With `upgrade=None` the 101 carries `protocol_headers` alone, as given
    (a proxy relaying its backend's answer).  Raises ConnectionResetError if the client is already gone.
    """
    transport = request.transport
    protocol = request.protocol
    if transport is None or transport.is_closing():
        raise ConnectionResetError("client went away before the upgrade")
    transport = cast(asyncio.Transport, transport)  # uvloop's TLS transport is not a subclass
    reader = UpgradedReader(transport)
    # Install the raw parser first: the client may start talking SPDY the moment it sees the 101.
    protocol.set_parser(reader)  # type: ignore[arg-type]  # duck-typed: feed_data/feed_eof
    response = web.StreamResponse(status=101, reason="Switching Protocols")
    if upgrade is not None:
        response.headers["Connection"] = "Upgrade"
        response.headers["Upgrade"] = upgrade
    for name, value in (protocol_headers or {}).items():
        response.headers[name] = value
    response.force_close()
    await response.prepare(request)
    return RawConnection(reader, UpgradedWriter(response, transport), response)


async def splice(client: RawConnection, reader: asyncio.StreamReader, writer: asyncio.StreamWriter, *,
                 name: str = "splice") -> None:
    """Copy bytes both ways between an upgraded client and a backend stream until either side closes,
    then close both (upstream's UpgradeAwareHandler: after the 101 the proxy is a byte pipe)."""

    async def upstream() -> None:
        while chunk := await client.reader.read(-1):
            writer.write(chunk)
            await writer.drain()

    async def downstream() -> None:
        while chunk := await reader.read(_RELAY_SIZE):
            client.writer.write(chunk)
            await client.writer.drain()

    tasks = [asyncio.create_task(upstream(), name=f"{name}-up"),
             asyncio.create_task(downstream(), name=f"{name}-down")]
    try:
        await asyncio.wait(tasks, return_when=asyncio.FIRST_COMPLETED)
    finally:
        for task in tasks:
            task.cancel()
        for task in tasks:
            with contextlib.suppress(asyncio.CancelledError, OSError):
                await task
        writer.close()
        await client.close()
