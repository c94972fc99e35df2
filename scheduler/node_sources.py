"""Where the scheduler's nodes come from: its own API server, or every resource partition.

In Arktos's scale-out a tenant partition's scheduler binds its own pods to nodes that live in
the resource partitions (``--resource-providers rp0.kubeconfig,rp1.kubeconfig``): one node
informer per RP, all feeding the one scheduler cache. Node names are unique across RPs (a
kubelet registers in exactly one); this module remembers which partition each node came from
and passes on only that partition's events for it, so a stale copy of a name in another RP
(a node that moved) can neither shadow nor delete the live one. Without the flag it is the one
node informer of the scheduler's own API server, as before.

An RP going down leaves its informer retrying (with backoff) and its nodes in the cache as last
seen — client-go's informers keep their cache too — so scheduling onto the other RPs' nodes
goes on; the down RP's kubelets still take their pods from the TPs.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from typing import Any

from client.cache import ObjectKey
from client.partitions import PartitionInformer
from client.resources import ResourceRef

log = logging.getLogger(__name__)

NODES = ResourceRef("", "v1", "nodes", "Node")

# (event type, key, the node as its partition now has it — None once deleted)
NodeHandler = Callable[[str, ObjectKey, dict[str, Any] | None], None]


class NodeSources:
    """Node informers of one or more partitions, merged by node name."""

    def __init__(self, items: list[PartitionInformer]) -> None:
        self.items = items
        self._owner: dict[str, int] = {}  # node name -> index into `items`
        self._conflicts_logged: set[tuple[str, int]] = set()

    def partition_of(self, node_name: str) -> str | None:
        """The name of the partition ``node_name`` came from (None: not known)."""
        index = self._owner.get(node_name)
        return self.items[index].partition.name if index is not None else None

    def describe(self) -> str:
        """Nodes per partition, for the log ("own: 3", or "<rp0 URL>: 2, <rp1 URL>: 5")."""
        counts = [0] * len(self.items)
        for index in self._owner.values():
            counts[index] += 1
        pairs = zip(self.items, counts, strict=True)
        return ", ".join(f"{item.partition.name}: {count}" for item, count in pairs)

    def add_handler(self, handler: NodeHandler) -> None:
        """``handler`` sees every node event of the partition owning the node."""
        for index, item in enumerate(self.items):
            item.informer.add_handler(self._router(index, handler))

    def _router(self, index: int, handler: NodeHandler) -> Callable[[str, ObjectKey], None]:
        informer = self.items[index].informer

        def on_event(event_type: str, key: ObjectKey) -> None:
            owner = self._owner.get(key.name)
            if owner is not None and owner != index:
                self._conflict(key.name, index, owner)
                return
            if event_type == "DELETED":
                self._owner.pop(key.name, None)
                handler(event_type, key, None)
                self._adopt_elsewhere(key, index, handler)
                return
            self._owner[key.name] = index
            handler(event_type, key, informer.get(key))

        return on_event

    def _adopt_elsewhere(self, key: ObjectKey, gone_from: int, handler: NodeHandler) -> None:
        """A node deleted in one partition may exist in another (it moved): take that copy."""
        for index, item in enumerate(self.items):
            node = item.informer.get(key) if index != gone_from else None
            if node is not None:
                self._owner[key.name] = index
                handler("ADDED", key, node)
                return

    def _conflict(self, name: str, index: int, owner: int) -> None:
        if (name, index) in self._conflicts_logged:
            return
        self._conflicts_logged.add((name, index))
        log.warning("node %s exists in partitions %s and %s; scheduling onto the first seen",
                    name, self.items[owner].partition.name, self.items[index].partition.name)
