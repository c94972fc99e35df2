"""The partitions behind the gateway and the connections to them.

Each partition keeps two keep-alive pools (aiohttp ``ClientSession``s), as the contract's identity
forwarding needs: one presenting the front-proxy client certificate (``--proxy-client-cert-file``),
for callers the gateway authenticated by certificate and forwards with ``X-Remote-*`` headers, and
one without any client certificate, for bearer tokens and anonymous callers (the partition
authenticates those itself). Both verify the partition's serving certificate with
``--partition-ca-file``.
"""

from __future__ import annotations

import ssl
from dataclasses import dataclass, field
from urllib.parse import urlsplit

import aiohttp

from gateway.config import GatewayConfig, PartitionAddress

# Connections kept per pool; more requests than this queue in aiohttp for a free one.
_POOL_SIZE = 256
_CONNECT_TIMEOUT_S = 10.0
# The partition must see the client's headers, not aiohttp's defaults: a body without Content-Type
# is JSON to the API server but aiohttp would label it application/octet-stream (a 415), and an
# Accept-Encoding the client never sent would get it a gzip body it did not ask for.
_NO_AUTO_HEADERS = ("User-Agent", "Content-Type", "Accept-Encoding")


def client_context(*, ca_file: str, cert_file: str = "", key_file: str = "") -> ssl.SSLContext:
    context = ssl.create_default_context(cafile=ca_file or None)
    context.minimum_version = ssl.TLSVersion.TLSv1_2
    if cert_file:
        context.load_cert_chain(cert_file, key_file or None)
    context.set_alpn_protocols(["http/1.1"])
    return context


@dataclass(eq=False)
class Partition:
    """One partition: its name, index in its kind's list, base URL and connection pools."""

    name: str
    index: int
    url: str
    proxy_context: ssl.SSLContext | None
    plain_context: ssl.SSLContext | None
    _sessions: dict[bool, aiohttp.ClientSession] = field(default_factory=dict, repr=False)

    def session(self, *, as_proxy: bool) -> aiohttp.ClientSession:
        """The pool for forwarded certificate identities (``as_proxy``) or for everyone else."""
        found = self._sessions.get(as_proxy)
        if found is None:
            context = self.proxy_context if as_proxy else self.plain_context
            connector = aiohttp.TCPConnector(limit=_POOL_SIZE, ssl=context if context is not None else False,
                                             enable_cleanup_closed=True)
            found = aiohttp.ClientSession(
                connector=connector, auto_decompress=False, skip_auto_headers=_NO_AUTO_HEADERS,
                timeout=aiohttp.ClientTimeout(total=None, sock_connect=_CONNECT_TIMEOUT_S))
            self._sessions[as_proxy] = found
        return found

    @property
    def host_port(self) -> tuple[str, int]:
        parts = urlsplit(self.url)
        default = 443 if parts.scheme == "https" else 80
        return parts.hostname or "127.0.0.1", parts.port or default

    @property
    def is_tls(self) -> bool:
        return self.url.startswith("https://")

    async def close(self) -> None:
        for session in self._sessions.values():
            await session.close()
        self._sessions.clear()


@dataclass(frozen=True)
class Partitions:
    tenant: tuple[Partition, ...]
    resource: tuple[Partition, ...]

    @classmethod
    def from_config(cls, config: GatewayConfig) -> Partitions:
        plain = client_context(ca_file=config.partition_ca_file)
        proxy = plain
        if config.proxy_client_cert_file:
            proxy = client_context(ca_file=config.partition_ca_file, cert_file=config.proxy_client_cert_file,
                                   key_file=config.proxy_client_key_file)

        def build(addresses: tuple[PartitionAddress, ...]) -> tuple[Partition, ...]:
            return tuple(Partition(a.name, i, a.url, proxy if a.url.startswith("https://") else None,
                                   plain if a.url.startswith("https://") else None)
                         for i, a in enumerate(addresses))

        return cls(build(config.tenant_partitions), build(config.resource_partitions))

    def all(self) -> list[Partition]:
        return list(dict.fromkeys([*self.tenant, *self.resource]))

    async def close(self) -> None:
        for partition in self.all():
            await partition.close()
