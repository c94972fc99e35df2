"""The protobuf wire format, read-only: varints, fixed-width numbers and length-delimited spans.

Kubernetes' ``generated.proto`` messages are proto2 and use only wire types 0 (varint),
1 (64-bit), 2 (length-delimited) and 5 (32-bit); groups (3/4) never occur. This module knows
nothing about Kubernetes: it turns bytes into ``(field number, wire type, value)`` triples so the
schema-driven decoder above it stays readable. Malformed input raises ``ProtobufDecodeError``.
"""

from __future__ import annotations

import struct
from collections.abc import Iterator

VARINT = 0
FIXED64 = 1
LENGTH_DELIMITED = 2
FIXED32 = 5

_DOUBLE = struct.Struct("<d")
_FLOAT = struct.Struct("<f")
_MAX_VARINT_BYTES = 10


class ProtobufDecodeError(ValueError):
    """The body is not a Kubernetes protobuf object we can read (malformed or of an unknown kind)."""


class UnknownKindError(ProtobufDecodeError):
    """Well-formed envelope, but we have no schema for its apiVersion/kind (the server answers 415)."""


_UINT64_MASK = 2**64 - 1


def read_varint(data: bytes, pos: int, end: int) -> tuple[int, int]:
    """Decode one base-128 varint at ``pos``; returns (value, position after it)."""
    result = 0
    shift = 0
    start = pos
    while pos < end:
        byte = data[pos]
        pos += 1
        result |= (byte & 0x7F) << shift
        if not byte & 0x80:
            # Bits past 64 are dropped, as Go's uint64 arithmetic in the generated unmarshallers
            # drops them: a 10-byte varint never becomes an integer JSON cannot carry.
            return result & _UINT64_MASK, pos
        shift += 7
        if pos - start >= _MAX_VARINT_BYTES:
            break
    raise ProtobufDecodeError(f"malformed varint at offset {start}")


def as_signed64(value: int) -> int:
    """Reinterpret a varint as two's-complement int64.

    Go encodes negative int32 and int64 alike as 10-byte sign-extended varints, so one
    conversion serves both widths.
    """
    return value - (1 << 64) if value >= 1 << 63 else value


def iter_fields(data: bytes, start: int, end: int) -> Iterator[tuple[int, int, int, int]]:
    """Yield ``(field number, wire type, value, value_end)`` for each field in ``data[start:end]``.

    For varints ``value`` is the decoded number; for length-delimited fields it is the start
    offset of the payload and ``value_end`` its end; for fixed-width fields it is the offset of
    the 8 or 4 raw bytes.
    """
    pos = start
    while pos < end:
        # Fast path: keys and lengths are almost always single-byte varints.
        key = data[pos]
        if key < 0x80:
            pos += 1
        else:
            key, pos = read_varint(data, pos, end)
        number, wire_type = key >> 3, key & 7
        if number == 0:
            raise ProtobufDecodeError(f"invalid field number 0 at offset {pos}")
        if wire_type == VARINT:
            value, pos = read_varint(data, pos, end)
            yield number, wire_type, value, pos
        elif wire_type == LENGTH_DELIMITED:
            if pos < end and data[pos] < 0x80:
                length = data[pos]
                pos += 1
            else:
                length, pos = read_varint(data, pos, end)
            if pos + length > end:
                raise ProtobufDecodeError(
                    f"field {number} claims {length} bytes but only {end - pos} remain")
            yield number, wire_type, pos, pos + length
            pos += length
        elif wire_type in (FIXED64, FIXED32):
            width = 8 if wire_type == FIXED64 else 4
            if pos + width > end:
                raise ProtobufDecodeError(f"truncated fixed-width field {number}")
            yield number, wire_type, pos, pos + width
            pos += width
        else:
            raise ProtobufDecodeError(f"unsupported wire type {wire_type} for field {number}")


def read_double(data: bytes, pos: int) -> float:
    value: float = _DOUBLE.unpack_from(data, pos)[0]
    return value


def read_float(data: bytes, pos: int) -> float:
    value: float = _FLOAT.unpack_from(data, pos)[0]
    return value


def read_packed_varints(data: bytes, start: int, end: int) -> list[int]:
    """The elements of a packed repeated varint field (proto3 style; proto2 senders may use it)."""
    values = []
    pos = start
    while pos < end:
        value, pos = read_varint(data, pos, end)
        values.append(value)
    return values


def read_text(data: bytes, start: int, end: int) -> str:
    try:
        return data[start:end].decode("utf-8")
    except UnicodeDecodeError as e:
        raise ProtobufDecodeError(f"string field is not valid UTF-8 at offset {start}") from e
