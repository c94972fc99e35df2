"""An asyncio client for a CRI runtime (``runtime.v1.RuntimeService`` and ``ImageService``).

The kubelet talks to containerd, CRI-O or Arktos's VM runtime only through this client: one gRPC channel
per endpoint, small typed methods, a deadline on every call (upstream kubelet's
``--runtime-request-timeout`` defaults to 2 minutes; version/status probes get a short one so a hung
runtime turns the node NotReady quickly), and gRPC failures translated into :mod:`cri.errors`.
Messages are the generated ``runtime.v1`` classes (``cri.stubs.pb``); callers build configs with them.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Iterable, Mapping
from dataclasses import dataclass
from typing import Any, TypeVar

import grpc
import grpc.aio

from cri.errors import CriError, NotFound, translate
from cri.stubs import pb, pb_grpc

CRI_API_VERSION = "v1"
DEFAULT_TIMEOUT = 120.0  # kubelet --runtime-request-timeout default (2m)
PROBE_TIMEOUT = 5.0  # Version/Status: how fast a dead runtime is noticed
MAX_MESSAGE_BYTES = 16 * 1024 * 1024  # as upstream's remote runtime client (ExecSync output is capped there)

_Reply = TypeVar("_Reply")


def grpc_target(endpoint: str) -> str:
    """``unix:///run/x.sock``, ``unix:/run/x.sock`` or a bare ``/run/x.sock`` → a gRPC target."""
    if endpoint.startswith("unix://"):
        return endpoint
    if endpoint.startswith("unix:"):
        return "unix://" + endpoint[len("unix:"):]
    if endpoint.startswith("/"):
        return "unix://" + endpoint
    return endpoint  # tcp host:port, as grpc accepts it


@dataclass(frozen=True)
class ExecResult:
    """Outcome of ExecSync: the command ran; ``exit_code`` says how it ended."""

    stdout: bytes
    stderr: bytes
    exit_code: int


