"""SPDY/3.1 frame encoding and decoding, and zlib-compressed header blocks.

Why this exists: kubectl's SPDY fallback (exec/attach/port-forward, and port-forward tunnelled over
WebSocket) speaks SPDY/3.1 as implemented by moby/spdystream.  This module is the byte layer only —
frames as frozen dataclasses, `encode_frame`/`read_frame`, and per-direction header (de)compressors
primed with the SPDY/3 dictionary (one zlib stream per connection direction, SYNC_FLUSH per block).
"""

from __future__ import annotations

import struct
import zlib
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Protocol

from httpstream.spdy_dictionary import SPDY3_DICTIONARY

SPDY_VERSION = 3

TYPE_SYN_STREAM = 1
TYPE_SYN_REPLY = 2
TYPE_RST_STREAM = 3
TYPE_SETTINGS = 4
TYPE_PING = 6
TYPE_GOAWAY = 7
TYPE_HEADERS = 8
TYPE_WINDOW_UPDATE = 9

FLAG_FIN = 0x01
FLAG_UNIDIRECTIONAL = 0x02

# RST_STREAM status codes (spdy/3 §2.4.2).
RST_PROTOCOL_ERROR = 1
RST_INVALID_STREAM = 2
RST_REFUSED_STREAM = 3
RST_CANCEL = 5
RST_INTERNAL_ERROR = 6
RST_STREAM_ALREADY_CLOSED = 9

SETTINGS_INITIAL_WINDOW_SIZE = 7
DEFAULT_WINDOW_SIZE = 64 * 1024
MAX_FRAME_LENGTH = 0xFFFFFF

Headers = Mapping[str, Sequence[str]]


class SpdyProtocolError(Exception):
    """The peer sent bytes that are not valid SPDY/3.1."""


@dataclass(frozen=True, slots=True)
class DataFrame:
    stream_id: int
    data: bytes
    flags: int = 0


@dataclass(frozen=True, slots=True)
class SynStreamFrame:
    stream_id: int
    headers: dict[str, list[str]]
    flags: int = 0
    associated_stream_id: int = 0
    priority: int = 0


@dataclass(frozen=True, slots=True)
class SynReplyFrame:
    stream_id: int
    headers: dict[str, list[str]]
    flags: int = 0


@dataclass(frozen=True, slots=True)
class HeadersFrame:
    stream_id: int
    headers: dict[str, list[str]]
    flags: int = 0


@dataclass(frozen=True, slots=True)
class RstStreamFrame:
    stream_id: int
    status: int


@dataclass(frozen=True, slots=True)
class SettingsFrame:
    # id -> (flags, value)
    settings: dict[int, tuple[int, int]] = field(default_factory=dict)
    flags: int = 0


@dataclass(frozen=True, slots=True)
class PingFrame:
    ping_id: int


@dataclass(frozen=True, slots=True)
class GoAwayFrame:
    last_good_stream_id: int
    status: int = 0


@dataclass(frozen=True, slots=True)
class WindowUpdateFrame:
    stream_id: int
    delta: int


Frame = (DataFrame | SynStreamFrame | SynReplyFrame | HeadersFrame | RstStreamFrame | SettingsFrame
         | PingFrame | GoAwayFrame | WindowUpdateFrame)


class HeaderCompressor:
    """Compresses header blocks for one direction of one connection (the zlib stream spans all blocks)."""

    def __init__(self) -> None:
        self._zlib = zlib.compressobj(zlib.Z_DEFAULT_COMPRESSION, zlib.DEFLATED, 15, 8,
                                      zlib.Z_DEFAULT_STRATEGY, SPDY3_DICTIONARY)

    def compress(self, headers: Headers) -> bytes:
        block = [struct.pack(">I", len(headers))]
        for name, values in headers.items():
            # SPDY/3 requires lowercase names; several values travel NUL-separated in one entry.
            encoded_name = name.lower().encode()
            encoded_value = b"\x00".join(v.encode() for v in values)
            block.append(struct.pack(">I", len(encoded_name)) + encoded_name)
            block.append(struct.pack(">I", len(encoded_value)) + encoded_value)
        return self._zlib.compress(b"".join(block)) + self._zlib.flush(zlib.Z_SYNC_FLUSH)


class HeaderDecompressor:
    """Decompresses the header blocks the peer sends on one connection."""

    def __init__(self) -> None:
        self._zlib = zlib.decompressobj(15, SPDY3_DICTIONARY)

    def decompress(self, block: bytes) -> dict[str, list[str]]:
        try:
            raw = self._zlib.decompress(block)
        except zlib.error as exc:
            raise SpdyProtocolError(f"bad header block: {exc}") from exc
        return parse_header_block(raw)


def parse_header_block(raw: bytes) -> dict[str, list[str]]:
    """Decode an uncompressed name/value block into lowercase names -> values."""
    try:
        (count,) = struct.unpack_from(">I", raw, 0)
        offset = 4
        headers: dict[str, list[str]] = {}
        for _ in range(count):
            (name_len,) = struct.unpack_from(">I", raw, offset)
            name = raw[offset + 4:offset + 4 + name_len].decode()
            offset += 4 + name_len
            (value_len,) = struct.unpack_from(">I", raw, offset)
            value = raw[offset + 4:offset + 4 + value_len].decode()
            offset += 4 + value_len
            headers.setdefault(name.lower(), []).extend(value.split("\x00"))
    except (struct.error, UnicodeDecodeError) as exc:
        raise SpdyProtocolError(f"truncated header block: {exc}") from exc
    return headers


