"""REST verbs on resources: the HTTP face of the generic store.

One handler serves every declared resource (upstream's generic REST handlers in
k8s.io/apiserver/pkg/endpoints/handlers). It resolves the resource and scope, decodes the body,
calls the store and encodes the answer in the negotiated form (JSON, YAML, Table,
PartialObjectMetadata). Watches are handed to `server.handlers.watch`.
"""

from __future__ import annotations

from typing import Any

import orjson
from aiohttp import web

from server.auth.user import UserInfo
from server.errors import ApiError, BadRequest, MethodNotAllowed, NotFound
from server.flowcontrol.budget import ByteBudget
from server.handlers import codec, list_stream
from server.handlers.delete_options import delete_options
from server.handlers.params import list_options, write_options
from server.handlers.patching import check_name, patcher
from server.handlers.subresources import TABLE_FORMS, SubresourceHandler, answer, object_media, respond_object
from server.handlers.watch import WatchServer
from server.printing import tables
from server.registry.catalogue import Catalogue
from server.registry.keys import ALL_TENANTS, SYSTEM_TENANT, Scope
from server.registry.lister import Lister
from server.registry.record import ResourceRecord
from server.registry.store import GenericStore, WriteOptions, WriteResult
from server.request_info import RequestInfo
from server.watchcache import CachedObject, WatchCache


