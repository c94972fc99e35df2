"""The API server's error tree, and the one place that renders Kubernetes ``Status`` objects.

Every failure a client can cause is an `ApiError` carrying the HTTP code, the Kubernetes
``reason`` and the upstream message text; lower layers (storage, validation, patch) raise their
own exceptions and the registry converts them here (`raise ... from e`). The HTTP layer turns any
`ApiError` into a Status body; anything else is logged and answered as a generic 500 without a
traceback (k8s.io/apimachinery/pkg/api/errors is the model).

Status bodies are the bytes kube-apiserver writes (client tests compare error text exactly):
metav1.Status's fields in its Go declaration order (kind, apiVersion, metadata, status, message,
reason, details, code), empty ``omitempty`` fields left out, and the JSON as Go's encoding/json
Encoder writes it — ``<``, ``>``, ``&``, U+2028 and U+2029 escaped, and a trailing newline.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import orjson

from apis.field_errors import FieldError


class ApiError(Exception):
    """An error with a Kubernetes Status representation."""

    code: int = 500
    reason: str = "InternalError"

    def __init__(self, message: str, *, details: dict[str, Any] | None = None,
                 headers: dict[str, str] | None = None) -> None:
        super().__init__(message)
        self.message = message
        self.details = details
        self.headers = headers or {}

    def status(self) -> dict[str, Any]:
        return status_object("Failure", message=self.message, reason=self.reason, details=self.details,
                             code=self.code)

    def body(self) -> bytes:
        return encode_status(self.status())


def _named(kind: str, name: str, group: str = "") -> dict[str, Any]:
    details: dict[str, Any] = {"name": name, "kind": kind} if name else {"kind": kind}
    if group:
        details["group"] = group
    return details


class BadRequest(ApiError):
    code, reason = 400, "BadRequest"


class Unauthorized(ApiError):
    code, reason = 401, "Unauthorized"


class Forbidden(ApiError):
    code, reason = 403, "Forbidden"


class NotFound(ApiError):
    code, reason = 404, "NotFound"

    @classmethod
    def object(cls, resource: str, name: str, group: str = "") -> NotFound:
        qualified = f"{resource}.{group}" if group else resource
        return cls(f'{qualified} "{name}" not found', details=_named(resource, name, group))

    @classmethod
    def path(cls) -> NotFound:
        return cls("the server could not find the requested resource", details={})


class MethodNotAllowed(ApiError):
    code, reason = 405, "MethodNotAllowed"

    def __init__(self, message: str = "the server does not allow this method on the requested resource",
                 **kwargs: Any) -> None:
        super().__init__(message, **kwargs)


class NotAcceptable(ApiError):
    code, reason = 406, "NotAcceptable"


class AlreadyExists(ApiError):
    code, reason = 409, "AlreadyExists"

    @classmethod
    def object(cls, resource: str, name: str, group: str = "") -> AlreadyExists:
        qualified = f"{resource}.{group}" if group else resource
        return cls(f'{qualified} "{name}" already exists', details=_named(resource, name, group))


class Conflict(ApiError):
    code, reason = 409, "Conflict"

    @classmethod
    def modified(cls, resource: str, name: str, group: str = "") -> Conflict:
        qualified = f"{resource}.{group}" if group else resource
        return cls(
            f'Operation cannot be fulfilled on {qualified} "{name}": the object has been modified; '
            "please apply your changes to the latest version and try again",
            details=_named(resource, name, group),
        )


class Gone(ApiError):
    code, reason = 410, "Gone"


class Expired(ApiError):
    code, reason = 410, "Expired"


class RequestEntityTooLarge(ApiError):
    code, reason = 413, "RequestEntityTooLarge"

    @classmethod
    def limit(cls, limit: int) -> RequestEntityTooLarge:
        """Upstream limitedReadBody's answer (NewRequestEntityTooLargeError)."""
        return cls(f"Request entity too large: limit is {limit}")


class UnsupportedMediaType(ApiError):
    code, reason = 415, "UnsupportedMediaType"