def _control(frame_type: int, flags: int, payload: bytes) -> bytes:
    return struct.pack(">HHI", 0x8000 | SPDY_VERSION, frame_type, (flags << 24) | len(payload)) + payload


def _stream_id_and_headers(stream_id: int, headers: Headers, compressor: HeaderCompressor) -> bytes:
    return struct.pack(">I", stream_id) + compressor.compress(headers)


def encode_frame(frame: Frame, compressor: HeaderCompressor) -> bytes:
    """Serialise one frame; header-bearing frames advance `compressor`'s zlib stream."""
    match frame:
        case DataFrame(stream_id, data, flags):
            return struct.pack(">II", stream_id & 0x7FFFFFFF, (flags << 24) | len(data)) + data
        case SynStreamFrame(stream_id, headers, flags, assoc, priority):
            fixed = struct.pack(">IIBB", stream_id, assoc, (priority & 0x7) << 5, 0)
            return _control(TYPE_SYN_STREAM, flags, fixed + compressor.compress(headers))
        case SynReplyFrame(stream_id, headers, flags):
            return _control(TYPE_SYN_REPLY, flags, _stream_id_and_headers(stream_id, headers, compressor))
        case HeadersFrame(stream_id, headers, flags):
            return _control(TYPE_HEADERS, flags, _stream_id_and_headers(stream_id, headers, compressor))
        case RstStreamFrame(stream_id, status):
            return _control(TYPE_RST_STREAM, 0, struct.pack(">II", stream_id, status))
        case SettingsFrame(settings, flags):
            entries = (struct.pack(">II", (entry_flags << 24) | key, value)
                       for key, (entry_flags, value) in settings.items())
            body = struct.pack(">I", len(settings)) + b"".join(entries)
            return _control(TYPE_SETTINGS, flags, body)
        case PingFrame(ping_id):
            return _control(TYPE_PING, 0, struct.pack(">I", ping_id))
        case GoAwayFrame(last_good, status):
            return _control(TYPE_GOAWAY, 0, struct.pack(">II", last_good, status))
        case WindowUpdateFrame(stream_id, delta):
            return _control(TYPE_WINDOW_UPDATE, 0, struct.pack(">II", stream_id, delta))
    raise TypeError(f"not a SPDY frame: {frame!r}")


def decode_frame(head: bytes, payload: bytes, decompressor: HeaderDecompressor) -> Frame | None:
    """Decode one frame from its 8-byte head and payload; None for types we ignore (NOOP, CREDENTIAL)."""
    first, second = struct.unpack(">II", head)
    flags = second >> 24
    if not first & 0x80000000:
        return DataFrame(first & 0x7FFFFFFF, payload, flags)
    version = (first >> 16) & 0x7FFF
    if version != SPDY_VERSION:
        raise SpdyProtocolError(f"unsupported SPDY version {version}")
    frame_type = first & 0xFFFF
    try:
        return _decode_control(frame_type, flags, payload, decompressor)
    except struct.error as exc:
        raise SpdyProtocolError(f"short control frame type {frame_type}") from exc


def _decode_control(frame_type: int, flags: int, payload: bytes,
                    decompressor: HeaderDecompressor) -> Frame | None:
    if frame_type == TYPE_SYN_STREAM:
        stream_id, assoc, prio = struct.unpack_from(">IIB", payload)
        return SynStreamFrame(stream_id & 0x7FFFFFFF, decompressor.decompress(payload[10:]), flags,
                              assoc & 0x7FFFFFFF, prio >> 5)
    if frame_type in (TYPE_SYN_REPLY, TYPE_HEADERS):
        (stream_id,) = struct.unpack_from(">I", payload)
        headers = decompressor.decompress(payload[4:])
        cls = SynReplyFrame if frame_type == TYPE_SYN_REPLY else HeadersFrame
        return cls(stream_id & 0x7FFFFFFF, headers, flags)
    if frame_type == TYPE_RST_STREAM:
        stream_id, status = struct.unpack_from(">II", payload)
        return RstStreamFrame(stream_id & 0x7FFFFFFF, status)
    if frame_type == TYPE_SETTINGS:
        (count,) = struct.unpack_from(">I", payload)
        settings: dict[int, tuple[int, int]] = {}
        for index in range(count):
            key, value = struct.unpack_from(">II", payload, 4 + 8 * index)
            settings[key & 0xFFFFFF] = (key >> 24, value)
        return SettingsFrame(settings, flags)
    if frame_type == TYPE_PING:
        return PingFrame(struct.unpack_from(">I", payload)[0])
    if frame_type == TYPE_GOAWAY:
        last_good, status = struct.unpack_from(">II", payload) if len(payload) >= 8 else (
            struct.unpack_from(">I", payload)[0], 0)
        return GoAwayFrame(last_good & 0x7FFFFFFF, status)
    if frame_type == TYPE_WINDOW_UPDATE:
        stream_id, delta = struct.unpack_from(">II", payload)
        return WindowUpdateFrame(stream_id & 0x7FFFFFFF, delta & 0x7FFFFFFF)
    return None


class ByteReader(Protocol):
    async def readexactly(self, n: int) -> bytes: ...


async def read_frame(reader: ByteReader, decompressor: HeaderDecompressor) -> Frame | None:
    """Read and decode the next frame (None: an ignored frame type). Raises IncompleteReadError at EOF."""
    head = await reader.readexactly(8)
    length = struct.unpack(">I", head[4:])[0] & 0xFFFFFF
    payload = await reader.readexactly(length) if length else b""
    return decode_frame(head, payload, decompressor)
