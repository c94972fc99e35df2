"""The aiohttp application: wiring of storage, watch cache, registry and handlers, and the one
request dispatcher.

Every request goes through `dispatch`: parse what it is about (`request_info`), authenticate,
pass flow control (a seat within its priority level or a 429, and the request timeout: see
server.flowcontrol), answer health, metrics and discovery paths directly, hand resource requests
to `ResourceHandler`, and turn any `ApiError` into a Kubernetes Status response. Nothing else ever
reaches the client: an unexpected exception is logged with its traceback and answered as a bare
500 Status.
"""

from __future__ import annotations

import asyncio
import contextlib
import gc
import logging
import time
from collections.abc import AsyncIterator
from dataclasses import dataclass, field

from aiohttp import web

from apis.kubeconfig import ClientConfig
from server.access import AccessControl
from server.audit import AuditLog
from server.auth.user import UserInfo
from server.authz.escalation_check import RBACEscalationCheck
from server.bootstrap import ensure_system_objects
from server.compaction import CompactionLease, Compactor, CompactorConfig
from server.errors import (
    ApiError,
    InternalError,
    NotFound,
    RequestEntityTooLarge,
    ServiceUnavailable,
    Timeout,
)
from server.flowcontrol.gate import FlowControl, FlowControlConfig
from server.handlers.discovery import DiscoveryEndpoints
from server.handlers.pod_proxy import PodProxy
from server.handlers.rest import ResourceHandler
from server.handlers.reviews import AccessAnswers
from server.handlers.subresources import AUDIT_ANNOTATIONS, RestStorages, SubresourceHandler
from server.handlers.watch import WatchServer
from server.health import PING, HealthCheck, HealthEndpoints, is_health_path
from server.http_protocol import StatusServer
from server.kubelet_connection import KubeletClient, KubeletClientConfig
from server.metrics import ServerMetrics
from server.registry.admission.chain import AdmissionChain, standard_plugins
from server.registry.catalogue import Catalogue, CatalogueChange
from server.registry.keys import SYSTEM_TENANT
from server.registry.lister import Lister
from server.registry.rest import typed_bodies
from server.registry.rest.interface import RestContext
from server.registry.served_schemas import follow_catalogue
from server.registry.store import GenericStore
from server.request_info import RequestInfo, parse_request
from server.resource_providers import ResourceProviderNodes
from server.resources.builtin import builtin_catalogue
from server.schema.schema_set import SchemaSet
from server.schema.validation import Validators
from server.services.allocation import ServiceAllocator
from server.services.claims import IP_SEGMENT, PORT_SEGMENT, Claims
from server.services.kubernetes_service import ApiEndpoint, KubernetesService, KubernetesServiceConfig
from server.services.network_ipam import CIDR_SEGMENT, NetworkIPAM
from server.services.network_ranges import NetworkDirectory, PodNetworkCheck
from server.services.ranges import ServiceRanges
from server.services.repair import DEFAULT_REPAIR_INTERVAL, AllocationRepair
from server.serving import SecurityConfig
from server.storage import Backend, EtcdTLS, open_backend
from server.storage.encryption_config import EncryptionConfig, segment_transformers
from server.storage.interface import (
    StorageError,
    StorageRequestTooLargeError,
    StorageTimeoutError,
    StorageUnavailableError,
)
from server.storage.transforming import TransformingBackend
from server.storage.value_transformers import IdentityTransformer
from server.watchcache import WatchCache

log = logging.getLogger(__name__)


@dataclass(frozen=True, slots=True)
class ServerConfig:
    storage_url: str
    watch_history: int = 10_000
    compaction_interval: float = 300.0
    bookmark_interval: float = 5.0
    security: SecurityConfig = field(default_factory=SecurityConfig)
    kubelet: KubeletClientConfig = field(default_factory=KubeletClientConfig)
    # --encryption-provider-config, loaded; None: nothing is encrypted at rest.
    encryption: EncryptionConfig | None = None
    flow_control: FlowControlConfig = field(default_factory=FlowControlConfig)
    # --etcd-cafile/--etcd-certfile/--etcd-keyfile, for an etcd:// storage URL.
    etcd_tls: EtcdTLS = field(default_factory=EtcdTLS)
    # --resource-providers, loaded: (kubeconfig path, config) of each resource partition whose nodes
    # this tenant partition's pods run on; empty: nodes are this server's own.
    resource_providers: tuple[tuple[str, ClientConfig], ...] = ()
    # --service-cluster-ip-range, --service-node-port-range and --network-service-cidr-pool, and
    # how often their allocations are repaired (upstream: 3 minutes).
    service_ranges: ServiceRanges = field(default_factory=ServiceRanges.parse)
    service_repair_interval: float = DEFAULT_REPAIR_INTERVAL
    # Where pods reach this server (--advertise-address, secure port): published as an endpoint of
    # the `kubernetes` Service; None: this server keeps no `kubernetes` Service.
    api_endpoint: ApiEndpoint | None = None
    # --disable-admission-plugins
    disabled_admission_plugins: frozenset[str] = frozenset()


