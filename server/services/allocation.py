"""ClusterIP and node port allocation for Services, in step with their writes (`WriteHooks`).

Mirrors upstream's pkg/registry/core/service/storage (alloc.go): on create a Service that needs
an address (every type but ExternalName, unless headless ``clusterIP: None``) gets one from
``--service-cluster-ip-range`` — the requested one if free and in range, else a 422 in upstream's
words — and a NodePort or LoadBalancer Service a node port for each port from
``--service-node-port-range``. An update keeps what was allocated (values a client left out are
patched back, as upstream's patchAllocatedValues), refuses a changed clusterIP ("may not change
once set"), allocates what a type change needs and releases what it no longer needs once the
write landed. A delete releases everything. Dry runs check requested values and take nothing.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from apis.field_errors import FieldError, forbidden, invalid
from server.errors import InternalError, Invalid
from server.registry.write_hooks import Finish
from server.services.claims import Claims, Holder
from server.services.network_ranges import NETWORK_LABEL, NetworkDirectory, network_name_of
from server.services.ranges import IPRange, ServiceRanges

_NONE = "None"


def needs_cluster_ip(spec: dict[str, Any]) -> bool:
    return spec.get("type", "ClusterIP") != "ExternalName" and spec.get("clusterIP") != _NONE


def needs_node_ports(spec: dict[str, Any]) -> bool:
    service_type = spec.get("type", "ClusterIP")
    if service_type == "NodePort":
        return True
    return service_type == "LoadBalancer" and spec.get("allocateLoadBalancerNodePorts", True) is not False


def needs_health_check_node_port(spec: dict[str, Any]) -> bool:
    """Upstream's needsHCNodePort: a LoadBalancer whose external traffic stays on the node."""
    return spec.get("type") == "LoadBalancer" and spec.get("externalTrafficPolicy") == "Local"


def health_check_node_port_of(spec: dict[str, Any]) -> int:
    port = spec.get("healthCheckNodePort")
    return port if isinstance(port, int) and needs_health_check_node_port(spec) else 0


def _ports(spec: dict[str, Any]) -> list[dict[str, Any]]:
    return [p for p in spec.get("ports") or () if isinstance(p, dict)]


def node_ports_of(spec: dict[str, Any]) -> set[int]:
    return {p["nodePort"] for p in _ports(spec) if isinstance(p.get("nodePort"), int) and p["nodePort"]}


@dataclass
class _Transaction:
    """What one write took (given back if it fails) and lets go (released once it landed)."""

    allocator: ServiceAllocator
    holder: Holder
    dry_run: bool
    taken: list[tuple[Claims, str]] = field(default_factory=list)
    released: list[tuple[Claims, str]] = field(default_factory=list)

    async def finish(self, success: bool) -> None:
        for claims, item in self.released if success else self.taken:
            await claims.release(item, self.holder)

    async def take(self, claims: Claims, item: str) -> bool:
        if self.dry_run:
            return not await claims.taken(item)
        if not await claims.claim(item, self.holder):
            return False
        self.taken.append((claims, item))
        return True


