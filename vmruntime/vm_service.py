"""Arktos's VM verbs beyond the CRI: ``VmService`` (RebootVM, CreateSnapshot, RestoreToSnapshot,
SetVmPowerState), carried out with QMP on the VM's qemu.

Power specs (``PodSpec.virtualMachine.powerSpec``): ``Running`` resumes a paused VM or powers a shut
down one on again (a new qemu on the same disk: the boot counter goes on); ``Paused`` stops the vCPUs
(QMP ``stop``); ``Suspended`` is the same pause, reported as ``suspended`` (no suspend-to-disk);
``Shutdown`` powers the guest off gracefully within ``timeout`` seconds, then kills it.
"""

from __future__ import annotations

import asyncio
from typing import Any

from cri.stubs import pb, pb_grpc
from vmruntime.inventory import InvalidRequest, Inventory, power_state
from vmruntime.runtime_service import translate_errors

MAX_REBOOT_DELAY_S = 3600
DEFAULT_SHUTDOWN_TIMEOUT_S = 30


class VmServicer(pb_grpc.VmServiceServicer):
    def __init__(self, inventory: Inventory) -> None:
        self.inventory = inventory

    @translate_errors
    async def RebootVM(self, request: Any, context: Any) -> pb.RebootVMResponse:
        record = self.inventory.container(request.container_id)
        delay = int(request.delay_seconds)
        if not 0 <= delay <= MAX_REBOOT_DELAY_S:
            raise InvalidRequest(f"delay_seconds must be within 0..{MAX_REBOOT_DELAY_S}")
        if delay:
            await asyncio.sleep(delay)
        async with self.inventory.machines.lock(record.id):
            await self.inventory.machines.reboot(record)
            self.inventory.save_container(record)
        return pb.RebootVMResponse()

    @translate_errors
    async def CreateSnapshot(self, request: Any, context: Any) -> pb.CreateSnapshotResponse:
        record = self.inventory.container(request.container_id)
        async with self.inventory.machines.lock(record.id):
            snapshot_id = await self.inventory.machines.snapshot(record, request.snapshot_name)
            self.inventory.save_container(record)
        return pb.CreateSnapshotResponse(snapshot_id=snapshot_id)

    @translate_errors
    async def RestoreToSnapshot(self, request: Any, context: Any) -> pb.RestoreToSnapshotResponse:
        record = self.inventory.container(request.container_id)
        async with self.inventory.machines.lock(record.id):
            await self.inventory.machines.restore(record, request.snapshot_id)
        return pb.RestoreToSnapshotResponse()

    @translate_errors
    async def SetVmPowerState(self, request: Any, context: Any) -> pb.SetVmPowerStateResponse:
        record = self.inventory.container(request.container_id)
        machines = self.inventory.machines
        spec = request.power_spec
        async with machines.lock(record.id):
            if spec == "Running":
                if record.state == "exited":
                    self.inventory.launch(record)
                elif record.state == "running" and power_state(record) != "running":
                    await machines.resume(record)
                elif record.state == "created":
                    self.inventory.launch(record)
            elif spec in ("Paused", "Suspended"):
                if record.state != "running":
                    raise InvalidRequest(f"cannot pause VM {record.id}: it is {record.state}")
                await machines.pause(record, suspended=spec == "Suspended")
            elif spec == "Shutdown":
                await machines.stop(record, timeout_s=float(request.timeout or DEFAULT_SHUTDOWN_TIMEOUT_S))
                machines.refresh(record)
            else:
                raise InvalidRequest(f"unknown power spec {spec!r}: Running, Paused, Suspended or Shutdown")
            self.inventory.save_container(record)
        return pb.SetVmPowerStateResponse(power_state=power_state(record))
