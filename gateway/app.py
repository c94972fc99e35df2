"""The gateway's request handler: identify the caller, route, and forward, merge or splice.

Every request goes: ``callers.identify`` (certificate, token or anonymous, and the tenant it routes
by) → ``routes.route`` → one of: the gateway's own health endpoints; one partition (forwarded, or
spliced when it is an upgrade); a merged list or watch over the TPs or RPs; a Tenant create
(``tenant_creation``). With one partition of a kind, a merged route is a plain forward. Errors of the
gateway itself become Status answers here, at the boundary.
"""

from __future__ import annotations

import asyncio
import logging
from dataclasses import dataclass

from aiohttp import web

from gateway.callers import Caller, TokenTenants, identify
from gateway.forwarding import forward, read_body
from gateway.health import health_answer, readiness
from gateway.merging import SystemCopies, merged_list
from gateway.partitions import Partition, Partitions
from gateway.placement import Placement
from gateway.routes import Route, route
from gateway.status import BadRequest, GatewayError, status_response
from gateway.tenant_creation import create_tenant
from gateway.upgrades import forward_upgrade
from gateway.watches import merged_watch
from httpstream.upgrade_takeover import is_upgrade_request

log = logging.getLogger(__name__)

_TRUE = ("1", "true")
# How long a request that arrives while the gateway is starting waits for the live maps.
_SYNC_WAIT_S = 10.0


@dataclass
class Gateway:
    partitions: Partitions
    placement: Placement
    tokens: TokenTenants
    max_body: int
    _start_grace_over: bool = False

    async def handle(self, request: web.BaseRequest) -> web.StreamResponse:
        try:
            return await self._handle(request)
        except GatewayError as e:
            return status_response(e)
        except asyncio.CancelledError:
            raise
        except Exception as e:  # the boundary: a Status, never a traceback to the client
            log.exception("gateway error on %s %s", request.method, request.path)
            error = GatewayError(f"gateway internal error: {type(e).__name__}")
            return status_response(error)

    async def _handle(self, request: web.BaseRequest) -> web.StreamResponse:
        caller = identify(request, self.tokens)
        where = route(request.method, request.path, caller_tenant=caller.tenant,
                      watch_param=request.query.get("watch", "").lower() in _TRUE)
        if where.target == "local":
            checks = await readiness(self.partitions, self.placement) if request.path.startswith("/readyz") \
                else [("ping", True)]
            return health_answer(request.path, checks, verbose="verbose" in request.query)
        if where.target == "refused":
            raise BadRequest(where.reason)
        if not self.placement.synced and not self._start_grace_over:
            await self._wait_for_maps()
        if where.target in ("tenant", "node"):
            partition = self._single(where)
            if is_upgrade_request(request, upgrade=None):
                return await forward_upgrade(request, partition, caller)
            body = await read_body(request, limit=self.max_body)
            return await forward(request, partition, caller, body=body)
        body = await read_body(request, limit=self.max_body)
        if where.target == "create-tenant":
            return await create_tenant(request, body, caller, placement=self.placement,
                                       partitions=self.partitions.tenant)
        return await self._merged(request, where, caller, body)

    async def _wait_for_maps(self) -> None:
        """Before the first lists, a tenant or node would silently go to tp0/rp0: requests arriving
        at start-up wait for the maps, a bounded time once. A partition down from the start must not
        hold every request: after that, requests route with what the maps know (an unreachable
        partition then answers 503 for its own requests)."""
        try:
            async with asyncio.timeout(_SYNC_WAIT_S):
                await self.placement.wait_synced()
        except TimeoutError:
            log.warning("tenant/node maps not synced after %.0fs (a partition down?); routing with what "
                        "they hold", _SYNC_WAIT_S)
        self._start_grace_over = True

    def _single(self, where: Route) -> Partition:
        if where.target == "node":
            return self.partitions.resource[self.placement.node_partition(where.key)]
        return self.partitions.tenant[self.placement.tenant_partition(where.key)]

    async def _merged(self, request: web.BaseRequest, where: Route, caller: Caller,
                      body: bytes) -> web.StreamResponse:
        partitions = (self.partitions.tenant if where.target == "tenant-partitions"
                      else self.partitions.resource)
        if len(partitions) == 1:
            return await forward(request, partitions[0], caller, body=body)
        copies: SystemCopies = ""
        if where.target == "tenant-partitions":
            copies = "tenant-object" if where.tenants_list else "tenant-space"
        if where.collection == "watch":
            return await merged_watch(request, partitions, caller, system_copies=copies)
        return await merged_list(request, partitions, caller, system_copies=copies)


def build_app(gateway: Gateway, *, access_log: bool = False) -> web.Server:
    if access_log:
        return web.Server(gateway.handle)
    return web.Server(gateway.handle, access_log=None)