class CriClient:
    """One runtime endpoint. Use as ``async with CriClient(url) as cri:`` or call :meth:`close`."""

    def __init__(self, endpoint: str, timeout: float = DEFAULT_TIMEOUT) -> None:
        self.endpoint = endpoint
        self.timeout = timeout
        self._channel = grpc.aio.insecure_channel(
            grpc_target(endpoint),
            options=[("grpc.max_receive_message_length", MAX_MESSAGE_BYTES),
                     ("grpc.max_send_message_length", MAX_MESSAGE_BYTES)],
        )
        self._runtime: Any = pb_grpc.RuntimeServiceStub(self._channel)
        self._images: Any = pb_grpc.ImageServiceStub(self._channel)
        self._vms: Any = pb_grpc.VmServiceStub(self._channel)  # Arktos's VM runtime only

    async def __aenter__(self) -> CriClient:
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.close()

    async def close(self) -> None:
        await self._channel.close()

    async def _call(self, method: str, rpc: Callable[..., Awaitable[_Reply]], request: object,
                    deadline: float | None = None) -> _Reply:
        try:
            return await rpc(request, timeout=self.timeout if deadline is None else deadline)
        except grpc.aio.AioRpcError as exc:
            raise translate(method, exc) from None

    # ---- runtime ----

    async def version(self) -> pb.VersionResponse:
        return await self._call("Version", self._runtime.Version, pb.VersionRequest(version=CRI_API_VERSION),
                                PROBE_TIMEOUT)

    async def status(self, verbose: bool = False) -> pb.StatusResponse:
        return await self._call("Status", self._runtime.Status, pb.StatusRequest(verbose=verbose),
                                PROBE_TIMEOUT)

    async def run_pod_sandbox(self, config: pb.PodSandboxConfig, runtime_handler: str = "") -> str:
        reply = await self._call("RunPodSandbox", self._runtime.RunPodSandbox,
                                 pb.RunPodSandboxRequest(config=config, runtime_handler=runtime_handler))
        return str(reply.pod_sandbox_id)

    async def stop_pod_sandbox(self, sandbox_id: str) -> None:
        await self._call("StopPodSandbox", self._runtime.StopPodSandbox,
                         pb.StopPodSandboxRequest(pod_sandbox_id=sandbox_id))

    async def remove_pod_sandbox(self, sandbox_id: str) -> None:
        await self._call("RemovePodSandbox", self._runtime.RemovePodSandbox,
                         pb.RemovePodSandboxRequest(pod_sandbox_id=sandbox_id))

    async def pod_sandbox_status(self, sandbox_id: str, verbose: bool = False) -> pb.PodSandboxStatusResponse:
        return await self._call("PodSandboxStatus", self._runtime.PodSandboxStatus,
                                pb.PodSandboxStatusRequest(pod_sandbox_id=sandbox_id, verbose=verbose))

    async def list_pod_sandbox(self, label_selector: Mapping[str, str] | None = None,
                               state: int | None = None) -> list[pb.PodSandbox]:
        flt = pb.PodSandboxFilter(label_selector=dict(label_selector or {}))
        if state is not None:
            flt.state.state = state  # type: ignore[assignment]
        reply = await self._call("ListPodSandbox", self._runtime.ListPodSandbox,
                                 pb.ListPodSandboxRequest(filter=flt))
        return list(reply.items)

    async def create_container(self, sandbox_id: str, config: pb.ContainerConfig,
                               sandbox_config: pb.PodSandboxConfig) -> str:
        reply = await self._call("CreateContainer", self._runtime.CreateContainer, pb.CreateContainerRequest(
            pod_sandbox_id=sandbox_id, config=config, sandbox_config=sandbox_config))
        return str(reply.container_id)

    async def start_container(self, container_id: str) -> None:
        await self._call("StartContainer", self._runtime.StartContainer,
                         pb.StartContainerRequest(container_id=container_id))

    async def stop_container(self, container_id: str, grace_seconds: int = 0) -> None:
        """SIGTERM, then SIGKILL after ``grace_seconds`` (0: kill at once), as the CRI defines it."""
        await self._call("StopContainer", self._runtime.StopContainer,
                         pb.StopContainerRequest(container_id=container_id, timeout=grace_seconds),
                         self.timeout + grace_seconds)

    async def remove_container(self, container_id: str) -> None:
        await self._call("RemoveContainer", self._runtime.RemoveContainer,
                         pb.RemoveContainerRequest(container_id=container_id))

    async def list_containers(self, sandbox_id: str = "", label_selector: Mapping[str, str] | None = None,
                              state: int | None = None) -> list[pb.Container]:
        flt = pb.ContainerFilter(pod_sandbox_id=sandbox_id, label_selector=dict(label_selector or {}))
        if state is not None:
            flt.state.state = state  # type: ignore[assignment]
        reply = await self._call("ListContainers", self._runtime.ListContainers,
                                 pb.ListContainersRequest(filter=flt))
        return list(reply.containers)

    async def container_status(self, container_id: str, verbose: bool = False) -> pb.ContainerStatusResponse:
        return await self._call("ContainerStatus", self._runtime.ContainerStatus,
                                pb.ContainerStatusRequest(container_id=container_id, verbose=verbose))

    async def exec_sync(self, container_id: str, cmd: Iterable[str], timeout_seconds: int = 0) -> ExecResult:
        """Run ``cmd`` to completion (probes, tests). ``timeout_seconds`` 0 means no runtime-side limit;
        our gRPC deadline then is the client default."""
        deadline = self.timeout + timeout_seconds
        reply = await self._call("ExecSync", self._runtime.ExecSync, pb.ExecSyncRequest(
            container_id=container_id, cmd=list(cmd), timeout=timeout_seconds), deadline)
        return ExecResult(bytes(reply.stdout), bytes(reply.stderr), int(reply.exit_code))

    async def exec_url(self, container_id: str, cmd: Iterable[str], *, stdin: bool = False,
                       stdout: bool = True, stderr: bool = True, tty: bool = False) -> str:
        """The runtime's streaming URL for an interactive exec (the kubelet proxies to it)."""
        reply = await self._call("Exec", self._runtime.Exec, pb.ExecRequest(
            container_id=container_id, cmd=list(cmd), tty=tty, stdin=stdin, stdout=stdout,
            stderr=stderr and not tty))
        return str(reply.url)

    async def attach_url(self, container_id: str, *, stdin: bool = False, stdout: bool = True,
                         stderr: bool = True, tty: bool = False) -> str:
        reply = await self._call("Attach", self._runtime.Attach, pb.AttachRequest(
            container_id=container_id, stdin=stdin, tty=tty, stdout=stdout, stderr=stderr and not tty))
        return str(reply.url)

    async def port_forward_url(self, sandbox_id: str, ports: Iterable[int] = ()) -> str:
        reply = await self._call("PortForward", self._runtime.PortForward,
                                 pb.PortForwardRequest(pod_sandbox_id=sandbox_id, port=list(ports)))
        return str(reply.url)

    # ---- images ----

    async def list_images(self, image: str = "") -> list[pb.Image]:
        flt = pb.ImageFilter(image=pb.ImageSpec(image=image)) if image else None
        reply = await self._call("ListImages", self._images.ListImages, pb.ListImagesRequest(filter=flt))
        return list(reply.images)

    async def image_status(self, image: str) -> pb.Image | None:
        """The image, or None when the runtime does not have it (the CRI answers without error then)."""
        reply = await self._call("ImageStatus", self._images.ImageStatus,
                                 pb.ImageStatusRequest(image=pb.ImageSpec(image=image)))
        return reply.image if reply.HasField("image") else None

    async def pull_image(self, image: str, sandbox_config: pb.PodSandboxConfig | None = None,
                         deadline: float | None = None) -> str:
        """Returns the image ref. With no registry here a missing image fails: the kubelet turns that
        ``CriError`` into ``ErrImagePull``/``ImagePullBackOff`` as upstream does."""
        reply = await self._call("PullImage", self._images.PullImage, pb.PullImageRequest(
            image=pb.ImageSpec(image=image), sandbox_config=sandbox_config), deadline)
        return str(reply.image_ref)

    # ---- Arktos VM runtime (VmService; containerd answers UNIMPLEMENTED) ----

    async def reboot_vm(self, container_id: str, delay_seconds: int = 0) -> None:
        await self._call("RebootVM", self._vms.RebootVM,
                         pb.RebootVMRequest(container_id=container_id, delay_seconds=delay_seconds),
                         self.timeout + delay_seconds)

    async def create_snapshot(self, container_id: str, snapshot_name: str) -> str:
        """Returns the snapshot id a restore names."""
        reply = await self._call("CreateSnapshot", self._vms.CreateSnapshot, pb.CreateSnapshotRequest(
            container_id=container_id, snapshot_name=snapshot_name))
        return str(reply.snapshot_id)

    async def restore_to_snapshot(self, container_id: str, snapshot_id: str) -> None:
        await self._call("RestoreToSnapshot", self._vms.RestoreToSnapshot, pb.RestoreToSnapshotRequest(
            container_id=container_id, snapshot_id=snapshot_id))

    async def set_vm_power_state(self, container_id: str, power_spec: str, timeout_seconds: int = 0) -> str:
        """``Running``/``Paused``/``Suspended``/``Shutdown``; returns the VM's power state afterwards."""
        reply = await self._call("SetVmPowerState", self._vms.SetVmPowerState, pb.SetVmPowerStateRequest(
            container_id=container_id, power_spec=power_spec, timeout=timeout_seconds),
            self.timeout + timeout_seconds)
        return str(reply.power_state)


__all__ = ["CriClient", "CriError", "ExecResult", "NotFound", "grpc_target"]
