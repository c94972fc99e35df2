"""Where a request goes: pure routing from method, path and the caller's tenant.

The shapes are the API server's (server/request_info.py, ARKTOS.md §1): long paths name the tenant
(``/api/v1/tenants/{t}/…``, ``/apis/{g}/{v}/tenants/{t}/…``), the prefix form puts the whole tree
under ``/tenants/{t}/``, short paths mean the caller's tenant. On top of that the gateway knows what
lives where (the issue's partitioning, as Arktos's gateway routed it): Nodes and the node Leases in
``kube-node-lease`` live on the resource partitions; Tenant objects on their tenant's TP; every other
object on its tenant's TP; cluster-scoped objects other than nodes and tenants in tp0's system space.
Collections spanning partitions — the tenants, the nodes, the system admin's cross-tenant lists
(``/api/v1/tenants/all/…``, and short paths without a namespace, which one server answers across
tenants for a system caller: server/handlers/rest.py ``scope``) — are merged over the partitions.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

from apis.identity import SYSTEM_TENANT

ALL_TENANTS = "all"
NODE_LEASE_NAMESPACE = "kube-node-lease"
LEASE_GROUP = "coordination.k8s.io"
HEALTH_PATHS = ("/healthz", "/readyz", "/livez")
# Cluster-scoped resources besides nodes and tenants (the catalogue's scope "Cluster"): one copy,
# in tp0's system space, so a short-path list of them is not merged over the TPs.
CLUSTER_SCOPED = frozenset({
    "apiservices", "bindings", "certificatesigningrequests", "componentstatuses", "csidrivers", "csinodes",
    "ingressclasses", "mutatingwebhookconfigurations", "priorityclasses", "runtimeclasses", "tokenreviews",
    "validatingadmissionpolicies", "validatingadmissionpolicybindings", "validatingwebhookconfigurations",
    "volumeattachments",
})
_TENANT_SUBRESOURCES = ("status", "finalize")
_PREFIX_TREES = ("api", "apis", "version", "openapi")

Target = Literal["local", "tenant", "node", "tenant-partitions", "resource-partitions", "create-tenant",
                 "refused"]
Collection = Literal["", "list", "watch"]


@dataclass(frozen=True, slots=True)
class Route:
    """``target`` with its key (a tenant or node name); merged targets say list or watch."""

    target: Target
    key: str = ""
    collection: Collection = ""
    tenants_list: bool = False  # the Tenant collection: tenant `system` only from tp0
    reason: str = ""  # why a request is refused


def _collection(method: str, watch: bool) -> Collection:
    if method in ("GET", "HEAD"):
        return "watch" if watch else "list"
    return ""


@dataclass(frozen=True, slots=True)
class _Parsed:
    group: str
    rest: list[str]
    watch: bool


def _resource_path(parts: list[str], watch_param: bool) -> _Parsed | None:
    """Group and the segments after the version; None for discovery and non-API paths."""
    if not parts or parts[0] not in ("api", "apis"):
        return None
    group = ""
    rest = parts[1:]
    if parts[0] == "apis":
        if len(rest) < 2:
            return None
        group, rest = rest[0], rest[1:]
    if len(rest) < 2:
        return None
    rest = rest[1:]
    watch = watch_param
    if rest[0] == "watch":
        watch, rest = True, rest[1:]
    return _Parsed(group, rest, watch) if rest else None


def route(method: str, path: str, *, caller_tenant: str, watch_param: bool = False) -> Route:
    """The route of ``method path`` for a caller of ``caller_tenant``."""
    if path in HEALTH_PATHS or path.startswith(tuple(p + "/" for p in HEALTH_PATHS)):
        return Route("local")
    parts = [p for p in path.split("/") if p]
    if len(parts) >= 3 and parts[0] == "tenants" and parts[2] in _PREFIX_TREES:
        return Route("tenant", parts[1])  # the prefix form: the whole tree is that tenant's
    parsed = _resource_path(parts, watch_param)
    if parsed is None:
        return Route("tenant", caller_tenant)  # discovery, /version, /openapi: the caller's TP
    return _resource_route(method, parsed, caller_tenant)


def _resource_route(method: str, parsed: _Parsed, caller_tenant: str) -> Route:
    rest = parsed.rest
    collection = _collection(method, parsed.watch)
    path_tenant = ""
    if not parsed.group and rest[0] == "tenants":
        if len(rest) == 1:
            return _tenants_collection(method, collection, caller_tenant)
        if len(rest) == 2 or rest[2] in _TENANT_SUBRESOURCES:
            return Route("tenant", rest[1])  # a Tenant object lives on its own TP
    if rest[0] == "tenants" and len(rest) >= 3:
        path_tenant, rest = rest[1], rest[2:]
        if path_tenant == ALL_TENANTS:
            return _across_tenants(collection, caller_tenant)
    node_route = _node_route(parsed.group, rest, collection, path_tenant or caller_tenant)
    if node_route is not None:
        return node_route
    namespaced = rest[0] == "namespaces" and len(rest) > 2
    if (not path_tenant and not namespaced and len(rest) == 1 and (collection or method == "DELETE")
            and caller_tenant == SYSTEM_TENANT and rest[0] not in CLUSTER_SCOPED):
        return _across_tenants(collection, caller_tenant)  # a list, watch or deletecollection of every tenant
    if not path_tenant and rest[0] in CLUSTER_SCOPED:
        return Route("tenant", SYSTEM_TENANT)
    return Route("tenant", path_tenant or caller_tenant)


def _tenants_collection(method: str, collection: Collection, caller_tenant: str) -> Route:
    if caller_tenant != SYSTEM_TENANT:
        # Only the system space manages tenants: the caller's own TP answers exactly what one
        # server would (403), before the gateway reveals anything about its partitions.
        return Route("tenant", caller_tenant)
    if method == "POST":
        return Route("create-tenant")
    if collection:
        return Route("tenant-partitions", collection=collection, tenants_list=True)
    return Route("refused", reason="deleting the collection of tenants is not supported through the gateway")


def _across_tenants(collection: Collection, caller_tenant: str) -> Route:
    if caller_tenant != SYSTEM_TENANT:
        # A tenant's caller sees only its tenant: its own TP gives one server's answer (403/404).
        return Route("tenant", caller_tenant)
    if collection:
        return Route("tenant-partitions", collection=collection)
    return Route("refused", reason="only list and watch span every tenant through the gateway; "
                                   "name the tenant for other verbs")


def _node_route(group: str, rest: list[str], collection: Collection, tenant: str) -> Route | None:
    """Nodes and the node Leases (tenant system, namespace kube-node-lease) live on the RPs."""
    if not group and rest[0] == "nodes":
        name = rest[1] if len(rest) > 1 else ""
    elif (group == LEASE_GROUP and tenant == SYSTEM_TENANT and len(rest) >= 3
          and rest[:3] == ["namespaces", NODE_LEASE_NAMESPACE, "leases"]):
        name = rest[3] if len(rest) > 3 else ""
    else:
        return None
    if name:
        return Route("node", name)
    if collection:
        return Route("resource-partitions", collection=collection)
    # A create names its node in the body, which the gateway does not read; unknown nodes go to rp0.
    return Route("node", "")
