"""``/openapi/v2`` as protobuf: the Swagger 2.0 document in gnostic's ``openapi.v2.Document`` form.

Why it exists: kubectl validates on the client whenever the server's OpenAPI v3 shows no PATCH
operation taking ``fieldValidation`` for the kind it sends — kinds that are only ever created
(SubjectAccessReview, TokenReview, ...) and ``kind: List`` always (cli-runtime's
queryParamVerifierV3). Its client-side validator still reads the v2 document, and only as
protobuf (client-go's ``OpenAPISchema`` sends ``Accept:
application/com.github.proto-openapi.spec.v2@v1.0+protobuf``); a 406 there fails ``kubectl
create -f sar.yaml`` and ``kubectl replace -f list.json``. Upstream's kube-openapi handler serves
the same document as JSON and as this protobuf; so do we.

The encoding follows gnostic's OpenAPIv2.proto (proto3: default scalars are omitted, but a
present sub-message is written even when empty — kube-openapi tells an object with
``properties: {}`` from a map by that presence). Vendor extensions (``x-*``), ``default``,
``example`` and ``enum`` values travel as ``Any.yaml`` text; JSON is valid YAML, so they are
written as JSON. Only what kube-openapi and kubectl read from a Kubernetes document is mapped:
definitions in full, and paths with their operations, parameters and responses.
"""

from __future__ import annotations

import struct
from collections.abc import Callable, Iterable
from typing import Any

import orjson

Json = dict[str, Any]
MEDIA_TYPE = "application/com.github.proto-openapi.spec.v2.v1.0+protobuf"
# What clients send in Accept: the current name and the one client-go still uses.
ACCEPTED_SUBTYPES = ("com.github.proto-openapi.spec.v2.v1.0+protobuf",
                     "com.github.proto-openapi.spec.v2@v1.0+protobuf")
_DOUBLE = struct.Struct("<d")


# -- the wire format ------------------------------------------------------------------------------
def _varint(value: int) -> bytes:
    value &= (1 << 64) - 1
    out = bytearray()
    while value > 0x7F:
        out.append(value & 0x7F | 0x80)
        value >>= 7
    out.append(value)
    return bytes(out)


def _message(field: int, payload: bytes) -> bytes:
    return _varint(field << 3 | 2) + _varint(len(payload)) + payload


def _string(field: int, value: Any) -> bytes:
    return _message(field, str(value).encode("utf-8", "surrogatepass")) if value not in (None, "") else b""


def _strings(field: int, values: Any) -> bytes:
    return b"".join(_string(field, v) for v in _as_list(values))


def _bool(field: int, value: Any) -> bytes:
    return _varint(field << 3) + b"\x01" if value is True else b""


def _int64(field: int, value: Any) -> bytes:
    return _varint(field << 3) + _varint(int(value)) if isinstance(value, int) and value else b""


def _double(field: int, value: Any) -> bytes:
    if isinstance(value, bool) or not isinstance(value, int | float) or not value:
        return b""
    return _varint(field << 3 | 1) + _DOUBLE.pack(float(value))


def _as_list(value: Any) -> list[Any]:
    return value if isinstance(value, list) else [value]


def _any(field: int, value: Any) -> bytes:
    """gnostic ``Any``: the value as YAML text (field 2)."""
    return _message(field, _string(2, orjson.dumps(value).decode()))


def _vendor(field: int, obj: Json) -> bytes:
    """``x-*`` keys as repeated ``NamedAny`` {name, value}."""
    return b"".join(_message(field, _string(1, k) + _any(2, v)) for k, v in obj.items() if k.startswith("x-"))


def _named(field: int, entries: Iterable[tuple[str, Any]], encode: Callable[[Any], bytes]) -> bytes:
    """A JSON map as repeated ``Named*`` {name 1, value 2} messages, in the document's order."""
    return b"".join(_message(field, _string(1, name) + _message(2, encode(value))) for name, value in entries)


# -- schemas --------------------------------------------------------------------------------------
_SCHEMA_SCALARS: tuple[tuple[str, int, Callable[[int, Any], bytes]], ...] = (
    ("$ref", 1, _string), ("format", 2, _string), ("title", 3, _string), ("description", 4, _string),
    ("multipleOf", 6, _double), ("maximum", 7, _double), ("exclusiveMaximum", 8, _bool),
    ("minimum", 9, _double), ("exclusiveMinimum", 10, _bool), ("maxLength", 11, _int64),
    ("minLength", 12, _int64), ("pattern", 13, _string), ("maxItems", 14, _int64),
    ("minItems", 15, _int64), ("uniqueItems", 16, _bool), ("maxProperties", 17, _int64),
    ("minProperties", 18, _int64), ("required", 19, _strings), ("discriminator", 26, _string),
    ("readOnly", 27, _bool),
)


