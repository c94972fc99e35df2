"""Forwarding of names that are not the cluster's to the upstream resolvers.

As CoreDNS's ``forward . /etc/resolv.conf``: the upstreams are the ``nameserver`` lines of the DNS
pod's own resolv.conf (``dnsPolicy: Default`` gives it the node's), tried in order; a query goes
over UDP, and again over TCP when the UDP answer comes back truncated. When no upstream answers
in time the caller answers SERVFAIL; past ``max_concurrent`` queries in flight (CoreDNS's
``max_concurrent``, 1000) a new one is refused at once (REFUSED, as CoreDNS), so a flood towards
a dead upstream cannot pile up sockets without bound. The packet is passed through as the client
sent it (its id, flags and EDNS options included), so the upstream's reply is the client's reply.
"""

from __future__ import annotations

import asyncio
import logging
import struct
from dataclasses import dataclass
from pathlib import Path

from dnslib import DNSError, DNSRecord

log = logging.getLogger(__name__)

UPSTREAM_TIMEOUT_S = 2.0
MAX_CONCURRENT = 1000


class TooManyForwards(Exception):
    """``max_concurrent`` forwarded queries are already waiting."""


@dataclass(frozen=True)
class Upstream:
    host: str
    port: int = 53

    @classmethod
    def parse(cls, text: str) -> Upstream:
        """``1.2.3.4``, ``1.2.3.4:5353``, ``[::1]:5353`` or ``::1``."""
        if text.startswith("["):
            host, _, port = text[1:].partition("]:")
            return cls(host.rstrip("]"), int(port or 53))
        if text.count(":") == 1:
            host, port = text.split(":")
            return cls(host, int(port))
        return cls(text)


def upstreams_from_resolv_conf(path: Path) -> list[Upstream]:
    found = []
    for line in path.read_text().splitlines():
        fields = line.split()
        if len(fields) >= 2 and fields[0] == "nameserver":
            found.append(Upstream(fields[1].split("%")[0]))
    return found


class _OneReply(asyncio.DatagramProtocol):
    def __init__(self, reply: asyncio.Future[bytes]) -> None:
        self.reply = reply

    def datagram_received(self, data: bytes, addr: tuple[str, int]) -> None:
        if not self.reply.done():
            self.reply.set_result(data)

    def error_received(self, exc: Exception) -> None:
        if not self.reply.done():
            self.reply.set_exception(exc)


async def query_udp(packet: bytes, upstream: Upstream, *, within: float) -> bytes:
    loop = asyncio.get_running_loop()
    reply: asyncio.Future[bytes] = loop.create_future()
    transport, _ = await loop.create_datagram_endpoint(lambda: _OneReply(reply),
                                                       remote_addr=(upstream.host, upstream.port))
    try:
        transport.sendto(packet)
        return await asyncio.wait_for(reply, within)
    finally:
        transport.close()


async def query_tcp(packet: bytes, upstream: Upstream, *, within: float) -> bytes:
    async def exchange() -> bytes:
        reader, writer = await asyncio.open_connection(upstream.host, upstream.port)
        try:
            writer.write(struct.pack("!H", len(packet)) + packet)
            await writer.drain()
            (length,) = struct.unpack("!H", await reader.readexactly(2))
            return await reader.readexactly(length)
        finally:
            writer.close()

    return await asyncio.wait_for(exchange(), within)


class Forwarder:
    def __init__(self, upstreams: list[Upstream], *, timeout: float = UPSTREAM_TIMEOUT_S,
                 max_concurrent: int = MAX_CONCURRENT) -> None:
        self.upstreams = upstreams
        self.timeout = timeout
        self.max_concurrent = max_concurrent
        self._in_flight = 0

    async def forward(self, packet: bytes, *, query_id: int) -> bytes | None:
        """The first upstream's reply to ``packet``, or None when none answered."""
        if self._in_flight >= self.max_concurrent:
            raise TooManyForwards
        self._in_flight += 1
        try:
            return await self._forward(packet, query_id=query_id)
        finally:
            self._in_flight -= 1

    async def _forward(self, packet: bytes, *, query_id: int) -> bytes | None:
        for upstream in self.upstreams:
            try:
                data = await query_udp(packet, upstream, within=self.timeout)
                reply = DNSRecord.parse(data)
                if reply.header.id != query_id:
                    log.warning("upstream %s answered another query id; ignored", upstream.host)
                    continue
                if reply.header.tc:
                    data = await query_tcp(packet, upstream, within=self.timeout)
                return data
            except (TimeoutError, OSError, DNSError, asyncio.IncompleteReadError, struct.error) as e:
                log.info("upstream %s:%d: %s", upstream.host, upstream.port, e or type(e).__name__)
        return None