class ResourceHandler:
    def __init__(self, *, catalogue: Catalogue, store: GenericStore, lister: Lister,
                 cache: WatchCache, watches: WatchServer, subresources: SubresourceHandler,
                 list_budget: ByteBudget | None = None) -> None:
        self._catalogue = catalogue
        self._subresources = subresources
        self._list_budget = list_budget or ByteBudget(0)
        self._store = store
        self._lister = lister
        self._cache = cache
        self._watches = watches

    def resolve(self, info: RequestInfo) -> ResourceRecord:
        """The record a request addresses, as the catalogue has it now (404 when not served)."""
        resource = self._catalogue.lookup(info.group, info.version, info.resource)
        if resource is None:
            raise NotFound.path()
        if info.subresource and not resource.has_subresource(info.subresource):
            raise NotFound.path()
        return resource

    @staticmethod
    def scope(info: RequestInfo, resource: ResourceRecord, caller_tenant: str) -> Scope:
        """The tenant and namespace a request targets: the path's tenant, else the caller's."""
        tenant = info.tenant or caller_tenant
        if not info.tenant_in_path and not info.namespace and info.verb in ("list", "watch",
                                                                             "deletecollection"):
            # A short path without a namespace lists across tenants for the system tenant
            # (ARKTOS.md §1: /api/v1/pods means every tenant); others see their own tenant.
            tenant = ALL_TENANTS if caller_tenant == SYSTEM_TENANT else tenant
        if resource.scope == "Cluster":
            return Scope(tenant="")
        return Scope(tenant=tenant, namespace=info.namespace if resource.namespaced else "")

    async def handle(self, request: web.BaseRequest, info: RequestInfo, resource: ResourceRecord,
                     scope: Scope, user: UserInfo | None = None) -> web.StreamResponse:
        """Serve ``info`` on ``resource`` within ``scope`` (resolved and authorized by the caller);
        ``user`` is handed to admission with the writes."""
        verb = info.verb
        if info.subresource:
            return await self._subresources.handle(request, info, resource, scope, user)
        if not resource.stored:
            return await self._subresources.create_unstored(request, info, resource, scope, user)
        if verb not in resource.verbs or (verb in ("update", "patch") and not info.name):
            raise MethodNotAllowed()
        if resource.namespaced and not info.namespace and verb not in ("list", "watch"):
            raise MethodNotAllowed() if verb in ("create", "deletecollection") else NotFound.path()
        if verb == "get":
            return await self._get(request, resource, scope, info.name)
        if verb == "list":
            return await self._list(request, resource, scope)
        if verb == "watch":
            return await self._watches.serve(request, resource, scope, info.name)
        if verb == "create":
            if info.name:
                raise MethodNotAllowed()
            return await self._create(request, resource, scope, user=user)
        if verb == "update":
            return await self._update(request, resource, scope, info.name, user=user)
        if verb == "patch":
            return await self._patch(request, resource, scope, info.name, user=user)
        if verb == "delete":
            return await self._delete(request, resource, scope, info.name)
        if verb == "deletecollection":
            return await self._delete_collection(request, resource, scope)
        raise MethodNotAllowed()

    # -- reads ------------------------------------------------------------------------------------
    async def _get(self, request: web.BaseRequest, resource: ResourceRecord, scope: Scope,
                   name: str) -> web.Response:
        media = object_media(request)
        if request.query.get("resourceVersion") != "0":
            # A GET is a consistent read unless it asks for "any" version (resourceVersion=0):
            # the cache first catches up with the store, which another server may have written.
            await self._cache.catch_up()
        return respond_object(request, resource, self._store.get(resource, scope, name), media)

    async def _list(self, request: web.BaseRequest, resource: ResourceRecord,
                    scope: Scope) -> web.StreamResponse:
        media = codec.negotiate(request, allow_as=TABLE_FORMS)
        page = await self._lister.list(resource, scope, list_options(resource, request.query))
        metadata: dict[str, Any] = {"resourceVersion": str(page.revision)}
        if page.continue_token:
            metadata["continue"] = page.continue_token
            if page.remaining is not None:
                metadata["remainingItemCount"] = page.remaining
        if media.as_kind == "Table":
            def table() -> web.Response:
                body = tables.table_for(resource, [o.obj for o in page.items],
                                        include_object=request.query.get("includeObject", "Metadata"),
                                        across_tenants=scope.tenant == ALL_TENANTS)
                body["metadata"] = metadata
                return codec.respond(body, media)

            return await list_stream.respond_built(request, budget=self._list_budget,
                                                   size=list_stream.built_size(page.items), build=table)
        if media.as_kind in ("PartialObjectMetadata", "PartialObjectMetadataList"):
            return await list_stream.respond_built(
                request, budget=self._list_budget, size=list_stream.built_size(page.items),
                build=lambda: codec.respond(
                    {"kind": "PartialObjectMetadataList", "apiVersion": "meta.k8s.io/v1",
                     "metadata": metadata,
                     "items": [tables.partial_object_metadata(o.obj) for o in page.items]}, media))
        head = orjson.dumps({"kind": resource.list_kind, "apiVersion": resource.api_version,
                             "metadata": metadata})
        return await list_stream.stream_list(request, head, page.items, budget=self._list_budget, media=media)

    # -- writes -----------------------------------------------------------------------------------
    async def _create(self, request: web.BaseRequest, resource: ResourceRecord, scope: Scope, *,
                      user: UserInfo | None) -> web.Response:
        media = codec.negotiate(request)
        options = write_options(request.query, "CreateOptions", user=user)
        body = codec.decode_body(await codec.read_body(request), codec.content_type_of(request),
                                 kind=resource.kind)
        result = await self._store.create(resource, scope, body, options)
        return answer(result, media)

    async def _update(self, request: web.BaseRequest, resource: ResourceRecord, scope: Scope, name: str, *,
                      user: UserInfo | None = None) -> web.Response:
        media = codec.negotiate(request)
        options = write_options(request.query, "UpdateOptions", user=user)
        body = codec.decode_body(await codec.read_body(request), codec.content_type_of(request),
                                 kind=resource.kind)
        result = await self._store.update(resource, scope, name, body, options=options)
        return answer(result, media)

    async def _patch(self, request: web.BaseRequest, resource: ResourceRecord, scope: Scope, name: str, *,
                     user: UserInfo | None = None) -> web.Response:
        media = codec.negotiate(request)
        content_type = codec.content_type_of(request)
        codec.check_content_type(content_type, codec.PATCH_TYPES)  # before the options, as upstream
        options = write_options(request.query, "PatchOptions", apply=content_type == codec.APPLY_PATCH,
                                user=user)
        patch = codec.decode_body(await codec.read_body(request), content_type,
                                  allowed=codec.PATCH_TYPES)
        apply = patcher(resource.definition, content_type, patch, target=(name, scope.namespace))
        if content_type == codec.APPLY_PATCH:
            result = await self._server_side_apply(resource, scope, name, patch, apply, options)
        else:
            result = await self._store.guaranteed_update(resource, scope, name, apply, options=options,
                                                         check_unknown=True)
        return answer(result, media)

    async def _server_side_apply(self, resource: ResourceRecord, scope: Scope, name: str, patch: Any,
                                 apply: Any, options: WriteOptions) -> WriteResult:
        """Approximate server-side apply: create when absent, else a strategic merge of the
        applied configuration (field ownership is not tracked yet)."""
        try:
            self._store.get(resource, scope, name)
        except NotFound:
            if isinstance(patch, dict):
                metadata = patch.get("metadata")
                if metadata is None:
                    metadata = patch["metadata"] = {}
                if not isinstance(metadata, dict):
                    raise BadRequest("metadata must be an object") from None
                metadata.setdefault("name", name)
                check_name(patch, name, scope.namespace)
            return await self._store.create(resource, scope, patch, options)
        return await self._store.guaranteed_update(resource, scope, name, apply, options=options,
                                                   check_unknown=True)

    async def _delete(self, request: web.BaseRequest, resource: ResourceRecord, scope: Scope,
                      name: str) -> web.Response:
        media = codec.negotiate(request)
        deletion, options = await delete_options(request)
        result = await self._store.delete(resource, scope, name, deletion, options)
        return codec.respond(result.obj, media, status=result.code)

    async def _delete_collection(self, request: web.BaseRequest, resource: ResourceRecord,
                                 scope: Scope) -> web.Response:
        media = codec.negotiate(request)
        listing = list_options(resource, request.query)
        deletion, options = await delete_options(request)
        page = await self._lister.list(resource, scope, listing)
        deleted: list[dict[str, Any]] = []
        for cached in page.items:
            item_scope = _scope_of(resource, cached)
            try:
                result = await self._store.delete(resource, item_scope, cached.obj["metadata"]["name"],
                                                  dict(deletion), options)
            except NotFound:
                continue
            deleted.append(result.obj if result.obj.get("kind") == resource.kind else cached.obj)
        body = {"kind": resource.list_kind, "apiVersion": resource.api_version,
                "metadata": {"resourceVersion": str(self._cache.revision)}, "items": deleted}
        return codec.respond(body, media)


def _scope_of(resource: ResourceRecord, cached: CachedObject) -> Scope:
    metadata = cached.obj["metadata"]
    if resource.scope == "Cluster":
        return Scope(tenant="")
    return Scope(tenant=metadata.get("tenant", "system"), namespace=metadata.get("namespace", ""))


__all__ = ["ApiError", "ResourceHandler"]
