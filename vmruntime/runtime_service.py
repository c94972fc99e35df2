"""``runtime.v1.RuntimeService`` for VMs: sandboxes are bookkeeping, each container is one qemu VM.

Semantics follow containerd's CRI plugin where the kubelet depends on them: unknown ids answer
``NOT_FOUND`` (removal of an unknown id succeeds), StopContainer's timeout is the grace period before
the VM is killed, StopPodSandbox kills the sandbox's VMs at once and tears its network down (CNI
DEL, namespace gone), RemovePodSandbox removes them. With a CNI conf dir (``--cni-conf-dir``) a
sandbox that is not hostNetwork gets a pod IP on the node's CNI network (`vmruntime.podnet`),
reported in PodSandboxStatus, and its VMs a NIC on it; without one, VMs run without NICs. Exec,
attach and port-forward have no meaning for a VM without a guest agent, so they answer ``UNIMPLEMENTED``.
"""

from __future__ import annotations

import functools
import uuid
from collections.abc import Awaitable, Callable, Mapping
from pathlib import Path
from typing import Any, TypeVar

import grpc
import grpc.aio

from cri import vm_annotations
from cri.stubs import pb, pb_grpc
from vmruntime.inventory import InvalidRequest, Inventory, UnknownObject, power_state
from vmruntime.machines import MachineError
from vmruntime.machines import now_ns as _now_ns
from vmruntime.podnet import NetworkSetupError
from vmruntime.qemu import QemuUnavailable, vm_size
from vmruntime.records import ContainerRecord, SandboxRecord

RUNTIME_NAME = "arktos-vm-runtime"
RUNTIME_VERSION = "0.1.0"
EXEC_UNSUPPORTED = "exec is not supported for virtual machines"

_Reply = TypeVar("_Reply")
_Handler = Callable[[Any, Any, grpc.aio.ServicerContext[Any, Any]], Awaitable[_Reply]]
_STATES = {"created": pb.CONTAINER_CREATED, "running": pb.CONTAINER_RUNNING, "exited": pb.CONTAINER_EXITED}


def translate_errors(handler: _Handler[_Reply]) -> _Handler[_Reply]:
    """Our exceptions → gRPC status codes, at the one boundary."""
    @functools.wraps(handler)
    async def wrapper(self: Any, request: Any, context: grpc.aio.ServicerContext[Any, Any]) -> _Reply:
        try:
            return await handler(self, request, context)
        except UnknownObject as e:
            await context.abort(grpc.StatusCode.NOT_FOUND, str(e))
        except InvalidRequest as e:
            await context.abort(grpc.StatusCode.INVALID_ARGUMENT, str(e))
        except MachineError as e:
            await context.abort(grpc.StatusCode.FAILED_PRECONDITION, str(e))
        except QemuUnavailable as e:
            await context.abort(grpc.StatusCode.UNAVAILABLE, str(e))
        except NetworkSetupError as e:
            await context.abort(grpc.StatusCode.UNKNOWN, str(e))
        except ValueError as e:  # a malformed annotation (vCPUs, memory) the kubelet did not build
            await context.abort(grpc.StatusCode.INVALID_ARGUMENT, f"invalid VM settings: {e}")
        raise AssertionError("unreachable: abort raises")
    return wrapper


def _labels_match(labels: Mapping[str, str], selector: Mapping[str, str]) -> bool:
    return all(labels.get(k) == v for k, v in selector.items())


def container_status(record: ContainerRecord) -> pb.ContainerStatus:
    status_annotations = dict(record.annotations)
    status_annotations[vm_annotations.POWER_STATE] = power_state(record)
    status_annotations[vm_annotations.BOOT_COUNT] = str(record.launches)
    return pb.ContainerStatus(
        id=record.id, metadata=pb.ContainerMetadata(name=record.name, attempt=record.attempt),
        state=_STATES[record.state], created_at=record.created_at, started_at=record.started_at,
        finished_at=record.finished_at, exit_code=record.exit_code,
        image=pb.ImageSpec(image=record.image), image_ref=record.image_ref, image_id=record.image_ref,
        reason=record.reason, message=record.message, labels=record.labels,
        annotations=status_annotations, log_path=record.log_path)


