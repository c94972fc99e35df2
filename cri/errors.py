"""The exceptions a CRI call raises, translated from gRPC status codes.

Callers (the kubelet's runtime manager) care about three cases, as upstream's kubelet does with
``status.Code(err)``: the object is gone (``NotFound``: e.g. a container removed behind our back), the
runtime cannot be reached or timed out (``Unavailable``: the node's ``ContainerRuntimeReady`` goes
false), and everything else (``CriError`` with the runtime's message, e.g. a bad image).
"""

from __future__ import annotations

import grpc


class CriError(Exception):
    """A CRI call failed; ``code`` is the gRPC status code name (e.g. ``"INVALID_ARGUMENT"``)."""

    def __init__(self, method: str, code: str, message: str) -> None:
        super().__init__(f"{method}: {code}: {message}")
        self.method = method
        self.code = code
        self.message = message


class NotFound(CriError):
    """The sandbox, container or image named in the call does not exist."""


class Unavailable(CriError):
    """The runtime is not reachable, or did not answer within the call's timeout."""


_UNAVAILABLE_CODES = {
    grpc.StatusCode.UNAVAILABLE, grpc.StatusCode.DEADLINE_EXCEEDED, grpc.StatusCode.CANCELLED,
}


def translate(method: str, error: grpc.RpcError) -> CriError:
    """Map a grpc.aio error onto our tree. containerd reports a missing object as NOT_FOUND, and CRI-O
    sometimes only in the message ("not found"), so both count, as in upstream's ``IsNotFound``."""
    code = error.code() if hasattr(error, "code") else grpc.StatusCode.UNKNOWN
    details = (error.details() if hasattr(error, "details") else None) or str(error)
    name = code.name if code is not None else "UNKNOWN"
    if code == grpc.StatusCode.NOT_FOUND:
        return NotFound(method, name, details)
    if code in _UNAVAILABLE_CODES:
        return Unavailable(method, name, details)
    if code == grpc.StatusCode.UNKNOWN and "not found" in details.lower():
        return NotFound(method, name, details)
    return CriError(method, name, details)
