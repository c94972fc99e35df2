"""``*/status`` and ``*/finalize``: the parent object through a narrower write.

``status`` reads the parent and writes it through the status strategy (only ``status`` changes:
upstream's StatusREST); ``finalize`` (namespaces, tenants) writes the whole object through the main
strategy, whose finalizer lists it then reads (upstream's namespace FinalizeREST).
"""

from __future__ import annotations

from typing import Any

from server.registry.record import ResourceRecord
from server.registry.rest.interface import Mutation, RestContext, RestRequest
from server.registry.store import WriteOptions, WriteResult
from server.watchcache import CachedObject


class StatusREST:
    """get, update and patch of ``{resource}/{name}/status``."""

    server_side_apply = True  # approximated as a strategic merge of the applied status

    def __init__(self, record: ResourceRecord, context: RestContext) -> None:
        self._store = context.store
        self.patch_definition = record.definition

    def get(self, request: RestRequest) -> CachedObject:
        return self._store.get(request.resource, request.scope, request.name)

    async def update(self, request: RestRequest, body: Any, options: WriteOptions) -> WriteResult:
        return await self._store.update(request.resource, request.scope, request.name, body,
                                        subresource="status", options=options)

    async def patch(self, request: RestRequest, apply: Mutation, options: WriteOptions) -> WriteResult:
        return await self._store.guaranteed_update(request.resource, request.scope, request.name, apply,
                                                   subresource="status", options=options,
                                                   check_unknown=True)


class FinalizeREST:
    """update of ``{namespaces,tenants}/{name}/finalize``."""

    def __init__(self, record: ResourceRecord, context: RestContext) -> None:
        self._store = context.store

    async def update(self, request: RestRequest, body: Any, options: WriteOptions) -> WriteResult:
        return await self._store.update(request.resource, request.scope, request.name, body,
                                        options=options)
