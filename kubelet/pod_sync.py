"""One pod's sync: drive the runtime toward the pod's spec and report what it did.

Upstream's ``SyncPod`` (kubelet.go, and kuberuntime_manager.go computePodActions) in small: make
sure the pod has a ready sandbox, start init containers one at a time in order, then every regular
container; restart exited containers as ``restartPolicy`` says, behind CrashLoopBackOff; kill and
restart a container whose liveness or startup probe failed (`kubelet.probes`); pull images through
the `ImagePuller` (pull policy, ErrImagePull / ImagePullBackOff); compute the status from what the
runtime then reports, with readiness from the probes, and hand it to the `StatusWriter`. The sync is
the same for every pod: where a VM pod differs from a container pod (which containers to run, what
they get from the node, power control, the status) it asks the pod's policy
(`kubelet.runtime_policy`). A pod with a deletionTimestamp is stopped within its grace period and
then deleted for good (``gracePeriodSeconds=0``), as the kubelet's status manager does once a pod's
containers are gone. Every decision reads the runtime's records, so a kubelet restarted over a live
runtime adopts its containers instead of starting duplicates. Before its first pass a pod must be
admitted by its node (`kubelet.pod_admission`: sysctls, resources, node affinity, host ports,
NoExecute taints); a rejected pod never starts and is Failed, as upstream's ``rejectPod`` leaves it.
"""

from __future__ import annotations

import asyncio
import logging
import time
from dataclasses import dataclass
from functools import partial
from typing import Any

from client.errors import Conflict, NotFound
from client.events import EventType
from client.rest import ApiClient
from kubelet.backoff import CrashBackoff
from kubelet.event_sink import EventSink
from kubelet.image_puller import ERR_IMAGE_PULL, IMAGE_ERRORS, IMAGE_PULL_BACKOFF, ImagePuller
from kubelet.lifecycle_hooks import run_post_start_hook, run_pre_stop_hooks
from kubelet.pod_admission import NodeAdmission
from kubelet.pod_dns import DnsConfigurer
from kubelet.pod_inputs import PodInputs, VolumeMountError
from kubelet.probes import ProbeKind, ProbeManager
from kubelet.runtime import ContainerInfo, Runtime, RuntimeOperationError, SandboxDns, SandboxInfo
from kubelet.runtime_policy import RuntimePolicies
from kubelet.runtimes import RuntimeRegistry
from kubelet.status import PodObservation, newest_attempts
from kubelet.status_writer import PODS, StatusWriter

log = logging.getLogger(__name__)

DEFAULT_GRACE_S = 30
_RETRY_FAILED_START_S = 10.0
# After ErrImagePull, look again soon so the status shows ImagePullBackOff while the back-off runs
# (upstream's pod worker retries a failed sync within seconds; the pull itself waits the back-off).
_RECHECK_AFTER_PULL_FAILURE_S = 1.0
_VOLUME_REFRESH_S = 30.0  # upstream re-reads configMaps/secrets on its periodic pod sync
_MIN_KILL_GRACE_S = 2  # upstream's minimumGracePeriodInSeconds for killContainer


@dataclass(frozen=True, slots=True)
class NodeContext:
    """The node a pod runs on, as its worker needs it."""

    name: str
    host_ip: str
    registry: RuntimeRegistry
    admission: NodeAdmission  # shared by every partition's pods on this node
    inputs: PodInputs | None = None  # env and volumes (None: hollow nodes resolve nothing)


def should_restart(policy: str, exit_code: int) -> bool:
    return policy == "Always" or (policy == "OnFailure" and exit_code != 0)


