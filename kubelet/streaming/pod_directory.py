"""Finding what a streaming request names: the pod (from the kubelet's own pod set), its runtime, its
containers' attempts, and whether that runtime can stream at all.

Why this exists: upstream's kubelet server asks its pod manager (``GetPodByName``) and then the container
runtime; it never asks the API server.  We do the same from the pod informer the kubelet already runs, and
from the runtime registry that placed the pod (container pods → containerd, VM pods → the VM runtime).
`StreamingRuntime` is the plug point for runtimes that can hand out CRI streaming URLs; a runtime without
it (hollow, the VM runtime) gets a clear 400 instead of a hang.

In Arktos's scale-out a kubelet runs pods of several tenant partitions, and tenant ``system`` exists on
every one, so two pods bound here may share tenant, namespace and name. A request that names such a pod
without its uid (upstream's ``/exec/{namespace}/{pod}/{uid}/{container}`` routes) is refused with 409
rather than answered from a pod of the wrong partition.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any, Protocol, runtime_checkable

from kubelet.runtime import ContainerInfo, Runtime
from kubelet.runtimes import RuntimeRegistry, workload_type_of
from kubelet.streaming.errors import StreamingError, bad_request, not_found


@runtime_checkable
class StreamingRuntime(Protocol):
    """CRI's Exec/Attach/PortForward: the runtime answers a one-time URL on its own streaming server."""

    async def exec_url(self, container_id: str, cmd: Sequence[str], *, stdin: bool, stdout: bool,
                       stderr: bool, tty: bool) -> str: ...

    async def attach_url(self, container_id: str, *, stdin: bool, stdout: bool, stderr: bool,
                         tty: bool) -> str: ...

    async def port_forward_url(self, sandbox_id: str, ports: Sequence[int]) -> str: ...


@dataclass(frozen=True, slots=True)
class LocatedPod:
    """A pod bound to this kubelet and the runtime that runs it."""

    pod: dict[str, Any]
    runtime: Runtime

    @property
    def name(self) -> str:
        return str(self.pod["metadata"].get("name", ""))

    @property
    def uid(self) -> str:
        return str(self.pod["metadata"].get("uid", ""))

    def streaming(self, verb: str) -> StreamingRuntime:
        """The runtime as a `StreamingRuntime`, or 400 naming the runtime that cannot do `verb`.
        A VM has no processes the runtime could exec into or forward from (Arktos's VM runtime
        answers Unimplemented), so VM pods are refused here, before any upgrade."""
        if isinstance(self.runtime, StreamingRuntime) and workload_type_of(self.pod) != "vm":
            return self.runtime
        raise bad_request(f"{verb} is not supported by the {workload_type_of(self.pod)} runtime "
                          f"{self.runtime.name!r} that runs pod {self.name!r}")

    def spec_container_names(self) -> list[str]:
        spec = self.pod.get("spec") or {}
        names = [str(c.get("name")) for key in ("containers", "initContainers", "ephemeralContainers")
                 for c in spec.get(key) or []]
        if spec.get("virtualMachine"):  # a VM pod's one "container" is its VM (its serial console log)
            names.append(str(spec["virtualMachine"].get("name")))
        return names

    def waiting_reason(self, container: str) -> str:
        """The pod status's waiting reason for `container` (what the kubelet last reported)."""
        status = self.pod.get("status") or {}
        for key in ("containerStatuses", "initContainerStatuses"):
            for entry in status.get(key) or []:
                if entry.get("name") == container:
                    waiting = (entry.get("state") or {}).get("waiting") or {}
                    return str(waiting.get("reason") or "ContainerCreating")
        return "ContainerCreating"

    async def attempts(self, container: str) -> list[ContainerInfo]:
        """The runtime's attempts of one spec container, newest first."""
        infos = [c for c in await self.runtime.list_containers(pod_uid=self.uid) if c.name == container]
        return sorted(infos, key=lambda c: (c.attempt, c.created_at), reverse=True)

    async def running_container(self, container: str) -> ContainerInfo:
        """The newest attempt if it runs; 404 as upstream's ``container not found`` otherwise."""
        if container not in self.spec_container_names():
            raise not_found(f"container not found ({container!r})")
        attempts = await self.attempts(container)
        if not attempts or attempts[0].state != "running":
            raise not_found(f"container not found ({container!r})")
        return attempts[0]

    async def sandbox_id(self) -> str:
        sandboxes = [s for s in await self.runtime.list_sandboxes() if s.pod.uid == self.uid]
        ready = [s for s in sandboxes if s.state == "ready"]
        chosen = sorted(ready or sandboxes, key=lambda s: s.created_at, reverse=True)
        if not chosen:
            raise StreamingError(400, f"pod {self.name!r} has no sandbox yet")
        return chosen[0].id


class PodDirectory(Protocol):
    def find_pod(self, tenant: str, namespace: str, name: str, *, uid: str = "") -> LocatedPod | None:
        """The pod of that name (and uid, when given); None when there is none."""
        ...


PodSource = Callable[[], list[dict[str, Any]]]


class RegistryPodDirectory:
    """Pods from a source (the kubelet's pod informer), runtimes from each node's registry."""

    def __init__(self, pods: PodSource, registries: Mapping[str, RuntimeRegistry]) -> None:
        self._pods = pods
        self._registries = registries

    def find_pod(self, tenant: str, namespace: str, name: str, *, uid: str = "") -> LocatedPod | None:
        matches = [pod for pod in self._pods() if _names(pod, tenant, namespace, name, uid)]
        if len(matches) > 1:
            raise StreamingError(409, f"pod {name!r} in namespace {namespace!r} of tenant {tenant!r} is "
                                      f"bound to this node from {len(matches)} tenant partitions; name its "
                                      f"uid (/exec/{tenant}/{namespace}/{name}/<uid>/<container>)")
        if not matches:
            return None
        pod = matches[0]
        registry = self._registries.get(str((pod.get("spec") or {}).get("nodeName") or ""))
        runtime = registry.for_pod(pod) if registry is not None else None
        return LocatedPod(pod, runtime) if runtime is not None else None


def _names(pod: dict[str, Any], tenant: str, namespace: str, name: str, uid: str) -> bool:
    metadata = pod.get("metadata") or {}
    return (metadata.get("name") == name and metadata.get("namespace") == namespace
            and str(metadata.get("tenant") or "system") == tenant
            and (not uid or metadata.get("uid") == uid))


def locate(directory: PodDirectory, tenant: str, namespace: str, name: str, *, uid: str = "") -> LocatedPod:
    located = directory.find_pod(tenant, namespace, name, uid=uid)
    if located is None:
        raise not_found(f"pod {name!r} does not exist in namespace {namespace!r} of tenant {tenant!r}")
    return located
