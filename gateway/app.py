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
from gateway.merging import merged_list
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


@dataclass
class Gateway:
    partitions: Partitions
    placement: Placement
    tokens: TokenTenants
    max_body: int

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
        if where.collection == "watch":
            return await merged_watch(request, partitions, caller, tenants_list=where.tenants_list)
        return await merged_list(request, partitions, caller, tenants_list=where.tenants_list)


def build_app(gateway: Gateway, *, access_log: bool = False) -> web.Server:
    if access_log:
        return web.Server(gateway.handle)
    return web.Server(gateway.handle, access_log=None)
