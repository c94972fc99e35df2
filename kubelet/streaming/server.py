"""The streaming server itself: routes, the access check, error rendering, start and stop.

Why this exists: `kubelet.kubelet` needs one object to start with the process and stop with it, and the
API server's pod proxy (and tests) need to know its routes.  Paths are upstream's with Arktos's tenant in
front of the namespace:

    GET       /healthz
    GET       /containerLogs/{tenant}/{namespace}/{pod}/{container}?follow&tailLines&sinceSeconds&...
    GET|POST  /exec/{tenant}/{namespace}/{pod}/{container}?command=...&stdin&stdout&stderr&tty
    GET|POST  /attach/{tenant}/{namespace}/{pod}/{container}?stdin&stdout&stderr&tty
    GET|POST  /portForward/{tenant}/{namespace}/{pod}[?port=N...]

and, as upstream, exec, attach and portForward also with the pod's uid after its name
(``/exec/{tenant}/{namespace}/{pod}/{uid}/{container}``, ``/portForward/{tenant}/{namespace}/{pod}/{uid}``):
the only unambiguous form when pods of two tenant partitions share a name (`pod_directory`).

Every route but ``/healthz`` passes the `access.AccessPolicy` first (authentication, then a
SubjectAccessReview per request); `StreamingError`s become Status JSON.
"""

from __future__ import annotations

import logging
import ssl
from collections.abc import Awaitable, Callable
from functools import partial

from aiohttp import web

from client.rest import ApiClient
from kubelet.config import KubeletConfig
from kubelet.streaming.access import AccessPolicy
from kubelet.streaming.authn import TokenAuthenticator
from kubelet.streaming.authz import WebhookAuthorizer
from kubelet.streaming.errors import StreamingError, status_response
from kubelet.streaming.exec_handler import exec_or_attach
from kubelet.streaming.logs_handler import container_logs
from kubelet.streaming.pod_directory import PodDirectory
from kubelet.streaming.portforward_handler import port_forward
from kubelet.streaming.reviews import ApiReviews
from kubelet.streaming.tls import server_ssl_context, serving_files

log = logging.getLogger(__name__)

# Upstream's kubelet gives in-flight streams no grace on shutdown either; keep stopping quick.
SHUTDOWN_TIMEOUT_S = 2.0
Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]
Middleware = Callable[[web.Request, Handler], Awaitable[web.StreamResponse]]


def _error_middleware(access: AccessPolicy) -> Middleware:
    @web.middleware
    async def middleware(request: web.Request, handler: Handler) -> web.StreamResponse:
        try:
            if request.path != "/healthz":
                await access.check(request)
            return await handler(request)
        except StreamingError as error:
            if error.code >= 500:
                log.warning("%s %s: %s", request.method, request.path, error.message)
            return status_response(error)
    return middleware


async def _healthz(request: web.Request) -> web.Response:
    return web.Response(text="ok")


def build_app(directory: PodDirectory, *, access: AccessPolicy) -> web.Application:
    app = web.Application(middlewares=[_error_middleware(access)])  # type: ignore[list-item]
    pod = "{tenant}/{namespace}/{pod}"
    app.router.add_get("/healthz", _healthz)

    async def logs(request: web.Request) -> web.StreamResponse:
        return await container_logs(request, directory)

    app.router.add_get(f"/containerLogs/{pod}/{{container}}", logs)
    for verb in ("exec", "attach"):
        handler = partial(exec_or_attach, directory=directory, verb=verb)
        for method in ("GET", "POST"):
            app.router.add_route(method, f"/{verb}/{pod}/{{container}}", handler)
            app.router.add_route(method, f"/{verb}/{pod}/{{uid}}/{{container}}", handler)

    async def forward(request: web.Request) -> web.StreamResponse:
        return await port_forward(request, directory)

    for method in ("GET", "POST"):
        app.router.add_route(method, f"/portForward/{pod}", forward)
        app.router.add_route(method, f"/portForward/{pod}/{{uid}}", forward)
    return app


class StreamingServer:
    """The HTTPS server on ``address:port`` (port 0: any free port; `port` tells which after `start`)."""

    def __init__(self, directory: PodDirectory, *, address: str, port: int,
                 ssl_context: ssl.SSLContext | None, access: AccessPolicy) -> None:
        self.address = address
        self.port = port
        self._ssl_context = ssl_context
        self._runner = web.AppRunner(build_app(directory, access=access),
                                     access_log=None, shutdown_timeout=SHUTDOWN_TIMEOUT_S)

    async def start(self) -> int:
        await self._runner.setup()
        site = web.TCPSite(self._runner, self.address, self.port, ssl_context=self._ssl_context)
        try:
            await site.start()
        except OSError:
            await self._runner.cleanup()
            raise
        # aiohttp keeps the asyncio server private; it is the only way to learn a port-0 choice.
        sockets = getattr(site._server, "sockets", None) or []
        if sockets:
            self.port = int(sockets[0].getsockname()[1])
        log.info("streaming server listening on %s:%d", self.address, self.port)
        return self.port

    async def stop(self) -> None:
        await self._runner.cleanup()


def access_policy(config: KubeletConfig, client: ApiClient) -> AccessPolicy:
    """The port's authentication and authorization as the flags configure them (upstream's
    ``--authentication-token-webhook``, ``--authorization-mode`` and their cache TTLs)."""
    reviews = ApiReviews(client)
    tokens = TokenAuthenticator(reviews, ttl_s=config.token_webhook_cache_ttl_s) \
        if config.authentication_token_webhook else None
    authorizer = WebhookAuthorizer(reviews, authorized_ttl_s=config.authorization_cache_authorized_ttl_s,
                                   unauthorized_ttl_s=config.authorization_cache_unauthorized_ttl_s) \
        if config.authorization_mode == "Webhook" else None
    return AccessPolicy(node=config.hostname, client_ca_configured=bool(config.client_ca_file),
                        tokens=tokens, authorizer=authorizer)


async def start_for_kubelet(config: KubeletConfig, directory: PodDirectory, *,
                            hosts: list[str], client: ApiClient) -> StreamingServer | None:
    """The server a kubelet process runs (None when ``--port 0`` or hollow: hollow runtimes cannot stream).

    A port already taken is logged, not fatal: the node keeps running pods without logs/exec, where
    upstream's kubelet would exit (several test kubelets share these machines).
    """
    if config.port == 0 or config.hollow:
        return None
    try:
        files = serving_files(cert_file=config.tls_cert_file, key_file=config.tls_private_key_file,
                              root_dir=config.root_dir, hostname=config.hostname, hosts=hosts)
        context = server_ssl_context(files, client_ca_file=config.client_ca_file)
    except (OSError, ValueError, ssl.SSLError) as e:  # unreadable or mismatched certificate files
        log.error("streaming server has no usable TLS certificate (%s); serving no logs/exec", e)
        return None
    server = StreamingServer(directory, address=config.address, port=config.port, ssl_context=context,
                             access=access_policy(config, client))
    try:
        await server.start()
    except OSError as e:
        log.error("streaming server cannot listen on %s:%d: %s", config.address, config.port, e)
        return None
    return server
