"""Which Network a pod or Service joins, and the Service addresses that network gives.

A pod or Service joins the Network named by its label ``arktos.futurewei.com/network`` (absent:
``default``) of its own tenant. The network must exist when the object is created (a 422 on
``metadata.labels`` otherwise, and while the network is Failed or being deleted); a Service's
ClusterIP then comes from the network's ``spec.service.cidrs[0]`` (ipam Arktos, External) or the
cluster range (ipam Kubernetes). One exception keeps a tenant usable before its networks are:
an object without the label whose tenant has no ``default`` network yet (tenant ``system``'s
own Services, which the API server and arktos-up create before any controller runs, or a tenant
created while no controller manager runs) is served from the cluster range, as before networks.
"""

from __future__ import annotations

from typing import Any

from apis.field_errors import invalid
from server.errors import Invalid
from server.registry.write_hooks import Finish, nothing_to_finish
from server.services.network_ipam import IPAM_KUBERNETES, cidrs_of, ipam_of
from server.services.ranges import IPRange
from server.storage.keys import REGISTRY_PREFIX
from server.watchcache import WatchCache

NETWORK_LABEL = "arktos.futurewei.com/network"
DEFAULT_NETWORK = "default"
SYSTEM_TENANT = "system"
_UNUSABLE_PHASES = ("Failed", "Terminating")


def network_name_of(obj: dict[str, Any]) -> str:
    labels = (obj.get("metadata") or {}).get("labels") or {}
    return str(labels.get(NETWORK_LABEL) or DEFAULT_NETWORK)


def tenant_of(obj: dict[str, Any]) -> str:
    return str((obj.get("metadata") or {}).get("tenant") or SYSTEM_TENANT)


class NetworkDirectory:
    """The Networks this API server's watch cache holds, as the write paths need them."""

    def __init__(self, cache: WatchCache, cluster_ips: IPRange) -> None:
        self._cache = cache
        self.cluster_ips = cluster_ips

    def get(self, tenant: str, name: str) -> dict[str, Any] | None:
        cached = self._cache.resource("networks").objects.get(f"{REGISTRY_PREFIX}networks/{tenant}/{name}")
        return None if cached is None else cached.obj

    def joined(self, obj: dict[str, Any], kind: str) -> dict[str, Any] | None:
        """The Network ``obj`` joins; None for the label-less fallback above; 422 when the network
        it names cannot be joined."""
        labels = (obj.get("metadata") or {}).get("labels") or {}
        name, tenant = network_name_of(obj), tenant_of(obj)
        network = self.get(tenant, name)
        problem = ""
        if network is None:
            if NETWORK_LABEL not in labels and name == DEFAULT_NETWORK:
                return None
            problem = f'network "{name}" does not exist in tenant "{tenant}"'
        elif (network.get("metadata") or {}).get("deletionTimestamp"):
            problem = f'network "{name}" is being deleted'
        elif (network.get("status") or {}).get("phase") in _UNUSABLE_PHASES:
            problem = f'network "{name}" is {network["status"]["phase"]}'
        if problem:
            raise Invalid.fields(kind, str((obj.get("metadata") or {}).get("name", "")),
                                 [invalid("metadata.labels", f"{NETWORK_LABEL}={name}", problem)])
        return network

    def service_range(self, service: dict[str, Any]) -> IPRange:
        """Where ``service``'s ClusterIP comes from (422 when its network cannot be joined)."""
        network = self.joined(service, "Service")
        if network is None or ipam_of(network) == IPAM_KUBERNETES or not cidrs_of(network):
            return self.cluster_ips
        return IPRange.parse(cidrs_of(network)[0])

    def ranges(self) -> list[IPRange]:
        """Every range a ClusterIP may come from: the cluster range and each network's."""
        found = [self.cluster_ips]
        for cached in list(self._cache.resource("networks").objects.values()):
            if ipam_of(cached.obj) != IPAM_KUBERNETES:
                found.extend(IPRange.parse(cidr) for cidr in cidrs_of(cached.obj)[:1])
        return found


class PodNetworkCheck:
    """The `WriteHooks` of ``pods``: a pod joins a network of its tenant that exists (on create;
    a pod's labels may change later, its network does not follow)."""

    def __init__(self, networks: NetworkDirectory) -> None:
        self._networks = networks

    async def begin_create(self, obj: dict[str, Any], *, dry_run: bool) -> Finish:
        self._networks.joined(obj, "Pod")
        return nothing_to_finish

    async def begin_update(self, new: dict[str, Any], old: dict[str, Any], *, dry_run: bool) -> Finish:
        return nothing_to_finish

    async def after_delete(self, obj: dict[str, Any]) -> None:
        return None
