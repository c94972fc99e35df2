"""Non-resource endpoints that describe the API: discovery, OpenAPI and ``/version``.

Discovery documents come from `server.resources.discovery`; this module only picks the form the client's
``Accept`` asks for (aggregated ``apidiscovery.k8s.io`` v2 or v2beta1 — kubectl 1.27 only knows
v2beta1 — or the classic APIVersions/APIGroupList), keeps the encoded bytes while the catalogue
stays as it is, and serves aggregated discovery and the OpenAPI documents with upstream's ETag.
"""

from __future__ import annotations

import hashlib
import platform
from collections.abc import Callable
from typing import Any

import orjson
from aiohttp import web

from apis.catalogue import Resource
from apis.schemas import SERVED_KUBERNETES_VERSION
from server.errors import NotAcceptable, NotFound
from server.handlers import codec
from server.registry.catalogue import Catalogue, group_versions
from server.registry.record import ResourceRecord
from server.resources import discovery
from server.schema import openapi, openapi_proto
from server.schema.schema_set import SchemaSet

_AGGREGATED = "APIGroupDiscoveryList"


def version_info() -> dict[str, Any]:
    major, minor = SERVED_KUBERNETES_VERSION.split(".")
    return {
        "major": major, "minor": minor, "gitVersion": f"v{SERVED_KUBERNETES_VERSION}.0+arktos",
        "gitCommit": "arktos-py", "gitTreeState": "clean", "buildDate": "2026-11-28T00:00:00Z",
        "goVersion": f"python{platform.python_version()}", "compiler": "cpython",
        "platform": f"linux/{'amd64' if platform.machine() == 'x86_64' else platform.machine()}",
    }


def _aggregated_version(request: web.BaseRequest) -> str:
    """The aggregated discovery version asked for, "" for the classic documents."""
    for part in request.headers.get("Accept", "").split(","):
        params = dict(p.strip().partition("=")[::2] for p in part.split(";")[1:])
        if params.get("as") == _AGGREGATED and params.get("g") == "apidiscovery.k8s.io" \
                and params.get("v") in ("v2", "v2beta1"):
            return params["v"]
        media = part.split(";")[0].strip()
        if media in ("application/json", "*/*", "application/*") and "as" not in params:
            return ""
    if request.headers.get("Accept", "") and not any(
            m in request.headers["Accept"] for m in ("json", "*/*", "application/*")):
        raise NotAcceptable("only the following media types are accepted: application/json")
    return ""


def _tenanted(resource: Resource) -> bool:
    return resource.tenanted