class ApiServer:
    """Owns the components of one API server process.

    ``catalogue`` is the set of resources this server serves; it may change while the server runs
    (`Catalogue.add` / `Catalogue.remove`: the seam CRDs plug into) and everything derived from it
    — schemas and validators, discovery, OpenAPI, routing, admission, storage transformers —
    follows.
    """

    def __init__(self, config: ServerConfig, *, catalogue: Catalogue | None = None,
                 backend: Backend | None = None) -> None:
        """``backend``: an unstarted store to use instead of opening ``config.storage_url`` (tests
        run several servers in one process on one store this way)."""
        self.config = config
        self.catalogue = catalogue or builtin_catalogue()
        self.schemas = SchemaSet()
        follow_catalogue(self.schemas, self.catalogue)
        self.backend = _transforming(backend or open_backend(config.storage_url, etcd_tls=config.etcd_tls),
                                     config.encryption, self.catalogue)
        self.cache = WatchCache(self.backend, history_size=config.watch_history)
        self.access = AccessControl(config.security, cache=self.cache, catalogue=self.catalogue)
        escalation = RBACEscalationCheck(self.access.authorizer, self.access.rbac, catalogue=self.catalogue)
        self.admission = AdmissionChain(
            standard_plugins(catalogue=self.catalogue, cache=self.cache, authorization=(escalation,),
                             disabled=config.disabled_admission_plugins),
            catalogue=self.catalogue)
        self.validators = Validators(self.schemas)
        self.store = GenericStore(self.backend, self.cache, admission=self.admission,
                                  validators=self.validators, catalogue=self.catalogue)
        self.lister = Lister(self.backend, self.cache)
        ranges = config.service_ranges
        self.networks = NetworkDirectory(self.cache, ranges.cluster_ips)
        self.service_allocator = ServiceAllocator(
            ranges, ips=Claims(self.backend, self.cache, IP_SEGMENT),
            ports=Claims(self.backend, self.cache, PORT_SEGMENT), networks=self.networks)
        self.store.set_write_hooks("", "services", self.service_allocator)
        self.network_ipam = NetworkIPAM(ranges.network_pool, ranges.cluster_ips,
                                        cidrs=Claims(self.backend, self.cache, CIDR_SEGMENT))
        self.store.set_write_hooks("arktos.futurewei.com", "networks", self.network_ipam)
        self.store.set_write_hooks("", "pods", PodNetworkCheck(self.networks))
        self.service_repair = AllocationRepair(self.service_allocator, self.cache,
                                               interval=config.service_repair_interval)
        self.kubernetes_service = None if config.api_endpoint is None else KubernetesService(
            KubernetesServiceConfig(config.api_endpoint, config.service_ranges.kubernetes_service_ip),
            store=self.store, cache=self.cache, backend=self.backend, catalogue=self.catalogue)
        self.watches = WatchServer(self.cache, bookmark_interval=config.bookmark_interval)
        self.flow_control = FlowControl(config.flow_control, count_objects=self._objects_in_scope)
        answers = AccessAnswers(self.access, self.catalogue)
        self.node_source = ResourceProviderNodes(config.resource_providers) \
            if config.resource_providers else None
        storages = RestStorages(RestContext(self.store, self.cache, self.catalogue, access=answers,
                                            nodes=self.node_source),
                                self.catalogue)
        pod_proxy = PodProxy(access=self.access, kubelets=KubeletClient(config.kubelet))
        self.resources = ResourceHandler(catalogue=self.catalogue, store=self.store, lister=self.lister,
                                         cache=self.cache, watches=self.watches,
                                         subresources=SubresourceHandler(storages, pod_proxy),
                                         list_budget=self.flow_control.budget)
        self.discovery = DiscoveryEndpoints(self.catalogue, self.schemas)
        self.catalogue.subscribe(lambda change: _end_watches(self.cache, change))
        self.metrics = ServerMetrics()
        self.audit = AuditLog(config.security.audit_log_path)
        compaction = CompactorConfig(config.compaction_interval)
        self.compactor = Compactor(self.backend, CompactionLease(self.store, self.catalogue, compaction),
                                   compaction)
        self.ready = False
        etcd, synced = HealthCheck("etcd", self.backend.check_health), HealthCheck("informer-sync",
                                                                                  self._check_ready)
        self.health = HealthEndpoints({"/livez": (PING, etcd), "/healthz": (PING, etcd),
                                       "/readyz": (PING, etcd, synced)})

    async def _check_ready(self) -> None:
        if not self.ready:
            raise RuntimeError("the watch cache is not loaded, or the server is shutting down")

    async def dispatch(self, request: web.BaseRequest) -> web.StreamResponse:
        started = time.perf_counter()
        query = request.query
        info = parse_request(request.method, request.path,
                             watch_param=query.get("watch", "") in ("true", "1"))
        code = 500
        user = acting_as = None
        annotations: dict[str, str] = {}
        try:
            request, user = self.access.authenticate(request)
            # Upstream's filter order: authentication, audit, impersonation, then the rest
            # (flow control and authorization see the identity acted as).
            request, acting_as = self.access.impersonate(request, user)
            response = await self.flow_control.handle(request, info, acting_as, self._serve)
            code = response.status
            if len(response):  # Mapping.get raises and catches a KeyError when the key is absent
                annotations = response.get(AUDIT_ANNOTATIONS, annotations)
            return response
        except ApiError as e:
            code = e.code
            return _status_response(e)
        except (StorageUnavailableError, StorageTimeoutError, StorageRequestTooLargeError) as e:
            error = _storage_failure(e)
            code = error.code
            return _status_response(error)
        except (ConnectionResetError, asyncio.CancelledError):
            code = 499
            raise
        except Exception:
            log.exception("internal error serving %s %s", request.method, request.path)
            return _status_response(InternalError("an internal error occurred"))
        finally:
            self.metrics.observe(info.verb, info.group, info.resource, info.subresource, code,
                                 time.perf_counter() - started)
            if user is not None and self.audit.active:
                self.audit.record(user=user.name, tenant=user.tenant, verb=info.verb,
                                  path=request.path, code=code, annotations=annotations,
                                  impersonated=acting_as if acting_as is not user else None)

    async def _serve(self, request: web.BaseRequest, info: RequestInfo,
                     user: UserInfo) -> web.StreamResponse:
        """Authorize, then hand the request to the handler of its kind."""
        if not info.is_resource:
            self.access.authorize_path(user, info)
            if is_health_path(info.path):
                return await self.health.answer(info.path, request.query)
            return self._non_resource(request, info, user)
        resource = self.resources.resolve(info)
        scope = self.resources.scope(info, resource, user.tenant)
        self.access.authorize_resource(user, info, resource, scope,
                                       field_selector=request.query.get("fieldSelector", ""))
        return await self.resources.handle(request, info, resource, scope, user)

    def _objects_in_scope(self, info: RequestInfo, user: UserInfo) -> int:
        """What a LIST will go through, for flow control's seat estimate (0: nothing to list)."""
        try:
            resource = self.resources.resolve(info)
        except NotFound:
            return 0
        return self.lister.count(resource, self.resources.scope(info, resource, user.tenant))

    def _non_resource(self, request: web.BaseRequest, info: RequestInfo,
                      user: UserInfo) -> web.StreamResponse:
        path = info.path
        if path == "/metrics":
            return web.Response(body=self.metrics.render() + self.flow_control.render_metrics(),
                                content_type="text/plain", charset="utf-8")
        # Discovery as the caller's tenant sees it: cluster-scoped resources are the system
        # tenant's business (ARKTOS.md §3).
        tenant = info.tenant or user.tenant
        answer = self.discovery.handle(request, path, tenant_view=tenant != SYSTEM_TENANT)
        if answer is None:
            raise NotFound.path()
        return answer

    @contextlib.asynccontextmanager
    async def running(self) -> AsyncIterator[None]:
        """Start storage and the cache (and bootstrap objects); stop them on exit."""
        await self.backend.start()
        cache_task = asyncio.create_task(self.cache.run(), name="watch-cache")
        compactor = asyncio.create_task(self.compactor.run(), name="compactor")
        services_tasks: list[asyncio.Task[None]] = []
        self.audit.open()
        try:
            # Validators load from the on-disk cache (or are built once) before the first request.
            await asyncio.to_thread(self.validators.precompile, list(self.catalogue))
            await asyncio.to_thread(typed_bodies.precompile)
            async with asyncio.timeout(60):
                await self.cache.wait_ready()
            await ensure_system_objects(self.catalogue, self.store)
            services_tasks.append(asyncio.create_task(self.service_repair.run(), name="service-repair"))
            if self.kubernetes_service is not None:
                await self.kubernetes_service.try_reconcile()
                services_tasks.append(asyncio.create_task(self.kubernetes_service.run(),
                                                          name="kubernetes-service"))
            # What is loaded now lives as long as the process: keep it out of GC scans.
            gc.freeze()
            self.ready = True
            log.info("API server ready at revision %s", self.cache.revision)
            yield
        finally:
            self.ready = False
            # These write through the store (the kubernetes Service drops this server's endpoint):
            # they end while the cache and the store still run.
            for task in services_tasks:
                task.cancel()
            for task in services_tasks:
                with contextlib.suppress(asyncio.CancelledError):
                    await task
            for task in (compactor, cache_task):
                task.cancel()
            for task in (compactor, cache_task):
                with contextlib.suppress(asyncio.CancelledError):
                    await task
            await self.backend.close()
            if self.node_source is not None:
                await self.node_source.close()
            self.audit.close()


