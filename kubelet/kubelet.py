"""The node agent assembled: one process, one or many nodes, one pod watch, shared writers.

`Kubelet` owns what a process shares — the API client, the pod watch and workers, the status
writer, the event sink — and, per node, a `RuntimeRegistry`, a `NodeAgent` (registration and
status) and a `NodeLease`. A real kubelet is the one-node case; hollow mode is the same code with
N nodes whose lease renewals and status checks are spread evenly over their interval, so 500
nodes put a steady ~50 lease writes per second on the API server instead of bursts of 500.

Runtimes are built from the endpoints by URL scheme (`RuntimeFactory`); ``hollow://`` is built
in, and the CRI client registers ``unix://`` when it lands (``factories`` argument). This is the
one module that builds the kubelet's VM parts (`kubelet.vm`): the pod sync's policy for VM pods
(`kubelet.runtime_policy`), the VM runtime for ``vm`` endpoints, and — on a node with a VM
runtime — an `ActionExecutor` for the reboot/snapshot/restore Actions addressed to it, finding
each Action's VM through the pod watch (`kubelet.vm.restarts.VmFinder`).
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from pathlib import Path

from client.rest import ApiClient
from kubelet.actions import ActionExecutor
from kubelet.backoff import CrashBackoff
from kubelet.config import KubeletConfig, RuntimeEndpoint
from kubelet.cri_runtime import CriRuntime
from kubelet.event_sink import EventSink
from kubelet.hollow import HollowRuntime
from kubelet.lease import NodeLease
from kubelet.machine import MachineFacts, hollow_ip, hollow_machine, primary_ip, read_machine
from kubelet.node import NodeAgent, capacity
from kubelet.pod_inputs import PodInputs
from kubelet.pod_sync import NodeContext, PodSyncer
from kubelet.pod_workers import PodWorkers
from kubelet.runtime import Runtime
from kubelet.runtime_policy import ContainerPolicy, RuntimePolicies
from kubelet.runtimes import RuntimeFactory, RuntimeRegistry, build_registry
from kubelet.security_context import SecuritySettings
from kubelet.status_writer import StatusWriter
from kubelet.streaming.pod_directory import RegistryPodDirectory
from kubelet.streaming.server import StreamingServer, start_for_kubelet
from kubelet.sysctl_admission import SysctlAllowlist
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
                                 cgroup_parent=config.cgroup_root, security=security)
        return {**hollow(index), "unix": build}
    return for_node


@dataclass(slots=True)
class HostedNode:
    context: NodeContext
    agent: NodeAgent
    lease: NodeLease


class Kubelet:
    def __init__(self, client: ApiClient, config: KubeletConfig, *,
                 factories: FactoriesForNode | None = None,
                 registries: Mapping[str, RuntimeRegistry] | None = None,
                 machine: MachineFacts | None = None, resync_s: float = 30.0) -> None:
        self.client = client
        self.config = config
        make = factories or (hollow_factories(config) if config.hollow else cri_factories(config))
        real = machine or read_machine()
        self.status = StatusWriter(client, writers=config.status_writers)
        self.events = EventSink(client)
        vm_restarts = VmRestartLedger()
        policies = RuntimePolicies(container=ContainerPolicy(), vm=VmPolicy(vm_restarts))
        self.pod_syncer = PodSyncer(client, status=self.status, events=self.events, policies=policies,
                                    backoff=CrashBackoff(),
                                    sysctls=SysctlAllowlist(config.allowed_unsafe_sysctls))
        self.nodes: dict[str, HostedNode] = {}
        for index, name in enumerate(config.node_names()):
            registry = (registries or {}).get(name) or build_registry(config.endpoints, make(index))
            many = config.hollow and config.nodes > 1
            host_ip = hollow_ip(index + 1) if many else (config.node_ip or primary_ip())
            facts = hollow_machine(real, index) if config.hollow else real
            agent = NodeAgent(client, name=name, registry=registry, host_ip=host_ip, facts=facts,
                              hollow=config.hollow, max_pods=config.max_pods,
                              update_frequency_s=config.node_status_update_frequency_s,
                              report_frequency_s=config.node_status_report_frequency_s)
            lease = NodeLease(client, name, duration_s=config.lease_duration_s,
                              renew_interval_s=config.lease_renew_interval_s)
            inputs = None if config.hollow else PodInputs(
                client, root_dir=Path(config.root_dir), node_allocatable=capacity(facts, config.max_pods))
            self.nodes[name] = HostedNode(NodeContext(name, host_ip, registry, inputs), agent, lease)
        contexts = {name: hosted.context for name, hosted in self.nodes.items()}
        self.pod_workers = PodWorkers(client, self.pod_syncer, contexts, resync_s=resync_s)
        # A changed probe result re-syncs its pod, as a runtime change does (upstream's sync loop
        # reads the liveness/readiness/startup result managers' update channels).
        self.pod_syncer.probes.on_change(self.pod_workers.kick)
        self.actions = [] if config.hollow else [
            ActionExecutor(client, name, VmFinder(name, hosted.context.registry,
                                                  self.pod_workers.informer.get, vm_restarts,
                                                  self.pod_workers.kick))
            for name, hosted in self.nodes.items()
            if as_vm_control(hosted.context.registry.default("vm")) is not None]
        self.registered = asyncio.Event()

    async def close(self) -> None:
        """Release the runtimes' connections and background tasks (their pods keep running)."""
        await self.pod_syncer.probes.aclose()
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
        directory = RegistryPodDirectory(self.pod_workers.informer.objects,
                                         {name: h.context.registry for name, h in self.nodes.items()})
        hosts = list(dict.fromkeys(h.context.host_ip for h in self.nodes.values() if h.context.host_ip))
        server = await start_for_kubelet(self.config, directory, hosts=hosts, client=self.client)
        if server is not None:
            for hosted in self.nodes.values():
                hosted.agent.kubelet_port = server.port
        return server

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
            group.create_task(self.status.run(), name="status writer")
            group.create_task(self.events.run(), name="event sink")
            await self.register_all()
            group.create_task(self.pod_workers.run(), name="pod workers")
            for executor in self.actions:
                # Arktos's kubelet carries out the VM Actions addressed to its node (ARKTOS.md §4).
                group.create_task(executor.run(), name=f"actions {executor.node_name}")
            count = len(self.nodes)
            for index, hosted in enumerate(self.nodes.values()):
                share = index / count
                group.create_task(hosted.lease.run(first_delay_s=share * hosted.lease.renew_interval_s),
                                  name=f"lease {hosted.context.name}")
                status_loop = hosted.agent.run_status_loop(
                    first_delay_s=share * hosted.agent.update_frequency_s)
                group.create_task(status_loop, name=f"status {hosted.context.name}")