def schema(obj: Json) -> bytes:
    """gnostic ``Schema`` (field numbers from OpenAPIv2.proto)."""
    out = [encode(field, obj[key]) for key, field, encode in _SCHEMA_SCALARS if key in obj]
    if "default" in obj:
        out.append(_any(5, obj["default"]))
    out += [_any(20, value) for value in obj.get("enum") or ()]
    additional = obj.get("additionalProperties")
    if isinstance(additional, dict):
        out.append(_message(21, _message(1, schema(additional))))
    elif isinstance(additional, bool):
        out.append(_message(21, _varint(2 << 3) + (b"\x01" if additional else b"\x00")))
    if "type" in obj:
        out.append(_message(22, _strings(1, obj["type"])))
    if isinstance(obj.get("items"), dict | list):
        out.append(_message(23, b"".join(_message(1, schema(item)) for item in _as_list(obj["items"]))))
    out += [_message(24, schema(item)) for item in obj.get("allOf") or ()]
    if isinstance(obj.get("properties"), dict):
        out.append(_message(25, _named(1, obj["properties"].items(), schema)))
    if "example" in obj:
        out.append(_any(30, obj["example"]))
    out.append(_vendor(31, obj))
    return b"".join(out)


# -- paths ----------------------------------------------------------------------------------------
def _non_body_parameter(obj: Json) -> bytes:
    """Query, path, header or formData parameter: their sub-schemas share the leading fields but
    not the numbering of ``type``/``format``/``uniqueItems``."""
    where = obj.get("in", "")
    variant, type_field, unique_field = {"header": (1, 5, 19), "formData": (2, 6, 20),
                                         "query": (3, 6, 20), "path": (4, 5, 19)}.get(where, (3, 6, 20))
    body = (_bool(1, obj.get("required")) + _string(2, where) + _string(3, obj.get("description"))
            + _string(4, obj.get("name")) + _string(type_field, obj.get("type"))
            + _string(type_field + 1, obj.get("format")) + _bool(unique_field, obj.get("uniqueItems")))
    return _message(2, _message(variant, body))


def _parameters_item(obj: Json) -> bytes:
    if "$ref" in obj:
        return _message(2, _string(1, obj["$ref"]) + _string(2, obj.get("description")))
    if obj.get("in") == "body":
        body = (_string(1, obj.get("description")) + _string(2, obj.get("name")) + _string(3, "body")
                + _bool(4, obj.get("required")) + _message(5, schema(obj.get("schema") or {}))
                + _vendor(6, obj))
        return _message(1, _message(1, body))
    return _message(1, _non_body_parameter(obj))


def _response(obj: Json) -> bytes:
    payload = _string(1, obj.get("description"))
    if isinstance(obj.get("schema"), dict):
        payload += _message(2, _message(1, schema(obj["schema"])))
    return _message(1, payload + _vendor(5, obj))


def _operation(obj: Json) -> bytes:
    out = [_strings(1, obj.get("tags") or []), _string(2, obj.get("summary")),
           _string(3, obj.get("description")), _string(5, obj.get("operationId")),
           _strings(6, obj.get("produces") or []), _strings(7, obj.get("consumes") or [])]
    out += [_message(8, _parameters_item(p)) for p in obj.get("parameters") or ()]
    out.append(_message(9, _named(1, (obj.get("responses") or {}).items(), _response)))
    out += [_strings(10, obj.get("schemes") or []), _bool(11, obj.get("deprecated")), _vendor(13, obj)]
    return b"".join(out)


_PATH_OPERATIONS = (("get", 2), ("put", 3), ("post", 4), ("delete", 5), ("options", 6), ("head", 7),
                    ("patch", 8))


def _path_item(obj: Json) -> bytes:
    out = [_string(1, obj.get("$ref"))]
    out += [_message(field, _operation(obj[verb])) for verb, field in _PATH_OPERATIONS if verb in obj]
    out += [_message(9, _parameters_item(p)) for p in obj.get("parameters") or ()]
    out.append(_vendor(10, obj))
    return b"".join(out)


def document(obj: Json) -> bytes:
    """gnostic ``Document`` of a Swagger 2.0 JSON document."""
    info = obj.get("info") or {}
    out = [_string(1, obj.get("swagger")),
           _message(2, _string(1, info.get("title")) + _string(2, info.get("version"))),
           _string(3, obj.get("host")), _string(4, obj.get("basePath")),
           _strings(5, obj.get("schemes") or []), _strings(6, obj.get("consumes") or []),
           _strings(7, obj.get("produces") or []),
           _message(8, _named(2, (obj.get("paths") or {}).items(), _path_item)),
           _message(9, _named(1, (obj.get("definitions") or {}).items(), schema)),
           _vendor(16, obj)]
    return b"".join(out)


def negotiate(accept: str) -> str | None:
    """"json" or "protobuf": the first form the ``Accept`` list names (no header: JSON); None
    for neither (406), as kube-openapi's handler negotiates ``/openapi/v2``."""
    if not accept.strip():
        return "json"
    for clause in accept.split(","):
        media = clause.split(";")[0].strip().lower()
        if media in ("*/*", "application/*") or "json" in media:
            return "json"
        if media.removeprefix("application/") in ACCEPTED_SUBTYPES:
            return "protobuf"
    return None


def encoded(json_document: bytes) -> bytes:
    """The protobuf form of a served JSON document (the server keeps it with the JSON one)."""
    return document(orjson.loads(json_document))
