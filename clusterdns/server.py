"""The DNS listeners: UDP and TCP on one port, a question in, an answer out.

Each query is parsed with dnslib, the source address is mapped to its scope (the tenant and
network of the pod that owns it), and the resolver answers from that scope's zone or the query is
forwarded upstream. Our own answers are made synchronously in the datagram handler (no task per
query); only forwarded queries wait on the network. UDP answers longer than the client accepts (512
bytes, or its EDNS0 payload size) go out truncated (TC set) so the client asks again over TCP, as
RFC 1035/6891 ask.
"""

from __future__ import annotations

import asyncio
import logging
import struct
from collections.abc import Callable
from typing import cast

from dnslib import QTYPE, RCODE, DNSError, DNSRecord

from clusterdns.forwarder import Forwarder, TooManyForwards
from clusterdns.objects import Scope
from clusterdns.resolver import Resolver

log = logging.getLogger(__name__)

CLASSIC_UDP_LIMIT = 512
TCP_LIMIT = 65535


class DnsHandler:
    """Turns one query packet into one answer packet (or none, for a packet that is no query)."""

    def __init__(self, resolver: Resolver, forwarder: Forwarder, *, scope_of: Callable[[str], Scope]) -> None:
        self.resolver, self.forwarder, self.scope_of = resolver, forwarder, scope_of

    def answer_locally(self, packet: bytes, source_ip: str, *, limit: int | None
                       ) -> tuple[bytes | None, DNSRecord | None, str]:
        """(answer, None, "") when answered here; (None, request, chase) when the network is needed
        — a forward (chase empty) or an ExternalName target to resolve upstream."""
        try:
            request = DNSRecord.parse(packet)
        except DNSError:
            return None, None, ""
        if request.header.qr:
            return None, None, ""
        if request.header.opcode != 0 or not request.questions:
            reply = request.reply()
            reply.header.rcode = RCODE.NOTIMP if request.header.opcode != 0 else RCODE.FORMERR
            return reply.pack(), None, ""
        try:
            resolution = self.resolver.resolve(request, self.scope_of(source_ip))
        except Exception:  # one bad answer must not take the listener down: SERVFAIL, as CoreDNS
            log.exception("answering %s %s", request.q.qname, QTYPE.get(request.q.qtype))
            return self._servfail(request), None, ""
        if resolution.reply is None or resolution.chase:
            return None, request, resolution.chase
        return _fit(resolution.reply, _limit(request, limit)), None, ""

    async def answer_remotely(self, packet: bytes, request: DNSRecord, chase: str, source_ip: str, *,
                              limit: int | None) -> bytes:
        if chase:
            return await self._chase(request, chase, source_ip, limit=limit)
        try:
            data = await self.forwarder.forward(packet, query_id=request.header.id)
        except TooManyForwards:
            return self._refused(request)
        if data is None:
            return self._servfail(request)
        max_size = _limit(request, limit)
        if len(data) <= max_size:
            return data
        try:
            return DNSRecord.parse(data).truncate().pack()
        except DNSError:
            return self._servfail(request)

    async def _chase(self, request: DNSRecord, target: str, source_ip: str, *, limit: int | None) -> bytes:
        """An ExternalName's CNAME plus the target's records from upstream (CoreDNS resolves the
        target too: a stub resolver does not follow CNAMEs itself)."""
        reply = self.resolver.resolve(request, self.scope_of(source_ip)).reply
        assert reply is not None
        question = DNSRecord.question(target, QTYPE.get(request.q.qtype))
        try:
            data = await self.forwarder.forward(question.pack(), query_id=question.header.id)
        except TooManyForwards:
            data = None
        if data is not None:
            try:
                for record in DNSRecord.parse(data).rr:
                    reply.add_answer(record)
            except DNSError:
                pass
        return _fit(reply, _limit(request, limit))

    @staticmethod
    def _servfail(request: DNSRecord) -> bytes:
        reply = request.reply(ra=1)
        reply.header.rcode = RCODE.SERVFAIL
        return reply.pack()

    @staticmethod
    def _refused(request: DNSRecord) -> bytes:
        reply = request.reply(ra=1)
        reply.header.rcode = RCODE.REFUSED
        return reply.pack()


def _limit(request: DNSRecord, transport_limit: int | None) -> int:
    """TCP: the transport's; UDP: 512 bytes or the client's EDNS0 payload size."""
    if transport_limit is not None:
        return transport_limit
    for record in request.ar:
        if record.rtype == QTYPE.OPT:
            return max(CLASSIC_UDP_LIMIT, int(record.rclass))
    return CLASSIC_UDP_LIMIT


def _fit(reply: DNSRecord, limit: int) -> bytes:
    data = reply.pack()
    if len(data) <= limit:
        return data
    trimmed = DNSRecord(header=reply.header, q=reply.q)
    for record in reply.rr:  # keep what fits, then say the rest was cut
        trimmed.add_answer(record)
        if len(trimmed.pack()) > limit:
            trimmed.rr.pop()
            break
    trimmed.header.tc = 1
    return trimmed.pack()


class UdpServer(asyncio.DatagramProtocol):
    def __init__(self, handler: DnsHandler) -> None:
        self.handler = handler
        self.transport: asyncio.DatagramTransport | None = None
        self._pending: set[asyncio.Task[None]] = set()

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self.transport = cast(asyncio.DatagramTransport, transport)

    def datagram_received(self, data: bytes, addr: tuple[str, int]) -> None:
        answer, request, chase = self.handler.answer_locally(data, addr[0], limit=None)
        if answer is not None and self.transport is not None:
            self.transport.sendto(answer, addr)
        elif request is not None:
            task = asyncio.create_task(self._remote(data, request, chase, addr))
            self._pending.add(task)
            task.add_done_callback(self._pending.discard)

    async def _remote(self, data: bytes, request: DNSRecord, chase: str, addr: tuple[str, int]) -> None:
        answer = await self.handler.answer_remotely(data, request, chase, addr[0], limit=None)
        if self.transport is not None:
            self.transport.sendto(answer, addr)


async def serve_tcp_connection(handler: DnsHandler, reader: asyncio.StreamReader,
                               writer: asyncio.StreamWriter) -> None:
    """Length-prefixed queries on one connection until the client closes it or idles 10 s."""
    source_ip = str(writer.get_extra_info("peername")[0])
    try:
        while True:
            (length,) = struct.unpack("!H", await asyncio.wait_for(reader.readexactly(2), 10))
            packet = await asyncio.wait_for(reader.readexactly(length), 10)
            answer, request, chase = handler.answer_locally(packet, source_ip, limit=TCP_LIMIT)
            if answer is None and request is not None:
                answer = await handler.answer_remotely(packet, request, chase, source_ip, limit=TCP_LIMIT)
            if answer is None:
                return
            writer.write(struct.pack("!H", len(answer)) + answer)
            await writer.drain()
    except (asyncio.IncompleteReadError, TimeoutError, ConnectionError):
        return
    finally:
        writer.close()


async def start_dns(handler: DnsHandler, *, bind: str, port: int
                    ) -> list[asyncio.BaseTransport | asyncio.Server]:
    loop = asyncio.get_running_loop()
    udp, _ = await loop.create_datagram_endpoint(lambda: UdpServer(handler), local_addr=(bind, port))
    tcp = await asyncio.start_server(lambda r, w: serve_tcp_connection(handler, r, w), bind, port)
    log.info("serving DNS on %s:%d (UDP and TCP)", bind, port)
    return [udp, tcp]

