"""httpstream without real clients: channel framing and negotiation, SPDY frames and header blocks,
the SPDY connection (in-process client against server), and the transport-neutral sessions.

Covers: every SPDY frame type round-tripping, the SPDY/3 dictionary's length and Adler-32 (the DICTID
kubectl's zlib streams carry), header blocks sharing one zlib stream, `channel.k8s.io` subprotocol choice,
exit-code Status payloads, v5 stdin close, resize events over WebSocket and SPDY, the v4 port-forward
port prefix.
Leaves out real kubectl / python-client interoperability (test_streaming_kubectl.py) and sockets.
"""

from __future__ import annotations

import asyncio
import json
import zlib
from dataclasses import dataclass
from typing import Any

import pytest

from httpstream.channel_protocol import (
    CHANNEL_V1,
    CHANNEL_V4,
    CHANNEL_V5,
    SPDY_EXEC_PROTOCOLS_PREFERRED,
    ChannelFrameError,
    TerminalSize,
    decode_channel_frame,
    decode_resize,
    decode_status,
    encode_channel_frame,
    encode_close_stream,
    encode_resize,
    error_payload,
    exit_code_status,
    negotiate_protocol,
    success_status,
)
from httpstream.exec_session import ExecOptions, accept_spdy_exec_streams, websocket_exec_streams
from httpstream.portforward_session import ChannelPortForwardStreams, parse_ports_query
from httpstream.spdy_connection import SpdyConnection
from httpstream.spdy_dictionary import SPDY3_DICTIONARY, SPDY3_DICTIONARY_ADLER32
from httpstream.spdy_frames import (
    FLAG_FIN,
    DataFrame,
    Frame,
    GoAwayFrame,
    HeaderCompressor,
    HeaderDecompressor,
    HeadersFrame,
    PingFrame,
    RstStreamFrame,
    SettingsFrame,
    SpdyProtocolError,
    SynReplyFrame,
    SynStreamFrame,
    WindowUpdateFrame,
    decode_frame,
    encode_frame,
)
from httpstream.websocket_transport import MSG_BINARY, MSG_CLOSED


def test_negotiation_prefers_v5_and_ignores_unknown_tokens() -> None:
    offered = ["base64url.bearer.authorization.k8s.io.abc, v4.channel.k8s.io", "v5.channel.k8s.io"]
    assert negotiate_protocol(offered) == CHANNEL_V5
    assert negotiate_protocol(["v4.channel.k8s.io,channel.k8s.io"]) == CHANNEL_V4
    assert negotiate_protocol(["channel.k8s.io"]) == CHANNEL_V1
    assert negotiate_protocol(["v5.channel.k8s.io"], SPDY_EXEC_PROTOCOLS_PREFERRED) is None
    assert negotiate_protocol([]) is None


def test_channel_frames_round_trip_and_reject_empty_messages() -> None:
    assert encode_channel_frame(1, b"out") == b"\x01out"
    assert decode_channel_frame(b"\x02err") == (2, b"err")
    assert encode_close_stream(0) == b"\xff\x00"
    with pytest.raises(ChannelFrameError):
        decode_channel_frame(b"")
    with pytest.raises(ChannelFrameError):
        encode_channel_frame(256, b"")


def test_resize_messages_use_upstream_field_names() -> None:
    assert decode_resize(b'{"Width":120,"Height":40}') == TerminalSize(120, 40)
    assert json.loads(encode_resize(TerminalSize(80, 24))) == {"Width": 80, "Height": 24}
    with pytest.raises(ChannelFrameError):
        decode_resize(b'{"width":1}')


def test_exit_status_payloads_match_what_kubectl_decodes() -> None:
    assert json.loads(success_status()) == {"metadata": {}, "status": "Success"}
    failure = json.loads(exit_code_status(7, command=["sh", "-c", "exit 7"]))
    assert failure["reason"] == "NonZeroExitCode"
    assert failure["details"]["causes"] == [{"reason": "ExitCode", "message": "7"}]
    assert decode_status(exit_code_status(7)).exit_code == 7
    assert decode_status(success_status()).exit_code == 0
    assert decode_status(error_payload(CHANNEL_V5, exit_code=None, error="boom")).message.endswith("boom")
    assert error_payload(CHANNEL_V1, exit_code=0, error=None) == b""
    assert error_payload(CHANNEL_V1, exit_code=None, error="boom") == b"boom"


