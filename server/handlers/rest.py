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

from apis.catalogue import Catalogue, Resource
from server.auth.user import UserInfo
from server.errors import ApiError, BadRequest, Invalid, MethodNotAllowed, NotFound, UnsupportedMediaType
from server.flowcontrol.budget import ByteBudget
from server.handlers import codec, list_stream, typed_bodies
from server.handlers.delete_options import delete_options
from server.handlers.delete_options import validation_errors as delete_options_errors
from server.handlers.params import check_resource_version, list_options, write_options
from server.handlers.watch import WatchServer
from server.patch import PatchError, apply_json_patch, apply_merge_patch, apply_strategic_merge_patch
from server.printing import tables
from server.registry.keys import ALL_TENANTS, SYSTEM_TENANT, Scope
from server.registry.lister import Lister
from server.registry.pod_actions import create_pod_action
from server.registry.store import GenericStore, WriteOptions, WriteResult
from server.registry.subresources import bind_pod, evict_pod, scale_of, update_scale
from server.request_info import RequestInfo
from server.watchcache import CachedObject, WatchCache

# Upstream picks the code per patch failure; `PatchError.status` carries it.
_PATCH_ERRORS: dict[int, type[ApiError]] = {400: BadRequest, 415: UnsupportedMediaType, 422: Invalid}
_TABLE_FORMS = ("Table", "PartialObjectMetadata", "PartialObjectMetadataList")
# Key of a response's audit annotations (aiohttp responses are mappings for such per-request state).
AUDIT_ANNOTATIONS = "audit_annotations"
_VERB_OF_SUBRESOURCE = {"action": ("create",), "binding": ("create",), "eviction": ("create",),
                        "status": ("get", "update", "patch"), "scale": ("get", "update", "patch"),
                        "finalize": ("update",)}


