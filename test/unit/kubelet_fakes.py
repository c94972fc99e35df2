"""In-memory stand-ins the kubelet's unit tests share: a scriptable runtime, recording sinks.

`ScriptedRuntime` is the hollow runtime with exec answers taken from a script, and
`syncer_on` builds a `PodSyncer` (with the kubelet's `runtime_policies`) on it whose events and
statuses are kept in memory instead of being written to an API server; `node_admission` is the pod
admission of a node the size of a hollow one.
"""

from __future__ import annotations

import asyncio
from typing import Any

from client.config import config_for_url
from client.events import EventType
from client.rest import ApiClient
from kubelet.config import RuntimeEndpoint
from kubelet.event_sink import EventSink
from kubelet.hollow import HollowRuntime
from kubelet.pod_admission import NodeAdmission
from kubelet.pod_sync import NodeContext, PodSyncer
from kubelet.runtime import ExecSyncResult, RuntimeOperationError
from kubelet.runtime_policy import ContainerPolicy, RuntimePolicies
from kubelet.runtimes import RegisteredRuntime, RuntimeRegistry
from kubelet.status_writer import StatusWriter
from kubelet.vm.policy import VmPolicy

UNUSED_API = "http://127.0.0.1:9"  # nothing is written to it: events and statuses are recorded
HOLLOW_ALLOCATABLE = {"cpu": "8", "memory": "32Gi", "pods": "110", "ephemeral-storage": "100Gi"}


def node_admission(name: str = "n1", *, labels: dict[str, str] | None = None,
                   **allocatable: str) -> NodeAdmission:
    """The admission of node ``name`` (hollow-node allocatable, overridden by ``allocatable``)."""
    return NodeAdmission({"metadata": {"name": name, "labels": labels or {}},
                          "status": {"allocatable": {**HOLLOW_ALLOCATABLE, **allocatable}}})


class ScriptedRuntime(HollowRuntime):
    """A hollow runtime whose exec answers come from a script (exit codes; "hang"; "refuse")."""

    def __init__(self) -> None:
        super().__init__(start_delay_s=0.0)
        self.script: list[Any] = []
        self.default: Any = 0

    async def exec_sync(self, container_id: str, cmd: list[str], *, timeout_s: float) -> ExecSyncResult:
        step = self.script.pop(0) if self.script else self.default
        if step == "hang":
            await asyncio.sleep(timeout_s + 5)
        if step == "refuse":
            raise RuntimeOperationError("ExecSyncError",
                                        "rpc error: code = NotFound desc = no such container")
        return ExecSyncResult(exit_code=int(step), stdout=b"out\n" if step else b"")


class RecordingEvents(EventSink):
    def __init__(self) -> None:
        super().__init__(ApiClient(config_for_url(UNUSED_API)))
        self.seen: list[tuple[str, str, str]] = []

    def emit(self, host: str, obj: dict[str, Any], event_type: EventType, reason: str,
             message: str) -> None:
        self.seen.append((event_type, reason, message))


class RecordingStatus(StatusWriter):
    def __init__(self) -> None:
        super().__init__(ApiClient(config_for_url(UNUSED_API)))
        self.latest: dict[str, Any] = {}

    def set(self, pod: dict[str, Any], status: dict[str, Any]) -> None:
        self.latest = status


def probed_pod(**probes: Any) -> dict[str, Any]:
    container = {"name": "app", "image": "busybox:1.36", **probes}
    return {"metadata": {"name": "p", "namespace": "default", "uid": "uid-1"},
            "spec": {"nodeName": "n1", "restartPolicy": "Always", "terminationGracePeriodSeconds": 0,
                     "containers": [container]}, "status": {}}


def runtime_policies() -> RuntimePolicies:
    """The policies the kubelet's assembly builds (`kubelet.kubelet`)."""
    return RuntimePolicies(container=ContainerPolicy(), vm=VmPolicy())


def syncer_on(runtime: ScriptedRuntime) -> tuple[PodSyncer, NodeContext, RecordingEvents, RecordingStatus]:
    events, status = RecordingEvents(), RecordingStatus()
    syncer = PodSyncer(ApiClient(config_for_url(UNUSED_API)), status=status, events=events,
                       policies=runtime_policies())
    registry = RuntimeRegistry([RegisteredRuntime(RuntimeEndpoint("c", "container", "hollow://"), runtime)])
    return syncer, NodeContext("n1", "192.0.2.1", registry, node_admission()), events, status
