"""Which runtime runs which pod: the registry built from ``--container-runtime-endpoint``.

ARKTOS.md §5: the first endpoint of each workload type is that type's default; a pod with
``spec.virtualMachine`` goes to the default vm runtime, every other pod to the default container
runtime; the node's Ready condition follows the first container runtime. Runtimes are built from
endpoint URLs by scheme through factories, so the CRI client (``unix://``) and the VM runtime plug
in later without the kubelet changing; an endpoint whose runtime cannot be built yet stays in the
registry as an `UnavailableRuntime` that reports not ready (the node says why, pods fail to start).
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

from kubelet.config import RuntimeEndpoint, WorkloadType
from kubelet.runtime import (
    ChangeListener,
    ContainerInfo,
    ContainerInputs,
    ExecSyncResult,
    ImageResult,
    Runtime,
    RuntimeHealth,
    RuntimeOperationError,
    SandboxDns,
    SandboxInfo,
)

log = logging.getLogger(__name__)

RuntimeFactory = Callable[[RuntimeEndpoint], Runtime]


class UnavailableRuntime:
    """Stands for an endpoint nothing can serve yet: never ready, refuses every operation."""

    def __init__(self, endpoint: RuntimeEndpoint, why: str) -> None:
        self.name = endpoint.name
        self.why = why

    def runtime_version(self) -> str:
        return "unknown://0"

    async def health(self) -> RuntimeHealth:
        return RuntimeHealth(False, "RuntimeUnavailable", self.why)

    def on_change(self, listener: ChangeListener) -> None:
        return None

    def _refuse(self) -> RuntimeOperationError:
        return RuntimeOperationError("RuntimeUnavailable", self.why)

    async def ensure_image(self, image: str, pull_policy: str) -> ImageResult:
        raise self._refuse()

    async def run_sandbox(self, pod: dict[str, Any], *, dns: SandboxDns | None = None) -> SandboxInfo:
        raise self._refuse()

    async def stop_sandbox(self, sandbox_id: str) -> None:
        return None

    async def remove_sandbox(self, sandbox_id: str) -> None:
        return None

    async def list_sandboxes(self) -> list[SandboxInfo]:
        return []

    async def create_container(self, sandbox: SandboxInfo, pod: dict[str, Any],
                               container: dict[str, Any], *, attempt: int,
                               image_ref: str, inputs: ContainerInputs | None = None) -> ContainerInfo:
        raise self._refuse()

    async def start_container(self, container_id: str) -> None:
        raise self._refuse()

    async def stop_container(self, container_id: str, *, timeout_s: float) -> None:
        return None

    async def remove_container(self, container_id: str) -> None:
        return None

    async def list_containers(self, *, pod_uid: str | None = None) -> list[ContainerInfo]:
        return []

    async def exec_sync(self, container_id: str, cmd: list[str], *, timeout_s: float) -> ExecSyncResult:
        raise self._refuse()


@dataclass(frozen=True, slots=True)
class RegisteredRuntime:
    endpoint: RuntimeEndpoint
    runtime: Runtime


class RuntimeRegistry:
    """The node's runtimes in flag order, with the default of each workload type."""

    def __init__(self, runtimes: list[RegisteredRuntime]) -> None:
        if not runtimes:
            raise ValueError("a kubelet needs at least one runtime endpoint")
        self.runtimes = list(runtimes)
        self._defaults: dict[WorkloadType, Runtime] = {}
        for entry in self.runtimes:
            self._defaults.setdefault(entry.endpoint.workload_type, entry.runtime)

    def default(self, workload_type: WorkloadType) -> Runtime | None:
        return self._defaults.get(workload_type)

    def for_pod(self, pod: dict[str, Any]) -> Runtime | None:
        """The runtime that runs ``pod`` (None: the node has no runtime of its workload type)."""
        return self.default(workload_type_of(pod))

    def readiness_runtime(self) -> Runtime:
        """The runtime the node's Ready condition follows: the first container runtime (the
        first endpoint at all when there is none)."""
        return self._defaults.get("container") or self.runtimes[0].runtime

    def all(self) -> list[Runtime]:
        return [entry.runtime for entry in self.runtimes]

    def on_change(self, listener: ChangeListener) -> None:
        for runtime in self.all():
            runtime.on_change(listener)


def workload_type_of(pod: dict[str, Any]) -> WorkloadType:
    return "vm" if (pod.get("spec") or {}).get("virtualMachine") else "container"


def build_registry(endpoints: list[RuntimeEndpoint] | tuple[RuntimeEndpoint, ...],
                   factories: Mapping[str, RuntimeFactory]) -> RuntimeRegistry:
    """One runtime per endpoint, built by the factory of its URL scheme."""
    entries: list[RegisteredRuntime] = []
    for endpoint in endpoints:
        scheme = endpoint.url.split("://", 1)[0]
        factory = factories.get(scheme)
        runtime: Runtime
        if factory is None:
            why = f"no runtime client for {scheme}:// endpoints in this kubelet"
            log.warning("runtime %s (%s): %s", endpoint.name, endpoint.url, why)
            runtime = UnavailableRuntime(endpoint, why)
        else:
            runtime = factory(endpoint)
        entries.append(RegisteredRuntime(endpoint, runtime))
    return RuntimeRegistry(entries)
