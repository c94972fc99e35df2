"""Who may use the streaming server.

Why this exists: port 10250 runs commands in every pod of the node, so it must not be open to anyone.
Upstream's kubelet authenticates client certificates against ``--client-ca-file`` and asks the API server
(SubjectAccessReview) whether the user may ``create``/``get`` ``nodes/proxy`` (``nodes/log`` for logs).
We keep the authentication and replace the review with a fixed rule: an identity in group
``system:masters`` or the API server's own client identity ``kube-apiserver-kubelet-client`` may stream;
any other verified certificate gets upstream's 403 text, no certificate a 401.

Without ``--client-ca-file`` there is nothing to authenticate with, so only loopback peers are accepted
(a development kubelet reached by a local API server); everyone else gets 403.
"""

from __future__ import annotations

import ipaddress
from dataclasses import dataclass
from typing import Any

from aiohttp import web

from kubelet.streaming.errors import StreamingError

MASTERS_GROUP = "system:masters"
APISERVER_CLIENT_USER = "kube-apiserver-kubelet-client"


@dataclass(frozen=True, slots=True)
class Identity:
    user: str
    groups: tuple[str, ...]


def identity_of(peercert: dict[str, Any] | None) -> Identity | None:
    """CN is the user, each O a group (upstream's x509 authenticator); Arktos adds OU as groups too."""
    if not peercert:
        return None
    user, groups = "", []
    for rdn in peercert.get("subject", ()):
        for key, value in rdn:
            if key == "commonName":
                user = str(value)
            elif key in ("organizationName", "organizationalUnitName"):
                groups.append(str(value))
    return Identity(user, tuple(groups)) if user else None


def _is_loopback(request: web.Request) -> bool:
    peer = request.transport.get_extra_info("peername") if request.transport is not None else None
    if not peer:
        return False
    try:
        return ipaddress.ip_address(str(peer[0])).is_loopback
    except ValueError:
        return False


def _subresource(path: str) -> str:
    return "log" if path.startswith("/containerLogs/") else "proxy"


def authorize(request: web.Request, *, client_ca_configured: bool) -> None:
    """Raise 401/403 `StreamingError` unless the requester may use this endpoint."""
    if not client_ca_configured:
        if not _is_loopback(request):
            raise StreamingError(403, "Forbidden: without --client-ca-file only loopback clients are served")
        return
    peercert = request.transport.get_extra_info("peercert") if request.transport is not None else None
    identity = identity_of(peercert)
    if identity is None:
        raise StreamingError(401, "Unauthorized")
    if MASTERS_GROUP in identity.groups or identity.user == APISERVER_CLIENT_USER:
        return
    verb = "get" if request.method in ("GET", "HEAD") else "create"
    raise StreamingError(403, f"Forbidden (user={identity.user}, verb={verb}, resource=nodes, "
                              f"subresource(s)=[{_subresource(request.path)}])")
