"""The Service ranges of one API server: ``--service-cluster-ip-range``, ``--service-node-port-range``
and ``--network-service-cidr-pool`` (the /24s tenant networks get, `server.services.network_ipam`).

Upstream's ipallocator.Range and portallocator.PortAllocator describe the same things: a CIDR
whose network and broadcast addresses are never handed out, and an inclusive port range. Every
API server of one partition must be started with the same ranges (as upstream's servers sharing
one etcd); the allocations themselves live in the store (`server.services.claims`).
"""

from __future__ import annotations

import ipaddress
import random
from collections.abc import Iterator
from dataclasses import dataclass

DEFAULT_CLUSTER_IP_RANGE = "10.0.0.0/16"
DEFAULT_NODE_PORT_RANGE = "30000-32767"
DEFAULT_NETWORK_SERVICE_CIDR_POOL = "10.96.0.0/12"
NETWORK_PREFIX_LENGTH = 24


class RangeError(ValueError):
    """A range flag that cannot be used."""


@dataclass(frozen=True, slots=True)
class PortRange:
    """An inclusive range of ports, as upstream's utilnet.PortRange (``base-max``)."""

    base: int
    last: int

    @classmethod
    def parse(cls, text: str) -> PortRange:
        low, sep, high = text.strip().partition("-")
        try:
            base = int(low)
            last = int(high) if sep else base
        except ValueError as e:
            raise RangeError(f'unable to parse port range "{text}"') from e
        if not 0 < base <= last <= 65535:
            raise RangeError(f'invalid port range "{text}"')
        return cls(base, last)

    def __contains__(self, port: object) -> bool:
        return isinstance(port, int) and self.base <= port <= self.last

    def __str__(self) -> str:
        return f"{self.base}-{self.last}"

    def candidates(self) -> Iterator[int]:
        """Every port of the range once, starting in the upper band at random.

        Upstream (KEP-3668) keeps the lower band — min(max(16, size/32), 128) ports — for
        requested node ports: dynamic picks go to the upper band first, so a well-known port a
        manifest asks for is rarely taken already.
        """
        size = self.last - self.base + 1
        reserved = min(max(16, size // 32), 128, size)
        upper = size - reserved
        start = random.randrange(upper) if upper > 0 else 0
        for step in range(upper):
            yield self.base + reserved + (start + step) % upper
        yield from range(self.base, self.base + reserved)


@dataclass(frozen=True, slots=True)
class IPRange:
    """An IPv4 service CIDR (upstream's ipallocator.Range over one family)."""

    network: ipaddress.IPv4Network

    @classmethod
    def parse(cls, text: str) -> IPRange:
        try:
            network = ipaddress.ip_network(text.strip(), strict=False)
        except ValueError as e:
            raise RangeError(f"invalid CIDR {text!r}: {e}") from e
        if not isinstance(network, ipaddress.IPv4Network):
            raise RangeError(f"{text}: only IPv4 (single stack) service ranges are served")
        if network.num_addresses < 4:
            raise RangeError(f"{text}: the range is too small (at least a /30 is needed)")
        return cls(network)

    def __str__(self) -> str:
        return str(self.network)

    @property
    def size(self) -> int:
        """Addresses that may be handed out: all but the network and broadcast addresses."""
        return self.network.num_addresses - 2

    def address(self, index: int) -> str:
        """The ``index``-th usable address (1 is the first: 10.0.0.1 of 10.0.0.0/16)."""
        return str(self.network.network_address + index)

    def contains(self, ip: str) -> bool:
        """Whether ``ip`` may be allocated: inside the CIDR, not its network or broadcast address."""
        try:
            address = ipaddress.IPv4Address(ip)
        except ValueError:
            return False
        return (address in self.network and address != self.network.network_address
                and address != self.network.broadcast_address)

    def candidates(self) -> Iterator[str]:
        """Every usable address once, starting in the upper band at random.

        Upstream (KEP-3070) keeps the lower band of a range for static allocation: dynamic picks
        go to the upper band first, so a requested well-known address (the DNS service's 10th)
        is rarely taken already.
        """
        size = self.size
        reserved = min(max(16, size // 16), 256)
        upper = size - reserved
        start = random.randrange(upper) if upper > 0 else 0
        for step in range(upper):
            yield self.address(1 + reserved + (start + step) % upper)
        for index in range(1, min(reserved, size) + 1):
            yield self.address(index)


@dataclass(frozen=True, slots=True)
class NetworkServicePool:
    """``--network-service-cidr-pool``: the /24s ipam-Arktos networks are given."""

    network: ipaddress.IPv4Network

    @classmethod
    def parse(cls, text: str = DEFAULT_NETWORK_SERVICE_CIDR_POOL) -> NetworkServicePool:
        pool = IPRange.parse(text).network
        if pool.prefixlen > NETWORK_PREFIX_LENGTH:
            raise RangeError(f"{text}: the network service CIDR pool must hold at least one "
                             f"/{NETWORK_PREFIX_LENGTH}")
        return cls(pool)

    def __str__(self) -> str:
        return str(self.network)

    def subnets(self) -> Iterator[str]:
        """Every /24 of the pool, lowest first (a network's range is predictable in tests and logs)."""
        return (str(subnet) for subnet in self.network.subnets(new_prefix=NETWORK_PREFIX_LENGTH))

    def overlaps(self, cidr: ipaddress.IPv4Network) -> bool:
        return self.network.overlaps(cidr)


@dataclass(frozen=True, slots=True)
class ServiceRanges:
    """What Services get addresses and node ports from."""

    cluster_ips: IPRange
    node_ports: PortRange
    network_pool: NetworkServicePool

    @classmethod
    def parse(cls, cluster_ip_range: str = DEFAULT_CLUSTER_IP_RANGE,
              node_port_range: str = DEFAULT_NODE_PORT_RANGE,
              network_service_cidr_pool: str = DEFAULT_NETWORK_SERVICE_CIDR_POOL) -> ServiceRanges:
        cluster_ips = IPRange.parse(cluster_ip_range)
        pool = NetworkServicePool.parse(network_service_cidr_pool)
        if pool.overlaps(cluster_ips.network):
            raise RangeError(f"the network service CIDR pool {pool} overlaps the service cluster IP "
                             f"range {cluster_ips}")
        return cls(cluster_ips, PortRange.parse(node_port_range), pool)

    @property
    def kubernetes_service_ip(self) -> str:
        """The ``kubernetes`` Service's address: the range's first (upstream's
        ServiceIPRange → apiServerServiceIP)."""
        return self.cluster_ips.address(1)
