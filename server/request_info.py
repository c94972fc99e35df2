"""Turns a request path and method into what the request is about.

Mirrors k8s.io/apiserver's RequestInfoFactory, extended with Arktos's tenant segment
(`/api/v1/tenants/{t}/namespaces/{ns}/pods`, ARKTOS.md §1) and our prefix form
(`/tenants/{t}/api/v1/...`, which a kubeconfig server URL can point at). The tenant is left empty
when the path names none; the caller fills it from the requesting identity.
"""

from __future__ import annotations

import functools
from dataclasses import dataclass

# Subresources that belong to the namespace/tenant object itself rather than starting a new
# resource segment (upstream's namespaceSubresources, and the same for tenants).
_NAMESPACE_SUBRESOURCES = frozenset({"status", "finalize"})
_TENANT_SUBRESOURCES = frozenset({"status", "finalize"})

_READ_METHODS = {"GET": "get", "HEAD": "get"}
_METHOD_VERBS = {"POST": "create", "PUT": "update", "PATCH": "patch", "DELETE": "delete"}


@dataclass(frozen=True, slots=True)
class RequestInfo:
    """What a request addresses. Non-resource requests (discovery, health) have ``is_resource`` False."""

    path: str
    verb: str
    is_resource: bool = False
    api_prefix: str = ""  # "api" or "apis"
    group: str = ""
    version: str = ""
    tenant: str = ""  # from the path; "" = the caller's tenant; "all" = every tenant
    tenant_in_path: bool = False
    namespace: str = ""
    resource: str = ""
    name: str = ""
    subresource: str = ""
    path_prefix: str = ""  # "/tenants/{t}" when the prefix form was used, else ""


def parse_request(method: str, path: str, *, watch_param: bool = False) -> RequestInfo:
    """Parse ``path`` (without query) for ``method``; ``watch_param`` is ``?watch=true``.

    Results are memoised: clients ask for the same paths again and again (kubelets, informers,
    controllers), and parsing showed up in the GET hot path.
    """
    return _parse_cached(method, path, watch_param)


@functools.lru_cache(maxsize=16384)
def _parse_cached(method: str, path: str, watch_param: bool) -> RequestInfo:
    parts = [p for p in path.split("/") if p]
    prefix_tenant = ""
    path_prefix = ""
    if len(parts) >= 3 and parts[0] == "tenants" and parts[2] in ("api", "apis", "version", "openapi"):
        prefix_tenant = parts[1]
        path_prefix = f"/tenants/{prefix_tenant}"
        parts = parts[2:]
    non_resource = RequestInfo(path="/" + "/".join(parts), verb=method.lower(), tenant=prefix_tenant,
                               tenant_in_path=bool(prefix_tenant), path_prefix=path_prefix)
    if not parts or parts[0] not in ("api", "apis"):
        return non_resource
    api_prefix = parts[0]
    rest = parts[1:]
    group = ""
    if api_prefix == "apis":
        if len(rest) < 2:
            return non_resource
        group, rest = rest[0], rest[1:]
    if len(rest) < 2:  # /api/v1, /apis/g/v: discovery
        return non_resource
    version, rest = rest[0], rest[1:]

    verb = _READ_METHODS.get(method) or _METHOD_VERBS.get(method, method.lower())
    legacy_watch = False
    if rest[0] == "watch":
        legacy_watch, rest = True, rest[1:]
        if not rest:
            return non_resource

    tenant, tenant_in_path = prefix_tenant, bool(prefix_tenant)
    if rest[0] == "tenants" and len(rest) >= 2:
        if len(rest) == 2 or rest[2] in _TENANT_SUBRESOURCES:
            pass  # the tenant object itself: /api/v1/tenants/{name}[/status]
        else:
            tenant, tenant_in_path, rest = rest[1], True, rest[2:]

    namespace = ""
    if rest[0] == "namespaces" and len(rest) >= 2:
        namespace = rest[1]
        if len(rest) > 2 and rest[2] not in _NAMESPACE_SUBRESOURCES:
            rest = rest[2:]
        else:
            # The namespace object itself: its name is the "namespace" segment (upstream quirk),
            # kept as the name; the namespace of a namespace is "".
            namespace = ""
    resource = rest[0]
    name = rest[1] if len(rest) > 1 else ""
    subresource = rest[2] if len(rest) > 2 else ""
    if len(rest) > 3:
        # e.g. pods/{name}/proxy/{path}: keep the subresource; the rest is not modelled yet.
        subresource = rest[2]

    if method in ("GET", "HEAD") and not name:
        verb = "watch" if (legacy_watch or watch_param) else "list"
    elif method in ("GET", "HEAD") and (legacy_watch or watch_param):
        verb = "watch"
    elif method == "DELETE" and not name:
        verb = "deletecollection"

    return RequestInfo(
        path="/" + "/".join(parts), verb=verb, is_resource=True, api_prefix=api_prefix,
        group=group, version=version, tenant=tenant, tenant_in_path=tenant_in_path,
        namespace=namespace, resource=resource, name=name, subresource=subresource,
        path_prefix=path_prefix,
    )
