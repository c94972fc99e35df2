"""The pod-CIDR allocator's arithmetic: one cluster CIDR cut into equal node subnets.

Upstream's ``pkg/controller/nodeipam/ipam/cidrset``: the cluster CIDR (``--cluster-cidr``) is
divided into ``2^(node mask - cluster mask)`` subnets of the node mask size
(``--node-cidr-mask-size``, 24 for IPv4 and 64 for IPv6 by default); a bitmap says which are in
use. Allocation takes the first free subnet at or after a rotating candidate (so a released
subnet is not handed out again at once), occupying marks every subnet a CIDR covers (to rebuild
the bitmap from the nodes that exist), releasing clears them. At most 2^16 subnets, as upstream
(``ErrCIDRSetSubNetTooBig``). Pure logic, no I/O: unit-tested in ``test/unit/test_cidr_set.py``.
"""

from __future__ import annotations

import ipaddress

IPNetwork = ipaddress.IPv4Network | ipaddress.IPv6Network

MAX_SUBNET_BITS = 16  # upstream: "the subnet mask size is too big" beyond 2^16 subnets
DEFAULT_NODE_MASK = {4: 24, 6: 64}


class CIDRSetError(ValueError):
    """A bad configuration, a CIDR outside the set, or no subnet left."""


class RangeFull(CIDRSetError):
    """Every subnet is in use (upstream's ErrCIDRRangeNoCIDRsRemaining)."""


def parse_cluster_cidrs(value: str) -> list[IPNetwork]:
    """``--cluster-cidr``: one CIDR, or an IPv4 and an IPv6 one (dual-stack), comma-separated."""
    cidrs: list[IPNetwork] = []
    for item in (part.strip() for part in value.split(",") if part.strip()):
        try:
            cidrs.append(ipaddress.ip_network(item, strict=True))
        except ValueError as e:
            raise CIDRSetError(f"--cluster-cidr: invalid CIDR {item!r}: {e}") from e
    if not cidrs:
        raise CIDRSetError("--cluster-cidr is required with --allocate-node-cidrs")
    families = [c.version for c in cidrs]
    if len(cidrs) > 2 or len(set(families)) != len(families):
        raise CIDRSetError("--cluster-cidr: at most one IPv4 and one IPv6 CIDR")
    return cidrs


class CIDRSet:
    """Node subnets of one cluster CIDR, with a bitmap of those in use."""

    def __init__(self, cluster: IPNetwork, node_mask: int) -> None:
        if node_mask > cluster.max_prefixlen:
            raise CIDRSetError(f"node CIDR mask size {node_mask} is too large for {cluster}")
        if node_mask < cluster.prefixlen:
            raise CIDRSetError(f"node CIDR mask size {node_mask} is smaller than the cluster "
                               f"CIDR's ({cluster})")
        if node_mask - cluster.prefixlen > MAX_SUBNET_BITS:
            raise CIDRSetError(f"node CIDR mask size {node_mask} cuts {cluster} into more than "
                               f"2^{MAX_SUBNET_BITS} subnets")
        self.cluster = cluster
        self.node_mask = node_mask
        self.max_cidrs = 1 << (node_mask - cluster.prefixlen)
        self._step = 1 << (cluster.max_prefixlen - node_mask)  # addresses per subnet
        self._used = bytearray(self.max_cidrs)
        self._allocated = 0
        self._next_candidate = 0

    @property
    def allocated(self) -> int:
        return self._allocated

    def subnet(self, index: int) -> IPNetwork:
        base = int(self.cluster.network_address) + index * self._step
        return ipaddress.ip_network((base, self.node_mask))

    def allocate_next(self) -> IPNetwork:
        """The next free subnet (raises `RangeFull`)."""
        if self._allocated >= self.max_cidrs:
            raise RangeFull("CIDR allocation failed; there are no remaining CIDRs left to allocate "
                            "in the accepted range")
        for offset in range(self.max_cidrs):
            index = (self._next_candidate + offset) % self.max_cidrs
            if not self._used[index]:
                self._used[index] = 1
                self._allocated += 1
                self._next_candidate = (index + 1) % self.max_cidrs
                return self.subnet(index)
        raise RangeFull("CIDR allocation failed; no free subnet")  # unreachable with a true count

    def occupy(self, cidr: IPNetwork) -> None:
        """Marks every subnet ``cidr`` covers as used (a node that already has it)."""
        for index in self._indexes(cidr):
            if not self._used[index]:
                self._used[index] = 1
                self._allocated += 1

    def release(self, cidr: IPNetwork) -> None:
        """Frees every subnet ``cidr`` covers."""
        for index in self._indexes(cidr):
            if self._used[index]:
                self._used[index] = 0
                self._allocated -= 1

    def _indexes(self, cidr: IPNetwork) -> range:
        if cidr.version != self.cluster.version or not cidr.subnet_of(self.cluster):  # type: ignore[arg-type]
            raise CIDRSetError(f"cidr {cidr} is out the range of cluster cidr {self.cluster}")
        offset = int(cidr.network_address) - int(self.cluster.network_address)
        first = offset // self._step
        if cidr.prefixlen <= self.node_mask:  # one subnet or a larger block of them
            count = 1 << (self.node_mask - cidr.prefixlen)
        else:  # smaller than a node subnet: the subnet holding it
            count = 1
        return range(first, first + count)


def node_mask_for(cluster: IPNetwork, flag_value: int | None, *, dual_stack: bool) -> int:
    """The node subnet size for ``cluster``: ``--node-cidr-mask-size`` or the family's default.
    Upstream refuses the single flag with dual-stack (each family needs its own size)."""
    if flag_value is None:
        return DEFAULT_NODE_MASK[cluster.version]
    if dual_stack:
        raise CIDRSetError("usage of --node-cidr-mask-size is not allowed with dual-stack clusters")
    return flag_value
