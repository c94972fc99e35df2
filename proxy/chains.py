"""The names of the proxier's iptables chains, all under one prefix.

Upstream's iptables proxier names its chains ``KUBE-SERVICES``, ``KUBE-SVC-<hash>``,
``KUBE-SEP-<hash>``...: the hash is the first 16 characters of the base32 SHA-256 of the service
port name and protocol (plus the endpoint for SEP chains), so names are stable across restarts and
identical on every node. Here ``KUBE`` is a setting (``--iptables-chain-prefix``): several clusters
(tests, CI) share this host's netfilter tables, and each must own, rewrite and remove only its own
chains. A chain name is at most 28 characters, which bounds the prefix at 7.
"""

from __future__ import annotations

import base64
import hashlib
import re
from dataclasses import dataclass

from proxy.model import Endpoint, ServicePortName

MAX_CHAIN_NAME = 28
_HASH_LENGTH = 16
_PREFIX = re.compile(r"^[A-Z][A-Z0-9]{0,6}$")


class ChainPrefixError(ValueError):
    """The prefix would make chain names iptables refuses or names another cluster could own."""


def _hash(text: str) -> str:
    digest = hashlib.sha256(text.encode()).digest()
    return base64.b32encode(digest).decode()[:_HASH_LENGTH]


@dataclass(frozen=True, slots=True)
class ChainNames:
    """Every chain name the proxier writes for one prefix."""

    prefix: str = "KUBE"

    def __post_init__(self) -> None:
        if not _PREFIX.match(self.prefix):
            raise ChainPrefixError(
                f"iptables chain prefix {self.prefix!r}: 1-7 upper-case letters or digits, starting with a "
                f"letter (chain names are limited to {MAX_CHAIN_NAME} characters)")

    @property
    def services(self) -> str:
        return f"{self.prefix}-SERVICES"

    @property
    def external_services(self) -> str:
        return f"{self.prefix}-EXTERNAL-SERVICES"

    @property
    def node_ports(self) -> str:
        return f"{self.prefix}-NODEPORTS"

    @property
    def postrouting(self) -> str:
        return f"{self.prefix}-POSTROUTING"

    @property
    def mark_masq(self) -> str:
        return f"{self.prefix}-MARK-MASQ"

    @property
    def forward(self) -> str:
        return f"{self.prefix}-FORWARD"

    @property
    def isolation(self) -> str:
        return f"{self.prefix}-ISOLATION"

    @property
    def isolation_pods(self) -> str:
        return f"{self.prefix}-ISOLATION-PODS"

    def network_chain(self, tenant: str, network: str) -> str:
        """The chain of one (tenant, network): where its pods' new connections are checked."""
        return f"{self.prefix}-NET-{_hash(f'{tenant}/{network}')}"

    def service_chain(self, name: ServicePortName) -> str:
        # Upstream hashes "namespace/name:port" + protocol; the tenant joins the name here.
        return f"{self.prefix}-SVC-{_hash(str(name) + name.protocol.lower())}"

    def endpoint_chain(self, name: ServicePortName, endpoint: Endpoint) -> str:
        return f"{self.prefix}-SEP-{_hash(str(name) + name.protocol.lower() + str(endpoint))}"

    def nat_fixed(self) -> tuple[str, ...]:
        """The nat chains that exist whatever the Services are."""
        return (self.services, self.node_ports, self.postrouting, self.mark_masq)

    def filter_fixed(self) -> tuple[str, ...]:
        return (self.services, self.external_services, self.forward)

    def isolation_fixed(self) -> tuple[str, ...]:
        """The filter chains of network isolation that exist whatever the pods are."""
        return (self.isolation, self.isolation_pods)

    def is_own(self, chain: str) -> bool:
        """Whether a chain found in the tables is one of this prefix's (fixed or per service)."""
        if chain in self.nat_fixed() or chain in self.filter_fixed() or chain in self.isolation_fixed():
            return True
        return re.fullmatch(rf"{self.prefix}-(SVC|SEP|NET)-[A-Z2-7]{{{_HASH_LENGTH}}}", chain) is not None

    def is_network_chain(self, chain: str) -> bool:
        return re.fullmatch(rf"{self.prefix}-NET-[A-Z2-7]{{{_HASH_LENGTH}}}", chain) is not None
