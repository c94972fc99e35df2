"""The hollow runtime: sandboxes and containers that exist only as records in memory.

Kubemark's hollow kubelet runs the real kubelet against a fake runtime so one machine can play
hundreds of nodes for the control plane; this is ours. A started container turns Running after
``start_delay_s``; init containers then exit 0 at once (so pods initialise); a pod can ask for
simulated crashes through annotations, which is how tests drive CrashLoopBackOff:

- ``hollow.arktos.io/run-seconds``: a (non-init) container exits this long after it started;
- ``hollow.arktos.io/exit-code``: with which code (default 1).

Stopping a container ends it at once (there is no process to wait for). Every state change the
runtime makes by itself is reported through the change listeners, as CRI events feed upstream's
PLEG. The records outlive a kubelet that is restarted in the same process, like containerd
outlives a real kubelet, which is what adoption is tested against.
"""

from __future__ import annotations

import asyncio
import hashlib
import itertools
import time
from dataclasses import replace
from typing import Any

from kubelet.runtime import (
    ChangeListener,
    ContainerInfo,
    ContainerInputs,
    ExecSyncResult,
    ImageResult,
    RuntimeHealth,
    RuntimeOperationError,
    SandboxDns,
    SandboxInfo,
    pod_ref,
)

RUN_SECONDS_ANNOTATION = "hollow.arktos.io/run-seconds"
EXIT_CODE_ANNOTATION = "hollow.arktos.io/exit-code"
HOLLOW_VERSION = "hollow://1.0.0"


