"""Answer ``101 Switching Protocols`` on an aiohttp request and keep the raw connection.

Why this exists: the pod proxy (exec, attach, port-forward) relays whatever protocol the client and
the kubelet agreed on, byte for byte, as upstream's UpgradeAwareHandler does after hijacking the
connection. aiohttp only hands over the connection for WebSocket upgrades (``web.WebSocketResponse``);
kubectl's SPDY/3.1 upgrade is, to aiohttp, an ordinary POST whose later bytes would be parsed as the
next HTTP request. Installing a payload parser on the request's protocol *before* the 101 goes out
routes every later byte here instead, for any upgrade.

The API server's private twin of the kubelet side's ``apis/streaming`` upgrade helper: the server
must not depend on code written for the kubelet's process, and this one carries read back-pressure
(the transport pauses while the relay has not caught up).
"""

from __future__ import annotations

import asyncio
from collections.abc import Mapping
from typing import Any

from aiohttp import web

# Pause reading the client once this much is buffered and not yet relayed; resume below the low mark.
_HIGH_WATER = 1 << 20
_LOW_WATER = 1 << 18


class _IncomingBytes:
    """What aiohttp feeds after the takeover (it calls ``feed_data``/``feed_eof`` as on its parsers)."""

    def __init__(self, transport: asyncio.Transport) -> None:
        self._transport = transport
        self._buffer = bytearray()
        self._eof = False
        self._paused = False
        self._waiter: asyncio.Future[None] | None = None

    # -- aiohttp's payload-parser interface ----------------------------------------------------------
    def feed_data(self, data: bytes) -> tuple[bool, bytes]:
        if data:
            self._buffer += data
            if len(self._buffer) > _HIGH_WATER and not self._paused:
                self._paused = True
                self._transport.pause_reading()
            self._wake()
        return False, b""

    def feed_eof(self) -> None:
        self._eof = True
        self._wake()

    # -- our side -----------------------------------------------------------------------------------
    def _wake(self) -> None:
        if self._waiter is not None and not self._waiter.done():
            self._waiter.set_result(None)

    def _ended(self) -> bool:
        return self._eof or self._transport.is_closing()

    async def _wait_for_more(self) -> None:
        self._waiter = asyncio.get_running_loop().create_future()
        try:
            await self._waiter
        finally:
            self._waiter = None

    def _take(self, n: int) -> bytes:
        data = bytes(self._buffer[:n])
        del self._buffer[:n]
        if self._paused and len(self._buffer) < _LOW_WATER:
            self._paused = False
            self._transport.resume_reading()
        return data

    async def read(self, n: int = -1) -> bytes:
        while not self._buffer:
            if self._ended():
                return b""
            await self._wait_for_more()
        return self._take(len(self._buffer) if n < 0 else n)

    async def readexactly(self, n: int) -> bytes:
        while len(self._buffer) < n:
            if self._ended():
                raise asyncio.IncompleteReadError(bytes(self._buffer), n)
            await self._wait_for_more()
        return self._take(n)


class TakenOverConnection:
    """The client's connection after a 101, shaped like asyncio's StreamReader + StreamWriter."""

    def __init__(self, transport: asyncio.Transport, incoming: _IncomingBytes,
                 writer: Any, response: web.StreamResponse) -> None:
        self.response = response  # the prepared 101: what the handler returns once the relay ends
        self._transport = transport
        self._incoming = incoming
        self._writer = writer  # aiohttp's payload writer: its drain() honours transport back-pressure

    async def read(self, n: int = -1) -> bytes:
        """Up to ``n`` bytes the client sent (all buffered for -1); ``b""`` once it closed."""
        return await self._incoming.read(n)

    async def readexactly(self, n: int) -> bytes:
        return await self._incoming.readexactly(n)

    def write(self, data: bytes) -> None:
        if self._transport.is_closing():
            raise ConnectionResetError("the client closed the connection")
        self._transport.write(data)

    async def drain(self) -> None:
        await self._writer.drain()

    def close(self) -> None:
        """Close after flushing what was written (asyncio transports flush before closing)."""
        self._transport.close()


async def switch_protocols(request: web.BaseRequest, headers: Mapping[str, str]) -> TakenOverConnection:
    """Send ``101 Switching Protocols`` with ``headers`` and take the connection over.

    The caller owns the returned connection until it closes it; the handler then returns
    ``connection.response`` (aiohttp writes nothing more for a 1xx answer).
    """
    transport = request.transport
    if transport is None or transport.is_closing():
        raise ConnectionResetError("the client closed the connection")
    incoming = _IncomingBytes(transport)
    # Before the 101 goes out: the client may start talking the new protocol at once.
    request.protocol.set_parser(incoming)  # type: ignore[arg-type]
    response = web.StreamResponse(status=101, reason="Switching Protocols", headers=dict(headers))
    response.force_close()
    writer = await response.prepare(request)
    return TakenOverConnection(transport, incoming, writer, response)
