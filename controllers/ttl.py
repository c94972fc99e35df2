"""The TTL controller: tells kubelets how long they may cache secrets and configmaps.

Upstream's ``pkg/controller/ttl``: every node carries the annotation
``node.alpha.kubernetes.io/ttl`` (seconds) that the kubelet's caching secret/configmap managers
read; the bigger the cluster, the longer the TTL, so that kubelets' re-reads do not swamp the API
server. The value comes from the node count through upstream's overlapping buckets (hysteresis,
so a cluster hovering at a boundary does not flap):

    nodes 0-100: 0 s, 90-500: 15 s, 450-1000: 30 s, 900-2000: 60 s, 1800-10000: 300 s, 9000+: 600 s

The bucket moves up when the count exceeds its maximum and down when it drops below its minimum.
Upstream re-annotates a node on its next update event (kubelets post status often); here a bucket
change also re-queues every node, so the annotation follows without waiting for heartbeats. In a
scale-out cluster it runs on each resource partition, counting that partition's nodes — the
load a kubelet's cache spares is on its tenant partitions, whose pods' secrets it reads.
"""

from __future__ import annotations

import logging
from collections.abc import Hashable
from dataclasses import dataclass

from client.cache import ObjectKey
from client.controller import Controller, ControllerContext, Watch
from client.errors import NotFound
from controllers.nodelifecycle import NODES, NODES_VIEW
from controllers.registry import REGISTRY

log = logging.getLogger(__name__)

TTL_ANNOTATION = "node.alpha.kubernetes.io/ttl"


@dataclass(frozen=True, slots=True)
class Bucket:
    size_min: int
    size_max: int
    ttl_seconds: int


BUCKETS = (
    Bucket(0, 100, 0),
    Bucket(90, 500, 15),
    Bucket(450, 1000, 30),
    Bucket(900, 2000, 60),
    Bucket(1800, 10000, 300),
    Bucket(9000, 1 << 62, 600),
)


def next_step(step: int, node_count: int) -> int:
    """Upstream's boundary step after the node count changed (moves as far as needed)."""
    while node_count > BUCKETS[step].size_max and step < len(BUCKETS) - 1:
        step += 1
    while node_count < BUCKETS[step].size_min and step > 0:
        step -= 1
    return step


def annotated_ttl(node: dict[str, object]) -> int | None:
    """The node's current TTL annotation as an int (None: absent or not a number)."""
    metadata = node.get("metadata")
    annotations = (metadata.get("annotations") if isinstance(metadata, dict) else None) or {}
    try:
        return int(annotations.get(TTL_ANNOTATION, ""))
    except ValueError:
        return None


@REGISTRY.register
class TTLController(Controller):
    name = "ttl"
    workers = 2
    watches = (Watch(NODES_VIEW),)

    def __init__(self, context: ControllerContext) -> None:
        super().__init__(context)
        self._step = 0

    @property
    def desired_ttl(self) -> int:
        return BUCKETS[self._step].ttl_seconds

    async def reconcile(self, key: Hashable) -> None:
        assert isinstance(key, ObjectKey)
        informer = self.informer(NODES_VIEW)
        step = next_step(self._step, len(informer.store))
        if step != self._step:
            log.info("ttl: %d nodes; node TTL %d s -> %d s", len(informer.store), self.desired_ttl,
                     BUCKETS[step].ttl_seconds)
            self._step = step
            for node_key in informer.store.keys():
                self.queue.add(node_key)
        node = informer.get(key)
        if node is None or annotated_ttl(node) == self.desired_ttl:
            return
        patch = {"metadata": {"annotations": {TTL_ANNOTATION: str(self.desired_ttl)}}}
        try:
            await self.client.patch(NODES, key.name, patch)
        except NotFound:
            return  # deleted meanwhile
