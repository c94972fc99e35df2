"""Media types in and out: request body decoding and response negotiation.

Upstream serves JSON, YAML and protobuf; we serve JSON and YAML, and the ``as=`` conversions
clients ask for through ``Accept`` (``Table`` for ``kubectl get``, ``PartialObjectMetadata`` for
metadata informers, ``APIGroupDiscoveryList`` for aggregated discovery). Bodies are limited to
3 MiB as upstream's apiserver limits them.
"""

from __future__ import annotations

import asyncio
import functools
from dataclasses import dataclass
from typing import Any

import orjson
import yaml
from aiohttp import web

from server.errors import (
    BadRequest,
    NotAcceptable,
    RequestEntityTooLarge,
    UnsupportedMediaType,
    encode_status,
)
from server.handlers import bounded_decoding
from server.handlers.warning_headers import add_warnings
from server.protobuf import (
    PROTOBUF_MEDIA_TYPE,
    ProtobufDecodeError,
    UnknownKindError,
    decode_kubernetes_protobuf,
)

MAX_BODY_BYTES = 3 * 1024 * 1024  # upstream's MaxRequestBodyBytes default

JSON = "application/json"
YAML = "application/yaml"
JSON_PATCH = "application/json-patch+json"
MERGE_PATCH = "application/merge-patch+json"
STRATEGIC_PATCH = "application/strategic-merge-patch+json"
APPLY_PATCH = "application/apply-patch+yaml"
PATCH_TYPES = (JSON_PATCH, MERGE_PATCH, STRATEGIC_PATCH, APPLY_PATCH)

_ACCEPTED_TEXT = "application/json, application/yaml, application/vnd.kubernetes.protobuf"


@dataclass(frozen=True, slots=True)
class MediaType:
    """One acceptable response form: ``yaml`` or JSON, and an optional ``as`` conversion."""

    yaml: bool = False
    # "", "Table", "PartialObjectMetadata", "PartialObjectMetadataList", "APIGroupDiscoveryList"
    as_kind: str = ""
    version: str = ""  # the ``v=`` parameter (discovery v2 / v2beta1)
    raw: str = JSON


_DEFAULT_MEDIA = MediaType()


def _parse_accept(header: str) -> list[tuple[str, dict[str, str]]]:
    ranges = []
    for part in header.split(","):
        fields = [f.strip() for f in part.split(";")]
        if not fields[0]:
            continue
        params = {}
        for param in fields[1:]:
            if "=" in param:
                key, _, value = param.partition("=")
                params[key.strip()] = value.strip()
        ranges.append((fields[0].lower(), params))
    return ranges


def negotiate(request: web.BaseRequest, *, allow_as: tuple[str, ...] = ()) -> MediaType:
    """Pick the first form in ``Accept`` that we can produce (406 when there is none)."""
    header = request.headers.get("Accept", "")
    if not header:
        return _DEFAULT_MEDIA
    media = _negotiate_header(header, allow_as)
    if media is None:
        raise NotAcceptable(f"only the following media types are accepted: {_ACCEPTED_TEXT}")
    return media


@functools.lru_cache(maxsize=512)
def _negotiate_header(header: str, allow_as: tuple[str, ...]) -> MediaType | None:
    """Memoised: a client sends the same Accept header with every request."""
    for media, params in _parse_accept(header):
        as_kind = params.get("as", "")
        if as_kind and (as_kind not in allow_as):
            continue
        if media in (JSON, "application/*", "*/*", "application/json;stream=watch"):
            return MediaType(as_kind=as_kind, version=params.get("v", ""), raw=media)
        if media in (YAML, "application/x-yaml", "text/yaml") and not as_kind:
            return MediaType(yaml=True, raw=YAML)
    return None


def encode(body: Any, media: MediaType) -> bytes:
    if media.yaml:
        return yaml.safe_dump(body, sort_keys=False).encode()
    if isinstance(body, dict) and body.get("kind") == "Status" and body.get("apiVersion") == "v1":
        return encode_status(body)  # success Statuses too: kube-apiserver's exact bytes
    return orjson.dumps(body)


def respond(body: Any, media: MediaType, *, status: int = 200,
            warnings: list[str] | None = None, content_type: str = "") -> web.Response:
    response = web.Response(body=encode(body, media), status=status,
                            content_type=content_type or (YAML if media.yaml else JSON))
    add_warnings(response, warnings)
    return response


def respond_raw(raw: bytes, media: MediaType, *, status: int = 200) -> web.Response:
    """Answer with already-serialized JSON (converted when YAML was asked for)."""
    if media.yaml:
        return web.Response(body=encode(orjson.loads(raw), media), status=status, content_type=YAML)
    return web.Response(body=raw, status=status, content_type=JSON)


