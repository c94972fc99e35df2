"""Decode a Kubernetes protobuf request body into the JSON object a JSON body would have given.

Stock kubectl sends ``application/vnd.kubernetes.protobuf`` for its typed generators
(``create namespace/deployment/secret...``, ``auth can-i``, ``create token``, ``drain``) and,
unlike for CBOR, client-go never falls back to JSON on 415. The body is upstream's envelope
(k8s.io/apimachinery/pkg/runtime/serializer/protobuf): the magic ``k8s\\x00`` followed by a
``runtime.Unknown`` {typeMeta=1 {apiVersion=1, kind=2}, raw=2, contentEncoding=3,
contentType=4} whose ``raw`` is the object's own message. We walk ``raw`` with the field tables
of ``schema.py`` and print what upstream's JSON encoder would print for the decoded Go struct:
``omitempty`` zero scalars dropped, empty structs kept as ``{}``, zero ``metav1.Time`` omitted,
bytes as base64, ``Quantity``/``IntOrString``/``Time`` in their JSON string/number forms.
Unknown field numbers are skipped, as upstream's generated unmarshallers skip them.
"""

from __future__ import annotations

import base64
from datetime import UTC, datetime, timedelta
from typing import Any

import orjson

from server.protobuf import wire
from server.protobuf.schema import SPECIAL_MESSAGES, FieldSpec, MessageSchema, kind_message, message_schemas
from server.protobuf.wire import ProtobufDecodeError, UnknownKindError

ENVELOPE_MAGIC = b"k8s\x00"
_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)
_MAX_DEPTH = 64  # deeper nesting than any Kubernetes object: refuse rather than recurse forever


def decode_kubernetes_protobuf(data: bytes) -> dict[str, Any]:
    """The object in a ``k8s\\x00``-enveloped protobuf body as a JSON dict (camelCase keys).

    Raises ``ProtobufDecodeError`` for malformed bytes or an unsupported envelope, and its
    subclass ``UnknownKindError`` for a kind we have no schema for.
    """
    if not data.startswith(ENVELOPE_MAGIC):
        raise ProtobufDecodeError("the body does not start with the Kubernetes protobuf magic 'k8s\\x00'")
    envelope = _read_unknown(data, len(ENVELOPE_MAGIC), len(data))
    api_version, kind = envelope["apiVersion"], envelope["kind"]
    if envelope["contentEncoding"]:
        raise ProtobufDecodeError(
            f"unsupported protobuf contentEncoding {envelope['contentEncoding']!r}")
    message = kind_message(api_version, kind)
    if message is None:
        raise UnknownKindError(f"no protobuf schema for {api_version}/{kind}")
    start, end = envelope["raw"]
    body = _decode_message(data, start, end, message_schemas()[message], 0)
    result: dict[str, Any] = {"kind": kind, "apiVersion": api_version}
    result.update(body)
    return result


def _read_unknown(data: bytes, start: int, end: int) -> dict[str, Any]:
    """The ``runtime.Unknown`` envelope: type meta, the raw span and the content encoding."""
    envelope: dict[str, Any] = {"apiVersion": "", "kind": "", "raw": (end, end), "contentEncoding": ""}
    for number, wire_type, value, value_end in wire.iter_fields(data, start, end):
        if wire_type != wire.LENGTH_DELIMITED:
            continue
        if number == 1:
            for inner, inner_type, inner_value, inner_end in wire.iter_fields(data, value, value_end):
                if inner_type == wire.LENGTH_DELIMITED and inner in (1, 2):
                    key = "apiVersion" if inner == 1 else "kind"
                    envelope[key] = wire.read_text(data, inner_value, inner_end)
        elif number == 2:
            envelope["raw"] = (value, value_end)
        elif number == 3:
            envelope["contentEncoding"] = wire.read_text(data, value, value_end)
    return envelope


