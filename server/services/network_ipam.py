"""Service address ranges of Arktos ``Network`` objects, in step with their writes (`WriteHooks`).

Arktos gives each tenant network its own Service addresses (``spec.service``): ipam ``Arktos``
(the default) — the API server carves a /24 for the network out of ``--network-service-cidr-pool``
and writes it into ``spec.service.cidrs``; ipam ``Kubernetes`` — the network's Services take their
addresses from ``--service-cluster-ip-range`` as before, no cidrs; ipam ``External`` — the user
names the cidrs, refused when they overlap the cluster range, the pool or another network's.
Each carved or named CIDR is one claim in the store (``/registry/networkservicecidrs/<cidr>``,
`server.services.claims`), so two API servers never hand one /24 to two networks, and a delete
releases it. ``spec.service`` cannot change once set: the network's Services hold addresses of it.
"""

from __future__ import annotations

import ipaddress
from typing import Any

from apis.field_errors import FieldError, invalid, not_supported, required
from server.errors import InternalError, Invalid
from server.registry.write_hooks import Finish, nothing_to_finish
from server.services.claims import Claims, Holder
from server.services.ranges import IPRange, NetworkServicePool

CIDR_SEGMENT = "networkservicecidrs"

IPAM_ARKTOS = "Arktos"
IPAM_KUBERNETES = "Kubernetes"
IPAM_EXTERNAL = "External"
IPAMS = (IPAM_ARKTOS, IPAM_KUBERNETES, IPAM_EXTERNAL)


def cidr_item(cidr: str) -> str:
    """A CIDR as a store key's last segment (``10.96.3.0/24`` → ``10.96.3.0-24``)."""
    return cidr.replace("/", "-")


def item_cidr(item: str) -> str:
    return item.replace("-", "/")


def service_of(network: dict[str, Any]) -> dict[str, Any]:
    service = (network.get("spec") or {}).get("service")
    return service if isinstance(service, dict) else {}


def ipam_of(network: dict[str, Any]) -> str:
    return str(service_of(network).get("ipam") or IPAM_ARKTOS)


def cidrs_of(network: dict[str, Any]) -> list[str]:
    return [str(c) for c in service_of(network).get("cidrs") or () if c]