def test_dictionary_is_the_published_spdy3_dictionary() -> None:
    assert len(SPDY3_DICTIONARY) == 1423
    assert zlib.adler32(SPDY3_DICTIONARY) == SPDY3_DICTIONARY_ADLER32
    assert SPDY3_DICTIONARY.startswith(b"\x00\x00\x00\x07options\x00\x00\x00\x04head")
    assert SPDY3_DICTIONARY.endswith(b"charset=iso-8859-1,utf-,*,enq=0.")


def round_trip(frames: list[Frame]) -> list[Frame | None]:
    compressor, decompressor = HeaderCompressor(), HeaderDecompressor()
    decoded: list[Frame | None] = []
    for frame in frames:
        wire = encode_frame(frame, compressor)
        assert int.from_bytes(wire[5:8], "big") == len(wire) - 8
        decoded.append(decode_frame(wire[:8], wire[8:], decompressor))
    return decoded


def test_every_frame_type_round_trips_sharing_one_header_stream() -> None:
    frames: list[Frame] = [
        SynStreamFrame(1, {"streamtype": ["error"], "port": ["8080"]}, FLAG_FIN, 0, 3),
        SynReplyFrame(1, {"x": ["a", "b"]}),
        HeadersFrame(1, {"streamtype": ["data"]}),
        SynStreamFrame(3, {"streamtype": ["data"], "requestid": ["0"]}),
        DataFrame(3, b"payload", FLAG_FIN),
        DataFrame(5, b""),
        RstStreamFrame(3, 5),
        SettingsFrame({7: (0, 65536), 4: (1, 100)}),
        PingFrame(2),
        GoAwayFrame(7, 0),
        WindowUpdateFrame(3, 1024),
    ]
    assert round_trip(frames) == frames


def test_header_block_zlib_stream_declares_the_dictionary() -> None:
    wire = encode_frame(SynStreamFrame(1, {"streamtype": ["stdin"]}), HeaderCompressor())
    block = wire[18:]
    assert block[0] == 0x78 and block[1] & 0x20  # FDICT set
    assert int.from_bytes(block[2:6], "big") == SPDY3_DICTIONARY_ADLER32


def test_decoder_rejects_other_versions_and_garbage_headers() -> None:
    with pytest.raises(SpdyProtocolError):
        decode_frame(b"\x80\x02\x00\x01\x00\x00\x00\x00", b"", HeaderDecompressor())
    with pytest.raises(SpdyProtocolError):
        decode_frame(b"\x80\x03\x00\x02\x00\x00\x00\x08", b"\x00\x00\x00\x01garbage!", HeaderDecompressor())


class Pipe:
    """One direction of an in-memory byte connection (reader and writer halves)."""

    def __init__(self) -> None:
        self.reader = asyncio.StreamReader()

    async def readexactly(self, n: int) -> bytes:
        return await self.reader.readexactly(n)

    def write(self, data: bytes) -> None:
        self.reader.feed_data(data)

    async def drain(self) -> None:
        await asyncio.sleep(0)

    def close(self) -> None:
        if not self.reader.at_eof():
            self.reader.feed_eof()


def connected_pair() -> tuple[SpdyConnection, SpdyConnection]:
    to_server, to_client = Pipe(), Pipe()
    server = SpdyConnection(to_server, to_client, server=True)
    client = SpdyConnection(to_client, to_server, server=False)
    server.start()
    client.start()
    return client, server


async def test_client_stream_data_fin_and_ping_reach_the_server() -> None:
    client, server = connected_pair()
    stream = await client.create_stream({"streamtype": ["data"], "port": ["80"]}, reply_timeout=5)
    accepted = await server.accept_stream()
    assert accepted is not None and accepted.header("port") == "80" and accepted.id == 1
    await stream.write(b"x" * 70_000)  # several DATA frames
    await stream.close_write()
    assert await accepted.read_all() == b"x" * 70_000
    await accepted.write(b"back")
    await accepted.close_write()
    assert await stream.read_all() == b"back"
    await client.ping(reply_timeout=5)
    await client.close()
    await asyncio.wait_for(server.closed.wait(), 5)
    assert await server.accept_stream() is None


