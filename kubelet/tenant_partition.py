"""One tenant partition as the kubelet sees it: its client, its pod watch, and everything that answers to it.

Arktos's scale-out kubelet (``--tenant-server-kubeconfig a,b``) keeps its Node and Lease in its resource
partition but runs pods from every tenant partition (TP): it watches pods and Actions with
``spec.nodeName=<node>`` on each TP, and a pod's status, its events, the Secrets, ConfigMaps and
service-account tokens of its volumes and env, its service variables, its Network (the nameserver)
and its Actions' status all go back to the TP the pod came from. Here that routing is structural
rather than looked up: each TP gets its own `TenantPartition` — a status writer, an event sink, a pod
syncer (whose probes record to that TP), per-node `PodInputs` reading through that TP's client, its
own `PodWorkers`, on real nodes its own `NetworkWatch` and, on a node with a VM runtime, its own
`ActionExecutor` — so a pod's worker can only ever talk to the TP it came from.
What is the node's, not the TP's, is shared: the runtime registries, the VM restart ledger, the
pod admission (`kubelet.pod_admission`: a pod of one TP is admitted against the pods of every TP
already on the node) and the runtime policies. Each TP's watch and writers are separate tasks on a
separate client: a TP whose server is down fails only its own requests (the informer relists with
back-off, the status writer retries), and the other TPs' pods carry on.

Without the flag there is one `TenantPartition` on the ``--kubeconfig`` client: today's single-cluster
kubelet, unchanged.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable, Sequence
from dataclasses import dataclass, replace
from pathlib import Path

from client.rest import ApiClient
from kubelet.actions import ActionExecutor
from kubelet.backoff import CrashBackoff
from kubelet.event_sink import EventSink
from kubelet.networks import NetworkWatch
from kubelet.pod_dns import DnsConfigurer, DnsSettings
from kubelet.pod_inputs import PodInputs
from kubelet.pod_sync import NodeContext, PodSyncer
from kubelet.pod_workers import PodWorkers
from kubelet.runtime_policy import RuntimePolicies
from kubelet.status_writer import StatusWriter

log = logging.getLogger(__name__)

# executor_for(client, node, pod_workers): the node's Action executor on a partition's client, finding
# VMs through that partition's pod watch; None for a node without a VM runtime. Built by the assembly
# (`kubelet.kubelet`), the one module that knows the VM parts.
ExecutorFor = Callable[[ApiClient, NodeContext, PodWorkers], ActionExecutor | None]


@dataclass(frozen=True, slots=True)
class NodeParts:
    """What every partition shares about the nodes of this process and how pods run on them."""

    nodes: Sequence[NodeContext]  # without inputs: each partition adds its own
    policies: RuntimePolicies
    executor_for: ExecutorFor | None = None  # None: no Actions (hollow nodes)
    # Real (non-hollow) nodes resolve env and set up volumes under this root directory.
    volume_root: Path | None = None
    allocatable: dict[str, str] | None = None
    # Real nodes give sandboxes a resolver and pods a managed /etc/hosts (None: hollow nodes).
    dns: DnsSettings | None = None


def partition_name(index: int) -> str:
    """``tp0``, ``tp1``, ... in flag order (the contract's partition names)."""
    return f"tp{index}"


class TenantPartition:
    """The pods of one tenant partition on this process's nodes. Run `run` as a supervised task."""

    def __init__(self, index: int, client: ApiClient, parts: NodeParts, *, resync_s: float = 30.0,
                 status_writers: int = 16) -> None:
        self.name = partition_name(index)
        self.client = client
        self.status = StatusWriter(client, writers=status_writers)
        self.events = EventSink(client)
        node_ips = tuple(dict.fromkeys(n.host_ip for n in parts.nodes if n.host_ip))
        # Real nodes watch the partition's Networks for their pods' nameservers; hollow nodes make
        # no sandbox config.
        self.networks = NetworkWatch(client) if parts.dns is not None else None
        dns = DnsConfigurer(parts.dns, node_ips=node_ips, networks=self.networks) if parts.dns is not None \
            else None
        self.pod_syncer = PodSyncer(client, status=self.status, events=self.events,
                                    policies=parts.policies, backoff=CrashBackoff(), dns=dns)
        self.nodes = {node.name: replace(node, inputs=self._inputs(parts)) for node in parts.nodes}
        self.pod_workers = PodWorkers(client, self.pod_syncer, self.nodes, resync_s=resync_s,
                                      partition=self.name)
        # A changed probe result re-syncs its pod, as a runtime change does (upstream's sync loop
        # reads the liveness/readiness/startup result managers' update channels).
        self.pod_syncer.probes.on_change(self.pod_workers.kick)
        executors = [parts.executor_for(client, node, self.pod_workers)
                     for node in self.nodes.values()] if parts.executor_for is not None else []
        self.actions = [executor for executor in executors if executor is not None]

    def _inputs(self, parts: NodeParts) -> PodInputs | None:
        if parts.volume_root is None:
            return None  # hollow nodes resolve nothing
        return PodInputs(self.client, root_dir=parts.volume_root, node_allocatable=parts.allocatable or {},
                         cluster_domain=parts.dns.cluster_domain if parts.dns is not None else "")

    async def run(self) -> None:
        """Watches, syncs and writes until cancelled."""
        log.info("%s: pods%s from %s", self.name, " and Actions" if self.actions else "",
                 self.client.config.server)
        async with asyncio.TaskGroup() as group:
            group.create_task(self.status.run(), name=f"status writer {self.name}")
            group.create_task(self.events.run(), name=f"event sink {self.name}")
            group.create_task(self.pod_workers.run(), name=f"pod workers {self.name}")
            if self.networks is not None:
                group.create_task(self.networks.run(), name=f"network informer {self.name}")
            for executor in self.actions:
                # Arktos's kubelet carries out the VM Actions addressed to its node (ARKTOS.md §4),
                # from every TP, each reported back to its own TP.
                group.create_task(executor.run(), name=f"actions {executor.node_name} {self.name}")

    async def close(self) -> None:
        await self.pod_syncer.probes.aclose()
