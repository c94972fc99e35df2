"""Removing what the runtimes and the volume directory hold for pods no tenant partition binds here.

A kubelet that was down while its pods were deleted finds their sandboxes, containers and volume
directories (with tmpfs mounts) at start; upstream's kubelet removes them once its pod sources have
synced (``HandlePodCleanups``). A pod belongs to exactly one partition, but a partition's list is the
only proof that its pods are gone, so this waits until *every* partition has listed: a partition that
is down at start keeps its pods' containers running (nothing is removed on a guess) while the other
partitions' pods start at once.
"""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable, Iterable

from kubelet.pod_sync import NodeContext
from kubelet.runtime import Runtime

log = logging.getLogger(__name__)

# forget(runtime, uid, node): remove every trace of pod uid (the pod syncer's `forget`).
Forget = Callable[[Runtime, str, NodeContext], Awaitable[None]]


async def remove_orphans(known: set[str], nodes: Iterable[NodeContext], forget: Forget) -> list[str]:
    """Removes every pod not in ``known`` from the nodes' runtimes and volume directories;
    answers the uids removed (each once)."""
    removed: list[str] = []
    for node in nodes:
        for runtime in node.registry.all():
            orphans = {s.pod.uid for s in await runtime.list_sandboxes() if s.pod.uid not in known}
            orphans |= {c.pod_uid for c in await runtime.list_containers() if c.pod_uid not in known}
            for uid in sorted(orphans):
                log.info("node %s: removing orphaned pod %s from runtime %s", node.name, uid, runtime.name)
                await forget(runtime, uid, node)
                removed.append(uid)
        if node.inputs is not None:
            # Volume directories (and tmpfs mounts) of pods deleted while no kubelet ran.
            for uid in await node.inputs.remove_orphans(known):
                log.info("node %s: removed the volumes of orphaned pod %s", node.name, uid)
                removed.append(uid)
    return list(dict.fromkeys(removed))
