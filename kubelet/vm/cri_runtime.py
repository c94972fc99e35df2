"""The kubelet's adapter for Arktos's VM runtime: `CriRuntime` plus `kubelet.runtime.VmControl`.

Everything a container runtime does (images, sandboxes, listing, the PLEG) works unchanged over the
VM runtime's CRI; what differs is the container config, built from ``spec.virtualMachine``
(`kubelet.vm.specs`), and the extra verbs — reboot, snapshot, restore and power — which go to the
runtime's ``VmService``; `boot_count` reads how often the runtime started the VM's qemu (the
``BOOT_COUNT`` status annotation: first boot plus every power-on). Failures become
`RuntimeOperationError` with reason ``VmActionFailed`` (the Action's ``status.error`` shows the
runtime's message).
"""

from __future__ import annotations

import math
from typing import Any

from cri.errors import CriError, NotFound
from cri.stubs import pb
from cri.vm_annotations import BOOT_COUNT
from kubelet.cri_runtime import CriRuntime
from kubelet.runtime import ContainerInputs, RuntimeOperationError
from kubelet.security_context import ImageUser
from kubelet.vm.specs import build_vm_container_config

SHUTDOWN_TIMEOUT_S = 30.0  # how long a guest gets to power off before the runtime kills it


class VmCriRuntime(CriRuntime):
    """Implements `kubelet.runtime.Runtime` and `kubelet.runtime.VmControl` for a ``vm`` endpoint."""

    def container_config(self, pod: dict[str, Any], container: dict[str, Any], *, attempt: int,
                         image_ref: str, inputs: ContainerInputs | None,
                         image_user: ImageUser | None = None) -> pb.ContainerConfig:
        """``container`` is `kubelet.vm.pods.vm_container` of the pod; the VM itself is described by
        ``spec.virtualMachine`` (``inputs`` and ``image_user`` are ignored: a VM gets no env or host
        mounts, and its guest has its own users)."""
        return build_vm_container_config(pod, attempt=attempt, image_ref=image_ref)

    async def image_user(self, pod: dict[str, Any], container: dict[str, Any], image_ref: str) -> ImageUser:
        """A VM image's users live inside the guest; ``runAsNonRoot`` has nothing to check (qemu itself
        runs under ``-sandbox``, `vmruntime.qemu`)."""
        return ImageUser(uid=None)

    async def boot_count(self, container_id: str) -> int:
        """Times the runtime started this VM (0: unknown, or not started yet)."""
        try:
            status = (await self.cri.container_status(container_id)).status
        except NotFound:
            return 0
        try:
            return int(status.annotations.get(BOOT_COUNT, "0"))
        except ValueError:
            return 0

    async def reboot_vm(self, container_id: str, *, delay_s: float = 0.0) -> None:
        try:
            await self.cri.reboot_vm(container_id, delay_seconds=max(0, math.ceil(delay_s)))
        except CriError as e:
            raise RuntimeOperationError("VmActionFailed", f"reboot: {e.message}") from None

    async def snapshot_vm(self, container_id: str, snapshot_name: str) -> str:
        try:
            return await self.cri.create_snapshot(container_id, snapshot_name)
        except CriError as e:
            raise RuntimeOperationError("VmActionFailed", f"snapshot: {e.message}") from None

    async def restore_vm(self, container_id: str, snapshot_id: str) -> None:
        try:
            await self.cri.restore_to_snapshot(container_id, snapshot_id)
        except CriError as e:
            raise RuntimeOperationError("VmActionFailed", f"restore: {e.message}") from None

    async def set_power(self, container_id: str, power_spec: str) -> None:
        try:
            await self.cri.set_vm_power_state(container_id, power_spec,
                                              timeout_seconds=int(SHUTDOWN_TIMEOUT_S))
        except CriError as e:
            raise RuntimeOperationError("VmActionFailed", f"power {power_spec}: {e.message}") from None
