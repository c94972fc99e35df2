"""The gateway's errors and the one place they become a Kubernetes ``Status``.

Whatever goes wrong in the gateway itself (a partition down, a request it will not serve, a bad
tenant assignment) reaches the client as a ``Status`` with upstream's reason and code, never a
traceback (k8s.io/apimachinery ``pkg/api/errors``). Answers of the partitions are passed on as they are.
"""

from __future__ import annotations

from typing import Any

import orjson
from aiohttp import web

_REASONS = {400: "BadRequest", 403: "Forbidden", 404: "NotFound", 405: "MethodNotAllowed",
            410: "Expired", 413: "RequestEntityTooLarge", 422: "Invalid", 503: "ServiceUnavailable"}


class GatewayError(Exception):
    """An error the gateway answers itself; ``code`` is the HTTP status."""

    code = 500

    def __init__(self, message: str, *, details: dict[str, Any] | None = None) -> None:
        super().__init__(message)
        self.message = message
        self.details = details


class BadRequest(GatewayError):
    code = 400


class Expired(GatewayError):
    """410: a resourceVersion or continue token the gateway cannot resume from (clients relist)."""

    code = 410


class RequestTooLarge(GatewayError):
    code = 413


class Invalid(GatewayError):
    code = 422


class PartitionUnavailable(GatewayError):
    """503: a partition the request needs cannot be reached."""

    code = 503


def status_body(error: GatewayError) -> dict[str, Any]:
    body: dict[str, Any] = {
        "kind": "Status", "apiVersion": "v1", "metadata": {}, "status": "Failure",
        "message": error.message, "reason": _REASONS.get(error.code, "InternalError"), "code": error.code,
    }
    if error.details:
        body["details"] = error.details
    return body


def status_response(error: GatewayError) -> web.Response:
    return web.Response(status=error.code, body=orjson.dumps(status_body(error)),
                        content_type="application/json")