def _decode_message(data: bytes, start: int, end: int, schema: MessageSchema,
                    depth: int) -> dict[str, Any]:
    if depth > _MAX_DEPTH:
        raise ProtobufDecodeError("protobuf message nested too deeply")
    out: dict[str, Any] = {}
    for number, wire_type, value, value_end in wire.iter_fields(data, start, end):
        spec = schema.get(number)
        if spec is None:
            continue  # unknown field: upstream's unmarshallers skip it too
        if spec.is_map:
            if wire_type != wire.LENGTH_DELIMITED:
                raise _wrong_wire_type(spec, wire_type)
            key, item = _decode_map_entry(data, value, value_end, spec, depth)
            out.setdefault(spec.json_name, {})[key] = item
        elif spec.repeated:
            out.setdefault(spec.json_name, []).extend(
                _decode_repeated(data, wire_type, value, value_end, spec, depth))
        elif spec.inline:
            if wire_type != wire.LENGTH_DELIMITED:
                raise _wrong_wire_type(spec, wire_type)
            out.update(_decode_message(data, value, value_end, _schema_of(spec), depth + 1))
        else:
            item = _decode_value(data, wire_type, value, value_end, spec, depth)
            if item is _ABSENT and spec.keep_zero:
                out[spec.json_name] = None  # a zero Time in a field without omitempty prints null
            elif item is _ABSENT or (not item and spec.is_scalar and not spec.keep_zero):
                # omitempty drops zero scalars; Go never omits a struct (item is then a dict)
                out.pop(spec.json_name, None)  # last occurrence wins, as in proto2
            else:
                out[spec.json_name] = item
    return out


_ABSENT: Any = object()  # a zero metav1.Time or an empty RawExtension: no JSON value at all


def _decode_repeated(data: bytes, wire_type: int, value: int, value_end: int, spec: FieldSpec,
                     depth: int) -> list[Any]:
    if spec.type_name in ("int", "bool") and wire_type == wire.LENGTH_DELIMITED:
        numbers = wire.read_packed_varints(data, value, value_end)  # packed encoding
        if spec.type_name == "bool":
            return [bool(n) for n in numbers]
        return [wire.as_signed64(n) for n in numbers]
    item = _decode_value(data, wire_type, value, value_end, spec, depth)
    return [None if item is _ABSENT else item]


def _decode_map_entry(data: bytes, start: int, end: int, spec: FieldSpec,
                      depth: int) -> tuple[str, Any]:
    """A map entry is a message {key=1, value=2}; a missing value is the type's zero value."""
    key = ""
    item: Any = _ABSENT
    for number, wire_type, value, value_end in wire.iter_fields(data, start, end):
        if number == 1 and wire_type == wire.LENGTH_DELIMITED:
            key = wire.read_text(data, value, value_end)
        elif number == 2:
            item = _decode_value(data, wire_type, value, value_end, spec, depth)
    if item is _ABSENT:
        item = _zero_value(spec)
    return key, item


def _zero_value(spec: FieldSpec) -> Any:
    zeros: dict[str, Any] = {"str": "", "bytes": "", "int": 0, "bool": False, "float": 0.0}
    if spec.type_name in zeros:
        return zeros[spec.type_name]
    if spec.type_name in SPECIAL_MESSAGES:
        return _decode_special(spec.type_name, b"", 0, 0, 0)
    return {}


def _decode_value(data: bytes, wire_type: int, value: int, value_end: int, spec: FieldSpec,
                  depth: int) -> Any:
    type_name = spec.type_name
    if type_name in ("int", "bool"):
        if wire_type != wire.VARINT:
            raise _wrong_wire_type(spec, wire_type)
        return bool(value) if type_name == "bool" else wire.as_signed64(value)
    if type_name == "float":
        if wire_type == wire.FIXED64:
            return wire.read_double(data, value)
        if wire_type == wire.FIXED32:
            return wire.read_float(data, value)
        raise _wrong_wire_type(spec, wire_type)
    if wire_type != wire.LENGTH_DELIMITED:
        raise _wrong_wire_type(spec, wire_type)
    if type_name == "str":
        return wire.read_text(data, value, value_end)
    if type_name == "bytes":
        return base64.b64encode(data[value:value_end]).decode("ascii")
    if type_name in SPECIAL_MESSAGES:
        return _decode_special(type_name, data, value, value_end, depth)
    return _decode_message(data, value, value_end, _schema_of(spec), depth + 1)


def _schema_of(spec: FieldSpec) -> MessageSchema:
    try:
        return message_schemas()[spec.type_name]
    except KeyError:
        raise ProtobufDecodeError(f"no protobuf schema for message {spec.type_name}") from None


def _wrong_wire_type(spec: FieldSpec, wire_type: int) -> ProtobufDecodeError:
    return ProtobufDecodeError(
        f"field {spec.json_name!r} ({spec.type_name}) arrived with wire type {wire_type}")


def _scalar_fields(data: bytes, start: int, end: int) -> dict[int, int | bytes]:
    """The varint and length-delimited fields of a small fixed message, by number."""
    fields: dict[int, int | bytes] = {}
    for number, wire_type, value, value_end in wire.iter_fields(data, start, end):
        fields[number] = data[value:value_end] if wire_type == wire.LENGTH_DELIMITED else value
    return fields


