"""The plug point between the node agent and whatever runs pods: the `Runtime` protocol.

The kubelet never knows whether a pod's processes are containerd containers, qemu VMs or nothing
at all (hollow nodes). It speaks to every runtime in the vocabulary of CRI (`runtime.v1`): a pod
*sandbox* (the pod's network/IPC home) holding *containers*, each container an attempt of one
spec container (``attempt`` = how many times it was restarted). The runtime is the source of
truth for what exists, so a restarted kubelet adopts what `list_sandboxes`/`list_containers`
report instead of creating duplicates (upstream's kubelet rebuilds its view the same way from
CRI ``ListPodSandbox``/``ListContainers``). `on_change` stands in for the PLEG: a runtime calls it
with a pod uid whenever one of that pod's containers changes state by itself (started, exited).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, Literal, Protocol

ContainerState = Literal["created", "running", "exited", "unknown"]
SandboxState = Literal["ready", "notready"]
ChangeListener = Callable[[str], None]


@dataclass(frozen=True, slots=True)
class PodRef:
    """Which pod a sandbox belongs to (CRI's PodSandboxMetadata, plus Arktos's tenant)."""

    uid: str
    name: str
    namespace: str
    tenant: str


@dataclass(frozen=True, slots=True)
class SandboxInfo:
    id: str
    pod: PodRef
    state: SandboxState
    ip: str
    created_at: float


@dataclass(frozen=True, slots=True)
class ContainerInfo:
    """One container attempt as the runtime reports it (CRI ContainerStatus)."""

    id: str
    sandbox_id: str
    pod_uid: str
    name: str
    attempt: int
    state: ContainerState
    image: str
    image_ref: str
    created_at: float
    started_at: float = 0.0
    finished_at: float = 0.0
    exit_code: int = 0
    reason: str = ""
    message: str = ""
    log_path: str = ""


@dataclass(frozen=True, slots=True)
class RuntimeHealth:
    """CRI ``Status``: RuntimeReady and NetworkReady folded into one verdict for the node."""

    ready: bool
    reason: str = ""
    message: str = ""


@dataclass(frozen=True, slots=True)
class ImageResult:
    """The image a container will run, and whether it had to be fetched (a ``Pulled`` event)."""

    image_ref: str
    pulled: bool


@dataclass(frozen=True, slots=True)
class Mount:
    """A host path bind-mounted into a container (CRI ``Mount``): how volumes reach containers."""

    container_path: str
    host_path: str
    read_only: bool = False


@dataclass(frozen=True, slots=True)
class SandboxDns:
    """The resolver a pod's sandbox gets (CRI ``DNSConfig``): the runtime writes its resolv.conf."""

    servers: tuple[str, ...] = ()
    searches: tuple[str, ...] = ()
    options: tuple[str, ...] = ()


@dataclass(frozen=True, slots=True)
class ContainerInputs:
    """What the kubelet resolved for one container before creating it: every env var as a literal
    (configMapKeyRef, secretKeyRef, fieldRef, resourceFieldRef and envFrom already looked up, in
    upstream's order) and the volume mounts prepared on the host."""

    env: tuple[tuple[str, str], ...] = ()
    mounts: tuple[Mount, ...] = ()


@dataclass(frozen=True, slots=True)
class ExecSyncResult:
    """CRI ``ExecSync``: a command run to completion inside a container (exec probes)."""

    exit_code: int
    stdout: bytes = b""
    stderr: bytes = b""


class RuntimeOperationError(Exception):
    """A runtime refused or failed an operation; ``reason`` is what the pod status shows
    (``ErrImagePull``, ``CreateContainerError``, ...)."""

    def __init__(self, reason: str, message: str) -> None:
        super().__init__(f"{reason}: {message}")
        self.reason = reason
        self.message = message


class Runtime(Protocol):
    """What the kubelet needs from a container or VM runtime (a CRI endpoint)."""

    name: str

    def runtime_version(self) -> str:
        """``containerRuntimeVersion`` for the Node (``containerd://1.7``, ``hollow://1.0``)."""
        ...

    async def health(self) -> RuntimeHealth: ...

    def on_change(self, listener: ChangeListener) -> None: ...

    async def ensure_image(self, image: str, pull_policy: str) -> ImageResult: ...

    async def run_sandbox(self, pod: dict[str, Any], *, dns: SandboxDns | None = None) -> SandboxInfo:
        """``dns``: the pod's resolver (`kubelet.pod_dns`); None leaves it to the runtime."""
        ...

    async def stop_sandbox(self, sandbox_id: str) -> None: ...

    async def remove_sandbox(self, sandbox_id: str) -> None: ...

    async def list_sandboxes(self) -> list[SandboxInfo]: ...

    async def create_container(self, sandbox: SandboxInfo, pod: dict[str, Any],
                               container: dict[str, Any], *, attempt: int,
                               image_ref: str,
                               inputs: ContainerInputs | None = None) -> ContainerInfo: ...

    async def start_container(self, container_id: str) -> None: ...

    async def stop_container(self, container_id: str, *, timeout_s: float) -> None: ...

    async def remove_container(self, container_id: str) -> None: ...

    async def list_containers(self, *, pod_uid: str | None = None) -> list[ContainerInfo]: ...

    async def exec_sync(self, container_id: str, cmd: list[str], *, timeout_s: float) -> ExecSyncResult:
        """Runs ``cmd`` in the container and waits for it; raises `RuntimeOperationError` when the
        runtime cannot run it at all (a non-zero exit is a result, not an error)."""
        ...


class VmControl(Protocol):
    """The extra verbs of a VM runtime (Arktos's CRI additions RebootVM, CreateSnapshot,
    RestoreToSnapshot, plus power control), used for ``powerSpec`` changes and Actions."""

    async def reboot_vm(self, container_id: str, *, delay_s: float = 0.0) -> None: ...

    async def snapshot_vm(self, container_id: str, snapshot_name: str) -> str:
        """Answers the snapshot's id (what a restore action names)."""
        ...

    async def restore_vm(self, container_id: str, snapshot_id: str) -> None: ...

    async def set_power(self, container_id: str, power_spec: str) -> None:
        """``Running`` / ``Paused`` / ``Shutdown`` / ``Suspended`` (powerSpec values)."""
        ...


def pod_ref(pod: dict[str, Any]) -> PodRef:
    metadata = pod.get("metadata") or {}
    return PodRef(uid=str(metadata.get("uid", "")), name=str(metadata.get("name", "")),
                  namespace=str(metadata.get("namespace", "")),
                  tenant=str(metadata.get("tenant") or "system"))
