"""WebSocket plumbing shared by the channel protocols and the SPDY-over-WebSocket tunnel.

Why this exists: the API server and kubelet use aiohttp WebSockets; the session code relies only on
their shape, not on aiohttp. `WebSocketLike` is that shape (`send_bytes`, `receive()` returning a
message with `.type`/`.data`, `close()`), matched structurally; `WSMsgType` is an IntEnum there, so
comparing with the RFC 6455-derived numbers below needs no import.  `WebSocketByteStream` presents the
binary messages of one WebSocket as a byte stream — what KEP-4006's `SPDY/3.1+portforward.k8s.io`
tunnelling needs (client-go's TunnelingConnection: each binary message carries raw SPDY bytes, no
channel prefix).
"""

from __future__ import annotations

import asyncio
import contextlib
from typing import Any, Protocol

MSG_TEXT = 1
MSG_BINARY = 2
MSG_PING = 9
MSG_PONG = 10
MSG_CLOSE = 8
MSG_CLOSING = 256
MSG_CLOSED = 257
MSG_ERROR = 258
_END_TYPES = frozenset({MSG_CLOSE, MSG_CLOSING, MSG_CLOSED, MSG_ERROR})


class WebSocketLike(Protocol):
    async def send_bytes(self, data: bytes) -> None: ...
    async def receive(self) -> Any: ...
    async def close(self) -> Any: ...


async def receive_binary(ws: WebSocketLike) -> bytes | None:
    """The next binary (or text, as bytes) message; None once the socket closed."""
    while True:
        message = await ws.receive()
        kind = int(message.type)
        if kind == MSG_BINARY:
            return bytes(message.data)
        if kind == MSG_TEXT:
            return str(message.data).encode()
        if kind in _END_TYPES:
            return None


class WebSocketByteStream:
    """Reader/writer over one WebSocket for SpdyConnection: write() buffers, drain() sends one message."""

    def __init__(self, ws: WebSocketLike) -> None:
        self._ws = ws
        self._inbound = bytearray()
        self._outbound = bytearray()
        self._eof = False

    async def readexactly(self, n: int) -> bytes:
        while len(self._inbound) < n:
            if self._eof:
                partial = bytes(self._inbound)
                self._inbound.clear()
                raise asyncio.IncompleteReadError(partial, n)
            message = await receive_binary(self._ws)
            if message is None:
                self._eof = True
            else:
                self._inbound += message
        chunk = bytes(self._inbound[:n])
        del self._inbound[:n]
        return chunk

    def write(self, data: bytes) -> None:
        self._outbound += data

    async def drain(self) -> None:
        if self._outbound:
            payload = bytes(self._outbound)
            self._outbound.clear()
            try:
                await self._ws.send_bytes(payload)
            except (RuntimeError, OSError) as exc:  # aiohttp raises these on a closing socket
                raise ConnectionResetError(str(exc)) from exc

    def close(self) -> None:
        # Closing a WebSocket is a coroutine; the owner awaits aclose().  Dropping writes is enough here.
        self._outbound.clear()

    async def aclose(self) -> None:
        with contextlib.suppress(RuntimeError, OSError):
            await self._ws.close()
