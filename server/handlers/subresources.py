"""The HTTP face of the small REST storages: subresources and resources that are not stored.

Each subresource is served by the storage its record names (``SubresourceRecord.rest``); the verbs
it answers are the ones discovery advertises for it, each mapped to the storage's interface as
upstream's API installer maps them: get → `Getter`, update → `Updater`, patch → `Patcher`, create →
`Creater`, and GET/POST of a `Connecter` → forwarded to the pod's kubelet (`PodProxy`). A verb the
subresource does not advertise, or a subresource declared without a storage, is a 405. Storages
are built once per server and record, and forgotten when their record leaves the catalogue.
"""

from __future__ import annotations

from typing import Any

from aiohttp import web

from server.auth.user import UserInfo
from server.errors import MethodNotAllowed
from server.handlers import codec
from server.handlers.params import check_resource_version, write_options
from server.handlers.patching import patcher
from server.handlers.pod_proxy import PodProxy
from server.handlers.warning_headers import add_warnings
from server.printing import tables
from server.registry.catalogue import Catalogue, CatalogueChange
from server.registry.keys import Scope
from server.registry.record import ResourceRecord, RestFactory
from server.registry.rest.interface import (
    Connecter,
    Creater,
    Getter,
    Patcher,
    RestContext,
    RestRequest,
    Updater,
)
from server.registry.store import WriteResult
from server.request_info import RequestInfo
from server.watchcache import CachedObject

TABLE_FORMS = ("Table", "PartialObjectMetadata", "PartialObjectMetadataList")
# Key of a response's audit annotations (aiohttp responses are mappings for such per-request state).
AUDIT_ANNOTATIONS = "audit_annotations"

# (record, subresource name or "" for the resource itself) -> its storage
_Key = tuple[ResourceRecord, str]


class RestStorages:
    """The storages of one server, built on first use from the records' factories."""

    def __init__(self, context: RestContext, catalogue: Catalogue) -> None:
        self._context = context
        self._built: dict[_Key, object] = {}
        catalogue.subscribe(self._forget)

    def _forget(self, change: CatalogueChange) -> None:
        for key in [k for k in self._built if k[0] in change.removed]:
            del self._built[key]

    def storage(self, record: ResourceRecord, subresource: str, factory: RestFactory) -> object:
        key = (record, subresource)
        built = self._built.get(key)
        if built is None:
            built = self._built[key] = factory(record, self._context)
        return built


class SubresourceHandler:
    """Serves ``{resource}/{name}/{subresource}`` and the create of resources that are not stored."""

    def __init__(self, storages: RestStorages, pod_proxy: PodProxy) -> None:
        self._storages = storages
        self._pod_proxy = pod_proxy

    async def handle(self, request: web.BaseRequest, info: RequestInfo, resource: ResourceRecord,
                     scope: Scope, user: UserInfo | None) -> web.StreamResponse:
        sub = resource.subresource(info.subresource)
        if sub is None or sub.rest is None:
            raise MethodNotAllowed()
        storage = self._storages.storage(resource, sub.name, sub.rest)
        target = RestRequest(resource, scope, info.name, user, request.query)
        if isinstance(storage, Connecter):
            return await self._pod_proxy.handle(request, info, sub, storage, target)
        if info.verb not in sub.verbs:
            raise MethodNotAllowed()
        # A subresource of the parent's own kind (status, finalize) reads in the object's forms
        # (Table, metadata) and decodes a body as that kind, naming it in errors.
        return await self._serve(request, info.verb, storage, target, own_kind=sub.kind == resource.kind)

    async def create_unstored(self, request: web.BaseRequest, info: RequestInfo, resource: ResourceRecord,
                              scope: Scope, user: UserInfo | None) -> web.StreamResponse:
        """A create of a resource that answers instead of storing (reviews)."""
        assert resource.rest is not None
        if info.verb != "create":
            raise MethodNotAllowed()
        storage = self._storages.storage(resource, "", resource.rest)
        target = RestRequest(resource, scope, info.name, user, request.query)
        return await self._serve(request, "create", storage, target, own_kind=False)

    async def _serve(self, request: web.BaseRequest, verb: str, storage: object, target: RestRequest, *,
                     own_kind: bool) -> web.StreamResponse:
        if verb == "get" and isinstance(storage, Getter):
            media = object_media(request) if own_kind else codec.negotiate(request)
            got = storage.get(target)
            if isinstance(got, CachedObject):
                return respond_object(request, target.resource, got, media)
            return codec.respond(got, media)
        media = codec.negotiate(request)
        if verb == "patch" and isinstance(storage, Patcher):
            return answer(await self._patch(request, storage, target), media)
        if verb == "update" and isinstance(storage, Updater):
            options = write_options(request.query, "UpdateOptions", user=target.user)
            body = await _body(request, target.resource.kind if own_kind else "")
            return answer(await storage.update(target, body, options), media)
        if verb == "create" and isinstance(storage, Creater):
            options = write_options(request.query, "CreateOptions", user=target.user)
            body = await _body(request, target.resource.kind if own_kind else "")
            return answer(await storage.create(target, body, options), media)
        raise MethodNotAllowed()

    @staticmethod
    async def _patch(request: web.BaseRequest, storage: Patcher, target: RestRequest) -> WriteResult:
        content_type = codec.content_type_of(request)
        allowed = codec.PATCH_TYPES if storage.server_side_apply else codec.PATCH_TYPES[:3]
        codec.check_content_type(content_type, allowed)  # before the options, as upstream
        options = write_options(request.query, "PatchOptions", apply=content_type == codec.APPLY_PATCH,
                                user=target.user)
        patch = codec.decode_body(await codec.read_body(request), content_type, allowed=allowed)
        apply = patcher(storage.patch_definition, content_type, patch,
                        target=(target.name, target.scope.namespace))
        return await storage.patch(target, apply, options)


async def _body(request: web.BaseRequest, kind: str) -> Any:
    return codec.decode_body(await codec.read_body(request), codec.content_type_of(request), kind=kind)


def object_media(request: web.BaseRequest) -> codec.MediaType:
    """The form a GET of one object asks for (406 when none), its resourceVersion checked (400)."""
    media = codec.negotiate(request, allow_as=TABLE_FORMS)
    check_resource_version(request.query.get("resourceVersion", ""))
    return media


def respond_object(request: web.BaseRequest, resource: ResourceRecord, cached: CachedObject,
                   media: codec.MediaType) -> web.Response:
    """One object as a GET answers it: JSON/YAML as stored, or as a Table or its metadata."""
    if media.as_kind == "Table":
        table = tables.table_for(resource, [cached.obj],
                                 include_object=request.query.get("includeObject", "Metadata"))
        table["metadata"] = {"resourceVersion": cached.obj["metadata"]["resourceVersion"]}
        return codec.respond(table, media)
    if media.as_kind == "PartialObjectMetadata":
        return codec.respond(tables.partial_object_metadata(cached.obj), media)
    return codec.respond_raw(cached.raw, media)


def answer(result: WriteResult, media: codec.MediaType) -> web.Response:
    """The written object, with admission's warnings as headers and its audit annotations kept on
    the response for the audit log (`AUDIT_ANNOTATIONS`)."""
    if result.raw:  # a stored object: the bytes a read serves, never decoded here
        response = codec.respond_raw(result.raw, media, status=result.code)
        add_warnings(response, result.warnings)
    else:
        response = codec.respond(result.obj, media, status=result.code, warnings=result.warnings)
    if result.audit_annotations:
        response[AUDIT_ANNOTATIONS] = result.audit_annotations
    return response
