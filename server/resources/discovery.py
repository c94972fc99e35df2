"""Discovery documents: how clients learn which resources the server serves.

Stock kubectl (1.27 to 1.37), client-go and the python client read these before anything else, so the
shapes follow upstream's exactly (k8s.io/apimachinery ``meta/v1`` APIVersions, APIGroupList,
APIGroup, APIResourceList, and ``apidiscovery.k8s.io`` v2/v2beta1 APIGroupDiscoveryList — compare
kubernetes/kubernetes ``api/discovery/*.json``). Everything is derived from the `Catalogue`.

Arktos additions: every APIResource entry carries ``tenanted`` (ARKTOS.md §2); clients that do not know
it ignore it. ``namespaced`` is true only for the Namespaced scope, so tenant-scoped resources look
cluster-scoped to stock kubectl — which is what they are from inside one tenant.

Each function takes an optional ``visible`` filter so that per-tenant discovery (cluster-scoped
resources hidden from non-system tenants, ARKTOS.md §3) needs no second code path; a group or version
left without a visible resource disappears.
"""

from __future__ import annotations

import base64
import functools
import hashlib
from collections.abc import Callable, Sequence
from typing import Any, Literal

from apis.catalogue import Resource, Subresource
from server.registry.catalogue import Catalogue, group_versions

Visible = Callable[[Resource], bool]
DiscoveryVersion = Literal["v2", "v2beta1"]


def core_versions(server_address: str = "") -> dict[str, Any]:
    """``GET /api``: the legacy group's versions (APIVersions).

    ``server_address`` is the host:port clients should use; upstream answers with the address the
    request came in on, for every client network (``0.0.0.0/0``).
    """
    return {
        "kind": "APIVersions",
        "versions": ["v1"],
        "serverAddressByClientCIDRs": [{"clientCIDR": "0.0.0.0/0", "serverAddress": server_address}],
    }


def group_list(cat: Catalogue, *, visible: Visible | None = None) -> dict[str, Any]:
    """``GET /apis``: every named group with its versions (APIGroupList)."""
    groups = [
        _api_group(name, versions)
        for name, versions in _visible_group_versions(cat, visible).items()
        if name != ""
    ]
    return {"kind": "APIGroupList", "apiVersion": "v1", "groups": groups}


def group(cat: Catalogue, name: str, *, visible: Visible | None = None) -> dict[str, Any] | None:
    """``GET /apis/{name}`` (APIGroup), or None when the group is not served (or not visible)."""
    if name == "":
        return None
    versions = _visible_group_versions(cat, visible).get(name)
    if not versions:
        return None
    return {"kind": "APIGroup", "apiVersion": "v1", **_api_group(name, versions)}


def resource_list(
    cat: Catalogue, group: str, version: str, *, visible: Visible | None = None
) -> dict[str, Any] | None:
    """``GET /api/v1`` or ``GET /apis/{group}/{version}`` (APIResourceList), or None if not served."""
    resources = _visible(cat.in_group_version(group, version), visible)
    if not resources:
        return None
    entries: list[dict[str, Any]] = []
    for resource in resources:
        entries.append(_api_resource(resource))
        entries.extend(_api_subresource(resource, sub) for sub in resource.subresources)
    doc: dict[str, Any] = {"kind": "APIResourceList"}
    if group:
        # Upstream sets apiVersion on named groups' lists but not on the legacy /api/v1 one.
        doc["apiVersion"] = "v1"
    doc["groupVersion"] = f"{group}/{version}" if group else version
    doc["resources"] = entries
    return doc


def aggregated(
    cat: Catalogue,
    *,
    legacy: bool,
    version: DiscoveryVersion,
    visible: Visible | None = None,
) -> dict[str, Any]:
    """Aggregated discovery (APIGroupDiscoveryList) for ``/api`` (legacy=True) or ``/apis``.

    kubectl asks for it with ``Accept: application/json;g=apidiscovery.k8s.io;v=v2;as=APIGroupDiscoveryList``
    (1.27 only knows ``v2beta1``); both versions share one shape.
    """
    items: list[dict[str, Any]] = []
    for name, versions in _visible_group_versions(cat, visible).items():
        if (name == "") != legacy:
            continue
        items.append({
            "metadata": {"name": name, "creationTimestamp": None},
            "versions": [
                {
                    "version": v,
                    "resources": [
                        _discovery_resource(r) for r in _visible(cat.in_group_version(name, v), visible)
                    ],
                    "freshness": "Current",
                }
                for v in versions
            ],
        })
    return {
        "kind": "APIGroupDiscoveryList",
        "apiVersion": f"apidiscovery.k8s.io/{version}",
        "metadata": {},
        "items": items,
    }