class ServiceAllocator:
    """The `WriteHooks` of ``services``: one per API server, over the store shared by all of them."""

    def __init__(self, ranges: ServiceRanges, *, ips: Claims, ports: Claims,
                 networks: NetworkDirectory | None = None) -> None:
        """``networks``: where a Service's network range is found; None: every Service takes its
        address from the cluster range (no Networks)."""
        self.ranges = ranges
        self.ips = ips
        self.ports = ports
        self.networks = networks

    def range_of(self, service: dict[str, Any]) -> IPRange:
        """The range ``service``'s ClusterIP comes from: its network's (a 422 when it names a
        network it cannot join)."""
        return self.ranges.cluster_ips if self.networks is None else self.networks.service_range(service)

    def ranges_in_use(self) -> list[IPRange]:
        return [self.ranges.cluster_ips] if self.networks is None else self.networks.ranges()

    # -- hooks ------------------------------------------------------------------------------------
    async def begin_create(self, obj: dict[str, Any], *, dry_run: bool) -> Finish:
        spec = obj.setdefault("spec", {})
        name = str(obj.get("metadata", {}).get("name", ""))
        _raise(name, _normalize_cluster_ips(spec) + _family_errors(spec, creating=True))
        cluster_ips = self.range_of(obj)
        txn = _Transaction(self, Holder.of(obj), dry_run)
        try:
            if needs_cluster_ip(spec):
                await self._allocate_ip(txn, name, spec, cluster_ips)
            if needs_node_ports(spec):
                await self._allocate_node_ports(txn, name, spec, kept=set())
            if needs_health_check_node_port(spec):
                await self._allocate_health_check_node_port(txn, spec, kept=0)
        except BaseException:
            await txn.finish(False)
            raise
        return txn.finish

    async def begin_update(self, new: dict[str, Any], old: dict[str, Any], *, dry_run: bool) -> Finish:
        spec, old_spec = new.setdefault("spec", {}), old.get("spec") or {}
        name = str(new.get("metadata", {}).get("name", ""))
        _drop_type_dependent_fields(spec, old_spec)
        _patch_allocated_values(spec, old_spec)
        errors = _normalize_cluster_ips(spec) + _family_errors(spec, creating=False)
        if (old_spec.get("type") != "ExternalName" and spec.get("type") != "ExternalName"
                and spec.get("clusterIP", "") != old_spec.get("clusterIP", "")):
            errors.append(invalid("spec.clusterIPs[0]", spec.get("clusterIPs") or [],
                                  "may not change once set"))
        if needs_cluster_ip(old_spec) and network_name_of(new) != network_name_of(old):
            errors.append(invalid(f"metadata.labels[{NETWORK_LABEL}]", network_name_of(new),
                                  "field is immutable"))
        _raise(name, errors)
        txn = _Transaction(self, Holder.of(old), dry_run)
        try:
            if needs_cluster_ip(spec) and not needs_cluster_ip(old_spec):
                await self._allocate_ip(txn, name, spec, self.range_of(new))
            kept = node_ports_of(old_spec) if needs_node_ports(old_spec) else set()
            if needs_node_ports(spec):
                await self._allocate_node_ports(txn, name, spec, kept=kept)
            kept_health = health_check_node_port_of(old_spec)
            if needs_health_check_node_port(spec):
                await self._allocate_health_check_node_port(txn, spec, kept=kept_health)
        except BaseException:
            await txn.finish(False)
            raise
        if needs_cluster_ip(old_spec) and not needs_cluster_ip(spec) and old_spec.get("clusterIP"):
            txn.released.append((self.ips, old_spec["clusterIP"]))
        still_used = node_ports_of(spec) if needs_node_ports(spec) else set()
        txn.released.extend((self.ports, str(port)) for port in sorted(kept - still_used))
        if kept_health and kept_health != health_check_node_port_of(spec):
            txn.released.append((self.ports, str(kept_health)))
        return txn.finish

    async def after_delete(self, obj: dict[str, Any]) -> None:
        spec, holder = obj.get("spec") or {}, Holder.of(obj)
        if needs_cluster_ip(spec) and spec.get("clusterIP"):
            await self.ips.release(str(spec["clusterIP"]), holder)
        if needs_node_ports(spec):
            for port in sorted(node_ports_of(spec)):
                await self.ports.release(str(port), holder)
        if health_check_node_port_of(spec):
            await self.ports.release(str(health_check_node_port_of(spec)), holder)

    # -- allocation -------------------------------------------------------------------------------
    async def _allocate_ip(self, txn: _Transaction, name: str, spec: dict[str, Any],
                           cluster_ips: IPRange) -> None:
        requested = spec.get("clusterIP") or ""
        if requested:
            problem = ""
            if not cluster_ips.contains(requested):
                problem = (f"provided IP is not in the valid range. The range of valid IPs is "
                           f"{cluster_ips}")
            elif not await txn.take(self.ips, requested):
                problem = "provided IP is already allocated"
            if problem:
                _raise(name, [invalid("spec.clusterIPs", spec.get("clusterIPs") or [requested],
                                      f"failed to allocate IP {requested}: {problem}")])
            chosen = requested
        else:
            chosen = await self._next(txn, self.ips, self.ips.probably_free(cluster_ips.candidates()))
            if not chosen:
                raise InternalError.occurred("failed to allocate a serviceIP: range is full")
        spec["clusterIP"] = chosen
        spec["clusterIPs"] = [chosen]

    async def _allocate_node_ports(self, txn: _Transaction, name: str, spec: dict[str, Any], *,
                                   kept: set[int]) -> None:
        """A node port for each port: the requested one (a port of the same number and another
        protocol may share it, as upstream), else one allocated — or the one an earlier port
        with the same ``port`` number got (upstream: TCP and UDP 53 share one node port)."""
        node_ports = self.ranges.node_ports
        mine: set[int] = set()
        by_service_port: dict[Any, int] = {}
        for index, port in enumerate(_ports(spec)):
            requested = port.get("nodePort")
            if isinstance(requested, int) and requested:
                if requested not in kept and requested not in mine:
                    problem = ""
                    if requested not in node_ports:
                        problem = (f"provided port is not in the valid range. The range of valid ports "
                                   f"is {node_ports}")
                    elif not await txn.take(self.ports, str(requested)):
                        problem = "provided port is already allocated"
                    if problem:
                        _raise(name, [invalid(f"spec.ports[{index}].nodePort", requested, problem)])
                chosen = requested
            elif port.get("port") in by_service_port:
                chosen = by_service_port[port.get("port")]
            else:
                free = (c for c in self.ports.probably_free(str(p) for p in node_ports.candidates())
                        if int(c) not in mine and int(c) not in kept)
                picked = await self._next(txn, self.ports, free)
                if not picked:
                    raise InternalError.occurred("failed to allocate a nodePort: range is full")
                chosen = int(picked)
            mine.add(chosen)
            by_service_port.setdefault(port.get("port"), chosen)
            port["nodePort"] = chosen

    async def _allocate_health_check_node_port(self, txn: _Transaction, spec: dict[str, Any], *,
                                               kept: int) -> None:
        """Upstream's allocHealthCheckNodePort: from the node port range, the requested one or
        any; a failure is upstream's internal error (500), not a field error."""
        requested = spec.get("healthCheckNodePort")
        if isinstance(requested, int) and requested:
            if requested == kept:
                return
            problem = ""
            if requested not in self.ranges.node_ports:
                problem = (f"provided port is not in the valid range. The range of valid ports is "
                           f"{self.ranges.node_ports}")
            elif not await txn.take(self.ports, str(requested)):
                problem = "provided port is already allocated"
            if problem:
                raise InternalError.occurred(
                    f"failed to allocate requested HealthCheck NodePort {requested}: {problem}")
            return
        if kept:
            spec["healthCheckNodePort"] = kept
            return
        taken = node_ports_of(spec)
        free = (c for c in self.ports.probably_free(str(p) for p in self.ranges.node_ports.candidates())
                if int(c) not in taken)
        picked = await self._next(txn, self.ports, free)
        if not picked:
            raise InternalError.occurred("failed to allocate a HealthCheck NodePort 0: range is full")
        spec["healthCheckNodePort"] = int(picked)

    @staticmethod
    async def _next(txn: _Transaction, claims: Claims, candidates: Any) -> str:
        """The first candidate this write could take ("" when the range is full)."""
        for candidate in candidates:
            if await txn.take(claims, candidate):
                return str(candidate)
        return ""


