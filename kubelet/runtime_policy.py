"""What differs between syncing a container pod and a VM pod: the policy the pod sync asks.

The pod sync (`kubelet.pod_sync`) is one algorithm for every pod — upstream's SyncPod in small:
a ready sandbox, init containers in order, then the pod's containers under ``restartPolicy`` with
crash back-off, liveness kills, image pulls, and a status computed from what the runtime reports.
Where Arktos's VM pods (ARKTOS.md §4) differ, it does not branch on the pod; it asks the pod's
`RuntimePolicy`:

- `containers_to_run`: which spec containers to start or restart after the init containers — the
  pod's ``spec.containers``; for a VM pod its VM as the one container, unless power control owns it;
- `container_inputs`: what a container gets from the node (env, volume mounts) — a VM gets none;
- `after_containers`: what else to drive once the containers are started — VM power control;
- `pod_status`: the status to report — upstream's from container statuses; a VM pod's
  ``virtualMachineStatus``;
- `forget`: drop what the policy remembers of a pod that is gone.

`ContainerPolicy` is upstream's kubelet; `kubelet.vm.policy.VmPolicy` is Arktos's VM. The policy is
picked by the pod's workload type, the same key `kubelet.runtimes.RuntimeRegistry` picks the runtime
by (`RuntimePolicies`); the kubelet's assembly (`kubelet.kubelet`) builds both.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Any, Protocol

from client.events import EventType
from kubelet.container_env import WarningSink
from kubelet.pod_inputs import PodInputs
from kubelet.runtime import ContainerInfo, ContainerInputs, Runtime
from kubelet.runtimes import workload_type_of
from kubelet.status import PodObservation, compute_pod_status

Recorder = Callable[[EventType, str, str], None]  # (event type, reason, message): an event on the pod
# Hands the pod's status, computed from these runtime records, to the status writer.
StatusReport = Callable[[list[ContainerInfo]], Awaitable[None]]


class RuntimePolicy(Protocol):
    """The questions the pod sync asks about a pod whose workload type this policy serves."""

    def containers_to_run(self, pod: dict[str, Any], listed: list[ContainerInfo]) -> list[dict[str, Any]]:
        """The container specs to start or restart now (``listed``: the runtime's records of the pod)."""
        ...

    async def container_inputs(self, inputs: PodInputs, pod: dict[str, Any], container: dict[str, Any], *,
                               host_ip: str, pod_ip: str, warn: WarningSink) -> ContainerInputs | None:
        """The env and mounts ``container`` gets from the node (None: nothing)."""
        ...

    async def after_containers(self, pod: dict[str, Any], runtime: Runtime, *, report: StatusReport,
                               record: Recorder) -> float | None:
        """Drives what the containers do not cover; answers seconds after which to look again."""
        ...

    async def pod_status(self, pod: dict[str, Any], runtime: Runtime, observation: PodObservation, *,
                         previous: dict[str, Any] | None) -> dict[str, Any]:
        """The status to report; ``previous`` is the one this kubelet last wrote (None: none yet)."""
        ...

    def forget(self, pod_uid: str) -> None: ...


class ContainerPolicy:
    """Upstream's kubelet: the spec's containers, with env and volumes, and their statuses."""

    def containers_to_run(self, pod: dict[str, Any], listed: list[ContainerInfo]) -> list[dict[str, Any]]:
        return list((pod.get("spec") or {}).get("containers") or [])

    async def container_inputs(self, inputs: PodInputs, pod: dict[str, Any], container: dict[str, Any], *,
                               host_ip: str, pod_ip: str, warn: WarningSink) -> ContainerInputs | None:
        return await inputs.for_container(pod, container, host_ip=host_ip, pod_ip=pod_ip, warn=warn)

    async def after_containers(self, pod: dict[str, Any], runtime: Runtime, *, report: StatusReport,
                               record: Recorder) -> float | None:
        return None

    async def pod_status(self, pod: dict[str, Any], runtime: Runtime, observation: PodObservation, *,
                         previous: dict[str, Any] | None) -> dict[str, Any]:
        return compute_pod_status(pod, observation)

    def forget(self, pod_uid: str) -> None:
        return None


@dataclass(frozen=True, slots=True)
class RuntimePolicies:
    """The policy of each workload type (ARKTOS.md §5: ``container`` and ``vm``)."""

    container: RuntimePolicy
    vm: RuntimePolicy

    def for_pod(self, pod: dict[str, Any]) -> RuntimePolicy:
        return self.vm if workload_type_of(pod) == "vm" else self.container

    def all(self) -> tuple[RuntimePolicy, ...]:
        return self.container, self.vm