async def test_spdy_exec_streams_with_tty_resize_and_exit_code() -> None:
    client, server = connected_pair()
    options = ExecOptions(stdin=True, stdout=True, stderr=True, tty=True, command=("sh",))
    kinds = ("error", "stdin", "stdout", "resize")
    opened = await asyncio.gather(*(client.create_stream({"streamtype": [kind]}, reply_timeout=5)
                                    for kind in kinds))
    client_streams = dict(zip(kinds, opened, strict=True))
    session = await accept_spdy_exec_streams(server, options, CHANNEL_V4, stream_timeout=5)
    await client_streams["resize"].write(b'{"Width":100,"Height":30}{"Width":101,"Height":31}')
    await client_streams["stdin"].write(b"ls\n")
    await client_streams["stdin"].close_write()
    assert [chunk async for chunk in session.stdin()] == [b"ls\n"]
    sizes = session.resize_events()
    assert await anext(sizes) == TerminalSize(100, 30)
    assert await anext(sizes) == TerminalSize(101, 31)
    await session.write_stdout(b"out")
    finishing = asyncio.create_task(session.finish(2))
    assert await client_streams["stdout"].read_all() == b"out"
    assert decode_status(await client_streams["error"].read_all()).exit_code == 2
    await client.close()  # kubectl hangs up once it has read every stream; finish() then returns
    await asyncio.wait_for(finishing, 1.5)
    assert server.closed.is_set()


@dataclass
class Message:
    type: int
    data: Any


class FakeWebSocket:
    """The aiohttp WebSocket shape the sessions rely on."""

    def __init__(self, incoming: list[bytes]) -> None:
        self.incoming: asyncio.Queue[Message] = asyncio.Queue()
        for data in incoming:
            self.incoming.put_nowait(Message(MSG_BINARY, data))
        self.sent: list[bytes] = []
        self.closed = False

    async def send_bytes(self, data: bytes) -> None:
        self.sent.append(data)

    async def receive(self) -> Message:
        return await self.incoming.get()

    async def close(self) -> bool:
        self.closed = True
        self.incoming.put_nowait(Message(MSG_CLOSED, None))
        return True


async def test_websocket_v5_close_channel_ends_stdin_and_exit_code_is_reported() -> None:
    ws = FakeWebSocket([b"\x00hello", b"\x04" + encode_resize(TerminalSize(80, 24)), encode_close_stream(0)])
    session = websocket_exec_streams(ws, ExecOptions(stdin=True, tty=True), CHANNEL_V5)
    assert [chunk async for chunk in session.stdin()] == [b"hello"]
    assert await anext(session.resize_events()) == TerminalSize(80, 24)
    await session.write_stdout(b"out")
    await session.write_stderr(b"")  # empty writes send nothing
    await session.finish(4)
    assert ws.sent[0] == b"\x01out"
    channel, payload = decode_channel_frame(ws.sent[1])
    assert channel == 3 and decode_status(payload).exit_code == 4
    assert ws.closed


async def test_websocket_v4_stdin_ends_when_the_socket_closes() -> None:
    ws = FakeWebSocket([b"\x00abc"])
    session = websocket_exec_streams(ws, ExecOptions(stdin=True), CHANNEL_V4)
    ws.incoming.put_nowait(Message(MSG_CLOSED, None))
    assert [chunk async for chunk in session.stdin()] == [b"abc"]
    await session.finish(0)
    assert json.loads(decode_channel_frame(ws.sent[-1])[1]) == {"metadata": {}, "status": "Success"}


async def test_channel_port_forward_announces_ports_and_routes_data_by_channel() -> None:
    ws = FakeWebSocket([b"\x02to-second", b"\x00to-first"])
    session = ChannelPortForwardStreams(ws, [8080, 9090])
    requests = [request async for request in session.requests()]
    assert [r.port for r in requests] == [8080, 9090]
    assert ws.sent[:4] == [b"\x00\x90\x1f", b"\x01\x90\x1f", b"\x02\x82\x23", b"\x03\x82\x23"]
    assert await requests[0].read() == b"to-first"
    assert await requests[1].read() == b"to-second"
    await requests[1].write(b"reply")
    await requests[0].write_error("refused")
    assert ws.sent[4:] == [b"\x02reply", b"\x01refused"]
    await session.close()
    assert await requests[0].read() == b""


def test_ports_query_parsing() -> None:
    assert parse_ports_query(["8080,9090", "80"]) == [8080, 9090, 80]
    with pytest.raises(ValueError):
        parse_ports_query(["0"])
    with pytest.raises(ValueError):
        parse_ports_query([])
