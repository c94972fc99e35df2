"""One pod's sync: drive the runtime toward the pod's spec and report what it did.

Upstream's ``SyncPod`` (kuberuntime_manager.go computePodActions) in small: make sure the pod has a
ready sandbox, start init containers one at a time in order, then every regular container;
restart exited containers as ``restartPolicy`` says, behind CrashLoopBackOff; compute the status
(`kubelet.status`) from what the runtime then reports and hand it to the `StatusWriter`. A pod
with a deletionTimestamp is stopped within its grace period and then deleted for good
(``gracePeriodSeconds=0``), as the kubelet's status manager does once a pod's containers are
gone. Every decision reads the runtime's records, so a kubelet restarted over a live runtime
adopts its containers instead of starting duplicates.
"""

from __future__ import annotations

import asyncio
import logging
from dataclasses import dataclass
from typing import Any

from client.errors import Conflict, NotFound
from client.rest import ApiClient
from kubelet.backoff import CrashBackoff
from kubelet.event_sink import EventSink
from kubelet.runtime import ContainerInfo, Runtime, RuntimeOperationError, SandboxInfo
from kubelet.runtimes import RuntimeRegistry
from kubelet.status import PodObservation, compute_pod_status, newest_attempts
from kubelet.status_writer import PODS, StatusWriter

log = logging.getLogger(__name__)

DEFAULT_GRACE_S = 30
_RETRY_FAILED_START_S = 10.0


@dataclass(frozen=True, slots=True)
class NodeContext:
    """The node a pod runs on, as its worker needs it."""

    name: str
    host_ip: str
    registry: RuntimeRegistry


def should_restart(policy: str, exit_code: int) -> bool:
    return policy == "Always" or (policy == "OnFailure" and exit_code != 0)