def _raise(name: str, errors: list[FieldError]) -> None:
    if errors:
        raise Invalid.fields("Service", name, errors)


def _normalize_cluster_ips(spec: dict[str, Any]) -> list[FieldError]:
    """clusterIP and clusterIPs say the same (upstream's normalizeClusterIPs and validation)."""
    cluster_ip, cluster_ips = spec.get("clusterIP") or "", list(spec.get("clusterIPs") or [])
    if spec.get("type", "ClusterIP") == "ExternalName":
        return [forbidden("spec.clusterIPs", "may not be set for ExternalName services")] \
            if cluster_ip or cluster_ips else []
    if cluster_ip and not cluster_ips:
        spec["clusterIPs"] = [cluster_ip]
    elif cluster_ips and not cluster_ip:
        spec["clusterIP"] = cluster_ip = str(cluster_ips[0])
    elif cluster_ips and cluster_ips[0] != cluster_ip:
        return [invalid("spec.clusterIPs", cluster_ips, "first value must match `clusterIP`")]
    if len(spec.get("clusterIPs") or ()) > 1:
        return [invalid("spec.clusterIPs", spec["clusterIPs"],
                        "may not have more than one IP in a single-stack cluster")]
    if cluster_ip and cluster_ip != _NONE and not _valid_ipv4(cluster_ip):
        return [invalid("spec.clusterIPs[0]", cluster_ip,
                        "must be a valid IP address, (e.g. 10.9.8.7 or 2001:db8::ffff)")]
    return []


