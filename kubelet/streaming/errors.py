"""Failures of the streaming server, rendered as Kubernetes ``Status`` objects in one place.

Why this exists: the API server relays the kubelet's answer to kubectl, which prints a Status's
``message`` (``Error from server (BadRequest): container "c" in pod "p" is waiting to start: ...``).
Handlers raise `StreamingError`; the server's middleware turns it into the response.
"""

from __future__ import annotations

import json

from aiohttp import web

_REASONS = {400: "BadRequest", 401: "Unauthorized", 403: "Forbidden", 404: "NotFound", 409: "Conflict",
            500: "InternalError", 503: "ServiceUnavailable"}


class StreamingError(Exception):
    """An answer other than success, with upstream's HTTP code and message."""

    def __init__(self, code: int, message: str, *, reason: str = "") -> None:
        super().__init__(message)
        self.code = code
        self.message = message
        self.reason = reason or _REASONS.get(code, "Unknown")


def bad_request(message: str) -> StreamingError:
    return StreamingError(400, message)


def not_found(message: str) -> StreamingError:
    return StreamingError(404, message)


def status_body(error: StreamingError) -> dict[str, object]:
    return {"kind": "Status", "apiVersion": "v1", "metadata": {}, "status": "Failure",
            "message": error.message, "reason": error.reason, "code": error.code}


def status_response(error: StreamingError) -> web.Response:
    return web.Response(status=error.code, body=json.dumps(status_body(error)).encode(),
                        content_type="application/json")
