"""What the pod sync asks before creating a container: its env and its volume mounts.

The single entry point over `kubelet.container_env` (env resolution), `kubelet.service_env`
(service variables), `kubelet.volumes` (volume setup) and `kubelet.pod_hosts` (the managed
/etc/hosts), so the pod worker makes one call per container, as upstream's
``GenerateRunContainerOptions`` is one call. Volumes are set up on a
pod's first container (and again when a later call finds them missing: a kubelet restart keeps
the directories); `refresh` rewrites the API data volumes, `cleanup` unmounts and removes the pod's
directory, `remove_orphans` does that for pods deleted while the kubelet was down.

Failures are `RuntimeOperationError`s: env problems carry upstream's ``CreateContainerConfigError``;
volume problems are `VolumeMountError` (reason ``ContainerCreating``, as upstream leaves the
container waiting while ``MountVolume.SetUp`` fails; its `event_reason` is ``FailedMount``).
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from client.rest import ApiClient
from kubelet.container_env import CONFIG_ERROR, EnvContext, WarningSink, resolve_env
from kubelet.pod_hosts import mounts_own_hosts_file, write_hosts_file
from kubelet.pod_sources import ApiObjectSource, ObjectSource
from kubelet.runtime import ContainerInputs, RuntimeOperationError
from kubelet.service_env import service_env
from kubelet.volumes.manager import NamedVolumeError, PodVolumes, PreparedVolume, container_mounts
from kubelet.volumes.payloads import PayloadContext, VolumeError
from kubelet.volumes.tokens import ServiceAccountTokens

log = logging.getLogger(__name__)


class VolumeMountError(RuntimeOperationError):
    """A volume could not be set up; the container keeps waiting in ``ContainerCreating``."""

    event_reason = "FailedMount"

    def __init__(self, message: str) -> None:
        super().__init__("ContainerCreating", message)


class PodInputs:
    """Resolves env and prepares volumes for the pods of one node."""

    def __init__(self, client: ApiClient | None, *, root_dir: Path, node_allocatable: Mapping[str, str],
                 source: ObjectSource | None = None, service_links: bool = True,
                 cluster_domain: str = "") -> None:
        if source is None:
            if client is None:
                raise ValueError("PodInputs needs an ApiClient or an ObjectSource")
            source = ApiObjectSource(client)
        self.client = client
        self.source = source
        self.allocatable = dict(node_allocatable)
        self.volumes = PodVolumes(root_dir)
        self.tokens = ServiceAccountTokens(source)
        self.service_links = service_links and client is not None
        self.cluster_domain = cluster_domain  # --cluster-domain: a pod's subdomain FQDN in /etc/hosts
        self._prepared: dict[str, dict[str, PreparedVolume]] = {}
        self._locks: dict[str, asyncio.Lock] = {}

    def _context(self, pod: dict[str, Any], host_ip: str = "", pod_ip: str = "") -> PayloadContext:
        return PayloadContext(pod=pod, source=self.source, tokens=self.tokens, allocatable=self.allocatable,
                              host_ip=host_ip, pod_ip=pod_ip)

    async def prepare_volumes(self, pod: dict[str, Any]) -> dict[str, PreparedVolume]:
        """Sets up the pod's volumes once (raises `VolumeMountError`); later calls reuse them."""
        uid = str((pod.get("metadata") or {}).get("uid", ""))
        async with self._locks.setdefault(uid, asyncio.Lock()):
            prepared = self._prepared.get(uid)
            if prepared is None or not all(v.host_path.exists() for v in prepared.values()):
                try:
                    prepared = await self.volumes.setup(self._context(pod))
                except NamedVolumeError as e:
                    raise VolumeMountError(str(e)) from e
                self._prepared[uid] = prepared
            return prepared

    async def for_container(self, pod: dict[str, Any], container: dict[str, Any], *, host_ip: str,
                            pod_ip: str, warn: WarningSink | None = None) -> ContainerInputs:
        """The container's env (literals) and mounts; raises `RuntimeOperationError`."""
        volumes = await self.prepare_volumes(pod)
        services = await service_env(self.client, pod) if self.service_links and self.client else {}
        context = EnvContext(source=self.source, host_ip=host_ip, pod_ip=pod_ip,
                             pod_ips=(pod_ip,) if pod_ip else (), allocatable=self.allocatable,
                             service_env=services, warn=warn)
        env = await resolve_env(pod, container, context)
        try:
            mounts = await asyncio.to_thread(container_mounts, container, volumes, dict(env))
            if pod_ip and not mounts_own_hosts_file(container):
                # Upstream mounts its /etc/hosts once the pod has an IP, unless the container
                # mounts one itself.
                pod_dir = self.volumes.pod_dir(str((pod.get("metadata") or {}).get("uid", "")))
                mounts += (await asyncio.to_thread(write_hosts_file, pod_dir, pod, (pod_ip,),
                                                   cluster_domain=self.cluster_domain),)
        except (VolumeError, OSError) as e:
            raise RuntimeOperationError(CONFIG_ERROR, str(e)) from e
        return ContainerInputs(env=tuple(env), mounts=mounts)

    async def refresh(self, pod: dict[str, Any]) -> None:
        """Rewrites configMap/secret/downwardAPI/projected contents (new data, renewed tokens). A pod
        this process did not set up (adopted after a restart) has its volumes set up again, which
        keeps the tmpfs mounts it has and rewrites only what changed."""
        uid = str((pod.get("metadata") or {}).get("uid", ""))
        if uid not in self._prepared:
            await self.prepare_volumes(pod)
            return
        async with self._locks.setdefault(uid, asyncio.Lock()):
            await self.volumes.refresh(self._context(pod))

    async def cleanup(self, pod_uid: str) -> None:
        """Forgets the pod and removes ``<root_dir>/pods/<uid>``."""
        self._prepared.pop(pod_uid, None)
        self._locks.pop(pod_uid, None)
        self.tokens.forget_pod(pod_uid)
        await self.volumes.cleanup(pod_uid)

    async def remove_orphans(self, known: set[str]) -> list[str]:
        """Cleans up the directories (and tmpfs mounts) of pods not in ``known``: pods deleted while
        the kubelet was down. Answers their uids."""
        orphans = await asyncio.to_thread(self.volumes.orphaned_pods, known)
        removed = []
        for uid in orphans:
            try:
                await self.cleanup(uid)
            except OSError as e:  # a mount that will not go must not stop the kubelet's start
                log.warning("removing the volumes of orphaned pod %s failed: %s", uid, e)
                continue
            removed.append(uid)
        return removed