class PodSyncer:
    """Syncs pods of any node in this process (the node comes with each call)."""

    def __init__(self, client: ApiClient, *, status: StatusWriter, events: EventSink,
                 policies: RuntimePolicies, backoff: CrashBackoff | None = None,
                 images: ImagePuller | None = None, probes: ProbeManager | None = None,
                 dns: DnsConfigurer | None = None) -> None:
        """``dns``: what gives each sandbox its resolver (None: the runtime's default, hollow nodes)."""
        self.client = client
        self.dns = dns
        self.status = status
        self.events = events
        self.policies = policies
        self.backoff = backoff or CrashBackoff()
        self.images = images or ImagePuller()
        self.probes = probes or ProbeManager(events)
        self._refreshed_at: dict[str, float] = {}

    async def sync_pod(self, node: NodeContext, pod: dict[str, Any]) -> float | None:
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
            node.admission.release(uid)  # a finished pod no longer counts against the node
            self.probes.forget_pod(uid)
            await self._stop_all(node, pod, runtime, grace_s=0, announce=False)
            if node.inputs is not None:
                # Nothing runs again: its volumes go now (secrets leave the node's memory), as
                # upstream's volume manager unmounts the volumes of terminated pods.
                await node.inputs.cleanup(uid)
            return None
        if not await self._admitted(node, pod):
            return None
        sandbox = await self._ensure_sandbox(node, pod, runtime)
        if sandbox is None:
            return _RETRY_FAILED_START_S
        await self._refresh_volumes(node, pod)
        runtime_policy = self.policies.for_pod(pod)
        waiting: dict[str, tuple[str, str]] = {}
        listed = await runtime.list_containers(pod_uid=uid)
        requeue = await self._advance(node, pod, runtime, sandbox, newest_attempts(listed), waiting,
                                      containers=runtime_policy.containers_to_run(pod, listed))
        recheck = await runtime_policy.after_containers(
            pod, runtime, report=partial(self._report, node, pod, runtime, sandbox, waiting),
            record=partial(self._record, node, pod))
        await self._report(node, pod, runtime, sandbox, waiting, await runtime.list_containers(pod_uid=uid))
        return min((t for t in (requeue, recheck) if t is not None), default=None)

    async def _report(self, node: NodeContext, pod: dict[str, Any], runtime: Runtime, sandbox: SandboxInfo,
                      waiting: dict[str, tuple[str, str]], containers: list[ContainerInfo]) -> None:
        """Computes the pod's status from ``containers`` (with probe results) and hands it on."""
        host_network = bool((pod.get("spec") or {}).get("hostNetwork"))
        pod_ip = node.host_ip if host_network else sandbox.ip
        self.probes.sync_pod(node.name, pod, runtime, containers, pod_ip=pod_ip)
        probed = self.probes.status_view(pod, containers)
        observation = PodObservation(
            containers=containers, pod_ip=pod_ip, host_ip=node.host_ip,
            id_scheme=runtime.runtime_version().split("://", 1)[0], waiting=waiting,
            ready=probed.ready, started=probed.started)
        previous = self.status.last_written(str(pod["metadata"]["uid"]))
        status = await self.policies.for_pod(pod).pod_status(pod, runtime, observation, previous=previous)
        self.status.set(pod, status)

    async def _admitted(self, node: NodeContext, pod: dict[str, Any]) -> bool:
        """Upstream's ``canAdmitPod`` then ``rejectPod``: a rejected pod gets a Warning event once
        and, until its Failed status is seen, that status again."""
        uid = str(pod["metadata"]["uid"])
        known = node.admission.rejection_of(uid)
        rejection = known or await node.admission.admit(pod)
        if rejection is None:
            return True
        if known is None:
            log.info("pod %s rejected on %s: %s", uid, node.name, rejection.message)
            self._record(node, pod, "Warning", rejection.reason, rejection.message)
        self.status.set(pod, {**(pod.get("status") or {}), "phase": "Failed", "reason": rejection.reason,
                              "message": f"Pod was rejected: {rejection.message}"})
        return False

    async def _ensure_sandbox(self, node: NodeContext, pod: dict[str, Any],
                              runtime: Runtime) -> SandboxInfo | None:
        uid = str(pod["metadata"]["uid"])
        for sandbox in await runtime.list_sandboxes():
            if sandbox.pod.uid == uid and sandbox.state == "ready":
                return sandbox
        try:
            return await runtime.run_sandbox(pod, dns=await self._sandbox_dns(node, pod))
        except RuntimeOperationError as e:
            self._record(node, pod, "Warning", "FailedCreatePodSandBox", e.message)
            return None

    async def _sandbox_dns(self, node: NodeContext, pod: dict[str, Any]) -> SandboxDns | None:
        """The pod's resolver (upstream's GetPodDNS, asked while generating the sandbox config)."""
        if self.dns is None:
            return None
        try:
            host = await asyncio.to_thread(self.dns.host_config)
        except OSError as e:
            raise RuntimeOperationError("CreatePodSandboxError",
                                        f"Failed to generate sandbox config for pod: {e}") from e
        await self.dns.wait_for_networks()
        node_ref = {"apiVersion": "v1", "kind": "Node", "metadata": {"name": node.name, "uid": node.name}}
        return self.dns.pod_config(pod, host=host, warn_pod=partial(self._record, node, pod, "Warning"),
                                   warn_node=partial(self.events.emit, node.name, node_ref, "Warning"))

    async def _advance(self, node: NodeContext, pod: dict[str, Any], runtime: Runtime,
                       sandbox: SandboxInfo, attempts: dict[str, list[ContainerInfo]],
                       waiting: dict[str, tuple[str, str]], *,
                       containers: list[dict[str, Any]]) -> float | None:
        """Starts or restarts what should run now, init containers first, then ``containers`` (the
        policy's `containers_to_run`); fills ``waiting`` with why others wait."""
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
        for container in containers:
            history = attempts.get(str(container.get("name")), [])
            failed = self.probes.failed_probe(history[0].id) if history else None
            if failed is not None and history[0].state == "running":
                await self._kill_unhealthy(node, pod, runtime, container, history[0], failed,
                                           restart=policy != "Never")
                if policy != "Never":
                    # Upstream kills and starts in the same SyncPod pass: no crash back-off here.
                    await self._restart(node, pod, runtime, sandbox, container, history, waiting,
                                        requeues)
                continue
            if history and (history[0].state != "exited"
                            or not should_restart(policy, history[0].exit_code)):
                continue
            await self._start_or_back_off(node, pod, runtime, sandbox, container, history, waiting,
                                          requeues)
        return min(requeues, default=None)

    async def _kill_unhealthy(self, node: NodeContext, pod: dict[str, Any], runtime: Runtime,
                              container: dict[str, Any], running: ContainerInfo, failed: ProbeKind, *,
                              restart: bool) -> None:
        """Upstream's computePodActions/killContainer for a failed liveness or startup probe: the
        probe's terminationGracePeriodSeconds, else the pod's, at least 2 s."""
        name = str(container.get("name"))
        message = f"Container {name} failed {failed} probe" + (", will be restarted" if restart else "")
        self._record(node, pod, "Normal", "Killing", message)
        probe = container.get(f"{failed}Probe") or {}
        grace = probe.get("terminationGracePeriodSeconds")
        if grace is None:
            grace = (pod.get("spec") or {}).get("terminationGracePeriodSeconds", DEFAULT_GRACE_S)
        grace_s = float(max(int(grace), _MIN_KILL_GRACE_S))
        try:
            async with asyncio.timeout(grace_s + 5):
                await runtime.stop_container(running.id, timeout_s=grace_s)
        except TimeoutError:
            log.warning("pod %s: container %s did not stop within %.0fs", pod["metadata"]["uid"], name,
                        grace_s)

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
        await self._restart(node, pod, runtime, sandbox, container, history, waiting, requeues)

    async def _restart(self, node: NodeContext, pod: dict[str, Any], runtime: Runtime,
                       sandbox: SandboxInfo, container: dict[str, Any], history: list[ContainerInfo],
                       waiting: dict[str, tuple[str, str]], requeues: list[float]) -> None:
        """Starts the next attempt of ``container``; a failure becomes its waiting reason."""
        name = str(container.get("name"))
        for old in history[1:]:
            await runtime.remove_container(old.id)  # upstream keeps only the last dead attempt
        attempt = history[0].attempt + 1 if history else 0
        try:
            await self._start(node, pod, runtime, sandbox, container, attempt)
        except RuntimeOperationError as e:
            waiting[name] = (e.reason, e.message)
            requeues.append(self._retry_after(pod, container, e.reason))
            # Upstream's startContainer records "Error: <the error's text>": the error's name for
            # images ("Error: ErrImagePull"), the runtime's or the config's message otherwise.
            detail = e.reason if e.reason in IMAGE_ERRORS else e.message
            self._record(node, pod, "Warning", "Failed", f"Error: {detail}")

    def _retry_after(self, pod: dict[str, Any], container: dict[str, Any], reason: str) -> float:
        if reason == ERR_IMAGE_PULL:
            return _RECHECK_AFTER_PULL_FAILURE_S
        if reason == IMAGE_PULL_BACKOFF:
            remaining = self.images.backoff_remaining(str(pod["metadata"]["uid"]),
                                                      str(container.get("image") or ""))
            return max(remaining, _RECHECK_AFTER_PULL_FAILURE_S)
        return _RETRY_FAILED_START_S

    async def _refresh_volumes(self, node: NodeContext, pod: dict[str, Any]) -> None:
        """Rewrites configMap/secret/projected volume contents at most every resync period, as
        upstream's kubelet picks up changed objects on its periodic sync."""
        uid = str(pod["metadata"]["uid"])
        now = time.monotonic()
        if node.inputs is None or now - self._refreshed_at.get(uid, now) < _VOLUME_REFRESH_S:
            self._refreshed_at.setdefault(uid, now)
            return
        self._refreshed_at[uid] = now
        try:
            await node.inputs.refresh(pod)
        except (RuntimeOperationError, OSError) as e:
            log.warning("pod %s: refreshing volumes failed: %s", uid, e)

    async def _start(self, node: NodeContext, pod: dict[str, Any], runtime: Runtime,
                     sandbox: SandboxInfo, container: dict[str, Any], attempt: int) -> None:
        name = str(container.get("name"))

        def record(event_type: EventType, reason: str, message: str) -> None:
            self._record(node, pod, event_type, reason, message)

        pod_ip = node.host_ip if (pod.get("spec") or {}).get("hostNetwork") else sandbox.ip
        inputs = None
        if node.inputs is not None:
            try:
                inputs = await self.policies.for_pod(pod).container_inputs(
                    node.inputs, pod, container, host_ip=node.host_ip, pod_ip=pod_ip,
                    warn=partial(record, "Warning"))
            except VolumeMountError as e:
                record("Warning", e.event_reason, e.message)
                raise
        image_ref = await self.images.ensure(runtime, pod, container, record)
        created = await runtime.create_container(sandbox, pod, container, attempt=attempt,
                                                 image_ref=image_ref, inputs=inputs)
        self._record(node, pod, "Normal", "Created", f"Created container {name}")
        await runtime.start_container(created.id)
        self._record(node, pod, "Normal", "Started", f"Started container {name}")
        failure = await run_post_start_hook(pod, runtime, container, created.id, pod_ip)
        if failure is not None:  # upstream kills the container; the restart policy takes over
            record("Warning", "FailedPostStartHook", failure)
            await runtime.stop_container(created.id, timeout_s=_MIN_KILL_GRACE_S)
            raise RuntimeOperationError("PostStartHookError", failure)

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
        await self.forget(runtime, str(metadata["uid"]), node)

    async def _stop_all(self, node: NodeContext, pod: dict[str, Any], runtime: Runtime, *,
                        grace_s: float, announce: bool) -> None:
        uid = str(pod["metadata"]["uid"])
        self.probes.forget_pod(uid)  # a stopping pod is not probed (no liveness kills meanwhile)
        live = [c for c in await runtime.list_containers(pod_uid=uid) if c.state != "exited"]
        for container in live:
            if announce:
                self._record(node, pod, "Normal", "Killing", f"Stopping container {container.name}")
        if live and announce:
            spent = await run_pre_stop_hooks(pod, runtime, live, grace_s=grace_s,
                                             record=partial(self._record, node, pod))
            grace_s = max(grace_s - spent, float(_MIN_KILL_GRACE_S))  # upstream's minimum after preStop
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

    async def forget(self, runtime: Runtime, uid: str, node: NodeContext | None = None) -> None:
        """Removes every trace of pod ``uid`` from the runtime, the node's volume directories
        and the kubelet's memory."""
        for container in await runtime.list_containers(pod_uid=uid):
            await runtime.stop_container(container.id, timeout_s=0)
            await runtime.remove_container(container.id)
        for sandbox in await runtime.list_sandboxes():
            if sandbox.pod.uid == uid:
                await runtime.remove_sandbox(sandbox.id)
        self.backoff.forget_pod(uid)
        for policy in self.policies.all():
            policy.forget(uid)
        self.images.forget_pod(uid)
        self.probes.forget_pod(uid)
        self.status.forget(uid)
        self._refreshed_at.pop(uid, None)
        if node is not None:
            node.admission.release(uid)
        if node is not None and node.inputs is not None:
            await node.inputs.cleanup(uid)

    def _record(self, node: NodeContext, pod: dict[str, Any], event_type: EventType, reason: str,
                message: str) -> None:
        self.events.emit(node.name, pod, event_type, reason, message)