def _family_errors(spec: dict[str, Any], *, creating: bool) -> list[FieldError]:
    """This cluster is IPv4 single stack: other families are refused as upstream's
    (``not configured on this cluster``); ExternalName carries none on create."""
    if spec.get("type", "ClusterIP") == "ExternalName":
        if not creating:
            return []
        return [forbidden(f"spec.{key}", "may not be set for ExternalName services")
                for key in ("ipFamilies", "ipFamilyPolicy") if spec.get(key)]
    errors = []
    for index, family in enumerate(spec.get("ipFamilies") or ()):
        if family != "IPv4":
            errors.append(invalid(f"spec.ipFamilies[{index}]", family, "not configured on this cluster"))
    if spec.get("ipFamilyPolicy") == "RequireDualStack" and spec.get("clusterIP") != _NONE:
        errors.append(invalid("spec.ipFamilyPolicy", "RequireDualStack",
                              "this cluster is not configured for dual-stack services"))
    return errors


def _drop_type_dependent_fields(spec: dict[str, Any], old_spec: dict[str, Any]) -> None:
    """Upstream's dropTypeDependentFields: fields a type change makes meaningless go when the
    client left them as they were (an explicit new value is judged instead)."""
    if needs_cluster_ip(old_spec) and spec.get("type") == "ExternalName":
        for key in ("clusterIP", "clusterIPs", "ipFamilies", "ipFamilyPolicy"):
            if key in spec and spec.get(key) == old_spec.get(key):
                spec.pop(key)
    old_health = health_check_node_port_of(old_spec)
    if old_health and not needs_health_check_node_port(spec) \
            and spec.get("healthCheckNodePort") == old_health:
        spec.pop("healthCheckNodePort")
    if needs_node_ports(old_spec) and not needs_node_ports(spec):
        old_ports = node_ports_of(old_spec)
        for port in _ports(spec):
            if port.get("nodePort") in old_ports:
                port.pop("nodePort")


def _patch_allocated_values(spec: dict[str, Any], old_spec: dict[str, Any]) -> None:
    """Upstream's patchAllocatedValues: a client that left out what the server allocated (an
    update built from a manifest) keeps it."""
    if "ExternalName" not in (old_spec.get("type"), spec.get("type")):
        if not spec.get("clusterIP") and old_spec.get("clusterIP"):
            spec["clusterIP"] = old_spec["clusterIP"]
        if not spec.get("clusterIPs") and old_spec.get("clusterIPs"):
            spec["clusterIPs"] = list(old_spec["clusterIPs"])
    old_health = health_check_node_port_of(old_spec)
    if old_health and needs_health_check_node_port(spec) and not spec.get("healthCheckNodePort"):
        spec["healthCheckNodePort"] = old_health
    if needs_node_ports(old_spec) and needs_node_ports(spec):
        used = node_ports_of(spec)
        by_name = {p.get("name", ""): p.get("nodePort") for p in _ports(old_spec)}
        for port in _ports(spec):
            if not port.get("nodePort"):
                previous = by_name.get(port.get("name", ""))
                if previous and previous not in used:
                    port["nodePort"] = previous
                    used.add(previous)


def _valid_ipv4(text: str) -> bool:
    parts = text.split(".")
    return len(parts) == 4 and all(p.isdigit() and str(int(p)) == p and int(p) <= 255 for p in parts)