async def read_body(request: web.BaseRequest) -> bytes:
    """The whole body, refused (413, upstream's text) past `MAX_BODY_BYTES` without reading more
    than one chunk beyond the limit."""
    length = request.content_length
    if length is not None and length > MAX_BODY_BYTES:
        raise RequestEntityTooLarge.limit(MAX_BODY_BYTES)
    if length is not None:
        try:
            return await request.content.readexactly(length)
        except asyncio.IncompleteReadError as e:
            raise BadRequest("the request body ended before its Content-Length") from e
    chunks: list[bytes] = []
    size = 0
    while True:
        chunk = await request.content.read(65536)
        if not chunk:
            break
        size += len(chunk)
        if size > MAX_BODY_BYTES:
            raise RequestEntityTooLarge.limit(MAX_BODY_BYTES)
        chunks.append(chunk)
    return b"".join(chunks)


def content_type_of(request: web.BaseRequest) -> str:
    return (request.headers.get("Content-Type") or "").split(";")[0].strip().lower()


def check_content_type(content_type: str, allowed: tuple[str, ...]) -> None:
    """415 for a body type the operation does not take (an absent type means JSON)."""
    if content_type not in allowed and not (content_type == "" and JSON in allowed):
        raise UnsupportedMediaType(
            f"the body of the request was in an unknown format - accepted media types include: "
            f"{', '.join(allowed)}")


def decode_body(data: bytes, content_type: str, *,
                allowed: tuple[str, ...] = (JSON, YAML, PROTOBUF_MEDIA_TYPE), kind: str = "") -> Any:
    """Decode a request body of ``content_type`` (415 for a type not in ``allowed``).

    Protobuf bodies (stock kubectl's typed generators send them and never fall back to JSON)
    become the same JSON dict a JSON body would give; a kind we have no schema for is a 415.
    JSON and YAML are decoded within `bounded_decoding`'s limits. A body that does not decode is
    a 400 worded as upstream words it: for an object of ``kind`` (create/update) ``the object
    provided is unrecognized (must be of type <kind>): ...``, for a patch as the patch handler.
    """
    check_content_type(content_type, allowed)
    if not data.strip():
        raise BadRequest("the request body is empty")
    if content_type == PROTOBUF_MEDIA_TYPE:
        return _decode_protobuf(data)
    try:
        value = _json_shortcut(data) if content_type in (YAML, APPLY_PATCH) else orjson.loads(data)
        if value is _NOT_JSON:
            return bounded_decoding.load_yaml(data)
        bounded_decoding.check_depth(value, data)
        return value
    except (yaml.YAMLError, bounded_decoding.DecodeLimitError, orjson.JSONDecodeError) as e:
        raise _decode_error(e, data, content_type, kind) from e


def _decode_protobuf(data: bytes) -> Any:
    try:
        return decode_kubernetes_protobuf(data)
    except UnknownKindError as e:
        raise UnsupportedMediaType(
            f"{e}: the body of the request was in an unknown format - accepted media types "
            f"include: {JSON}, {YAML}") from e
    except ProtobufDecodeError as e:
        raise BadRequest(f"error decoding protobuf: {e}") from e


_NOT_JSON = object()


def _json_shortcut(data: bytes) -> Any:
    """JSON is YAML: a YAML body that starts like a JSON object is decoded as JSON (upstream's
    yaml.ToJSON takes the same shortcut); `_NOT_JSON` sends it to the YAML decoder."""
    if data.lstrip()[:1] != b"{":
        return _NOT_JSON
    try:
        return orjson.loads(data)
    except orjson.JSONDecodeError:
        return _NOT_JSON


def _decode_error(error: Exception, data: bytes, content_type: str, kind: str) -> BadRequest:
    text = _first_line(str(error))
    from_yaml = content_type in (YAML, APPLY_PATCH) and not isinstance(error, orjson.JSONDecodeError)
    if content_type in PATCH_TYPES:
        if content_type == APPLY_PATCH:
            return BadRequest(f"error encoding patch: error converting YAML to JSON: {text}")
        detail = f": {text}" if isinstance(error, bounded_decoding.DecodeLimitError) else ""
        return BadRequest(f"invalid JSON patch{detail}")
    cause = (f"error converting YAML to JSON: {text}" if from_yaml
             else f"couldn't get version/kind; json parse error: {text}")
    if kind:
        return BadRequest(f"the object provided is unrecognized (must be of type {kind}): {cause} "
                          f"({summarize(data)})")
    return BadRequest(cause)


def summarize(data: bytes, max_length: int = 30) -> str:
    """Upstream's summarizeData: a JSON object's first characters, hex for anything else."""
    if not data:
        return "<empty>"
    head = data[:max_length]
    shown = head.decode("utf-8", "replace") if data[:1] == b"{" else head.hex()
    return shown + " ..." if len(data) > max_length else shown


def _first_line(text: str) -> str:
    return " ".join(text.split())
