"""`ExecStreams`: one exec/attach session, whatever transport the client chose.

Why this exists: the kubelet's exec and attach handlers should be written once.  The client may have
negotiated WebSocket `v5`/`v4.channel.k8s.io` (kubectl ≥1.30, the python client) or SPDY/3.1 with
`X-Stream-Protocol-Version` (older kubectl, the fallback); both end up here as the same small API — an
async stdin iterator, stdout/stderr writers, resize events and `finish(exit_code=…)` — mirroring upstream's
remotecommand server (`k8s.io/kubelet/pkg/cri/streaming/remotecommand`).
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator, Sequence
from dataclasses import dataclass

from httpstream.channel_protocol import (
    CHANNEL_V5,
    CLOSE_CHANNEL,
    ERROR_CHANNEL,
    RESIZE_CHANNEL,
    STDERR_CHANNEL,
    STDIN_CHANNEL,
    STDOUT_CHANNEL,
    ChannelFrameError,
    TerminalSize,
    decode_channel_frame,
    decode_resize,
    encode_channel_frame,
    error_payload,
)
from httpstream.spdy_connection import SpdyConnection, SpdyStream, StreamResetError
from httpstream.websocket_transport import WebSocketLike, receive_binary

# Upstream's default streamCreationTimeout for the kubelet streaming server.
STREAM_CREATION_TIMEOUT = 30.0


@dataclass(frozen=True, slots=True)
class ExecOptions:
    """Which streams the request asked for (query parameters stdin/stdout/stderr/tty)."""

    stdin: bool = False
    stdout: bool = True
    stderr: bool = True
    tty: bool = False
    command: Sequence[str] = ()


class StreamSetupError(Exception):
    """The client did not open the streams it announced in time."""


class ExecStreams:
    """Transport-neutral exec session; build with `websocket_exec_streams` or `accept_spdy_exec_streams`."""

    def __init__(self, options: ExecOptions, protocol: str) -> None:
        self.options = options
        self.protocol = protocol
        self._stdin: asyncio.Queue[bytes] = asyncio.Queue()
        self._resizes: asyncio.Queue[TerminalSize | None] = asyncio.Queue()
        self._finished = False

    async def stdin(self) -> AsyncIterator[bytes]:
        """Chunks the client typed, ending at stdin EOF (or when the client went away)."""
        while chunk := await self._stdin.get():
            yield chunk
        self._stdin.put_nowait(b"")

    async def resize_events(self) -> AsyncIterator[TerminalSize]:
        while (size := await self._resizes.get()) is not None:
            yield size
        self._resizes.put_nowait(None)

    async def write_stdout(self, data: bytes) -> None:
        raise NotImplementedError

    async def write_stderr(self, data: bytes) -> None:
        raise NotImplementedError

    async def finish(self, exit_code: int | None = 0, *, error: str | None = None) -> None:
        """Report the outcome on the error stream and close the session (idempotent)."""
        raise NotImplementedError

    def _end_inputs(self) -> None:
        self._stdin.put_nowait(b"")
        self._resizes.put_nowait(None)


class WebSocketExecStreams(ExecStreams):
    """Exec over the `channel.k8s.io` WebSocket protocols (binary framing, v1 to v5)."""

    def __init__(self, ws: WebSocketLike, options: ExecOptions, protocol: str) -> None:
        super().__init__(options, protocol)
        self._ws = ws
        self._send_lock = asyncio.Lock()
        self._pump = asyncio.create_task(self._receive_loop(), name="exec-websocket-receive")

    async def _receive_loop(self) -> None:
        try:
            while (message := await receive_binary(self._ws)) is not None:
                try:
                    channel, payload = decode_channel_frame(message)
                    if channel == STDIN_CHANNEL and payload:
                        self._stdin.put_nowait(payload)
                    elif channel == RESIZE_CHANNEL:
                        self._resizes.put_nowait(decode_resize(payload))
                    elif channel == CLOSE_CHANNEL and self.protocol == CHANNEL_V5 and payload[:1] == b"\x00":
                        self._stdin.put_nowait(b"")
                except ChannelFrameError:
                    continue
        except (ConnectionError, RuntimeError):
            pass
        finally:
            self._end_inputs()

    async def _send(self, channel: int, data: bytes) -> None:
        async with self._send_lock:
            try:
                await self._ws.send_bytes(encode_channel_frame(channel, data))
            except (RuntimeError, OSError) as exc:
                raise ConnectionResetError(str(exc)) from exc

    async def write_stdout(self, data: bytes) -> None:
        if data:
            await self._send(STDOUT_CHANNEL, data)

    async def write_stderr(self, data: bytes) -> None:
        if data:
            await self._send(STDERR_CHANNEL, data)

    async def finish(self, exit_code: int | None = 0, *, error: str | None = None) -> None:
        if self._finished:
            return
        self._finished = True
        payload = error_payload(self.protocol, exit_code=exit_code, error=error, command=self.options.command)
        with contextlib.suppress(ConnectionError):
            if payload:
                await self._send(ERROR_CHANNEL, payload)
        with contextlib.suppress(RuntimeError, OSError):
            await self._ws.close()
        self._pump.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await self._pump


class SpdyExecStreams(ExecStreams):
    """Exec over SPDY streams tagged with the `streamtype` header."""

    def __init__(self, connection: SpdyConnection, streams: dict[str, SpdyStream], options: ExecOptions,
                 protocol: str) -> None:
        super().__init__(options, protocol)
        self._connection = connection
        self._streams = streams
        self._pumps = [asyncio.create_task(self._pump_stdin(), name="exec-spdy-stdin"),
                       asyncio.create_task(self._pump_resize(), name="exec-spdy-resize")]

    async def _pump_stdin(self) -> None:
        stream = self._streams.get("stdin")
        if stream is not None:
            while chunk := await stream.read():
                self._stdin.put_nowait(chunk)
        self._stdin.put_nowait(b"")

    async def _pump_resize(self) -> None:
        stream = self._streams.get("resize")
        if stream is not None:
            # Upstream decodes a stream of concatenated JSON objects; kubectl writes one per resize.
            decoder = _JsonObjectSplitter()
            while chunk := await stream.read():
                for document in decoder.feed(chunk):
                    with contextlib.suppress(ChannelFrameError):
                        self._resizes.put_nowait(decode_resize(document))
        self._resizes.put_nowait(None)

    async def write_stdout(self, data: bytes) -> None:
        if data and (stream := self._streams.get("stdout")) is not None:
            await stream.write(data)

    async def write_stderr(self, data: bytes) -> None:
        if data and (stream := self._streams.get("stderr")) is not None:
            await stream.write(data)

    async def finish(self, exit_code: int | None = 0, *, error: str | None = None) -> None:
        if self._finished:
            return
        self._finished = True
        payload = error_payload(self.protocol, exit_code=exit_code, error=error, command=self.options.command)
        with contextlib.suppress(ConnectionError):
            for role in ("stdout", "stderr"):
                if (stream := self._streams.get(role)) is not None:
                    await stream.close_write()
            error_stream = self._streams["error"]
            if payload:
                await error_stream.write(payload)
            await error_stream.close_write()
        for pump in self._pumps:
            pump.cancel()
        for pump in self._pumps:
            with contextlib.suppress(asyncio.CancelledError, StreamResetError):
                await pump
        # kubectl closes the connection once it has read every stream to EOF; give it the chance first.
        with contextlib.suppress(TimeoutError):
            async with asyncio.timeout(2.0):
                await self._connection.closed.wait()
        await self._connection.close()


class _JsonObjectSplitter:
    """Splits a byte stream of back-to-back JSON objects (no nesting beyond one level needed)."""

    def __init__(self) -> None:
        self._buffer = b""

    def feed(self, data: bytes) -> list[bytes]:
        self._buffer += data
        documents = []
        while (end := self._buffer.find(b"}")) != -1:
            documents.append(self._buffer[:end + 1].strip())
            self._buffer = self._buffer[end + 1:]
        return documents


def websocket_exec_streams(ws: WebSocketLike, options: ExecOptions, protocol: str) -> ExecStreams:
    """Wrap an upgraded WebSocket (subprotocol already chosen with `negotiate_protocol`)."""
    return WebSocketExecStreams(ws, options, protocol)


def expected_exec_stream_types(options: ExecOptions, protocol: str) -> set[str]:
    """The `streamtype`s a SPDY client opens: error always, resize only with a tty on v3+."""
    expected = {"error"}
    if options.stdin:
        expected.add("stdin")
    if options.stdout:
        expected.add("stdout")
    if options.stderr and not options.tty:
        expected.add("stderr")
    if options.tty and protocol not in ("channel.k8s.io", "v2.channel.k8s.io"):
        expected.add("resize")
    return expected


async def accept_spdy_exec_streams(connection: SpdyConnection, options: ExecOptions, protocol: str, *,
                                   stream_timeout: float = STREAM_CREATION_TIMEOUT) -> ExecStreams:
    """Collect the client's streams (its `run()` must already be running) into an ExecStreams."""
    expected = expected_exec_stream_types(options, protocol)
    streams: dict[str, SpdyStream] = {}

    async def collect() -> None:
        while not expected <= streams.keys():
            stream = await connection.accept_stream()
            if stream is None:
                raise StreamSetupError("connection closed before all streams were created")
            streams[stream.header("streamtype")] = stream

    try:
        async with asyncio.timeout(stream_timeout):
            await collect()
    except TimeoutError as exc:
        raise StreamSetupError(f"timed out waiting for streams {sorted(expected - streams.keys())}") from exc
    return SpdyExecStreams(connection, streams, options, protocol)
