"""The `kubelet.runtime.Runtime` protocol over a real CRI endpoint (containerd), through `cri.client`.

Upstream's ``kuberuntime`` manager in miniature: image pulls honour ``imagePullPolicy`` against the
runtime's store (``ImageStatus`` first, as upstream's image manager), sandboxes and containers are
created from the configs `kubelet.cri_specs` builds, and CRI states/timestamps are mapped onto the
protocol's records. The runtime stays the source of truth: everything listed comes from
``ListPodSandbox``/``ListContainers``, with the pod uid read back from the labels we set, so a
restarted kubelet adopts what is running.

``on_change`` feeds a small PLEG (upstream's ``GenericPLEG``, 1 s relist): a background task lists
containers every ``relist_s`` and calls the listeners with the pod uid of each container that
appeared running/exited, changed state or disappeared. It starts with the first listener (or the
first runtime call made inside an event loop) and stops in `CriRuntime.aclose`.
"""

from __future__ import annotations

import asyncio
import logging
import math
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

from apis.images import default_pull_policy
from cri.client import CriClient
from cri.errors import CriError, NotFound, Unavailable
from cri.stubs import pb
from kubelet.container_env import CONFIG_ERROR
from kubelet.cri_specs import (
    CONTAINER_IMAGE_ANNOTATION,
    POD_NAME_LABEL,
    POD_NAMESPACE_LABEL,
    POD_UID_LABEL,
    TENANT_LABEL,
    build_container_config,
    build_sandbox_config,
)
from kubelet.pod_hosts import HostnameError
from kubelet.runtime import (
    ChangeListener,
    ContainerInfo,
    ContainerInputs,
    ContainerState,
    ExecSyncResult,
    ImageResult,
    PodRef,
    RuntimeHealth,
    RuntimeOperationError,
    SandboxDns,
    SandboxInfo,
    SandboxState,
    pod_ref,
)
from kubelet.security_context import ImageUser, SecurityContextError, SecuritySettings, verify_run_as_non_root

log = logging.getLogger(__name__)

PLEG_RELIST_S = 1.0  # upstream's plegRelistPeriod
PULL_TIMEOUT_S = 60.0
_STATES: dict[int, ContainerState] = {
    pb.CONTAINER_CREATED: "created", pb.CONTAINER_RUNNING: "running", pb.CONTAINER_EXITED: "exited",
}


def _seconds(nanos: int) -> float:
    return nanos / 1e9 if nanos > 0 else 0.0


def _upstream_error(error: CriError) -> str:
    """The message upstream shows for a failed CRI call (a gRPC status's text)."""
    return f"rpc error: code = {error.code.title().replace('_', '')} desc = {error.message}"


