"""A fake VM runtime for the kubelet's VM pod unit tests: the hollow runtime plus Arktos's VM verbs.

`FakeVmRuntime` keeps the hollow runtime's records and changes them as the real VM runtime would:
``Paused``/``Suspended`` keep the container running with that reason, ``Shutdown`` exits it 0 with
reason ``Stopped``, ``Running`` resumes it or powers an exited one on again (the boot count goes up).
`vm_syncer` builds a `PodSyncer` on it that records every status it is handed.
"""

from __future__ import annotations

import time
from dataclasses import replace
from typing import Any

from kubelet_fakes import UNUSED_API, RecordingEvents, RecordingStatus, node_admission, runtime_policies

from client.config import config_for_url
from client.rest import ApiClient
from kubelet.config import RuntimeEndpoint
from kubelet.hollow import HollowRuntime
from kubelet.pod_sync import NodeContext, PodSyncer
from kubelet.runtime import ContainerInfo, RuntimeOperationError
from kubelet.runtimes import RegisteredRuntime, RuntimeRegistry


class FakeVmRuntime(HollowRuntime):
    def __init__(self) -> None:
        super().__init__("vm", start_delay_s=0.0)
        self.calls: list[tuple[str, ...]] = []
        self.boots: dict[str, int] = {}

    def force(self, container_id: str, **changes: Any) -> None:
        self._containers[container_id] = replace(self._containers[container_id], **changes)

    async def info(self, container_id: str) -> ContainerInfo:
        return self._containers[container_id]

    def _running(self, container_id: str) -> None:
        super()._running(container_id)
        self.boots[container_id] = self.boots.get(container_id, 0) + 1

    async def boot_count(self, container_id: str) -> int:
        return self.boots.get(container_id, 0)

    async def reboot_vm(self, container_id: str, *, delay_s: float = 0.0) -> None:
        self.calls.append(("reboot", container_id))

    async def snapshot_vm(self, container_id: str, snapshot_name: str) -> str:
        self.calls.append(("snapshot", container_id, snapshot_name))
        return snapshot_name

    async def restore_vm(self, container_id: str, snapshot_id: str) -> None:
        self.calls.append(("restore", container_id, snapshot_id))

    async def set_power(self, container_id: str, power_spec: str) -> None:
        self.calls.append(("power", container_id, power_spec))
        container = self._containers[container_id]
        if power_spec in ("Paused", "Suspended"):
            if container.state != "running":
                raise RuntimeOperationError("VmActionFailed", "not running")
            self.force(container_id, reason=power_spec)
        elif power_spec == "Shutdown":
            self.force(container_id, state="exited", exit_code=0, reason="Stopped", finished_at=time.time())
        elif container.state == "exited":
            self.force(container_id, state="running", reason="", exit_code=0, started_at=time.time())
            self.boots[container_id] = self.boots.get(container_id, 0) + 1
        else:
            self.force(container_id, reason="")


class HistoryStatus(RecordingStatus):
    """Keeps every status handed over, in order."""

    def __init__(self) -> None:
        super().__init__()
        self.history: list[dict[str, Any]] = []

    def set(self, pod: dict[str, Any], status: dict[str, Any]) -> None:
        super().set(pod, status)
        self.history.append(status)


def vm_syncer(runtime: FakeVmRuntime) -> tuple[PodSyncer, NodeContext, HistoryStatus]:
    status = HistoryStatus()
    syncer = PodSyncer(ApiClient(config_for_url(UNUSED_API)), status=status, events=RecordingEvents(),
                       policies=runtime_policies())
    registry = RuntimeRegistry([RegisteredRuntime(RuntimeEndpoint("v", "vm", "fake://"), runtime)])
    return syncer, NodeContext("n1", "192.0.2.1", registry, node_admission()), status
