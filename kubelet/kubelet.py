"""The node agent assembled: one process, one or many nodes, one pod watch per tenant partition.

`Kubelet` owns what a process shares — the client of its own server (the resource partition, in
Arktos's scale-out), the streaming server — and, per node, a `RuntimeRegistry`, a `NodeAgent`
(registration and status) and a `NodeLease`, all on that client. Pods come from one
`TenantPartition` per ``--tenant-server-kubeconfig`` entry (or from the node's own server when there
is none), each with its own pod watch, workers, status writer and event sink
(`kubelet.tenant_partition`). A real kubelet is the one-node case; hollow mode is the same code with
N nodes whose lease renewals and status checks are spread evenly over their interval, so 500
nodes put a steady ~50 lease writes per second on the API server instead of bursts of 500.

Runtimes are built from the endpoints by URL scheme (`RuntimeFactory`); ``hollow://`` is built
in, and the CRI client registers ``unix://`` when it lands (``factories`` argument). This is the
one module that builds the kubelet's VM parts (`kubelet.vm`): the pod sync's policy for VM pods
(`kubelet.runtime_policy`), the VM runtime for ``vm`` endpoints, and — on a node with a VM
runtime — an `ActionExecutor` per tenant partition for the reboot/snapshot/restore Actions
addressed to it, finding each Action's VM through that partition's pod watch
(`kubelet.vm.restarts.VmFinder`).
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from client.rest import ApiClient
from kubelet.actions import ActionExecutor
from kubelet.config import KubeletConfig, RuntimeEndpoint
from kubelet.cri_runtime import CriRuntime
from kubelet.hollow import HollowRuntime
from kubelet.lease import NodeLease
from kubelet.machine import MachineFacts, hollow_ip, hollow_machine, primary_ip, read_machine
from kubelet.node import NodeAgent, capacity, node_labels
from kubelet.orphans import remove_orphans
from kubelet.pod_admission import NodeAdmission
from kubelet.pod_dns import DnsSettings
from kubelet.pod_sync import NodeContext
from kubelet.pod_workers import PodWorkers
from kubelet.runtime import Runtime
from kubelet.runtime_policy import ContainerPolicy, RuntimePolicies
from kubelet.runtimes import RuntimeFactory, RuntimeRegistry, build_registry
from kubelet.security_context import SecuritySettings
from kubelet.streaming.pod_directory import RegistryPodDirectory
from kubelet.streaming.server import StreamingServer, start_for_kubelet
from kubelet.sysctl_admission import SysctlAllowlist
from kubelet.tenant_partition import NodeParts, TenantPartition
from kubelet.vm.cri_runtime import VmCriRuntime
from kubelet.vm.policy import VmPolicy
from kubelet.vm.restarts import VmFinder, VmRestartLedger, as_vm_control

log = logging.getLogger(__name__)

# Per node index: the factories for that node's endpoints (hollow runtimes need per-node pod IPs).
FactoriesForNode = Callable[[int], Mapping[str, RuntimeFactory]]
_REGISTRATION_CONCURRENCY = 16


def hollow_factories(config: KubeletConfig) -> FactoriesForNode:
    def for_node(index: int) -> Mapping[str, RuntimeFactory]:
        def build(endpoint: RuntimeEndpoint) -> Runtime:
            prefix = f"10.{64 + (index >> 8) % 64}.{index & 255}." if endpoint.workload_type == "container" \
                else f"10.{128 + (index >> 8) % 64}.{index & 255}."
            return HollowRuntime(endpoint.name, start_delay_s=config.hollow_start_delay_s, ip_prefix=prefix)
        return {"hollow": build}
    return for_node


def cri_factories(config: KubeletConfig) -> FactoriesForNode:
    """``unix://`` endpoints are CRI runtimes: containerd for workload type ``container``, Arktos's
    VM runtime (`VmCriRuntime`, which adds reboot/snapshot/restore/power) for ``vm``."""
    hollow = hollow_factories(config)
    # Localhost seccomp profiles are files below <root-dir>/seccomp, as upstream's kubelet reads them.
    security = SecuritySettings(seccomp_profile_root=str(Path(config.root_dir) / "seccomp"),
                                seccomp_default=config.seccomp_default)

    def for_node(index: int) -> Mapping[str, RuntimeFactory]:
        def build(endpoint: RuntimeEndpoint) -> Runtime:
            runtime_class = VmCriRuntime if endpoint.workload_type == "vm" else CriRuntime
            return runtime_class(endpoint.name, endpoint.url, log_root=Path(config.pod_log_dir),
                                 cgroup_parent=config.cgroup_root, security=security,
                                 cluster_domain=config.cluster_domain)
        return {**hollow(index), "unix": build}
    return for_node


@dataclass(slots=True)
class HostedNode:
    context: NodeContext
    agent: NodeAgent
    lease: NodeLease


class Kubelet:
    """``client`` is the node's own server (its resource partition: Node, Lease, the reviews of its
    port); ``tenant_clients`` the tenant partitions whose pods it runs (default: ``client`` alone)."""

    def __init__(self, client: ApiClient, config: KubeletConfig, *,
                 tenant_clients: Sequence[ApiClient] = (),
                 factories: FactoriesForNode | None = None,
                 registries: Mapping[str, RuntimeRegistry] | None = None,
                 machine: MachineFacts | None = None, resync_s: float = 30.0) -> None:
        self.client = client
        self.config = config
        make = factories or (hollow_factories(config) if config.hollow else cri_factories(config))
        real = machine or read_machine()
        self.nodes: dict[str, HostedNode] = {}
        sysctls = SysctlAllowlist(config.allowed_unsafe_sysctls)
        for index, name in enumerate(config.node_names()):
            registry = (registries or {}).get(name) or build_registry(config.endpoints, make(index))
            many = config.hollow and config.nodes > 1
            host_ip = hollow_ip(index + 1) if many else (config.node_ip or primary_ip())
            facts = hollow_machine(real, index) if config.hollow else real
            agent = NodeAgent(client, name=name, registry=registry, host_ip=host_ip, facts=facts,
                              hollow=config.hollow, max_pods=config.max_pods,
                              update_frequency_s=config.node_status_update_frequency_s,
                              report_frequency_s=config.node_status_report_frequency_s)
            # Until the Node is read back, admission knows it as the kubelet registers it.
            admission = NodeAdmission(
                {"metadata": {"name": name, "labels": node_labels(name, facts)},
                 "status": {"allocatable": capacity(facts, config.max_pods)}},
                sysctls=sysctls, fetch_node=agent.node_or_none)
            agent.on_node = admission.set_node
            lease = NodeLease(client, name, duration_s=config.lease_duration_s,
                              renew_interval_s=config.lease_renew_interval_s)
            self.nodes[name] = HostedNode(NodeContext(name, host_ip, registry, admission), agent, lease)
        parts = self._node_parts(real)
        self.partitions = [TenantPartition(index, tenant_client, parts, resync_s=resync_s,
                                           status_writers=config.status_writers)
                           for index, tenant_client in enumerate(tenant_clients or [client])]
        self.registered = asyncio.Event()
        self.orphans_removed = asyncio.Event()

    def _node_parts(self, real: MachineFacts) -> NodeParts:
        """What every tenant partition shares: the nodes, the runtime policies, the VM parts."""
        vm_restarts = VmRestartLedger()

        def executor_for(client: ApiClient, node: NodeContext, workers: PodWorkers) -> ActionExecutor | None:
            if as_vm_control(node.registry.default("vm")) is None:
                return None
            return ActionExecutor(client, node.name, VmFinder(node.name, node.registry, workers.informer.get,
                                                              vm_restarts, workers.kick))

        hollow = self.config.hollow
        return NodeParts(
            nodes=[hosted.context for hosted in self.nodes.values()],
            policies=RuntimePolicies(container=ContainerPolicy(), vm=VmPolicy(vm_restarts)),
            executor_for=None if hollow else executor_for,
            volume_root=None if hollow else Path(self.config.root_dir),
            allocatable=None if hollow else capacity(real, self.config.max_pods),
            dns=None if hollow else DnsSettings(self.config.cluster_dns, self.config.cluster_domain,
                                                self.config.resolv_conf))

    async def wait_for_pods_synced(self) -> None:
        """Until every tenant partition's pod watch has listed and its workers started."""
        for partition in self.partitions:
            await partition.pod_workers.wait_for_sync()

    def pod_syncs(self) -> int:
        return sum(partition.pod_workers.syncs for partition in self.partitions)

    async def close(self) -> None:
        """Release the runtimes' connections and background tasks (their pods keep running)."""
        for partition in self.partitions:
            await partition.close()
        for hosted in self.nodes.values():
            for runtime in hosted.context.registry.all():
                closer = getattr(runtime, "aclose", None)
                if closer is not None:
                    await closer()

    async def register_all(self) -> None:
        limit = asyncio.Semaphore(_REGISTRATION_CONCURRENCY)

        async def register(hosted: HostedNode) -> None:
            async with limit:
                await hosted.agent.register()
                hosted.lease.node_uid = hosted.agent.uid

        async with asyncio.TaskGroup() as group:
            for hosted in self.nodes.values():
                group.create_task(register(hosted))
        self.registered.set()
        log.info("registered %d node(s)", len(self.nodes))

    async def start_streaming(self) -> StreamingServer | None:
        """The logs/exec/port-forward server (`kubelet.streaming`); nodes then report its real port."""
        directory = RegistryPodDirectory(self.bound_pods,
                                         {name: h.context.registry for name, h in self.nodes.items()})
        hosts = list(dict.fromkeys(h.context.host_ip for h in self.nodes.values() if h.context.host_ip))
        server = await start_for_kubelet(self.config, directory, hosts=hosts, client=self.client)
        if server is not None:
            for hosted in self.nodes.values():
                hosted.agent.kubelet_port = server.port
        return server

    def bound_pods(self) -> list[dict[str, Any]]:
        """Every pod bound to this process's nodes, partition by partition in flag order."""
        return [pod for partition in self.partitions for pod in partition.pod_workers.informer.objects()]

    async def remove_orphans(self) -> None:
        """Once every partition has listed its pods: remove what the runtimes hold for none of them."""
        await self.wait_for_pods_synced()
        known = set().union(*(partition.pod_workers.known_uids() for partition in self.partitions))
        first = self.partitions[0]
        await remove_orphans(known, first.nodes.values(), first.pod_syncer.forget)
        self.orphans_removed.set()

    @staticmethod
    async def _serve_streaming(server: StreamingServer) -> None:
        try:
            await asyncio.Future()  # until the kubelet stops
        finally:
            await server.stop()

    async def run(self) -> None:
        """Registers every node, then runs leases, status loops and pods until cancelled."""
        streaming = await self.start_streaming()
        async with asyncio.TaskGroup() as group:
            if streaming is not None:
                group.create_task(self._serve_streaming(streaming), name="streaming server")
            await self.register_all()
            for partition in self.partitions:
                group.create_task(partition.run(), name=f"tenant partition {partition.name}")
            group.create_task(self.remove_orphans(), name="orphan removal")
            count = len(self.nodes)
            for index, hosted in enumerate(self.nodes.values()):
                share = index / count
                group.create_task(hosted.lease.run(first_delay_s=share * hosted.lease.renew_interval_s),
                                  name=f"lease {hosted.context.name}")
                status_loop = hosted.agent.run_status_loop(
                    first_delay_s=share * hosted.agent.update_frequency_s)
                group.create_task(status_loop, name=f"status {hosted.context.name}")