class NetworkIPAM:
    """The `WriteHooks` of ``networks``: one per API server, over the store shared by all of them."""

    def __init__(self, pool: NetworkServicePool, cluster_ips: IPRange, *, cidrs: Claims) -> None:
        self.pool = pool
        self.cluster_ips = cluster_ips
        self.cidrs = cidrs

    async def begin_create(self, obj: dict[str, Any], *, dry_run: bool) -> Finish:
        spec = obj.setdefault("spec", {})
        service = spec.get("service")
        if not isinstance(service, dict):
            service = spec["service"] = {}
        ipam = service.setdefault("ipam", IPAM_ARKTOS) or IPAM_ARKTOS
        service["ipam"] = ipam
        name = str(obj.get("metadata", {}).get("name", ""))
        _raise(name, self._errors(service))
        holder = Holder.of(obj)
        if ipam == IPAM_KUBERNETES:
            return nothing_to_finish
        if ipam == IPAM_EXTERNAL:
            taken = await self._claim_external(name, service["cidrs"], holder, dry_run=dry_run)
        else:
            taken = await self._carve(holder, service, dry_run=dry_run)

        async def finish(success: bool) -> None:
            if not success:
                for cidr in taken:
                    await self.cidrs.release(cidr_item(cidr), holder)
        return finish

    async def begin_update(self, new: dict[str, Any], old: dict[str, Any], *, dry_run: bool) -> Finish:
        spec, old_service = new.setdefault("spec", {}), service_of(old)
        service = spec.get("service")
        if not isinstance(service, dict) or not service:
            spec["service"] = dict(old_service)  # a manifest without it keeps what was assigned
        elif (service.get("ipam") or IPAM_ARKTOS) == ipam_of(old) and not service.get("cidrs"):
            spec["service"] = {**service, **old_service}  # ... as one naming only the ipam
        if spec["service"] != old_service:
            _raise(str(new.get("metadata", {}).get("name", "")),
                   [invalid("spec.service", spec["service"], "field is immutable")])
        return nothing_to_finish

    async def after_delete(self, obj: dict[str, Any]) -> None:
        if ipam_of(obj) == IPAM_KUBERNETES:
            return
        holder = Holder.of(obj)
        for cidr in cidrs_of(obj):
            await self.cidrs.release(cidr_item(cidr), holder)

    # -- checks -----------------------------------------------------------------------------------
    def _errors(self, service: dict[str, Any]) -> list[FieldError]:
        ipam, cidrs = service["ipam"], service.get("cidrs") or []
        if ipam not in IPAMS:
            return [not_supported("spec.service.ipam", ipam, IPAMS)]
        if ipam != IPAM_EXTERNAL:
            return [invalid("spec.service.cidrs", cidrs, f"must be empty when ipam is {ipam}")] \
                if cidrs else []
        if not cidrs:
            return [required("spec.service.cidrs", "must be specified when ipam is External")]
        errors = []
        for index, cidr in enumerate(cidrs):
            path = f"spec.service.cidrs[{index}]"
            try:
                network = ipaddress.IPv4Network(str(cidr), strict=True)
            except ValueError:
                errors.append(invalid(path, cidr, "must be a valid IPv4 CIDR (e.g. 10.9.8.0/24)"))
                continue
            if network.num_addresses < 16:
                errors.append(invalid(path, cidr, "must hold at least 16 addresses (a /28)"))
            elif network.overlaps(self.cluster_ips.network):
                errors.append(invalid(path, cidr, f"overlaps the service cluster IP range "
                                                  f"{self.cluster_ips}"))
            elif self.pool.overlaps(network):
                errors.append(invalid(path, cidr, f"overlaps the network service CIDR pool {self.pool}"))
        return errors

    # -- allocation -------------------------------------------------------------------------------
    async def _carve(self, holder: Holder, service: dict[str, Any], *, dry_run: bool) -> list[str]:
        """The first free /24 of the pool, claimed (a dry run shows the one it would get and
        claims nothing)."""
        items = self.cidrs.probably_free(cidr_item(c) for c in self.pool.subnets())
        for item in items:
            if dry_run:
                if await self.cidrs.taken(item):
                    continue
                service["cidrs"] = [item_cidr(item)]
                return []
            if await self.cidrs.claim(item, holder):
                service["cidrs"] = [item_cidr(item)]
                return [item_cidr(item)]
        raise InternalError.occurred(f"failed to allocate a network service CIDR: the pool {self.pool} "
                                     f"is full")

    async def _claim_external(self, name: str, cidrs: list[str], holder: Holder, *,
                              dry_run: bool) -> list[str]:
        """Each named CIDR, refused when another network's overlaps it. Claims are per CIDR, so
        two API servers racing with different overlapping External CIDRs could both win; the
        overlap check reads every claim from the store just before claiming."""
        existing = [ipaddress.IPv4Network(item_cidr(c.item)) for c in await self.cidrs.all()]
        taken: list[str] = []
        for index, cidr in enumerate(cidrs):
            network = ipaddress.IPv4Network(cidr)
            clash = next((other for other in existing if other.overlaps(network)), None)
            if clash is None and not dry_run and not await self.cidrs.claim(cidr_item(cidr), holder):
                clash = network
            if clash is not None:
                for done in taken:
                    await self.cidrs.release(cidr_item(done), holder)
                _raise(name, [invalid(f"spec.service.cidrs[{index}]", cidr,
                                      f"overlaps {clash}, the service CIDR of another network")])
            taken.append(cidr)
            existing.append(network)
        return [] if dry_run else taken


def _raise(name: str, errors: list[FieldError]) -> None:
    if errors:
        raise Invalid.fields("Network", name, errors, group="arktos.futurewei.com")
