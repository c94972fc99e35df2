"""What the reflectors delivered, indexed for answering: per-tenant Services and EndpointSlices,
and pod IPs (source address → tenant and network; per-namespace pod IPs for ``<ip>.<ns>.pod``
names).

Only the event loop's thread touches it. Each change notes the Service it touches (an
EndpointSlice's is named by its label) as dirty for its tenant, so the tenant's zones (one per
network) re-render just that Service; a change to a tenant's ``default/kubernetes-<network>``
also dirties its ``kubernetes`` (what ``kubernetes.default`` shows that network), a change to
tenant system's ``default/kubernetes`` moves every tenant's view (they may all fall back to it),
and a re-list starts every zone afresh (``generation``).
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Callable
from typing import Any

from clusterdns.objects import (
    SYSTEM_SCOPE,
    SYSTEM_TENANT,
    EndpointSlice,
    Key,
    Pod,
    Scope,
    Service,
    endpoint_slice_from,
    key_of,
    pod_from,
    service_from,
)

KUBERNETES_SERVICE = ("default", "kubernetes")
NETWORK_KUBERNETES_PREFIX = "kubernetes-"  # default/kubernetes-<network>: the API server for that network
KINDS = ("Service", "EndpointSlice", "Pod")


class ClusterCache:
    def __init__(self) -> None:
        self.services: dict[str, dict[tuple[str, str], Service]] = defaultdict(dict)
        self.slices: dict[str, dict[Key, EndpointSlice]] = defaultdict(dict)
        self.pods: dict[Key, Pod] = {}
        self._scopes_by_ip: dict[str, dict[Key, Scope]] = defaultdict(dict)
        # (tenant, network, namespace) → pod IP → the names of the pods holding it
        self._pod_ips: dict[tuple[str, str, str], dict[str, set[str]]] = defaultdict(lambda: defaultdict(set))
        self._dirty: dict[str, set[tuple[str, str]]] = defaultdict(set)
        self.generation = 0  # moves on every re-list of Services or EndpointSlices
        self.kubernetes_generation = 0  # moves when tenant system's default/kubernetes changes
        self.synced: set[str] = set()

    # -- what the reflectors call ----------------------------------------------------------------

    def replace(self, kind: str, items: list[dict[str, Any]]) -> None:
        """A full list: forget what is not in it."""
        if kind == "Pod":
            for pod in list(self.pods.values()):
                self._remove_pod(pod)
        else:
            table: dict[str, Any] = self.services if kind == "Service" else self.slices
            table.clear()
            self._dirty.clear()
            self.generation += 1
            self.kubernetes_generation += 1
        for obj in items:
            self.apply(kind, "ADDED", obj)
        self.synced.add(kind)

    def apply(self, kind: str, event_type: str, obj: dict[str, Any]) -> None:
        handlers: dict[str, Callable[[str, dict[str, Any]], None]] = {
            "Service": self._apply_service, "EndpointSlice": self._apply_slice, "Pod": self._apply_pod}
        handlers[kind](event_type, obj)

    @property
    def ready(self) -> bool:
        return self.synced.issuperset(KINDS)

    # -- what the resolver asks ------------------------------------------------------------------

    def take_dirty(self, tenant: str) -> set[tuple[str, str]]:
        """The (namespace, name) of the tenant's Services changed since the last call."""
        return self._dirty.pop(tenant, set())

    def scope_of(self, source_ip: str) -> Scope:
        """The tenant and network of the pod that owns this address; tenant system's default
        network for anything else (the node, host-network pods)."""
        owners = self._scopes_by_ip.get(source_ip)
        if not owners:
            return SYSTEM_SCOPE
        return next(iter(owners.values()))

    def has_pod_ip(self, scope: Scope, namespace: str, ip: str) -> bool:
        return bool(self._pod_ips.get((*scope, namespace), {}).get(ip))

    def has_pods_in(self, scope: Scope, namespace: str) -> bool:
        return bool(self._pod_ips.get((*scope, namespace)))

    def slices_of(self, service: Service) -> list[EndpointSlice]:
        return [s for s in self.slices.get(service.tenant, {}).values()
                if s.namespace == service.namespace and s.service == service.name]

    # -- internals -------------------------------------------------------------------------------

    def _touch(self, tenant: str, namespace: str, service: str) -> None:
        if not service:
            return
        self._dirty[tenant].add((namespace, service))
        if namespace == KUBERNETES_SERVICE[0] and service.startswith(NETWORK_KUBERNETES_PREFIX):
            self._dirty[tenant].add(KUBERNETES_SERVICE)
        if tenant == SYSTEM_TENANT and (namespace, service) == KUBERNETES_SERVICE:
            self.kubernetes_generation += 1

    def _apply_service(self, event_type: str, obj: dict[str, Any]) -> None:
        tenant, namespace, name = key_of(obj)
        table = self.services[tenant]
        if event_type == "DELETED":
            table.pop((namespace, name), None)
        else:
            table[(namespace, name)] = service_from(obj)
        self._touch(tenant, namespace, name)

    def _apply_slice(self, event_type: str, obj: dict[str, Any]) -> None:
        key = key_of(obj)
        table = self.slices[key[0]]
        old = table.pop(key, None)
        if event_type != "DELETED":
            table[key] = endpoint_slice_from(obj)
        if old is not None:
            self._touch(key[0], key[1], old.service)
        if key in table:
            self._touch(key[0], key[1], table[key].service)

    def _apply_pod(self, event_type: str, obj: dict[str, Any]) -> None:
        key = key_of(obj)
        old = self.pods.get(key)
        if old is not None:
            self._remove_pod(old)
        if event_type == "DELETED":
            return
        pod = pod_from(obj)
        self.pods[key] = pod
        # A host-network pod's address is its node's, shared by every tenant's host-network pods;
        # a finished pod's address may already belong to a new pod. Neither identifies a tenant.
        if pod.host_network or pod.terminal:
            return
        for ip in pod.ips:
            self._scopes_by_ip[ip][key] = Scope(pod.tenant, pod.network)
            self._pod_ips[(pod.tenant, pod.network, pod.namespace)][ip].add(pod.name)

    def _remove_pod(self, pod: Pod) -> None:
        key = (pod.tenant, pod.namespace, pod.name)
        self.pods.pop(key, None)
        where = (pod.tenant, pod.network, pod.namespace)
        for ip in pod.ips:
            owners = self._scopes_by_ip.get(ip)
            if owners is not None:
                owners.pop(key, None)
                if not owners:
                    del self._scopes_by_ip[ip]
            in_namespace = self._pod_ips.get(where)
            if in_namespace is not None and ip in in_namespace:
                in_namespace[ip].discard(pod.name)
                if not in_namespace[ip]:
                    del in_namespace[ip]
                if not in_namespace:
                    del self._pod_ips[where]
