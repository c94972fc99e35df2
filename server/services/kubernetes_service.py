"""The ``kubernetes`` Service of tenant system, namespace default, and its endpoints: the API servers.

Upstream's pkg/controlplane kubernetes-service controller keeps Service ``default/kubernetes``
(port ``https`` 443 → the secure port, the range's first address) and, with its lease endpoint
reconciler (the default ``--endpoint-reconciler-type=lease``), the Endpoints and EndpointSlice
``kubernetes`` listing every live API server: each server writes a lease under
``/registry/masterleases/`` that lives ``ttl`` seconds and renews it every ``interval``; the
endpoints list the servers whose leases have not expired, so a server that stops drops out (at
once when it stops cleanly: it removes its own lease). Several servers on one machine (arktos-up
with APISERVER_COUNT>1) differ by port: the Endpoints get one subset per port, the EndpointSlices
one slice per port (``kubernetes``, then ``kubernetes-<port>``).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import orjson

from server.errors import AlreadyExists, ApiError, Invalid, NotFound
from server.registry.catalogue import Catalogue
from server.registry.keys import SYSTEM_TENANT, Scope, object_key
from server.registry.store import GenericStore, WriteOptions
from server.schema.endpoint_rules import non_special_ip_errors
from server.storage.interface import Backend, KeyNotFoundError, RevisionConflictError, StorageError
from server.storage.keys import REGISTRY_PREFIX
from server.watchcache import WatchCache

log = logging.getLogger(__name__)

SERVICE_NAME = "kubernetes"
NAMESPACE = "default"
_LEASE_PREFIX = f"{REGISTRY_PREFIX}masterleases/"
_SERVICE_NAME_LABEL = "kubernetes.io/service-name"
_SCOPE = Scope(SYSTEM_TENANT, NAMESPACE)


@dataclass(frozen=True, slots=True, order=True)
class ApiEndpoint:
    """Where pods reach one API server: its advertise address and secure port."""

    address: str
    port: int

    @property
    def lease_key(self) -> str:
        return f"{_LEASE_PREFIX}{self.address}:{self.port}"


@dataclass(frozen=True, slots=True)
class KubernetesServiceConfig:
    endpoint: ApiEndpoint
    service_ip: str
    interval: float = 10.0  # upstream's endpoint reconcile interval
    ttl: float = 15.0  # upstream's master lease TTL


class KubernetesService:
    def __init__(self, config: KubernetesServiceConfig, *, store: GenericStore, cache: WatchCache,
                 backend: Backend, catalogue: Catalogue) -> None:
        self._config = config
        self._store = store
        self._cache = cache
        self._backend = backend
        self._catalogue = catalogue

    async def run(self) -> None:
        """Reconcile every interval until cancelled; then remove this server's lease (upstream's
        RemoveEndpoints on shut-down) so the endpoints drop it at once."""
        try:
            while True:
                await asyncio.sleep(self._config.interval)
                await self.try_reconcile()
        finally:
            with contextlib.suppress(Exception):
                async with asyncio.timeout(5):
                    await self.remove_self()

    async def try_reconcile(self) -> None:
        """`reconcile`, its failure logged (the next round tries again)."""
        try:
            await self.reconcile()
        except (ApiError, StorageError, OSError) as e:
            log.warning("reconciling the kubernetes service failed: %s", e)

    async def reconcile(self) -> None:
        # The lease first: a failure to write the Service must not keep this server unlisted.
        await self._renew_lease()
        await self._write_endpoints(await self.live_endpoints())
        await self._ensure_service()

    async def remove_self(self) -> None:
        with contextlib.suppress(KeyNotFoundError):
            await self._backend.delete(self._config.endpoint.lease_key)
        await self._write_endpoints(await self.live_endpoints())

    # -- leases -----------------------------------------------------------------------------------
    async def _renew_lease(self) -> None:
        endpoint = self._config.endpoint
        value = orjson.dumps({"kind": "MasterLease",
                              "metadata": {"name": f"{endpoint.address}:{endpoint.port}"},
                              "address": endpoint.address, "port": endpoint.port,
                              "expires": time.time() + self._config.ttl})
        current = await self._backend.get(endpoint.lease_key)
        try:
            if current is None:
                await self._backend.create(endpoint.lease_key, value)
            else:
                await self._backend.update(endpoint.lease_key, value, expected_revision=current.mod_revision)
        except (RevisionConflictError, KeyNotFoundError):
            pass  # another write of the same lease (a restarted server): the next round renews

    async def live_endpoints(self) -> list[ApiEndpoint]:
        """The servers whose leases have not expired; expired leases are removed."""
        page = await self._backend.list(_LEASE_PREFIX)
        now = time.time()
        live = []
        for kv in page.items:
            try:
                lease = orjson.loads(kv.value)
                endpoint = ApiEndpoint(str(lease["address"]), int(lease["port"]))
                expired = float(lease["expires"]) < now
            except (orjson.JSONDecodeError, KeyError, TypeError, ValueError):
                continue
            if not expired:
                if not non_special_ip_errors(endpoint.address, "address"):
                    live.append(endpoint)  # a loopback one no pod could reach, nor may be listed
                continue
            with contextlib.suppress(KeyNotFoundError, RevisionConflictError):
                await self._backend.delete(kv.key, expected_revision=kv.mod_revision)
        return sorted(live)

    # -- objects ----------------------------------------------------------------------------------
    def _record(self, group: str, version: str, plural: str) -> Any:
        record = self._catalogue.lookup(group, version, plural)
        if record is None:
            raise NotFound.object(plural, SERVICE_NAME, group)
        return record

    async def _ensure_service(self) -> None:
        services = self._record("", "v1", "services")
        service = {
            "apiVersion": "v1", "kind": "Service",
            "metadata": {"name": SERVICE_NAME, "namespace": NAMESPACE,
                         "labels": {"component": "apiserver", "provider": "kubernetes"}},
            "spec": {"type": "ClusterIP", "clusterIP": self._config.service_ip, "sessionAffinity": "None",
                     "ports": [{"name": "https", "port": 443, "protocol": "TCP",
                                "targetPort": self._config.endpoint.port}]},
        }
        key = object_key(services, _SCOPE, SERVICE_NAME)
        if await self._backend.get(key) is not None:
            return
        try:
            await self._store.create(services, _SCOPE, service, WriteOptions())
            log.info("created the kubernetes service at %s", self._config.service_ip)
        except (AlreadyExists, Invalid):
            # Another server created it first (its address is then taken: Invalid): fine if so.
            if await self._backend.get(key) is None:
                raise

    async def _write_endpoints(self, live: list[ApiEndpoint]) -> None:
        by_port: dict[int, list[str]] = {}
        for endpoint in live:
            by_port.setdefault(endpoint.port, []).append(endpoint.address)
        subsets = [{"addresses": [{"ip": ip} for ip in sorted(addresses)],
                    "ports": [{"name": "https", "port": port, "protocol": "TCP"}]}
                   for port, addresses in sorted(by_port.items())]
        await self._put(self._record("", "v1", "endpoints"), SERVICE_NAME, {
            "apiVersion": "v1", "kind": "Endpoints",
            "metadata": {"name": SERVICE_NAME, "namespace": NAMESPACE,
                         "labels": {"endpointslice.kubernetes.io/skip-mirror": "true"}},
            "subsets": subsets,
        }, lambda current: current.get("subsets") or [])
        slices = self._record("discovery.k8s.io", "v1", "endpointslices")
        names = []
        for index, (port, addresses) in enumerate(sorted(by_port.items()) or [(0, [])]):
            name = SERVICE_NAME if index == 0 else f"{SERVICE_NAME}-{port}"
            names.append(name)
            await self._put(slices, name, {
                "apiVersion": "discovery.k8s.io/v1", "kind": "EndpointSlice", "addressType": "IPv4",
                "metadata": {"name": name, "namespace": NAMESPACE,
                             "labels": {_SERVICE_NAME_LABEL: SERVICE_NAME}},
                "endpoints": [{"addresses": [ip], "conditions": {"ready": True}} for ip in sorted(addresses)],
                "ports": [{"name": "https", "port": port, "protocol": "TCP"}] if port else [],
            }, lambda current: [current.get("endpoints") or [], current.get("ports") or []])
        await self._drop_other_slices(slices, set(names))

    async def _put(self, resource: Any, name: str, desired: dict[str, Any],
                   content: Callable[[dict[str, Any]], Any]) -> None:
        """Create ``desired`` or make the stored object say the same; no write when it does."""
        try:
            current = self._store.get(resource, _SCOPE, name).obj
        except NotFound:
            try:
                await self._store.create(resource, _SCOPE, desired, WriteOptions())
                return
            except AlreadyExists:
                current = {}
        if current and content(current) == content(desired):
            return

        def replace(existing: dict[str, Any]) -> dict[str, Any]:
            metadata = {**existing["metadata"], "labels": {**(existing["metadata"].get("labels") or {}),
                                                          **desired["metadata"]["labels"]}}
            metadata.pop("resourceVersion", None)
            return {**desired, "metadata": metadata}

        await self._store.guaranteed_update(resource, _SCOPE, name, replace, options=WriteOptions())

    async def _drop_other_slices(self, slices: Any, keep: set[str]) -> None:
        prefix = f"{REGISTRY_PREFIX}{slices.key_segment}/{SYSTEM_TENANT}/{NAMESPACE}/"
        cache = self._cache.resource(slices.key_segment).objects
        for key, cached in list(cache.items()):
            labels = (cached.obj.get("metadata") or {}).get("labels") or {}
            name = key[len(prefix):] if key.startswith(prefix) else ""
            if (name.startswith(f"{SERVICE_NAME}-") and name not in keep
                    and labels.get(_SERVICE_NAME_LABEL) == SERVICE_NAME
                    and "endpointslice.kubernetes.io/managed-by" not in labels):
                with contextlib.suppress(NotFound):
                    await self._store.delete(slices, _SCOPE, name, {}, WriteOptions())
