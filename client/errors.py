"""The client's exception tree: every failed API call becomes one of these, in one place.

Callers branch on what happened (`NotFound`, `Conflict`, `AlreadyExists`, ...) rather than on
HTTP codes, as kopf's ``_cogs/clients/errors.py`` and apimachinery's ``api/errors`` helpers
(``IsNotFound``, ``IsConflict``) let them. `error_from_response` is the single boundary where an
HTTP status and a Kubernetes ``Status`` body are turned into an exception; the Status travels
with it (``.status``) so nothing the server said is lost.
"""

from __future__ import annotations

from typing import Any

import orjson


class ApiError(Exception):
    """The API server answered with a failure ``Status``."""

    def __init__(self, code: int, status: dict[str, Any]) -> None:
        self.code = code
        self.status = status
        self.reason = str(status.get("reason") or "")
        self.message = str(status.get("message") or f"HTTP {code}")
        super().__init__(f"{code} {self.reason}: {self.message}")

    @property
    def details(self) -> dict[str, Any]:
        details = self.status.get("details")
        return details if isinstance(details, dict) else {}


class BadRequest(ApiError):
    """400: malformed request or a field the server refuses outright."""


class Unauthorized(ApiError):
    """401: missing or invalid credentials."""


class Forbidden(ApiError):
    """403: authenticated but not allowed (RBAC, tenant isolation, protected objects)."""


class NotFound(ApiError):
    """404: the object (or its namespace/tenant) does not exist."""


class Conflict(ApiError):
    """409: stale resourceVersion on update (optimistic concurrency)."""


class AlreadyExists(Conflict):
    """409 with reason AlreadyExists: create of a name that is taken."""


class Gone(ApiError):
    """410: the resourceVersion asked for is compacted away; the caller must re-list."""


class Unprocessable(ApiError):
    """422: validation failed; ``details.causes`` names the fields."""


class TooManyRequests(ApiError):
    """429: the server asks the client to slow down (``Retry-After``)."""


class ServerError(ApiError):
    """5xx: the server failed; usually worth retrying."""


class ConnectionFailed(ApiError):
    """The server could not be reached at all (no HTTP answer). Code 0."""

    def __init__(self, message: str) -> None:
        super().__init__(0, {"reason": "ConnectionFailed", "message": message})


class CredentialsUnavailable(ApiError):
    """The client could not obtain the credential to send (a service account's token): no request
    was made, so nothing about the object asked for is known. Code 0, like `ConnectionFailed`."""

    def __init__(self, message: str) -> None:
        super().__init__(0, {"reason": "CredentialsUnavailable", "message": message})


_BY_CODE: dict[int, type[ApiError]] = {
    400: BadRequest,
    401: Unauthorized,
    403: Forbidden,
    404: NotFound,
    409: Conflict,
    410: Gone,
    422: Unprocessable,
    429: TooManyRequests,
}


def status_from_body(code: int, body: bytes) -> dict[str, Any]:
    """The Status the server sent, or one made up from the raw body when it sent none."""
    try:
        decoded = orjson.loads(body) if body else None
    except orjson.JSONDecodeError:
        decoded = None
    if isinstance(decoded, dict) and decoded.get("kind") == "Status":
        return decoded
    text = body[:500].decode(errors="replace") if body else ""
    return {"kind": "Status", "apiVersion": "v1", "status": "Failure", "code": code,
            "message": text or f"HTTP {code}", "reason": ""}


def error_from_status(code: int, status: dict[str, Any]) -> ApiError:
    """The exception for an HTTP ``code`` and its ``Status`` body."""
    if code == 409 and status.get("reason") == "AlreadyExists":
        return AlreadyExists(code, status)
    if code >= 500:
        return ServerError(code, status)
    return _BY_CODE.get(code, ApiError)(code, status)


def error_from_response(code: int, body: bytes) -> ApiError:
    return error_from_status(code, status_from_body(code, body))
