"""pods/{name}/log, exec, attach and portforward: forwarded to the pod's kubelet, bytes relayed back.

Upstream's connect subresources (pkg/registry/core/pod/rest/subresources.go, LogREST) locate the
kubelet and hand the request to k8s.io/apimachinery's UpgradeAwareHandler. We do the same: the
subresource's storage (a `Connecter`, ``server.registry.rest.connect``) locates the kubelet; the
request was authenticated and authorized (``get`` for GET, ``create`` for POST) before it gets here;
a WebSocket GET of a subresource that takes ``create`` (exec/attach/portforward) must also be allowed
to ``create`` (upstream's
AuthorizePodWebsocketUpgradeCreatePermission, on by default since 1.35), because SPDY clients need
``create`` for the same session. Then the request goes to the kubelet with the API server's client
certificate (the caller's credentials stay here) and whatever the kubelet answers comes back: an
error Status with its code, a log body streamed as it is written (``follow``), or — after ``101
Switching Protocols`` — both connections taken over and piped byte for byte until one side closes.
The kubelet terminates every stream protocol (WebSocket channels, SPDY/3.1, the port-forward tunnel),
so nothing here parses them.
"""

from __future__ import annotations

import asyncio
import contextlib
import dataclasses
import logging

from aiohttp import web

from httpstream.upgrade_takeover import RawConnection, accept_upgrade, is_upgrade_request, splice
from server.access import AccessControl
from server.errors import MethodNotAllowed
from server.kubelet_connection import KubeletClient, KubeletRequest, KubeletResponse, KubeletUnavailable
from server.registry.pod_location import KubeletLocation, ServiceUnavailable
from server.registry.record import SubresourceRecord
from server.registry.rest.interface import Connecter, RestRequest
from server.request_info import RequestInfo

log = logging.getLogger(__name__)

_CONNECT_VERBS = {"GET": "get", "POST": "create"}
# How often a quiet relay (a followed log with nothing new) checks that its client is still there.
_CLIENT_CHECK_S = 2.0
# Never forwarded to the kubelet: the caller's credentials (upstream's authentication filter drops
# Authorization once it has been used; impersonation headers are consumed likewise), hop-by-hop
# headers (RFC 9110 §7.6.1) and what this proxy frames itself.
_DROPPED_REQUEST_HEADERS = frozenset({
    "authorization", "proxy-authorization", "host", "content-length", "transfer-encoding",
    "keep-alive", "te", "trailer", "proxy-connection", "accept-encoding", "cookie"})
_DROPPED_RESPONSE_HEADERS = frozenset({
    "content-length", "transfer-encoding", "keep-alive", "te", "trailer", "date", "server"})


class PodProxy:
    """Serves connect subresources (`Connecter`s: pods' log, exec, attach and portforward)."""

    def __init__(self, *, access: AccessControl, kubelets: KubeletClient) -> None:
        self._access = access
        self._kubelets = kubelets

    async def handle(self, request: web.BaseRequest, info: RequestInfo, sub: SubresourceRecord,
                     rest: Connecter, target: RestRequest) -> web.StreamResponse:
        """Serve ``info`` (already authorized for its own verb) by forwarding it to the kubelet."""
        # Connect verbs follow the method alone (a GET with ?watch=true is still a get).
        if _CONNECT_VERBS.get(request.method) not in sub.verbs or not info.name or not target.scope.namespace:
            raise MethodNotAllowed()
        upgrading = is_upgrade_request(request, upgrade=None)
        if "create" in sub.verbs and request.method == "GET" and \
                is_upgrade_request(request, upgrade="websocket") and target.user is not None:
            # A WebSocket GET opens the same session a SPDY POST (create) would.
            self._access.authorize_resource(target.user, dataclasses.replace(info, verb="create"),
                                            target.resource, target.scope)
        location = await rest.connect(target)
        if location is None:
            return web.Response(body=b"", content_type="text/plain")
        return await self._forward(request, location, upgrading=upgrading)

    async def _forward(self, request: web.BaseRequest, location: KubeletLocation, *,
                       upgrading: bool) -> web.StreamResponse:
        headers = [(name, value) for name, value in request.headers.items()
                   if _forwarded(name, upgrading=upgrading)]
        body = b"" if upgrading else await _small_body(request)
        try:
            answer = await self._kubelets.send(
                location.host, location.port,
                KubeletRequest(request.method, location.target, headers, body),
                skip_verify=location.skip_tls_verify)
        except KubeletUnavailable as e:
            log.info("kubelet %s:%s unreachable: %s", location.host, location.port, e)
            raise ServiceUnavailable(str(e)) from e
        try:
            if answer.status == 101:
                if not upgrading:
                    raise ServiceUnavailable("the kubelet switched protocols on a plain request")
                # The kubelet's own Connection/Upgrade and protocol headers go back as they are.
                connection = await accept_upgrade(request, protocol_headers=_answer_headers(answer),
                                                  upgrade=None)
                await _pipe(connection, answer)
                return connection.response
            return await _relay(request, answer)
        finally:
            answer.close()


def _forwarded(name: str, *, upgrading: bool) -> bool:
    lowered = name.lower()
    if lowered in _DROPPED_REQUEST_HEADERS or lowered.startswith("impersonate-"):
        return False
    if lowered in ("connection", "upgrade"):
        return upgrading
    return True


def _answer_headers(answer: KubeletResponse) -> dict[str, str]:
    headers: dict[str, str] = {}
    for name, value in answer.headers:
        if name.lower() not in _DROPPED_RESPONSE_HEADERS:
            headers[name] = f"{headers[name]}, {value}" if name in headers else value
    return headers


async def _small_body(request: web.BaseRequest) -> bytes:
    """A connect request's body (normally empty), bounded so nobody streams into the API server."""
    if not request.can_read_body:
        return b""
    return await request.content.read(1 << 20)


async def _relay(request: web.BaseRequest, answer: KubeletResponse) -> web.StreamResponse:
    """Send the kubelet's non-upgrade answer on, chunk by chunk as it arrives (``logs -f``)."""
    headers = _answer_headers(answer)
    headers.pop("Connection", None)
    response = web.StreamResponse(status=answer.status, reason=answer.reason or None, headers=headers)
    await response.prepare(request)
    chunks = answer.body_chunks().__aiter__()
    while True:
        pending = asyncio.ensure_future(chunks.__anext__())
        try:
            while not pending.done():
                await asyncio.wait({pending}, timeout=_CLIENT_CHECK_S)
                if request.transport is None or request.transport.is_closing():
                    return response  # the client left: stop reading the kubelet (closed by caller)
            chunk = pending.result()
        except StopAsyncIteration:
            break
        except (OSError, asyncio.IncompleteReadError) as e:
            log.info("kubelet stream ended early: %s", e)
            break
        finally:
            if not pending.done():
                pending.cancel()
                with contextlib.suppress(asyncio.CancelledError, StopAsyncIteration, OSError):
                    await pending
        await response.write(chunk)
    await response.write_eof()
    return response


async def _pipe(client: RawConnection, answer: KubeletResponse) -> None:
    """Copy bytes both ways until either side closes, then close both (UpgradeAwareHandler's way)."""
    try:
        await splice(client, answer.reader, answer.writer, name="pod-proxy")
    finally:
        answer.close()
