"""Decoding a Kubernetes watch response: one JSON event per line, until the server ends it.

The API server streams ``{"type": ..., "object": ...}`` lines (upstream's JSON watch framing,
``k8s.io/apimachinery/pkg/watch`` over a chunked response). An ``ERROR`` event carries a Status:
410 means the requested resourceVersion is no longer in the server's history and the caller has to
re-list (client-go's reflector does exactly that), so it becomes `Gone`; other ERRORs become their
`ApiError`. Lines are split by hand from raw chunks because aiohttp's ``readline`` refuses lines
longer than its buffer, and one large object is one long line.
"""

from __future__ import annotations

import logging
from collections.abc import AsyncIterator
from typing import Any, Literal

import aiohttp
import orjson

from client.errors import error_from_status

log = logging.getLogger(__name__)

EventType = Literal["ADDED", "MODIFIED", "DELETED", "BOOKMARK"]
WatchEvent = tuple[EventType, dict[str, Any]]
_KNOWN_TYPES = frozenset({"ADDED", "MODIFIED", "DELETED", "BOOKMARK"})


async def watch_events(content: aiohttp.StreamReader) -> AsyncIterator[WatchEvent]:
    """The events of one watch response body; ends when the server closes the stream.

    A connection that breaks mid-stream also just ends the iteration: the caller resumes from the
    last resourceVersion it saw, which is what it must do after a normal end anyway.
    """
    pending = b""
    try:
        async for chunk in content.iter_any():
            pending += chunk
            *lines, pending = pending.split(b"\n")
            for line in lines:
                event = _decode_line(line)
                if event is not None:
                    yield event
    except (aiohttp.ClientPayloadError, aiohttp.ClientConnectionError) as e:
        log.debug("watch stream broke: %s", e)
        return
    event = _decode_line(pending)
    if event is not None:
        yield event


def _decode_line(line: bytes) -> WatchEvent | None:
    line = line.strip()
    if not line:
        return None
    try:
        decoded = orjson.loads(line)
    except orjson.JSONDecodeError:
        log.warning("ignoring undecodable watch line (%d bytes)", len(line))
        return None
    event_type = decoded.get("type") if isinstance(decoded, dict) else None
    obj = decoded.get("object") if isinstance(decoded, dict) else None
    if not isinstance(obj, dict):
        return None
    if event_type == "ERROR":
        code = obj.get("code")
        raise error_from_status(code if isinstance(code, int) else 500, obj)
    if event_type not in _KNOWN_TYPES:
        log.warning("ignoring watch event of unknown type %r", event_type)
        return None
    return event_type, obj