class CriRuntime:
    """Implements `kubelet.runtime.Runtime` for one CRI endpoint (``unix:///run/containerd.sock``)."""

    def __init__(self, name: str, endpoint: str, *, log_root: Path, cgroup_parent: str = "",
                 relist_s: float = PLEG_RELIST_S, pull_timeout_s: float = PULL_TIMEOUT_S,
                 security: SecuritySettings | None = None, cluster_domain: str = "") -> None:
        """``cluster_domain``: --cluster-domain, for ``setHostnameAsFQDN`` pods' hostnames."""
        self.name = name
        self.cluster_domain = cluster_domain
        self.security = security or SecuritySettings()
        self.endpoint = endpoint
        self.log_root = log_root
        self.cgroup_parent = cgroup_parent
        self.relist_s = relist_s
        self.pull_timeout_s = pull_timeout_s
        self._client: CriClient | None = None  # made inside the event loop (grpc.aio binds to it)
        self._version = "containerd://unknown"
        self._listeners: list[ChangeListener] = []
        self._pleg: asyncio.Task[None] | None = None
        self._sandbox_ips: dict[str, str] = {}  # a sandbox's IP never changes; saves a status call

    @property
    def cri(self) -> CriClient:
        if self._client is None:
            self._client = CriClient(self.endpoint)
            self._start_pleg()
        return self._client

    def runtime_version(self) -> str:
        """``<runtime>://<version>`` from the last CRI ``Version`` (fetched by `health`)."""
        return self._version

    async def health(self) -> RuntimeHealth:
        try:
            version = await self.cri.version()
            self._version = f"{version.runtime_name}://{version.runtime_version}"
            status = await self.cri.status()
        except CriError as e:
            return RuntimeHealth(False, "ContainerRuntimeDown", f"container runtime is down: {e}")
        conditions = {c.type: c for c in status.status.conditions}
        for kind, reason in (("RuntimeReady", "ContainerRuntimeNotReady"),
                             ("NetworkReady", "NetworkPluginNotReady")):
            condition = conditions.get(kind)
            if condition is None or not condition.status:
                detail = "not reported" if condition is None else f"{condition.reason}: {condition.message}"
                return RuntimeHealth(False, reason, f"{kind}=false {detail}")
        return RuntimeHealth(True)

    def on_change(self, listener: ChangeListener) -> None:
        self._listeners.append(listener)
        self._start_pleg()

    async def aclose(self) -> None:
        task, self._pleg = self._pleg, None
        if task is not None:
            task.cancel()
            await asyncio.gather(task, return_exceptions=True)
        client, self._client = self._client, None
        if client is not None:
            await client.close()

    # -- images ---------------------------------------------------------------------------------

    async def ensure_image(self, image: str, pull_policy: str) -> ImageResult:
        policy = pull_policy or default_pull_policy(image)
        try:
            present = await self.cri.image_status(image)
        except CriError as e:
            raise RuntimeOperationError("ErrImageInspect",
                                        f"Failed to inspect image {image!r}: {e}") from None
        if present is not None and policy != "Always":
            return ImageResult(image_ref=str(present.id), pulled=False)
        if present is None and policy == "Never":
            raise RuntimeOperationError(
                "ErrImageNeverPull", f'Container image "{image}" is not present with pull policy of Never')
        try:
            ref = await self.cri.pull_image(image, deadline=self.pull_timeout_s)
        except CriError as e:
            # Also under Always with the image present: upstream's image manager reports the failed
            # pull (ErrImagePull, then ImagePullBackOff) rather than run what it has.
            raise RuntimeOperationError("ErrImagePull", _upstream_error(e)) from None
        return ImageResult(image_ref=ref, pulled=True)

    # -- sandboxes ------------------------------------------------------------------------------

    async def run_sandbox(self, pod: dict[str, Any], *, dns: SandboxDns | None = None) -> SandboxInfo:
        ref = pod_ref(pod)
        try:
            # A new sandbox for a pod that had one gets the next attempt (containerd names sandboxes
            # by name/namespace/uid/attempt), as upstream's kubelet counts them.
            earlier = await self.cri.list_pod_sandbox({POD_UID_LABEL: ref.uid})
            attempt = max((s.metadata.attempt + 1 for s in earlier), default=0)
            config = build_sandbox_config(pod, log_root=self.log_root, cgroup_parent=self.cgroup_parent,
                                          attempt=attempt, dns=dns, cluster_domain=self.cluster_domain)
            await asyncio.to_thread(Path(config.log_directory).mkdir, parents=True, exist_ok=True)
            sandbox_id = await self.cri.run_pod_sandbox(config)
            status = (await self.cri.pod_sandbox_status(sandbox_id)).status
        except CriError as e:
            raise RuntimeOperationError("CreatePodSandboxError",
                                        f"Failed to create pod sandbox: {_upstream_error(e)}") from None
        except (SecurityContextError, HostnameError) as e:
            raise RuntimeOperationError("CreatePodSandboxError",
                                        f"Failed to create pod sandbox: {e}") from None
        self._sandbox_ips[sandbox_id] = str(status.network.ip)
        return SandboxInfo(id=sandbox_id, pod=ref, state=self._sandbox_state(status.state),
                           ip=str(status.network.ip), created_at=_seconds(status.created_at))

    async def stop_sandbox(self, sandbox_id: str) -> None:
        try:
            await self.cri.stop_pod_sandbox(sandbox_id)
        except NotFound:
            pass  # already gone: stopping is idempotent, as in upstream's KillPod

    async def remove_sandbox(self, sandbox_id: str) -> None:
        try:
            await self.cri.stop_pod_sandbox(sandbox_id)
            await self.cri.remove_pod_sandbox(sandbox_id)  # removes the sandbox's containers too
        except NotFound:
            pass
        self._sandbox_ips.pop(sandbox_id, None)

    async def list_sandboxes(self) -> list[SandboxInfo]:
        sandboxes = await self.cri.list_pod_sandbox()
        infos = []
        for sandbox in sandboxes:
            ip = self._sandbox_ips.get(sandbox.id)
            if ip is None:
                try:
                    ip = str((await self.cri.pod_sandbox_status(sandbox.id)).status.network.ip)
                except NotFound:
                    continue
                self._sandbox_ips[sandbox.id] = ip
            infos.append(SandboxInfo(id=sandbox.id, pod=self._pod_of(sandbox),
                                     state=self._sandbox_state(sandbox.state), ip=ip,
                                     created_at=_seconds(sandbox.created_at)))
        return infos

    @staticmethod
    def _sandbox_state(state: int) -> SandboxState:
        return "ready" if state == pb.SANDBOX_READY else "notready"

    @staticmethod
    def _pod_of(sandbox: pb.PodSandbox) -> PodRef:
        labels = sandbox.labels
        return PodRef(uid=labels.get(POD_UID_LABEL, sandbox.metadata.uid),
                      name=labels.get(POD_NAME_LABEL, sandbox.metadata.name),
                      namespace=labels.get(POD_NAMESPACE_LABEL, sandbox.metadata.namespace),
                      tenant=labels.get(TENANT_LABEL, "system"))

    # -- containers -----------------------------------------------------------------------------

    async def create_container(self, sandbox: SandboxInfo, pod: dict[str, Any],
                               container: dict[str, Any], *, attempt: int,
                               image_ref: str, inputs: ContainerInputs | None = None) -> ContainerInfo:
        """``inputs`` carries the env and volume mounts the kubelet resolved (see `kubelet.cri_specs`).
        A security context the node cannot apply — ``runAsNonRoot`` over a root image, a Localhost
        seccomp profile without a name — fails with ``CreateContainerConfigError``, as upstream's
        ``generateContainerConfig`` does."""
        try:
            current = await self.cri.pod_sandbox_status(sandbox.id)
            image_user = await self.image_user(pod, container, image_ref)
            sandbox_config = build_sandbox_config(pod, log_root=self.log_root,
                                                  cgroup_parent=self.cgroup_parent,
                                                  attempt=current.status.metadata.attempt,
                                                  cluster_domain=self.cluster_domain)
            config = self.container_config(pod, container, attempt=attempt, image_ref=image_ref,
                                           inputs=inputs, image_user=image_user)
        except CriError as e:
            raise RuntimeOperationError("CreateContainerError", _upstream_error(e)) from None
        except (SecurityContextError, HostnameError) as e:
            raise RuntimeOperationError(CONFIG_ERROR, str(e)) from None
        try:
            container_id = await self.cri.create_container(sandbox.id, config, sandbox_config)
            return await self._info(container_id, sandbox.id)
        except CriError as e:
            raise RuntimeOperationError("CreateContainerError", _upstream_error(e)) from None

    async def image_user(self, pod: dict[str, Any], container: dict[str, Any], image_ref: str) -> ImageUser:
        """Who the image runs as (CRI ``ImageStatus``, upstream's ``getImageUser``), after checking
        ``runAsNonRoot`` against it; raises `SecurityContextError`."""
        image = image_ref or str(container.get("image") or "")
        user = ImageUser.of(await self.cri.image_status(image))
        verify_run_as_non_root(pod, container, user)
        return user

    def container_config(self, pod: dict[str, Any], container: dict[str, Any], *, attempt: int,
                         image_ref: str, inputs: ContainerInputs | None,
                         image_user: ImageUser | None = None) -> pb.ContainerConfig:
        """The CRI config of one container attempt (the VM runtime's adapter builds a VM's)."""
        return build_container_config(pod, container, attempt=attempt, image_ref=image_ref, inputs=inputs,
                                      image_user=image_user, security=self.security)

    async def exec_sync(self, container_id: str, cmd: list[str], *, timeout_s: float) -> ExecSyncResult:
        try:
            result = await self.cri.exec_sync(container_id, cmd, timeout_seconds=max(1, math.ceil(timeout_s)))
        except CriError as e:
            raise RuntimeOperationError("ExecSyncError", _upstream_error(e)) from None
        return ExecSyncResult(result.exit_code, result.stdout, result.stderr)

    async def start_container(self, container_id: str) -> None:
        try:
            await self.cri.start_container(container_id)
        except CriError as e:
            raise RuntimeOperationError("RunContainerError", _upstream_error(e)) from None

    async def stop_container(self, container_id: str, *, timeout_s: float) -> None:
        try:
            await self.cri.stop_container(container_id, grace_seconds=max(0, math.ceil(timeout_s)))
        except NotFound:
            pass

    async def remove_container(self, container_id: str) -> None:
        try:
            await self.cri.remove_container(container_id)
        except NotFound:
            pass

    async def list_containers(self, *, pod_uid: str | None = None) -> list[ContainerInfo]:
        selector = {POD_UID_LABEL: pod_uid} if pod_uid is not None else None
        listed = await self.cri.list_containers(label_selector=selector)
        infos = await asyncio.gather(*(self._info_or_none(c.id, c.pod_sandbox_id) for c in listed))
        return [info for info in infos if info is not None]

    async def _info_or_none(self, container_id: str, sandbox_id: str) -> ContainerInfo | None:
        try:
            return await self._info(container_id, sandbox_id)
        except NotFound:
            return None  # removed between the list and the status call

    async def _info(self, container_id: str, sandbox_id: str) -> ContainerInfo:
        status = (await self.cri.container_status(container_id)).status
        return ContainerInfo(
            id=status.id, sandbox_id=sandbox_id, pod_uid=status.labels.get(POD_UID_LABEL, ""),
            name=status.metadata.name, attempt=int(status.metadata.attempt),
            state=_STATES.get(status.state, "unknown"),
            image=status.annotations.get(CONTAINER_IMAGE_ANNOTATION) or status.image.image,
            image_ref=status.image_ref, created_at=_seconds(status.created_at),
            started_at=_seconds(status.started_at), finished_at=_seconds(status.finished_at),
            exit_code=int(status.exit_code), reason=status.reason, message=status.message,
            log_path=status.log_path)

    # -- PLEG -----------------------------------------------------------------------------------

    def _start_pleg(self) -> None:
        if self._pleg is not None or not self._listeners:
            return
        try:
            loop = asyncio.get_running_loop()
        except RuntimeError:
            return  # registered outside a loop: the first runtime call (``cri``) starts it
        self._pleg = loop.create_task(self._relist_forever(), name=f"pleg-{self.name}")

    async def _relist_forever(self) -> None:
        seen: dict[str, tuple[int, str]] | None = None  # container id -> (CRI state, pod uid)
        while True:
            try:
                current = {c.id: (int(c.state), c.labels.get(POD_UID_LABEL, ""))
                           for c in await self.cri.list_containers()}
            except (CriError, Unavailable) as e:
                log.warning("PLEG relist of %s failed: %s", self.name, e)
                current = None
            if current is not None:
                if seen is not None:
                    self._notify(self._changed_pods(seen, current))
                seen = current
            await asyncio.sleep(self.relist_s)

    @staticmethod
    def _changed_pods(before: Mapping[str, tuple[int, str]],
                      after: Mapping[str, tuple[int, str]]) -> list[str]:
        """Pods with a container that started, exited or went away since the last relist (a newly
        created container is not news: the kubelet made it)."""
        pods: list[str] = []
        for container_id, (state, uid) in after.items():
            old = before.get(container_id)
            if (old is None and state != pb.CONTAINER_CREATED) or (old is not None and old[0] != state):
                pods.append(uid)
        pods.extend(uid for container_id, (_, uid) in before.items() if container_id not in after)
        return list(dict.fromkeys(p for p in pods if p))

    def _notify(self, pod_uids: list[str]) -> None:
        for uid in pod_uids:
            for listener in self._listeners:
                try:
                    listener(uid)
                except Exception:  # a listener's bug must not stop the PLEG
                    log.exception("PLEG listener failed for pod %s", uid)

    # -- streaming (kubelet.streaming.StreamingRuntime) -------------------------------------------

    async def exec_url(self, container_id: str, cmd: Sequence[str], *, stdin: bool, stdout: bool,
                       stderr: bool, tty: bool) -> str:
        """CRI ``Exec``: a one-time URL on containerd's stream server for an interactive command."""
        try:
            return await self.cri.exec_url(container_id, cmd, stdin=stdin, stdout=stdout, stderr=stderr,
                                           tty=tty)
        except CriError as e:
            raise RuntimeOperationError("ExecError", _upstream_error(e)) from None

    async def attach_url(self, container_id: str, *, stdin: bool, stdout: bool, stderr: bool,
                         tty: bool) -> str:
        try:
            return await self.cri.attach_url(container_id, stdin=stdin, stdout=stdout, stderr=stderr, tty=tty)
        except CriError as e:
            raise RuntimeOperationError("AttachError", _upstream_error(e)) from None

    async def port_forward_url(self, sandbox_id: str, ports: Sequence[int]) -> str:
        try:
            return await self.cri.port_forward_url(sandbox_id, ports)
        except CriError as e:
            raise RuntimeOperationError("PortForwardError", _upstream_error(e)) from None