class Invalid(ApiError):
    code, reason = 422, "Invalid"

    @classmethod
    def fields(cls, kind: str, name: str, errors: Sequence[FieldError], group: str = "") -> Invalid:
        rendered = [f"{e.field}: {e.message}" if e.field else e.message for e in errors]
        text = rendered[0] if len(rendered) == 1 else "[" + ", ".join(rendered) + "]"
        details = _named(kind, name, group)
        details["causes"] = [
            {"reason": e.reason, "message": e.message, "field": e.field} for e in errors
        ]
        qualified = f"{kind}.{group}" if group else kind
        return cls(f'{qualified} "{name}" is invalid: {text}', details=details)

    @classmethod
    def options(cls, kind: str, errors: Sequence[FieldError]) -> Invalid:
        """Bad request options (``CreateOptions.meta.k8s.io "" is invalid: dryRun: ...``)."""
        return cls.fields(kind, "", errors, "meta.k8s.io")


class RequestHeaderFieldsTooLarge(ApiError):
    """431: Go's net/http answers a request line and headers beyond its 1 MiB limit so."""

    code, reason = 431, "RequestHeaderFieldsTooLarge"


class TooManyRequests(ApiError):
    code, reason = 429, "TooManyRequests"


class InternalError(ApiError):
    code, reason = 500, "InternalError"

    @classmethod
    def occurred(cls, cause: str) -> InternalError:
        """Upstream's NewInternalError: the cause in the message and in ``details.causes``."""
        return cls(f"Internal error occurred: {cause}", details={"causes": [{"message": cause}]})


class Timeout(ApiError):
    code, reason = 504, "Timeout"


class ServiceUnavailable(ApiError):
    code, reason = 503, "ServiceUnavailable"


# metav1.StatusDetails and metav1.StatusCause fields in Go declaration order; all are omitempty.
_DETAIL_FIELDS = ("name", "group", "kind", "uid", "causes", "retryAfterSeconds")
_CAUSE_FIELDS = ("reason", "message", "field")
# What Go's json.Encoder escapes inside strings besides what every encoder must (HTML-safe output).
_GO_ESCAPES = ((b"<", b"\\u003c"), (b">", b"\\u003e"), (b"&", b"\\u0026"),
               ("\u2028".encode(), b"\\u2028"), ("\u2029".encode(), b"\\u2029"))


def status_object(status: str, *, message: str = "", reason: str = "", details: dict[str, Any] | None = None,
                  code: int = 0, metadata: dict[str, Any] | None = None) -> dict[str, Any]:
    """A metav1.Status as Go serialises it: fields in declaration order, empty optional ones left
    out. ``details`` (present even when empty, as upstream's ``details: {}`` for unknown paths) is
    reduced to StatusDetails' own fields in their order."""
    body: dict[str, Any] = {"kind": "Status", "apiVersion": "v1", "metadata": metadata or {},
                            "status": status}
    if message:
        body["message"] = message
    if reason:
        body["reason"] = reason
    if details is not None:
        body["details"] = _go_details(details)
    if code:
        body["code"] = code
    return body


def _go_details(details: dict[str, Any]) -> dict[str, Any]:
    out = {field: details[field] for field in _DETAIL_FIELDS if details.get(field)}
    if "causes" in out:
        out["causes"] = [{field: cause[field] for field in _CAUSE_FIELDS if cause.get(field)}
                         for cause in out["causes"]]
    return out


def encode_status(status: dict[str, Any]) -> bytes:
    """The bytes of a Status body exactly as kube-apiserver writes them (see the module docstring)."""
    data = orjson.dumps(status)
    for raw, escaped in _GO_ESCAPES:
        if raw in data:  # only ever inside strings: JSON's structure uses none of these bytes
            data = data.replace(raw, escaped)
    return data + b"\n"


def success_status(details: dict[str, Any] | None = None) -> dict[str, Any]:
    """The Status a successful delete of a fully removed object answers with (upstream)."""
    return status_object("Success", details=details)