def _decode_special(type_name: str, data: bytes, start: int, end: int, depth: int) -> Any:
    """Messages with their own JSON form (apimachinery's custom MarshalJSON methods)."""
    fields = _scalar_fields(data, start, end)
    if type_name in ("Time", "MicroTime"):
        # metav1.Time marshals a zero time as an empty message and prints it as null.
        if not fields:
            return _ABSENT
        return _format_time(_int(fields.get(1, 0)), _int(fields.get(2, 0)), micro=type_name == "MicroTime")
    if type_name == "Quantity":
        return _text(fields.get(1, b""))
    if type_name == "IntOrString":
        # intstr.IntOrString {type=1 (0 Int, 1 String), intVal=2, strVal=3}
        if _int(fields.get(1, 0)) == 1:
            return _text(fields.get(3, b""))
        return _int(fields.get(2, 0))
    if type_name == "Duration":
        return go_duration_string(_int(fields.get(1, 0)))
    if type_name == "ExtraValue":
        return [_text(raw) for raw in _repeated_bytes(data, start, end, 1)]
    return _decode_raw_json(fields.get(1, b""), depth)  # RawExtension and FieldsV1: raw=1


def _repeated_bytes(data: bytes, start: int, end: int, number: int) -> list[bytes]:
    return [data[value:value_end] for field, wire_type, value, value_end
            in wire.iter_fields(data, start, end)
            if field == number and wire_type == wire.LENGTH_DELIMITED]


def _decode_raw_json(raw: int | bytes, depth: int) -> Any:
    """RawExtension/FieldsV1 bytes: JSON, or a nested enveloped protobuf object."""
    if not isinstance(raw, bytes) or not raw:
        return _ABSENT
    if raw.startswith(ENVELOPE_MAGIC):
        if depth > _MAX_DEPTH:
            raise ProtobufDecodeError("protobuf message nested too deeply")
        return decode_kubernetes_protobuf(raw)
    try:
        return orjson.loads(raw)
    except orjson.JSONDecodeError as e:
        raise ProtobufDecodeError(f"embedded raw object is neither JSON nor protobuf: {e}") from e


def _int(value: int | bytes) -> int:
    if isinstance(value, bytes):
        raise ProtobufDecodeError("expected a varint, got a length-delimited field")
    return wire.as_signed64(value)


def _text(value: int | bytes) -> str:
    if not isinstance(value, bytes):
        raise ProtobufDecodeError("expected a string, got a varint")
    return wire.read_text(value, 0, len(value))


def _format_time(seconds: int, nanos: int, *, micro: bool) -> str:
    """RFC 3339 in UTC as metav1.Time (seconds) and metav1.MicroTime (microseconds) print it.

    Like upstream's Time.Unmarshal, a Time's nanoseconds are dropped.
    """
    try:
        moment = _EPOCH + timedelta(seconds=seconds)
    except OverflowError as e:
        raise ProtobufDecodeError(f"timestamp {seconds} is out of range") from e
    text = moment.strftime("%Y-%m-%dT%H:%M:%S")
    if micro:
        text += f".{max(nanos, 0) // 1000:06d}"
    return text + "Z"


def go_duration_string(nanoseconds: int) -> str:
    """A time.Duration as Go's ``Duration.String`` prints it (``1h0m0s``, ``1.5s``, ``300ms``)."""
    if nanoseconds == 0:
        return "0s"
    sign = "-" if nanoseconds < 0 else ""
    remaining = abs(nanoseconds)
    if remaining < 1_000:
        return f"{sign}{remaining}ns"
    if remaining < 1_000_000:
        return f"{sign}{_with_fraction(remaining, 3)}µs"
    if remaining < 1_000_000_000:
        return f"{sign}{_with_fraction(remaining, 6)}ms"
    minutes, within_minute = divmod(remaining, 60_000_000_000)
    text = f"{_with_fraction(within_minute, 9)}s"
    if minutes:
        hours, minutes = divmod(minutes, 60)
        text = (f"{hours}h" if hours else "") + f"{minutes}m" + text
    return sign + text


def _with_fraction(value: int, digits: int) -> str:
    whole, fraction = divmod(value, 10**digits)
    if not fraction:
        return str(whole)
    return f"{whole}." + f"{fraction:0{digits}d}".rstrip("0")