class HollowRuntime:
    """Implements `kubelet.runtime.Runtime` without running anything."""

    def __init__(self, name: str = "hollow", *, start_delay_s: float = 0.5,
                 ip_prefix: str = "10.88.0.") -> None:
        self.name = name
        self.start_delay_s = start_delay_s
        self.ip_prefix = ip_prefix
        self.ready = True
        self.containers_created = 0  # every create_container call, for adoption tests
        self._sandboxes: dict[str, SandboxInfo] = {}
        self._containers: dict[str, ContainerInfo] = {}
        self._exits: dict[str, tuple[float, int]] = {}  # container id -> (run seconds, exit code)
        self._timers: dict[str, asyncio.TimerHandle] = {}
        self._listeners: list[ChangeListener] = []
        self._ids = itertools.count(1)
        self._hosts = itertools.cycle(range(2, 255))

    def runtime_version(self) -> str:
        return HOLLOW_VERSION

    async def health(self) -> RuntimeHealth:
        if self.ready:
            return RuntimeHealth(True)
        return RuntimeHealth(False, "HollowRuntimeNotReady", "the hollow runtime was told to be unready")

    def on_change(self, listener: ChangeListener) -> None:
        self._listeners.append(listener)

    async def ensure_image(self, image: str, pull_policy: str) -> ImageResult:
        # Every image is "present": hollow nodes never pull, so no Pulled events.
        return ImageResult(image_ref=f"sha256:{hashlib.sha256(image.encode()).hexdigest()}", pulled=False)

    # -- sandboxes ------------------------------------------------------------------------------

    async def run_sandbox(self, pod: dict[str, Any], *, dns: SandboxDns | None = None) -> SandboxInfo:
        host_network = bool((pod.get("spec") or {}).get("hostNetwork"))
        ip = "" if host_network else f"{self.ip_prefix}{next(self._hosts)}"
        sandbox = SandboxInfo(id=self._new_id("sandbox"), pod=pod_ref(pod), state="ready", ip=ip,
                              created_at=time.time())
        self._sandboxes[sandbox.id] = sandbox
        return sandbox

    async def stop_sandbox(self, sandbox_id: str) -> None:
        for container in list(self._containers.values()):
            if container.sandbox_id == sandbox_id:
                self._finish(container.id, exit_code=0, reason="Completed", notify=False)
        sandbox = self._sandboxes.get(sandbox_id)
        if sandbox is not None:
            self._sandboxes[sandbox_id] = replace(sandbox, state="notready")

    async def remove_sandbox(self, sandbox_id: str) -> None:
        await self.stop_sandbox(sandbox_id)
        self._sandboxes.pop(sandbox_id, None)
        for container_id in [c.id for c in self._containers.values() if c.sandbox_id == sandbox_id]:
            await self.remove_container(container_id)

    async def list_sandboxes(self) -> list[SandboxInfo]:
        return list(self._sandboxes.values())

    # -- containers -----------------------------------------------------------------------------

    async def create_container(self, sandbox: SandboxInfo, pod: dict[str, Any],
                               container: dict[str, Any], *, attempt: int,
                               image_ref: str, inputs: ContainerInputs | None = None) -> ContainerInfo:
        if sandbox.id not in self._sandboxes:
            raise RuntimeOperationError("CreateContainerError", f"sandbox {sandbox.id} does not exist")
        name = str(container.get("name", ""))
        info = ContainerInfo(id=self._new_id("container"), sandbox_id=sandbox.id, pod_uid=sandbox.pod.uid,
                             name=name, attempt=attempt, state="created",
                             image=str(container.get("image", "")), image_ref=image_ref,
                             created_at=time.time(),
                             log_path=f"/var/log/pods/{sandbox.pod.uid}/{name}/{attempt}.log")
        self._containers[info.id] = info
        self._exits[info.id] = _planned_exit(pod, name)
        self.containers_created += 1
        return info

    async def start_container(self, container_id: str) -> None:
        if container_id not in self._containers:
            raise RuntimeOperationError("RunContainerError", f"container {container_id} does not exist")
        loop = asyncio.get_running_loop()
        self._timers[container_id] = loop.call_later(self.start_delay_s, self._running, container_id)

    async def stop_container(self, container_id: str, *, timeout_s: float) -> None:
        self._finish(container_id, exit_code=0, reason="Completed", notify=False)

    async def remove_container(self, container_id: str) -> None:
        timer = self._timers.pop(container_id, None)
        if timer is not None:
            timer.cancel()
        self._containers.pop(container_id, None)
        self._exits.pop(container_id, None)

    async def list_containers(self, *, pod_uid: str | None = None) -> list[ContainerInfo]:
        return [c for c in self._containers.values() if pod_uid is None or c.pod_uid == pod_uid]

    async def exec_sync(self, container_id: str, cmd: list[str], *, timeout_s: float) -> ExecSyncResult:
        """Hollow containers run nothing, so every probe command simply succeeds."""
        if container_id not in self._containers:
            raise RuntimeOperationError("ExecSyncError", f"container {container_id} does not exist")
        return ExecSyncResult(exit_code=0)

    # -- simulated life -------------------------------------------------------------------------

    def _running(self, container_id: str) -> None:
        container = self._containers.get(container_id)
        if container is None or container.state != "created":
            return
        self._containers[container_id] = replace(container, state="running", started_at=time.time())
        run_s, exit_code = self._exits.get(container_id, (-1.0, 0))
        if run_s >= 0:
            loop = asyncio.get_running_loop()
            self._timers[container_id] = loop.call_later(
                run_s, self._finish, container_id, exit_code, "Completed" if exit_code == 0 else "Error")
        else:
            self._timers.pop(container_id, None)
        self._notify(container.pod_uid)

    def _finish(self, container_id: str, exit_code: int, reason: str, notify: bool = True) -> None:
        container = self._containers.get(container_id)
        if container is None or container.state == "exited":
            return
        timer = self._timers.pop(container_id, None)
        if timer is not None:
            timer.cancel()
        now = time.time()
        self._containers[container_id] = replace(
            container, state="exited", exit_code=exit_code, reason=reason, finished_at=now,
            started_at=container.started_at or now)
        if notify:
            self._notify(container.pod_uid)

    def _notify(self, pod_uid: str) -> None:
        for listener in self._listeners:
            listener(pod_uid)

    def _new_id(self, kind: str) -> str:
        return f"{kind}-{self.name}-{next(self._ids):08d}"


def _planned_exit(pod: dict[str, Any], container_name: str) -> tuple[float, int]:
    """(run seconds, exit code) for a container; run seconds < 0 means it runs until stopped."""
    spec = pod.get("spec") or {}
    if any(c.get("name") == container_name for c in spec.get("initContainers") or []):
        return (0.0, 0)
    annotations = (pod.get("metadata") or {}).get("annotations") or {}
    run_seconds = annotations.get(RUN_SECONDS_ANNOTATION)
    if run_seconds is None:
        return (-1.0, 0)
    try:
        return (float(run_seconds), int(annotations.get(EXIT_CODE_ANNOTATION, "1")))
    except ValueError:
        return (-1.0, 0)