class ResourceHandler:
    def __init__(self, *, catalogue: Catalogue, store: GenericStore, lister: Lister,
                 cache: WatchCache, watches: WatchServer, list_budget: ByteBudget | None = None) -> None:
        self._catalogue = catalogue
        self._list_budget = list_budget or ByteBudget(0)
        self._store = store
        self._lister = lister
        self._cache = cache
        self._watches = watches

    def resolve(self, info: RequestInfo) -> Resource:
        resource = self._catalogue.lookup(info.group, info.version, info.resource)
        if resource is None:
            raise NotFound.path()
        if info.subresource and info.subresource not in resource.subresources:
            raise NotFound.path()
        return resource

    @staticmethod
    def scope(info: RequestInfo, resource: Resource, caller_tenant: str) -> Scope:
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

    async def handle(self, request: web.BaseRequest, info: RequestInfo, resource: Resource,
                     scope: Scope, user: UserInfo | None = None) -> web.StreamResponse:
        """Serve ``info`` on ``resource`` within ``scope`` (resolved and authorized by the caller);
        ``user`` is handed to admission with the writes."""
        verb = info.verb
        if info.subresource:
            if verb not in _VERB_OF_SUBRESOURCE.get(info.subresource, ()):
                raise MethodNotAllowed()
            return await self._subresource(request, info, resource, scope)
        if verb not in resource.verbs or (verb in ("update", "patch") and not info.name):
            raise MethodNotAllowed()
        if resource.namespaced and not info.namespace and verb not in ("list", "watch"):
            raise MethodNotAllowed() if verb in ("create", "deletecollection") else NotFound.path()
        if verb == "get":
            return self._get(request, resource, scope, info.name)
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
    def _get(self, request: web.BaseRequest, resource: Resource, scope: Scope, name: str) -> web.Response:
        media = codec.negotiate(request, allow_as=_TABLE_FORMS)
        check_resource_version(request.query.get("resourceVersion", ""))
        cached = self._store.get(resource, scope, name)
        if media.as_kind == "Table":
            table = tables.table_for(resource, [cached.obj],
                                     include_object=request.query.get("includeObject", "Metadata"))
            table["metadata"] = {"resourceVersion": cached.obj["metadata"]["resourceVersion"]}
            return codec.respond(table, media)
        if media.as_kind == "PartialObjectMetadata":
            return codec.respond(tables.partial_object_metadata(cached.obj), media)
        return codec.respond_raw(cached.raw, media)

    async def _list(self, request: web.BaseRequest, resource: Resource,
                    scope: Scope) -> web.StreamResponse:
        media = codec.negotiate(request, allow_as=_TABLE_FORMS)
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
    async def _create(self, request: web.BaseRequest, resource: Resource, scope: Scope, *,
                      user: UserInfo | None) -> web.Response:
        media = codec.negotiate(request)
        options = write_options(request.query, "CreateOptions", user=user)
        body = codec.decode_body(await codec.read_body(request), codec.content_type_of(request),
                                 kind=resource.kind)
        result = await self._store.create(resource, scope, body, options)
        return _answer(result, media)

    async def _update(self, request: web.BaseRequest, resource: Resource, scope: Scope, name: str,
                      subresource: str = "", *, user: UserInfo | None = None) -> web.Response:
        media = codec.negotiate(request)
        options = write_options(request.query, "UpdateOptions", user=user)
        body = codec.decode_body(await codec.read_body(request), codec.content_type_of(request),
                                 kind=resource.kind)
        result = await self._store.update(resource, scope, name, body, subresource=subresource,
                                          options=options)
        return _answer(result, media)

    async def _patch(self, request: web.BaseRequest, resource: Resource, scope: Scope, name: str,
                     subresource: str = "", *, user: UserInfo | None = None) -> web.Response:
        media = codec.negotiate(request)
        content_type = codec.content_type_of(request)
        codec.check_content_type(content_type, codec.PATCH_TYPES)  # before the options, as upstream
        options = write_options(request.query, "PatchOptions", apply=content_type == codec.APPLY_PATCH,
                                user=user)
        patch = codec.decode_body(await codec.read_body(request), content_type,
                                  allowed=codec.PATCH_TYPES)
        apply = _patcher(resource, content_type, patch, target=(name, scope.namespace))
        if content_type == codec.APPLY_PATCH:
            result = await self._server_side_apply(resource, scope, name, patch, apply, options)
        else:
            result = await self._store.guaranteed_update(resource, scope, name, apply,
                                                         subresource=subresource, options=options,
                                                         check_unknown=True)
        return _answer(result, media)

    async def _server_side_apply(self, resource: Resource, scope: Scope, name: str, patch: Any,
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

    async def _delete(self, request: web.BaseRequest, resource: Resource, scope: Scope,
                      name: str) -> web.Response:
        media = codec.negotiate(request)
        deletion, options = await delete_options(request)
        result = await self._store.delete(resource, scope, name, deletion, options)
        return codec.respond(result.obj, media, status=result.code)

    async def _delete_collection(self, request: web.BaseRequest, resource: Resource,
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

    # -- subresources -----------------------------------------------------------------------------
    async def _subresource(self, request: web.BaseRequest, info: RequestInfo, resource: Resource,
                           scope: Scope) -> web.Response:
        sub, name, verb = info.subresource, info.name, info.verb
        if sub == "status" and verb == "get":
            return self._get(request, resource, scope, name)
        if sub in ("status", "finalize") and verb == "update":
            return await self._update(request, resource, scope, name,
                                      subresource="status" if sub == "status" else "")
        if sub == "status" and verb == "patch":
            return await self._patch(request, resource, scope, name, subresource="status")
        if sub == "scale":
            return await self._scale(request, resource, scope, name, verb)
        media = codec.negotiate(request)
        options = write_options(request.query, "CreateOptions")
        body = codec.decode_body(await codec.read_body(request), codec.content_type_of(request))
        if sub == "binding":
            binding = typed_bodies.decoded_as(body, *typed_bodies.BINDING)
            result = await bind_pod(self._store, resource, scope, name, binding, options)
        elif sub == "action":
            action = typed_bodies.decoded_as(body, *typed_bodies.CUSTOM_ACTION)
            result = await create_pod_action(self._store, self._catalogue, resource, scope, name, action,
                                             options)
        elif sub == "eviction":
            eviction, options = _eviction(body, options)
            result = await evict_pod(self._store, self._cache, self._catalogue, resource, scope, name,
                                     eviction, options)
        else:
            raise MethodNotAllowed()
        return codec.respond(result.obj, media, status=result.code)

    async def _scale(self, request: web.BaseRequest, resource: Resource, scope: Scope, name: str,
                     verb: str) -> web.Response:
        media = codec.negotiate(request)
        if verb == "get":
            return codec.respond(scale_of(self._store.get(resource, scope, name).obj), media)
        options = write_options(request.query, "UpdateOptions" if verb == "update" else "PatchOptions")
        content_type = codec.content_type_of(request)
        if verb == "update":
            body = typed_bodies.decoded_as(codec.decode_body(await codec.read_body(request), content_type),
                                           *typed_bodies.SCALE)
            scale = await update_scale(self._store, resource, scope, name, lambda _current: body, options)
        else:
            patch = codec.decode_body(await codec.read_body(request), content_type,
                                      allowed=codec.PATCH_TYPES[:3])
            scale_resource = self._catalogue.lookup("autoscaling", "v1", "scale")
            apply = _patcher(scale_resource or resource, content_type, patch,
                             definition="io.k8s.api.autoscaling.v1.Scale", target=(name, scope.namespace))
            scale = await update_scale(self._store, resource, scope, name,
                                       lambda current: typed_bodies.decoded_as(apply(current),
                                                                               *typed_bodies.SCALE), options)
        return codec.respond(scale, media)


def _answer(result: WriteResult, media: codec.MediaType) -> web.Response:
    """The written object, with admission's warnings as headers and its audit annotations kept on
    the response for the audit log (`AUDIT_ANNOTATIONS`)."""
    response = codec.respond(result.obj, media, status=result.code, warnings=result.warnings)
    if result.audit_annotations:
        response[AUDIT_ANNOTATIONS] = result.audit_annotations
    return response


def _patcher(resource: Resource, content_type: str, patch: Any, *, definition: str = "",
             target: tuple[str, str]) -> Any:
    definition = definition or resource.definition
    name, namespace = target

    def apply(current: dict[str, Any]) -> dict[str, Any]:
        try:
            if content_type == codec.JSON_PATCH:
                if not isinstance(patch, list):
                    raise BadRequest("json patch must be a list of operations")
                patched = apply_json_patch(current, patch)
            elif not isinstance(patch, dict):
                raise BadRequest("the patch must be a JSON object")
            elif content_type == codec.MERGE_PATCH:
                patched = apply_merge_patch(current, patch)
            else:
                patched = apply_strategic_merge_patch(current, patch, definition)
        except PatchError as e:
            raise _PATCH_ERRORS.get(e.status, Invalid)(e.message) from e
        check_name(patched, name, namespace)
        return patched

    return apply


def check_name(obj: Any, name: str, namespace: str) -> None:
    """A patch may not rename or move its object (upstream handlers' checkName, 400)."""
    if not isinstance(obj, dict):
        return
    metadata = obj.get("metadata", {})
    if not isinstance(metadata, dict):
        return  # the store refuses a malformed metadata with its own message
    obj_name = metadata.get("name")
    if obj_name != name:
        shown = obj_name if isinstance(obj_name, str) else ""
        raise BadRequest(f"the name of the object ({shown}) does not match the name on the URL ({name})")
    obj_namespace = metadata.get("namespace")
    if namespace and obj_namespace and obj_namespace != namespace:
        raise BadRequest(f"the namespace of the object ({obj_namespace}) does not match the namespace "
                         f"on the request ({namespace})")


def _eviction(body: Any, options: WriteOptions) -> tuple[dict[str, Any], WriteOptions]:
    """The Eviction, its DeleteOptions checked as a delete's (422), their dryRun honoured."""
    eviction = typed_bodies.decoded_as(body, *typed_bodies.EVICTION)
    deletion = eviction.get("deleteOptions") or {}
    errors = delete_options_errors(deletion)
    if errors:
        raise Invalid.options("DeleteOptions", errors)
    return eviction, WriteOptions(dry_run=options.dry_run or bool(deletion.get("dryRun")),
                                  field_validation=options.field_validation)


def _scope_of(resource: Resource, cached: CachedObject) -> Scope:
    metadata = cached.obj["metadata"]
    if resource.scope == "Cluster":
        return Scope(tenant="")
    return Scope(tenant=metadata.get("tenant", "system"), namespace=metadata.get("namespace", ""))


__all__ = ["ApiError", "ResourceHandler"]