class RuntimeServicer(pb_grpc.RuntimeServiceServicer):
    def __init__(self, inventory: Inventory) -> None:
        self.inventory = inventory

    async def Version(self, request: Any, context: Any) -> pb.VersionResponse:
        return pb.VersionResponse(version="0.1.0", runtime_name=RUNTIME_NAME,
                                  runtime_version=RUNTIME_VERSION, runtime_api_version="v1")

    async def Status(self, request: Any, context: Any) -> pb.StatusResponse:
        images = len(self.inventory.images.all())
        return pb.StatusResponse(
            status=pb.RuntimeStatus(conditions=[
                pb.RuntimeCondition(type="RuntimeReady", status=True),
                self._network_condition()]),
            info={"images": str(images), "vms": str(len(self.inventory.containers))})

    def _network_condition(self) -> pb.RuntimeCondition:
        """Without a CNI conf dir VMs get no NICs and there is nothing to wait for; with one, ready
        once it holds a network configuration (containerd's NetworkPluginNotReady otherwise)."""
        networks = self.inventory.networks
        problem = networks.ready() if networks is not None else ""
        if not problem:
            return pb.RuntimeCondition(type="NetworkReady", status=True)
        return pb.RuntimeCondition(type="NetworkReady", status=False, reason="NetworkPluginNotReady",
                                   message=f"Network plugin returns error: {problem}")

    # -- sandboxes ----------------------------------------------------------------------------------

    @translate_errors
    async def RunPodSandbox(self, request: Any, context: Any) -> pb.RunPodSandboxResponse:
        config = request.config
        record = SandboxRecord(
            id=uuid.uuid4().hex, name=config.metadata.name, uid=config.metadata.uid,
            namespace=config.metadata.namespace, attempt=config.metadata.attempt,
            created_at=_now_ns(), log_directory=config.log_directory, hostname=config.hostname,
            runtime_handler=request.runtime_handler, labels=dict(config.labels),
            annotations=dict(config.annotations))
        host_network = config.linux.security_context.namespace_options.network == pb.NODE
        await self.inventory.add_sandbox(record, pod_network=not host_network)
        return pb.RunPodSandboxResponse(pod_sandbox_id=record.id)

    @translate_errors
    async def StopPodSandbox(self, request: Any, context: Any) -> pb.StopPodSandboxResponse:
        sandbox = self.inventory.sandbox(request.pod_sandbox_id)
        for record in self.inventory.containers_of(sandbox.id):
            async with self.inventory.machines.lock(record.id):
                await self.inventory.machines.stop(record, timeout_s=0)
                self.inventory.machines.refresh(record)
                self.inventory.save_container(record)
        sandbox.ready = False
        self.inventory.save_sandbox(sandbox)
        await self.inventory.remove_network(sandbox)
        return pb.StopPodSandboxResponse()

    @translate_errors
    async def RemovePodSandbox(self, request: Any, context: Any) -> pb.RemovePodSandboxResponse:
        await self.inventory.remove_sandbox(request.pod_sandbox_id)
        return pb.RemovePodSandboxResponse()

    def _sandbox_message(self, record: SandboxRecord) -> dict[str, Any]:
        return {"id": record.id, "state": pb.SANDBOX_READY if record.ready else pb.SANDBOX_NOTREADY,
                "metadata": pb.PodSandboxMetadata(name=record.name, uid=record.uid,
                                                  namespace=record.namespace, attempt=record.attempt),
                "created_at": record.created_at, "labels": record.labels,
                "annotations": record.annotations, "runtime_handler": record.runtime_handler}

    @translate_errors
    async def PodSandboxStatus(self, request: Any, context: Any) -> pb.PodSandboxStatusResponse:
        record = self.inventory.sandbox(request.pod_sandbox_id)
        status = pb.PodSandboxStatus(**self._sandbox_message(record),
                                     network=pb.PodSandboxNetworkStatus(ip=record.pod_ip))
        return pb.PodSandboxStatusResponse(status=status)

    async def ListPodSandbox(self, request: Any, context: Any) -> pb.ListPodSandboxResponse:
        flt = request.filter
        items = []
        for record in self.inventory.sandboxes.values():
            message = pb.PodSandbox(**self._sandbox_message(record))
            if flt.id and record.id != flt.id:
                continue
            if flt.HasField("state") and message.state != flt.state.state:
                continue
            if not _labels_match(record.labels, flt.label_selector):
                continue
            items.append(message)
        return pb.ListPodSandboxResponse(items=items)

    # -- containers ---------------------------------------------------------------------------------

    @translate_errors
    async def CreateContainer(self, request: Any, context: Any) -> pb.CreateContainerResponse:
        sandbox = self.inventory.sandbox(request.pod_sandbox_id)
        if not sandbox.ready:
            raise InvalidRequest(f"pod sandbox {sandbox.id} is stopped")
        config = request.config
        image = self.inventory.images.find(config.image.image)
        if image is None:
            raise UnknownObject(f"image {config.image.image!r} not found in the VM image store")
        resources = config.linux.resources
        settings = dict(config.annotations)
        size = vm_size(cpu_quota=resources.cpu_quota, cpu_period=resources.cpu_period,
                       cpu_shares=resources.cpu_shares, memory_limit_bytes=resources.memory_limit_in_bytes,
                       settings=settings)
        log_path = Path(config.log_path)
        if config.log_path and not log_path.is_absolute():
            log_path = Path(sandbox.log_directory) / log_path
        record = ContainerRecord(
            id=uuid.uuid4().hex, sandbox_id=sandbox.id, name=config.metadata.name,
            attempt=config.metadata.attempt, image=config.image.user_specified_image or config.image.image,
            image_ref=image.id, log_path=str(log_path) if config.log_path else "/dev/null",
            created_at=_now_ns(), vcpus=size.vcpus, memory_mib=size.memory_mib,
            labels=dict(config.labels), annotations=settings)
        await self.inventory.add_container(record, sandbox.hostname or sandbox.name)
        return pb.CreateContainerResponse(container_id=record.id)

    @translate_errors
    async def StartContainer(self, request: Any, context: Any) -> pb.StartContainerResponse:
        record = self.inventory.container(request.container_id)
        async with self.inventory.machines.lock(record.id):
            if record.state != "created":
                raise InvalidRequest(f"container {record.id} is {record.state}, not created")
            self.inventory.launch(record)
        return pb.StartContainerResponse()

    @translate_errors
    async def StopContainer(self, request: Any, context: Any) -> pb.StopContainerResponse:
        record = self.inventory.container(request.container_id)
        async with self.inventory.machines.lock(record.id):
            await self.inventory.machines.stop(record, timeout_s=float(request.timeout))
            self.inventory.machines.refresh(record)
            self.inventory.save_container(record)
        return pb.StopContainerResponse()

    @translate_errors
    async def RemoveContainer(self, request: Any, context: Any) -> pb.RemoveContainerResponse:
        await self.inventory.remove_container(request.container_id)
        return pb.RemoveContainerResponse()

    async def ListContainers(self, request: Any, context: Any) -> pb.ListContainersResponse:
        flt = request.filter
        items = []
        for record in self.inventory.refreshed_containers():
            if flt.id and record.id != flt.id:
                continue
            if flt.pod_sandbox_id and record.sandbox_id != flt.pod_sandbox_id:
                continue
            if flt.HasField("state") and _STATES[record.state] != flt.state.state:
                continue
            if not _labels_match(record.labels, flt.label_selector):
                continue
            items.append(pb.Container(
                id=record.id, pod_sandbox_id=record.sandbox_id,
                metadata=pb.ContainerMetadata(name=record.name, attempt=record.attempt),
                image=pb.ImageSpec(image=record.image), image_ref=record.image_ref, image_id=record.image_ref,
                state=_STATES[record.state], created_at=record.created_at, labels=record.labels,
                annotations=record.annotations))
        return pb.ListContainersResponse(containers=items)

    @translate_errors
    async def ContainerStatus(self, request: Any, context: Any) -> pb.ContainerStatusResponse:
        record = self.inventory.container(request.container_id)
        info: dict[str, str] = {}
        if request.verbose:
            machines = self.inventory.machines
            info = {"qmp-status": await machines.live_status(record),
                    "qemu-pid": str(machines.qemu_pid(record)), "vcpus": str(record.vcpus),
                    "memory-mib": str(record.memory_mib), "snapshots": ",".join(record.snapshots)}
        return pb.ContainerStatusResponse(status=container_status(record), info=info)

    # -- no guest agent: no exec, attach or port-forward --------------------------------------------

    async def ExecSync(self, request: Any, context: Any) -> Any:
        await context.abort(grpc.StatusCode.UNIMPLEMENTED, EXEC_UNSUPPORTED)

    async def Exec(self, request: Any, context: Any) -> Any:
        await context.abort(grpc.StatusCode.UNIMPLEMENTED, EXEC_UNSUPPORTED)

    async def Attach(self, request: Any, context: Any) -> Any:
        await context.abort(grpc.StatusCode.UNIMPLEMENTED,
                            "attach is not supported for virtual machines (read the console with logs)")

    async def PortForward(self, request: Any, context: Any) -> Any:
        await context.abort(grpc.StatusCode.UNIMPLEMENTED,
                            "port-forward is not supported for virtual machines (connect to the pod IP)")
