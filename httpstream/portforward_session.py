"""`PortForwardStreams`: the port-forward requests of one connection, whatever transport carries them.

Why this exists: the kubelet forwards each request to a port inside the pod's network namespace and should
not care how it arrived.  Three transports reach it, as upstream's kubelet portforward package serves them:
- SPDY (`portforward.k8s.io`): per request the client opens an `error` and a `data` stream carrying the
  same `requestid` and the target `port` header; the server pairs them.
- the same SPDY tunnelled through WebSocket binary messages (`SPDY/3.1+portforward.k8s.io`, KEP-4006).
- the python client's channel protocol (`v4.channel.k8s.io`): ports come from the `ports` query parameter,
  port i uses channels 2i (data) and 2i+1 (error), and the server's first frame on each channel is the
  port number as two little-endian bytes.
"""

from __future__ import annotations

import asyncio
import contextlib
import struct
from collections.abc import AsyncIterator, Sequence

from httpstream.channel_protocol import ChannelFrameError, decode_channel_frame, encode_channel_frame
from httpstream.spdy_connection import ByteWriter, SpdyConnection, SpdyStream
from httpstream.spdy_frames import ByteReader
from httpstream.websocket_transport import WebSocketByteStream, WebSocketLike, receive_binary


class PortForwardStream:
    """One forwarded connection: bytes to and from `port`, plus a way to report a failure."""

    def __init__(self, port: int, request_id: str) -> None:
        self.port = port
        self.request_id = request_id

    async def read(self) -> bytes:
        """Bytes the client sent; b"" at its EOF."""
        raise NotImplementedError

    async def write(self, data: bytes) -> None:
        raise NotImplementedError

    async def close_write(self) -> None:
        """The pod side finished sending."""

    async def write_error(self, message: str) -> None:
        """Tell the client why forwarding failed (kubectl prints it)."""
        raise NotImplementedError


class PortForwardStreams:
    """The requests of one port-forward session."""

    def requests(self) -> AsyncIterator[PortForwardStream]:
        raise NotImplementedError

    async def close(self) -> None:
        raise NotImplementedError


class SpdyPortForwardStream(PortForwardStream):
    def __init__(self, port: int, request_id: str, data: SpdyStream, error: SpdyStream) -> None:
        super().__init__(port, request_id)
        self._data = data
        self._error = error

    async def read(self) -> bytes:
        return await self._data.read()

    async def write(self, data: bytes) -> None:
        await self._data.write(data)

    async def close_write(self) -> None:
        with contextlib.suppress(ConnectionError):
            await self._data.close_write()
            await self._error.close_write()

    async def write_error(self, message: str) -> None:
        with contextlib.suppress(ConnectionError):
            await self._error.write(message.encode())
            await self._error.close_write()


class SpdyPortForwardStreams(PortForwardStreams):
    """Pairs `data`/`error` streams by `requestid`; starts the connection's frame loop itself."""

    def __init__(self, connection: SpdyConnection, *, closer: WebSocketByteStream | None = None) -> None:
        self._connection = connection
        self._closer = closer
        connection.start()

    async def requests(self) -> AsyncIterator[PortForwardStream]:
        pending: dict[str, dict[str, SpdyStream]] = {}
        while (stream := await self._connection.accept_stream()) is not None:
            request_id = stream.header("requestid")
            kind = stream.header("streamtype")
            if kind not in ("data", "error"):
                await stream.reset()
                continue
            pair = pending.setdefault(request_id, {})
            pair[kind] = stream
            if "data" in pair and "error" in pair:
                del pending[request_id]
                try:
                    port = int(pair["data"].header("port"))
                except ValueError:
                    await pair["error"].write(b"invalid port header")
                    await pair["error"].close_write()
                    continue
                yield SpdyPortForwardStream(port, request_id, pair["data"], pair["error"])

    async def close(self) -> None:
        await self._connection.close()
        if self._closer is not None:
            await self._closer.aclose()


def spdy_portforward_streams(reader: ByteReader, writer: ByteWriter) -> PortForwardStreams:
    """Port-forward over a hijacked HTTP connection already upgraded to SPDY/3.1."""
    return SpdyPortForwardStreams(SpdyConnection(reader, writer, server=True))


def tunnelled_portforward_streams(ws: WebSocketLike) -> PortForwardStreams:
    """Port-forward over a WebSocket that negotiated `SPDY/3.1+portforward.k8s.io`."""
    byte_stream = WebSocketByteStream(ws)
    return SpdyPortForwardStreams(SpdyConnection(byte_stream, byte_stream, server=True), closer=byte_stream)


class ChannelPortForwardStream(PortForwardStream):
    def __init__(self, session: ChannelPortForwardStreams, index: int, port: int) -> None:
        super().__init__(port, str(index))
        self._session = session
        self._index = index
        self.inbound: asyncio.Queue[bytes] = asyncio.Queue()

    async def read(self) -> bytes:
        chunk = await self.inbound.get()
        if not chunk:
            self.inbound.put_nowait(b"")
        return chunk

    async def write(self, data: bytes) -> None:
        if data:
            await self._session.send(2 * self._index, data)

    async def write_error(self, message: str) -> None:
        with contextlib.suppress(ConnectionError):
            await self._session.send(2 * self._index + 1, message.encode())


class ChannelPortForwardStreams(PortForwardStreams):
    """The `v4.channel.k8s.io` port-forward protocol: one request per port in the `ports` query parameter."""

    def __init__(self, ws: WebSocketLike, ports: Sequence[int]) -> None:
        self._ws = ws
        self._send_lock = asyncio.Lock()
        self._streams = [ChannelPortForwardStream(self, index, port) for index, port in enumerate(ports)]
        self._pump: asyncio.Task[None] | None = None

    async def send(self, channel: int, data: bytes) -> None:
        async with self._send_lock:
            try:
                await self._ws.send_bytes(encode_channel_frame(channel, data))
            except (RuntimeError, OSError) as exc:
                raise ConnectionResetError(str(exc)) from exc

    async def requests(self) -> AsyncIterator[PortForwardStream]:
        # Upstream's first frame on both channels of a port is the port, little-endian, alone in its frame.
        for stream in self._streams:
            prefix = struct.pack("<H", stream.port)
            await self.send(2 * int(stream.request_id), prefix)
            await self.send(2 * int(stream.request_id) + 1, prefix)
        self._pump = asyncio.create_task(self._receive_loop(), name="portforward-websocket-receive")
        for stream in self._streams:
            yield stream

    async def _receive_loop(self) -> None:
        try:
            while (message := await receive_binary(self._ws)) is not None:
                with contextlib.suppress(ChannelFrameError):
                    channel, payload = decode_channel_frame(message)
                    index, is_error = divmod(channel, 2)
                    if not is_error and index < len(self._streams) and payload:
                        self._streams[index].inbound.put_nowait(payload)
        except (ConnectionError, RuntimeError):
            pass
        finally:
            for stream in self._streams:
                stream.inbound.put_nowait(b"")

    async def close(self) -> None:
        with contextlib.suppress(RuntimeError, OSError):
            await self._ws.close()
        if self._pump is not None:
            self._pump.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._pump


def parse_ports_query(values: Sequence[str]) -> list[int]:
    """`ports=8080,9090` (possibly repeated) as upstream's kubelet parses it; ValueError on a bad port."""
    ports = [int(token) for value in values for token in value.split(",") if token.strip()]
    if not ports or any(not 0 < port < 65536 for port in ports):
        raise ValueError(f"invalid ports: {values!r}")
    return ports
