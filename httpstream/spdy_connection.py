"""An asyncio SPDY/3.1 connection: streams created by either side over one (reader, writer) pair.

Why this exists: kubectl's SPDY transport (moby/spdystream under client-go's httpstream/spdy) opens one
stream per role — `streamtype` error/stdin/stdout/stderr/resize for exec, data/error pairs for
port-forward — and waits for a SYN_REPLY on each.  `SpdyConnection.run()` is the single frame loop; the
server side takes new streams from `accept_stream()` (replying immediately, as upstream's kubelet does),
the client side (tests, the API server's proxy) calls `create_stream()`.

Flow control: like spdystream we never block on the peer's send window (spdystream neither enforces nor
always replenishes it), but we do replenish the peer's view of ours with WINDOW_UPDATE as data arrives, so a
strict peer never stalls.  Received data is buffered per stream without bound — a deliberate simplification.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Mapping, Sequence
from typing import Protocol

from httpstream.spdy_frames import (
    FLAG_FIN,
    RST_CANCEL,
    RST_INVALID_STREAM,
    ByteReader,
    DataFrame,
    Frame,
    GoAwayFrame,
    HeaderCompressor,
    HeaderDecompressor,
    HeadersFrame,
    PingFrame,
    RstStreamFrame,
    SpdyProtocolError,
    SynReplyFrame,
    SynStreamFrame,
    WindowUpdateFrame,
    encode_frame,
    read_frame,
)

log = logging.getLogger(__name__)

MAX_DATA_CHUNK = 32 * 1024


class ByteWriter(Protocol):
    def write(self, data: bytes) -> None: ...
    async def drain(self) -> None: ...
    def close(self) -> None: ...


class StreamResetError(ConnectionError):
    """The stream was reset (RST_STREAM) or its connection went away."""


class SpdyStream:
    """One SPDY stream: headers, an inbound byte queue, and an outbound half."""

    def __init__(self, connection: SpdyConnection, stream_id: int, headers: dict[str, list[str]]) -> None:
        self.connection = connection
        self.id = stream_id
        self.headers = headers
        self.reply_headers: dict[str, list[str]] = {}
        self._inbound: asyncio.Queue[bytes] = asyncio.Queue()
        self._replied = asyncio.Event()
        self.remote_closed = False
        self.local_closed = False
        self.reset_status: int | None = None

    def header(self, name: str) -> str:
        """The first value of a (lowercase) header, or ""."""
        values = self.headers.get(name.lower())
        return values[0] if values else ""

    async def read(self) -> bytes:
        """The next chunk the peer sent; b"" once the peer half-closed or the stream was reset."""
        if self._inbound.empty() and (self.remote_closed or self.reset_status is not None):
            return b""
        chunk = await self._inbound.get()
        if not chunk:
            # Keep reporting EOF to later readers.
            self._inbound.put_nowait(b"")
        return chunk

    async def read_all(self) -> bytes:
        parts = []
        while chunk := await self.read():
            parts.append(chunk)
        return b"".join(parts)

    async def write(self, data: bytes) -> None:
        if self.reset_status is not None:
            raise StreamResetError(f"stream {self.id} was reset ({self.reset_status})")
        if self.local_closed:
            raise StreamResetError(f"stream {self.id} is closed for writing")
        view = memoryview(data)
        for start in range(0, len(view), MAX_DATA_CHUNK):
            await self.connection.send(DataFrame(self.id, bytes(view[start:start + MAX_DATA_CHUNK])))

    async def close_write(self) -> None:
        """Half-close: an empty DATA frame with FIN (what spdystream's Close sends)."""
        if self.local_closed or self.reset_status is not None:
            return
        self.local_closed = True
        await self.connection.send(DataFrame(self.id, b"", FLAG_FIN))
        self.connection.forget_if_done(self)

    async def reply(self, headers: Mapping[str, Sequence[str]] | None = None, *, fin: bool = False) -> None:
        await self.connection.send(SynReplyFrame(self.id, {k: list(v) for k, v in (headers or {}).items()},
                                                 FLAG_FIN if fin else 0))
        if fin:
            self.local_closed = True

    async def reset(self, status: int = RST_CANCEL) -> None:
        if self.reset_status is None:
            self.reset_status = status
            self._inbound.put_nowait(b"")
            await self.connection.send(RstStreamFrame(self.id, status))
            self.connection.forget_if_done(self)

    async def wait_reply(self, reply_timeout: float) -> None:
        async with asyncio.timeout(reply_timeout):
            await self._replied.wait()
        if self.reset_status is not None:
            raise StreamResetError(f"stream {self.id} refused ({self.reset_status})")

    # Called by the connection's frame loop.
    def _deliver(self, data: bytes, *, fin: bool) -> None:
        if data:
            self._inbound.put_nowait(data)
        if fin and not self.remote_closed:
            self.remote_closed = True
            self._inbound.put_nowait(b"")

    def _on_reset(self, status: int) -> None:
        self.reset_status = status
        self._replied.set()
        self._inbound.put_nowait(b"")


class SpdyConnection:
    """Both ends of SPDY/3.1 over a byte pair; `run()` must be running for anything to arrive."""

    def __init__(self, reader: ByteReader, writer: ByteWriter, *, server: bool,
                 auto_reply: bool = True) -> None:
        self._reader = reader
        self._writer = writer
        self._server = server
        self._auto_reply = auto_reply
        self._compressor = HeaderCompressor()
        self._decompressor = HeaderDecompressor()
        self._send_lock = asyncio.Lock()
        self._streams: dict[int, SpdyStream] = {}
        self._accepted: asyncio.Queue[SpdyStream | None] = asyncio.Queue()
        self._next_stream_id = 2 if server else 1
        self._next_ping_id = 2 if server else 1
        self._pongs: dict[int, asyncio.Future[None]] = {}
        self.closed = asyncio.Event()
        self._runner: asyncio.Task[None] | None = None

    def start(self) -> None:
        """Run the frame loop in a task owned by this connection (stopped by `close()`)."""
        if self._runner is None:
            self._runner = asyncio.create_task(self.run(), name="spdy-frame-loop")

    async def send(self, frame: Frame) -> None:
        # Encoding happens under the lock: the zlib header stream must be written in the order it was built.
        async with self._send_lock:
            if self.closed.is_set():
                raise StreamResetError("SPDY connection closed")
            self._writer.write(encode_frame(frame, self._compressor))
            await self._writer.drain()

    async def run(self) -> None:
        """The frame loop; returns at EOF, GOAWAY or a protocol error, after waking every waiter."""
        try:
            while True:
                try:
                    frame = await read_frame(self._reader, self._decompressor)
                except (asyncio.IncompleteReadError, ConnectionError):
                    return
                if isinstance(frame, GoAwayFrame):
                    return
                if frame is not None:
                    await self._dispatch(frame)
        except SpdyProtocolError:
            log.warning("SPDY protocol error; closing connection", exc_info=True)
        finally:
            self._shutdown()

    async def _dispatch(self, frame: Frame) -> None:
        match frame:
            case DataFrame(stream_id, data, flags):
                stream = self._streams.get(stream_id)
                if stream is None:
                    await self._send_quietly(RstStreamFrame(stream_id, RST_INVALID_STREAM))
                    return
                stream._deliver(data, fin=bool(flags & FLAG_FIN))
                if data:
                    # Replenish the peer's send window right away (upstream-compatible, see module docstring).
                    await self._send_quietly(WindowUpdateFrame(stream_id, len(data)))
                self.forget_if_done(stream)
            case SynStreamFrame(stream_id, headers, flags):
                stream = SpdyStream(self, stream_id, headers)
                self._streams[stream_id] = stream
                if self._auto_reply:
                    await self._send_quietly(SynReplyFrame(stream_id, {}))
                stream._deliver(b"", fin=bool(flags & FLAG_FIN))
                self._accepted.put_nowait(stream)
            case SynReplyFrame(stream_id, headers, flags) | HeadersFrame(stream_id, headers, flags):
                if (stream := self._streams.get(stream_id)) is not None:
                    stream.reply_headers.update(headers)
                    stream._replied.set()
                    stream._deliver(b"", fin=bool(flags & FLAG_FIN))
            case RstStreamFrame(stream_id, status):
                if (stream := self._streams.pop(stream_id, None)) is not None:
                    stream._on_reset(status)
            case PingFrame(ping_id):
                if (ping_id % 2 == 0) == self._server:
                    if (waiter := self._pongs.pop(ping_id, None)) is not None and not waiter.done():
                        waiter.set_result(None)
                else:
                    await self._send_quietly(PingFrame(ping_id))
            case _:
                # SETTINGS and WINDOW_UPDATE: we do not enforce send windows (spdystream compatibility).
                pass

    async def _send_quietly(self, frame: Frame) -> None:
        with contextlib.suppress(ConnectionError):
            await self.send(frame)

    def _shutdown(self) -> None:
        self.closed.set()
        for stream in list(self._streams.values()):
            if stream.remote_closed:
                stream._replied.set()
            else:
                stream._on_reset(RST_CANCEL)
        self._streams.clear()
        self._accepted.put_nowait(None)
        for waiter in self._pongs.values():
            if not waiter.done():
                waiter.set_exception(StreamResetError("SPDY connection closed"))

    def forget_if_done(self, stream: SpdyStream) -> None:
        if (stream.remote_closed and stream.local_closed) or stream.reset_status is not None:
            self._streams.pop(stream.id, None)

    async def accept_stream(self) -> SpdyStream | None:
        """The next stream the peer opened, or None once the connection is gone."""
        stream = await self._accepted.get()
        if stream is None:
            self._accepted.put_nowait(None)
        return stream

    async def create_stream(self, headers: Mapping[str, Sequence[str]], *, fin: bool = False,
                            reply_timeout: float = 30.0) -> SpdyStream:
        """Open a stream and wait for the peer's SYN_REPLY (client-go waits the same way)."""
        stream_id = self._next_stream_id
        self._next_stream_id += 2
        stream = SpdyStream(self, stream_id, {k.lower(): list(v) for k, v in headers.items()})
        stream.local_closed = fin
        self._streams[stream_id] = stream
        await self.send(SynStreamFrame(stream_id, stream.headers, FLAG_FIN if fin else 0))
        await stream.wait_reply(reply_timeout)
        return stream

    async def ping(self, reply_timeout: float = 10.0) -> None:
        ping_id = self._next_ping_id
        self._next_ping_id += 2
        waiter: asyncio.Future[None] = asyncio.get_running_loop().create_future()
        self._pongs[ping_id] = waiter
        await self.send(PingFrame(ping_id))
        async with asyncio.timeout(reply_timeout):
            await waiter

    async def close(self) -> None:
        """Say GOAWAY and close the transport (idempotent)."""
        if not self.closed.is_set():
            await self._send_quietly(GoAwayFrame(0))
            self.closed.set()
        with contextlib.suppress(ConnectionError, RuntimeError):
            self._writer.close()
        if self._runner is not None and self._runner is not asyncio.current_task():
            self._runner.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._runner
