"""The node IPAM controller: gives every node its own pod subnet out of the cluster CIDR.

Upstream's ``pkg/controller/nodeipam`` with its default range allocator
(``ipam/range_allocator.go``), started only with ``--allocate-node-cidrs`` (off by default, as
upstream): each node without ``spec.podCIDR`` gets the next free subnet of ``--cluster-cidr`` of
size ``--node-cidr-mask-size`` (one per family for a dual-stack cluster) in ``spec.podCIDR`` and
``spec.podCIDRs``; a deleted node's subnets are released. At start the bitmap is rebuilt from the
nodes that already have subnets (upstream's ``occupyCIDRs`` over the node list) before any new
one is handed out, so a restart never gives a subnet twice. When the range is full the node gets
a ``CIDRNotAvailable`` Event and is retried with backoff; a subnet freed by a deleted node is
offered to such waiting nodes at once (rather than at their next retry). In a scale-out cluster it
runs on each resource partition, over that partition's nodes (so each RP needs its own cluster
CIDR, or pod subnets would overlap between RPs).
"""

from __future__ import annotations

import ipaddress
import logging
from collections.abc import Hashable
from typing import Any

from client.cache import ObjectKey
from client.controller import Controller, ControllerContext, Watch
from client.errors import Conflict, NotFound
from client.events import EventRecorder
from controllers.cidr_set import (
    CIDRSet,
    CIDRSetError,
    IPNetwork,
    RangeFull,
    node_mask_for,
    parse_cluster_cidrs,
)
from controllers.nodelifecycle import NODES, NODES_VIEW
from controllers.options import ControllerOptions, controller_options
from controllers.registry import REGISTRY

log = logging.getLogger(__name__)


def cidr_sets(options: ControllerOptions) -> list[CIDRSet]:
    """The allocator's sets from the flags (raises `CIDRSetError` on a bad configuration)."""
    clusters = parse_cluster_cidrs(options.cluster_cidr)
    dual = len(clusters) > 1
    return [CIDRSet(c, node_mask_for(c, options.node_cidr_mask_size, dual_stack=dual)) for c in clusters]


def node_pod_cidrs(node: dict[str, Any]) -> list[str]:
    """``spec.podCIDRs``, or the single ``spec.podCIDR`` of an older writer."""
    spec = node.get("spec") or {}
    cidrs = [str(c) for c in spec.get("podCIDRs") or []]
    return cidrs or ([str(spec["podCIDR"])] if spec.get("podCIDR") else [])


@REGISTRY.register
class NodeIpamController(Controller):
    name = "nodeipam"
    workers = 1  # one allocator: subnets are handed out one node at a time, as upstream's
    watches = (Watch(NODES_VIEW),)

    def __init__(self, context: ControllerContext) -> None:
        super().__init__(context)
        options = controller_options(context)
        self.enabled = options.allocate_node_cidrs
        # Validated by the process before start (`validate_options`); empty when disabled.
        self.sets: list[CIDRSet] = cidr_sets(options) if self.enabled else []
        self.recorder = EventRecorder(self.client, "cidrAllocator")
        self._held: dict[str, list[IPNetwork]] = {}  # node name -> subnets it holds in `sets`
        self._waiting: set[str] = set()  # nodes the full range turned away

    async def start(self) -> None:
        if not self.enabled:
            log.info("nodeipam: --allocate-node-cidrs is false; not allocating pod CIDRs")
            return
        for node in self.informer(NODES_VIEW).objects():
            self._occupy(node)
        log.info("nodeipam: %s; %s in use after reading %d nodes",
                 ", ".join(f"{s.cluster} in /{s.node_mask} subnets" for s in self.sets),
                 ", ".join(str(s.allocated) for s in self.sets), len(self.informer(NODES_VIEW).objects()))

    def _occupy(self, node: dict[str, Any]) -> bool:
        """Records the subnets ``node`` already has; False when it has none."""
        name = str(node["metadata"]["name"])
        cidrs = node_pod_cidrs(node)
        if not cidrs:
            return False
        held = []
        for text in cidrs:
            cidr = ipaddress.ip_network(text, strict=False)
            for cidr_set in (s for s in self.sets if s.cluster.version == cidr.version):
                try:
                    cidr_set.occupy(cidr)
                    held.append(cidr)
                except CIDRSetError as e:  # upstream logs and goes on: the node keeps its CIDR
                    log.warning("nodeipam: node %s: %s", name, e)
        self._held[name] = held
        return True

    async def reconcile(self, key: Hashable) -> None:
        assert isinstance(key, ObjectKey)
        if not self.enabled:
            return
        node = self.informer(NODES_VIEW).get(key)
        if node is None:
            self._release(key.name)
            return
        if key.name in self._held or self._occupy(node):
            return
        await self._allocate(node)

    def _release(self, name: str) -> None:
        self._waiting.discard(name)
        if name not in self._held:
            return
        self._give_back(self._held.pop(name))
        log.info("nodeipam: released the pod CIDRs of deleted node %s", name)
        for waiting in sorted(self._waiting):
            self.queue.add(ObjectKey("", "", waiting))

    async def _allocate(self, node: dict[str, Any]) -> None:
        name = str(node["metadata"]["name"])
        allocated: list[IPNetwork] = []
        try:
            for cidr_set in self.sets:
                allocated.append(cidr_set.allocate_next())
        except RangeFull as e:
            self._give_back(allocated)
            self._waiting.add(name)
            await self.recorder.event(node, "Normal", "CIDRNotAvailable",
                                      f"Node {name} status is now: CIDRNotAvailable")
            raise RangeFull(f"node {name}: {e}") from e
        texts = [str(c) for c in allocated]
        try:
            await self.client.patch(NODES, name, {"spec": {"podCIDR": texts[0], "podCIDRs": texts}})
        except (NotFound, Conflict):
            self._give_back(allocated)
            return  # gone, or changed meanwhile: its next event brings it back
        except BaseException:
            # As upstream: a failed patch releases; had it landed after all, the node's update
            # event occupies the subnets again.
            self._give_back(allocated)
            raise
        self._held[name] = allocated
        self._waiting.discard(name)
        log.info("nodeipam: node %s gets pod CIDRs %s", name, ",".join(texts))

    def _give_back(self, cidrs: list[IPNetwork]) -> None:
        for cidr in cidrs:
            for cidr_set in (s for s in self.sets if s.cluster.version == cidr.version):
                cidr_set.release(cidr)
