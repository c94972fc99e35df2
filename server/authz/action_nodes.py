"""Which node an Arktos Action is addressed to, read from the watch cache.

The node authorizer lets a kubelet read and report on an Action only when the Action's
``spec.nodeName`` is the kubelet's node (as upstream's node authorizer relates pods to nodes
through its graph). Looking the Action up by key in the cache keeps that check O(1) and free of
storage reads on every status write.
"""

from __future__ import annotations

from server.registry.catalogue import Catalogue
from server.registry.keys import SYSTEM_TENANT
from server.watchcache import ResourceCache, WatchCache


class CacheActionNodes:
    """``ActionNodes`` of `server.authz.node` over the cache of ``actions``."""

    def __init__(self, cache: WatchCache, catalogue: Catalogue) -> None:
        actions = catalogue.lookup("", "v1", "actions")
        self._actions: ResourceCache | None = (
            cache.resource(actions.key_segment) if actions is not None else None)

    def action_node(self, tenant: str, namespace: str, name: str) -> str | None:
        """The ``spec.nodeName`` of the Action, or None when there is no such Action."""
        if self._actions is None:
            return None
        key = f"/registry/{self._actions.segment}/{tenant or SYSTEM_TENANT}/{namespace}/{name}"
        cached = self._actions.objects.get(key)
        if cached is None:
            return None
        return str((cached.obj.get("spec") or {}).get("nodeName") or "")