def _transforming(backend: Backend, encryption: EncryptionConfig | None, catalogue: Catalogue) -> Backend:
    """Every value passes a transformer (upstream's storage/value): the configured encryption,
    else identity, which still refuses to serve values that were stored encrypted. The table of
    transformers follows the catalogue (a resource added at run time is encrypted as configured)."""
    config = encryption or EncryptionConfig({})
    for group, resource in config.configured():
        log.info("encryption at rest configured for %s", f"{resource}.{group}" if group else resource)
    transforming = TransformingBackend(backend, segment_transformers(config, catalogue),
                                       default=IdentityTransformer())
    catalogue.subscribe(
        lambda _change: transforming.set_transformers(segment_transformers(config, catalogue)))
    return transforming


def _end_watches(cache: WatchCache, change: CatalogueChange) -> None:
    """Watches of a resource the server stops serving end (upstream tears down a deleted CRD's
    storage, and with it its watches); the clients see their stream close."""
    for record in change.removed:
        segment = cache.resource(record.key_segment)
        for watcher in list(segment.watchers):
            segment.stop(watcher)


def _storage_failure(error: StorageError) -> ApiError:
    """The store could not be reached (503, retry soon) or did not answer in time (504), as
    upstream answers while etcd is down; the details go to the log, not to the client."""
    log.warning("storage failure: %s", error)
    if isinstance(error, StorageRequestTooLargeError):
        # Upstream answers 500 here (kubernetes#112152 asks for better); the object is what is
        # too big, so say so with 413 as for a body over the server's own limit.
        return RequestEntityTooLarge(f"Request entity too large: {error}")
    if isinstance(error, StorageTimeoutError):
        return Timeout("Timeout: request did not complete within the allotted timeout: the storage "
                       "did not answer in time", details={"retryAfterSeconds": 1})
    return ServiceUnavailable("The storage is unavailable; please try again.",
                              details={"retryAfterSeconds": 1}, headers={"Retry-After": "1"})


def _status_response(error: ApiError) -> web.Response:
    response = web.Response(body=error.body(), status=error.code, content_type="application/json")
    for name, value in error.headers.items():
        response.headers[name] = value
    return response


def build_server(server: ApiServer, *, access_log: bool = False) -> web.Server:
    """aiohttp's low-level server: every request goes straight to `ApiServer.dispatch` (and the
    ones aiohttp cannot parse are answered as a Status by `StatusServer`).

    The API has a single dispatcher, so the Application router and middleware chain would only
    add cost to every request (measured: a third of a cached GET).
    """
    if access_log:
        return StatusServer(server.dispatch)
    return StatusServer(server.dispatch, access_log=None)