class DiscoveryEndpoints:
    """Discovery, OpenAPI and ``/version`` of one server, from its catalogue as it is now.

    Encoded documents are kept until the catalogue changes; then they are dropped and rebuilt on
    the next request, so a resource added or removed at run time shows up (and its ETag moves).
    """

    def __init__(self, catalogue: Catalogue, schemas: SchemaSet) -> None:
        self._catalogue = catalogue
        self._schemas = schemas
        self._cache: dict[tuple[str, ...], bytes] = {}
        catalogue.subscribe(lambda _change: self._cache.clear())

    def _cached(self, key: tuple[str, ...], build: Callable[[], Any]) -> bytes:
        body = self._cache.get(key)
        if body is None:
            built = build()
            body = self._cache[key] = built if isinstance(built, bytes) else orjson.dumps(built)
        return body

    def handle(self, request: web.BaseRequest, path: str, *,
               tenant_view: bool = False) -> web.Response | None:
        """Answer ``path`` if it is a discovery/OpenAPI/version path, else None.

        ``tenant_view`` hides cluster-scoped resources (what a non-system tenant may see).
        """
        parts = [p for p in path.split("/") if p]
        view = "tenant" if tenant_view else "all"
        visible = _tenanted if tenant_view else None
        if parts == ["version"]:
            return web.json_response(version_info())
        if parts[:1] == ["openapi"]:
            return self._openapi(request, parts[1:], view, visible)
        if parts[:1] not in (["api"], ["apis"]):
            return None
        cat = self._catalogue
        if len(parts) == 1:
            legacy = parts == ["api"]
            aggregated = _aggregated_version(request)
            if aggregated:
                body = self._cached((view, parts[0], aggregated), lambda: discovery.aggregated(
                    cat, legacy=legacy, version=aggregated, visible=visible))  # type: ignore[arg-type]
                return _with_etag(request, body, (
                    f"application/json;g=apidiscovery.k8s.io;v={aggregated};as={_AGGREGATED}"))
            host = request.host or ""
            build = (lambda: discovery.core_versions(host)) if legacy else (
                lambda: discovery.group_list(cat, visible=visible))
            return self._json(self._cached((view, parts[0], host), build))
        if parts[0] == "api" and len(parts) == 2:
            return self._json_or_404((view, "api", parts[1]),
                                     lambda: discovery.resource_list(cat, "", parts[1], visible=visible))
        if parts[0] == "apis" and len(parts) == 2:
            return self._json_or_404((view, "apis", parts[1]),
                                     lambda: discovery.group(cat, parts[1], visible=visible))
        if parts[0] == "apis" and len(parts) == 3:
            return self._json_or_404(
                (view, "apis", parts[1], parts[2]),
                lambda: discovery.resource_list(cat, parts[1], parts[2], visible=visible))
        return None

    def _json_or_404(self, key: tuple[str, ...], build: Callable[[], Any]) -> web.Response:
        body = self._cache.get(key)
        if body is None:
            document = build()
            if document is None:
                raise NotFound.path()
            body = self._cache[key] = orjson.dumps(document)
        return self._json(body)

    @staticmethod
    def _json(body: bytes) -> web.Response:
        return web.Response(body=body, content_type=codec.JSON)

    def _openapi(self, request: web.BaseRequest, rest: list[str], view: str,
                 visible: discovery.Visible | None) -> web.Response:
        served = [r for r in self._catalogue if visible is None or visible(r)]
        defs = self._schemas.definitions
        if rest == ["v2"]:
            form = openapi_proto.negotiate(request.headers.get("Accept", ""))
            if form is None:
                raise NotAcceptable("only the following media types are accepted: application/json, "
                                    + openapi_proto.MEDIA_TYPE)
            v2 = self._cached((view, "openapi", "v2"), lambda: openapi.openapi_v2(served, defs))
            if form == "protobuf":  # kubectl's client-side validation reads only this form
                return _with_etag(request, self._cached((view, "openapi", "v2", "protobuf"),
                                                        lambda: openapi_proto.encoded(v2)),
                                  openapi_proto.MEDIA_TYPE)
            return _with_etag(request, v2, codec.JSON)
        if rest == ["v3"]:
            return self._json(self._cached((view, "openapi", "v3"), lambda: openapi.openapi_v3_index(
                group_versions(served), lambda path: self._v3_document(view, served, path))))
        if rest[:1] == ["v3"] and len(rest) > 1:
            document = self._v3_document(view, served, "/".join(rest[1:]))
            if document is None:
                raise NotFound.path()
            return _with_etag(request, document, codec.JSON)
        raise NotFound.path()

    def _v3_document(self, view: str, served: list[ResourceRecord], path: str) -> bytes | None:
        key = (view, "openapi", "v3", path)
        body = self._cache.get(key)
        if body is None:
            body = openapi.openapi_v3_document(served, path, self._schemas.definitions)
            if body is None:
                return None
            self._cache[key] = body
        return body


def _with_etag(request: web.BaseRequest, body: bytes, content_type: str) -> web.Response:
    """A document with upstream's ETag (the uppercase hex SHA-512 of its bytes, quoted); a request
    whose If-None-Match names it gets 304 Not Modified (k8s.io/apiserver discovery/aggregated's
    ServeHTTPWithETag; kube-openapi does the same for OpenAPI)."""
    etag = f'"{hashlib.sha512(body).hexdigest().upper()}"'
    headers = {"ETag": etag, "Vary": "Accept", "Cache-Control": "public"}
    if request.headers.get("If-None-Match") == etag:
        return web.Response(status=304, headers=headers)
    return web.Response(body=body, headers={**headers, "Content-Type": content_type})
