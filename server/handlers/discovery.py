"""Non-resource endpoints that describe the API: discovery, OpenAPI and ``/version``.

Discovery documents come from `server.resources.discovery`; this module only picks the form the client's
``Accept`` asks for (aggregated ``apidiscovery.k8s.io`` v2 or v2beta1 — kubectl 1.27 only knows
v2beta1 — or the classic APIVersions/APIGroupList) and caches the encoded bytes.
"""

from __future__ import annotations

import platform
from typing import Any

import orjson
from aiohttp import web

from apis.catalogue import Catalogue
from apis.schemas import SERVED_KUBERNETES_VERSION
from server.errors import NotAcceptable, NotFound
from server.handlers import codec
from server.resources import discovery
from server.schema import openapi, openapi_proto

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


class DiscoveryEndpoints:
    def __init__(self, catalogue: Catalogue, *, tenant_view: bool = False) -> None:
        self._catalogue = catalogue
        self._cache: dict[tuple[str, ...], bytes] = {}
        if not tenant_view:
            # A second set of documents built from the tenanted resources only.
            self._tenant_view = DiscoveryEndpoints(
                Catalogue(r for r in catalogue if r.tenanted), tenant_view=True)

    def _cached(self, key: tuple[str, ...], build: Any) -> bytes:
        body = self._cache.get(key)
        if body is None:
            body = self._cache[key] = orjson.dumps(build())
        return body

    def handle(self, request: web.BaseRequest, path: str, *,
               tenant_view: bool = False) -> web.Response | None:
        """Answer ``path`` if it is a discovery/OpenAPI/version path, else None.

        ``tenant_view`` hides cluster-scoped resources (what a non-system tenant may see).
        """
        parts = [p for p in path.split("/") if p]
        if tenant_view:
            return self._tenant_view.handle(request, path)
        cat = self._catalogue
        if parts == ["version"]:
            return web.json_response(version_info())
        if parts == ["api"] or parts == ["apis"]:
            legacy = parts == ["api"]
            aggregated = _aggregated_version(request)
            if aggregated:
                body = self._cached((parts[0], aggregated), lambda: discovery.aggregated(
                    cat, legacy=legacy, version=aggregated))  # type: ignore[arg-type]
                return web.Response(body=body, headers={"Content-Type": (
                    f"application/json;g=apidiscovery.k8s.io;v={aggregated};as={_AGGREGATED}")})
            host = request.host or ""
            build = (lambda: discovery.core_versions(host)) if legacy else (
                lambda: discovery.group_list(cat))
            return self._json(self._cached((parts[0], host), build))
        if parts[:1] == ["api"] and len(parts) == 2:
            return self._json_or_404(("api", parts[1]), lambda: discovery.resource_list(cat, "", parts[1]))
        if parts[:1] == ["apis"] and len(parts) == 2:
            return self._json_or_404(("apis", parts[1]), lambda: discovery.group(cat, parts[1]))
        if parts[:1] == ["apis"] and len(parts) == 3:
            return self._json_or_404(("apis", parts[1], parts[2]),
                                     lambda: discovery.resource_list(cat, parts[1], parts[2]))
        if parts[:1] == ["openapi"]:
            return self._openapi(request, parts[1:])
        return None

    def _json_or_404(self, key: tuple[str, ...], build: Any) -> web.Response:
        document = build() if key not in self._cache else None
        if key not in self._cache:
            if document is None:
                raise NotFound.path()
            self._cache[key] = orjson.dumps(document)
        return self._json(self._cache[key])

    @staticmethod
    def _json(body: bytes) -> web.Response:
        return web.Response(body=body, content_type=codec.JSON)

    def _openapi(self, request: web.BaseRequest, rest: list[str]) -> web.Response:
        if rest == ["v2"]:
            form = openapi_proto.negotiate(request.headers.get("Accept", ""))
            if form is None:
                raise NotAcceptable("only the following media types are accepted: application/json, "
                                    + openapi_proto.MEDIA_TYPE)
            v2 = openapi.openapi_v2(self._catalogue)
            if form == "protobuf":  # kubectl's client-side validation reads only this form
                return web.Response(body=openapi_proto.encoded(v2), content_type=openapi_proto.MEDIA_TYPE)
            return self._json(v2)
        if rest == ["v3"]:
            return self._json(self._cached(("openapi", "v3"),
                                           lambda: openapi.openapi_v3_index(self._catalogue)))
        if rest[:1] == ["v3"] and len(rest) > 1:
            document = openapi.openapi_v3_document(self._catalogue, "/".join(rest[1:]))
            if document is None:
                raise NotFound.path()
            return self._json(document)
        raise NotFound.path()