class PodSyncer:
    """Syncs pods of any node in this process (the node comes with each call)."""

    def __init__(self, client: ApiClient, *, status: StatusWriter, events: EventSink,
                 backoff: CrashBackoff | None = None) -> None:
        self.client = client
        self.status = status
        self.events = events
        self.backoff = backoff or CrashBackoff()

    async def sync(self, node: NodeContext, pod: dict[str, Any]) -> float | None:
        """One pass over ``pod``; answers seconds after which to look again, if any."""
        runtime = node.registry.for_pod(pod)
        if runtime is None:
            self._record(node, pod, "Warning", "FailedCreatePodSandBox",
                         "no runtime of this pod's workload type on the node")
            return None
        if (pod.get("metadata") or {}).get("deletionTimestamp"):
            await self.terminate(node, pod, runtime)
            return None
        uid = str(pod["metadata"]["uid"])
        if (pod.get("status") or {}).get("phase") in ("Succeeded", "Failed"):
            await self._stop_all(node, pod, runtime, grace_s=0, announce=False)
            return None
        sandbox = await self._ensure_sandbox(node, pod, runtime)
        if sandbox is None:
            return _RETRY_FAILED_START_S
        waiting: dict[str, tuple[str, str]] = {}
        attempts = newest_attempts(await runtime.list_containers(pod_uid=uid))
        requeue = await self._advance(node, pod, runtime, sandbox, attempts, waiting)
        host_network = bool((pod.get("spec") or {}).get("hostNetwork"))
        observation = PodObservation(
            containers=await runtime.list_containers(pod_uid=uid),
            pod_ip=node.host_ip if host_network else sandbox.ip, host_ip=node.host_ip,
            id_scheme=runtime.runtime_version().split("://", 1)[0], waiting=waiting)
        self.status.set(pod, compute_pod_status(pod, observation))
        return requeue

    async def _ensure_sandbox(self, node: NodeContext, pod: dict[str, Any],
                              runtime: Runtime) -> SandboxInfo | None:
        uid = str(pod["metadata"]["uid"])
        for sandbox in await runtime.list_sandboxes():
            if sandbox.pod.uid == uid and sandbox.state == "ready":
                return sandbox
        try:
            return await runtime.run_sandbox(pod)
        except RuntimeOperationError as e:
            self._record(node, pod, "Warning", "FailedCreatePodSandBox", e.message)
            return None

    async def _advance(self, node: NodeContext, pod: dict[str, Any], runtime: Runtime,
                       sandbox: SandboxInfo, attempts: dict[str, list[ContainerInfo]],
                       waiting: dict[str, tuple[str, str]]) -> float | None:
        """Starts or restarts what should run now; fills ``waiting`` with why others wait."""
        spec = pod.get("spec") or {}
        policy = str(spec.get("restartPolicy") or "Always")
        requeues: list[float] = []
        for container in spec.get("initContainers") or []:
            history = attempts.get(str(container.get("name")), [])
            if history and history[0].state == "exited" and history[0].exit_code == 0:
                continue
            if not history or history[0].state == "exited":
                # Init containers are retried unless the pod never restarts (then it fails).
                if not history or policy != "Never":
                    await self._start_or_back_off(node, pod, runtime, sandbox, container, history,
                                                  waiting, requeues)
            return min(requeues, default=None)
        for container in spec.get("containers") or []:
            history = attempts.get(str(container.get("name")), [])
            if history and (history[0].state != "exited"
                            or not should_restart(policy, history[0].exit_code)):
                continue
            await self._start_or_back_off(node, pod, runtime, sandbox, container, history, waiting,
                                          requeues)
        return min(requeues, default=None)

    async def _start_or_back_off(self, node: NodeContext, pod: dict[str, Any], runtime: Runtime,
                                 sandbox: SandboxInfo, container: dict[str, Any],
                                 history: list[ContainerInfo], waiting: dict[str, tuple[str, str]],
                                 requeues: list[float]) -> None:
        uid, name = str(pod["metadata"]["uid"]), str(container.get("name"))
        if history:
            remaining = self.backoff.remaining(uid, name, finished_at=history[0].finished_at)
            if remaining > 0:
                message = (f"back-off restarting failed container={name} "
                           f"pod={pod['metadata']['name']}_{pod['metadata'].get('namespace')}({uid})")
                waiting[name] = ("CrashLoopBackOff", message)
                self._record(node, pod, "Warning", "BackOff", f"Back-off restarting failed container {name}")
                requeues.append(remaining)
                return
            self.backoff.record_restart(uid, name)
            for old in history[1:]:
                await runtime.remove_container(old.id)  # upstream keeps only the last dead attempt
        attempt = history[0].attempt + 1 if history else 0
        try:
            await self._start(node, pod, runtime, sandbox, container, attempt)
        except RuntimeOperationError as e:
            waiting[name] = (e.reason, e.message)
            self._record(node, pod, "Warning", "Failed", f"Error: {e.reason}: {e.message}")
            requeues.append(_RETRY_FAILED_START_S)

    async def _start(self, node: NodeContext, pod: dict[str, Any], runtime: Runtime,
                     sandbox: SandboxInfo, container: dict[str, Any], attempt: int) -> None:
        name, image = str(container.get("name")), str(container.get("image", ""))
        pulled = await runtime.ensure_image(image, str(container.get("imagePullPolicy") or "IfNotPresent"))
        if pulled.pulled:
            self._record(node, pod, "Normal", "Pulled", f'Successfully pulled image "{image}"')
        created = await runtime.create_container(sandbox, pod, container, attempt=attempt,
                                                 image_ref=pulled.image_ref)
        self._record(node, pod, "Normal", "Created", f"Created container {name}")
        await runtime.start_container(created.id)
        self._record(node, pod, "Normal", "Started", f"Started container {name}")

    # -- stopping ---------------------------------------------------------------------------------

    async def terminate(self, node: NodeContext, pod: dict[str, Any], runtime: Runtime) -> None:
        """Graceful deletion: stop within the grace period, then delete the pod object for good."""
        metadata = pod["metadata"]
        grace = metadata.get("deletionGracePeriodSeconds")
        if grace is None:
            grace = (pod.get("spec") or {}).get("terminationGracePeriodSeconds", DEFAULT_GRACE_S)
        await self._stop_all(node, pod, runtime, grace_s=float(grace), announce=True)
        try:
            await self.client.delete(PODS, metadata["name"], tenant=metadata.get("tenant") or None,
                                     namespace=metadata.get("namespace"), grace_period_seconds=0,
                                     preconditions={"uid": str(metadata["uid"])})
        except (NotFound, Conflict):
            pass  # already gone, or a new pod of the same name
        await self.forget(runtime, str(metadata["uid"]))

    async def _stop_all(self, node: NodeContext, pod: dict[str, Any], runtime: Runtime, *,
                        grace_s: float, announce: bool) -> None:
        uid = str(pod["metadata"]["uid"])
        live = [c for c in await runtime.list_containers(pod_uid=uid) if c.state != "exited"]
        for container in live:
            if announce:
                self._record(node, pod, "Normal", "Killing", f"Stopping container {container.name}")
        if live:
            stops = [runtime.stop_container(c.id, timeout_s=grace_s) for c in live]
            try:
                async with asyncio.timeout(grace_s + 5):
                    await asyncio.gather(*stops)
            except TimeoutError:
                log.warning("pod %s: containers did not stop within %.0fs", uid, grace_s)
        for sandbox in await runtime.list_sandboxes():
            if sandbox.pod.uid == uid and sandbox.state == "ready":
                await runtime.stop_sandbox(sandbox.id)

    async def forget(self, runtime: Runtime, uid: str) -> None:
        """Removes every trace of pod ``uid`` from the runtime and the kubelet's memory."""
        for container in await runtime.list_containers(pod_uid=uid):
            await runtime.stop_container(container.id, timeout_s=0)
            await runtime.remove_container(container.id)
        for sandbox in await runtime.list_sandboxes():
            if sandbox.pod.uid == uid:
                await runtime.remove_sandbox(sandbox.id)
        self.backoff.forget_pod(uid)
        self.status.forget(uid)

    def _record(self, node: NodeContext, pod: dict[str, Any], event_type: Any, reason: str,
                message: str) -> None:
        self.events.emit(node.name, pod, event_type, reason, message)