@functools.lru_cache(maxsize=1024)
def storage_version_hash(group: str, version: str, kind: str) -> str:
    """Upstream's storageVersionHash: base64 of the first 8 bytes of sha256("group/version/kind").

    Clients only compare it for equality (to notice a storage migration); matching upstream's value
    for the same kind keeps it stable across servers.
    """
    digest = hashlib.sha256(f"{group}/{version}/{kind}".encode()).digest()
    return base64.b64encode(digest[:8]).decode("ascii")


# --- helpers -------------------------------------------------------------------------------------


def _visible(resources: Sequence[Resource], visible: Visible | None) -> Sequence[Resource]:
    return resources if visible is None else [r for r in resources if visible(r)]


def _visible_group_versions(cat: Catalogue, visible: Visible | None) -> dict[str, list[str]]:
    """Group -> versions (preferred first) that still hold a visible resource."""
    if visible is None:
        return cat.group_versions()
    out = group_versions(r for r in cat if visible(r))
    # Keep the catalogue's preference order even if a later version's resource came first.
    order = cat.group_versions()
    return {g: [v for v in order[g] if v in vs] for g, vs in out.items()}


def _group_version(group: str, version: str) -> dict[str, str]:
    return {"groupVersion": f"{group}/{version}", "version": version}


def _api_group(name: str, versions: list[str]) -> dict[str, Any]:
    return {
        "name": name,
        "versions": [_group_version(name, v) for v in versions],
        "preferredVersion": _group_version(name, versions[0]),
    }


def _is_stored(resource: Resource) -> bool:
    # Resources without watch (bindings, componentstatuses, reviews) are computed per request and have
    # no storage version; upstream omits storageVersionHash for them.
    return "watch" in resource.verbs


def _api_resource(resource: Resource) -> dict[str, Any]:
    entry: dict[str, Any] = {
        "name": resource.plural,
        "singularName": resource.singular,
        "namespaced": resource.namespaced,
        "tenanted": resource.tenanted,
        "kind": resource.kind,
        "verbs": list(resource.verbs),
    }
    if resource.short_names:
        entry["shortNames"] = list(resource.short_names)
    if resource.categories:
        entry["categories"] = list(resource.categories)
    if _is_stored(resource):
        entry["storageVersionHash"] = storage_version_hash(resource.group, resource.version, resource.kind)
    return entry


def _api_subresource(resource: Resource, sub: Subresource) -> dict[str, Any]:
    entry: dict[str, Any] = {
        "name": f"{resource.plural}/{sub.name}",
        "singularName": "",
        "namespaced": resource.namespaced,
        "tenanted": resource.tenanted,
        "kind": sub.kind,
        "verbs": list(sub.verbs),
    }
    if sub.group or sub.version:
        entry["group"] = sub.group
        entry["version"] = sub.version
    return entry


def _discovery_resource(resource: Resource) -> dict[str, Any]:
    """One APIResourceDiscovery entry of aggregated discovery."""
    entry: dict[str, Any] = {
        "resource": resource.plural,
        # Empty group/version mean "this group version", as upstream emits for a resource's own kind.
        "responseKind": {"group": "", "version": "", "kind": resource.kind},
        "scope": "Namespaced" if resource.namespaced else "Cluster",
        "singularResource": resource.singular,
        "tenanted": resource.tenanted,
        "verbs": list(resource.verbs),
    }
    if resource.short_names:
        entry["shortNames"] = list(resource.short_names)
    if resource.categories:
        entry["categories"] = list(resource.categories)
    subresources = resource.subresources
    if subresources:
        entry["subresources"] = [
            {
                "subresource": sub.name,
                "responseKind": {"group": sub.group, "version": sub.version, "kind": sub.kind},
                "verbs": list(sub.verbs),
            }
            for sub in subresources
        ]
    return entry
