"""Who may use the kubelet's HTTPS port: authenticate, then authorize every request.

Why this exists: port 10250 runs commands in every pod of the node. Upstream's kubelet, configured
as kubeadm and the KubeletConfiguration defaults configure it (anonymous off, token webhook on,
authorization mode Webhook), authenticates the caller (`authn`: a client certificate from
``--client-ca-file``, else a bearer token through TokenReview), answers 401 ``Unauthorized`` to
anyone else, and asks the API server about each request (`authz`: a SubjectAccessReview on
``nodes/<subresource>`` of this node), answering 403 ``Forbidden (user=..., verb=..., resource=nodes,
subresource=...)`` when RBAC says no. The API server's own client identity passes because RBAC binds
it ``system:kubelet-api-admin``, not because the kubelet knows its name.

Kept from before (not upstream): without ``--client-ca-file`` there is no certificate to
authenticate the API server with, so a loopback peer without credentials is served unreviewed (a
development kubelet next to a local API server); any other caller without credentials gets 401.
``--authorization-mode=AlwaysAllow`` skips the review, as upstream's flag does.
"""

from __future__ import annotations

import ipaddress
import logging
from dataclasses import dataclass

from aiohttp import web

from apis.identity import bearer_token
from kubelet.streaming.authn import Requester, TokenAuthenticator, requester_from_certificate
from kubelet.streaming.authz import WebhookAuthorizer
from kubelet.streaming.errors import StreamingError
from kubelet.streaming.request_attributes import node_request
from kubelet.streaming.reviews import ReviewFailed

log = logging.getLogger(__name__)

UNAUTHORIZED = "Unauthorized"


@dataclass(frozen=True, slots=True)
class AccessPolicy:
    """The authenticators and the authorizer one kubelet's port uses.

    ``tokens`` None: bearer tokens are not accepted (no token webhook). ``authorizer`` None:
    ``AlwaysAllow``.
    """

    node: str
    client_ca_configured: bool
    tokens: TokenAuthenticator | None = None
    authorizer: WebhookAuthorizer | None = None

    async def check(self, request: web.BaseRequest) -> None:
        """Raise a 401/403/500 `StreamingError` unless the caller may make ``request``."""
        requester = await self._authenticate(request)
        if requester is None:
            if not self.client_ca_configured and _is_loopback(request):
                return  # development: see the module docstring
            raise StreamingError(401, UNAUTHORIZED)
        if self.authorizer is None:
            return
        attributes = node_request(request.method, request.path, node=self.node)
        try:
            allowed = await self.authorizer.allowed(requester, attributes)
        except ReviewFailed as e:
            log.error("%s: %s", attributes.error_message(requester.user), e)
            raise StreamingError(500, attributes.error_message(requester.user)) from e
        if not allowed:
            log.info("%s %s refused: %s", request.method, request.path,
                     attributes.forbidden_message(requester.user))
            raise StreamingError(403, attributes.forbidden_message(requester.user))

    async def _authenticate(self, request: web.BaseRequest) -> Requester | None:
        der = _peer_certificate(request) if self.client_ca_configured else None
        if der is not None:
            try:
                requester = requester_from_certificate(der)
            except ValueError:
                requester = None
            if requester is not None:
                return requester
        token = bearer_token(request.headers.get("Authorization"))
        if token is None or self.tokens is None:
            return None
        try:
            return await self.tokens.authenticate(token)
        except ReviewFailed as e:
            # upstream: an authentication error is answered as Unauthorized.
            log.warning("could not review a bearer token: %s", e)
            raise StreamingError(401, UNAUTHORIZED) from e


def _peer_certificate(request: web.BaseRequest) -> bytes | None:
    """The DER of the client certificate the TLS layer verified (None when none was presented)."""
    transport = request.transport
    ssl_object = transport.get_extra_info("ssl_object") if transport is not None else None
    if ssl_object is None:
        return None
    der = ssl_object.getpeercert(binary_form=True)
    return bytes(der) if der else None


def _is_loopback(request: web.BaseRequest) -> bool:
    peer = request.transport.get_extra_info("peername") if request.transport is not None else None
    if not peer:
        return False
    try:
        return ipaddress.ip_address(str(peer[0])).is_loopback
    except ValueError:
        return False
