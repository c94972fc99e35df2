"""Forwarding of names that are not the cluster's: a fake upstream (dnslib's own server, UDP and
TCP on a loopback port) answers; truncated UDP answers are asked again over TCP; a dead upstream
is skipped; none answering gives SERVFAIL; an ExternalName target outside the domain is resolved
upstream. Also the resolv.conf and --upstream parsing."""

from __future__ import annotations

import asyncio
import socket
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from clusterdns_objects import service
from dnslib import QTYPE, RCODE, RR, A, DNSRecord
from dnslib.server import BaseResolver, DNSLogger, DNSServer

from clusterdns.cache import ClusterCache
from clusterdns.forwarder import Forwarder, Upstream, upstreams_from_resolv_conf
from clusterdns.resolver import Resolver
from clusterdns.server import DnsHandler


class FakeUpstream(BaseResolver):  # type: ignore[misc]
    """Answers every A question with 192.0.2.1 and 192.0.2.2; when ``truncate_udp``, a UDP
    question gets an empty answer with TC set, as a server whose answer did not fit."""

    def __init__(self, *, truncate_udp: bool = False) -> None:
        self.truncate_udp = truncate_udp
        self.protocols: list[str] = []

    def resolve(self, request: DNSRecord, handler: Any) -> DNSRecord:
        self.protocols.append(handler.protocol)
        reply = request.reply()
        if self.truncate_udp and handler.protocol == "udp":
            reply.header.tc = 1
            return reply
        for ip in ("192.0.2.1", "192.0.2.2"):
            reply.add_answer(RR(request.q.qname, QTYPE.A, rdata=A(ip), ttl=60))
        return reply


def _free_udp_and_tcp_port() -> int:
    for _ in range(20):
        with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as udp:
            udp.bind(("127.0.0.1", 0))
            port: int = udp.getsockname()[1]
            with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as tcp:
                try:
                    tcp.bind(("127.0.0.1", port))
                except OSError:
                    continue
                return port
    raise AssertionError("no port free for both UDP and TCP")


def start_upstream(resolver: FakeUpstream) -> tuple[Upstream, list[DNSServer]]:
    port = _free_udp_and_tcp_port()
    logger = DNSLogger(log="-request,-reply,-truncated,-data", prefix=False)
    servers = [DNSServer(resolver, address="127.0.0.1", port=port, tcp=tcp, logger=logger)
               for tcp in (False, True)]
    for server in servers:
        server.start_thread()
    return Upstream("127.0.0.1", port), servers


@pytest.fixture(scope="module")
def upstream_servers() -> Iterator[list[tuple[Upstream, FakeUpstream]]]:
    """[plain upstream, upstream that truncates over UDP], shared by the module (stopping one takes
    socketserver's 0.5 s poll)."""
    started: list[DNSServer] = []
    found = []
    for resolver in (FakeUpstream(), FakeUpstream(truncate_udp=True)):
        upstream, servers = start_upstream(resolver)
        started.extend(servers)
        found.append((upstream, resolver))
    yield found
    for server in started:
        server.stop()


@pytest.fixture
def upstreams(upstream_servers: list[tuple[Upstream, FakeUpstream]]) -> list[tuple[Upstream, FakeUpstream]]:
    for _, fake in upstream_servers:
        fake.protocols.clear()
    return upstream_servers


def handler_with(upstreams: list[Upstream], *, timeout: float = 2.0) -> DnsHandler:
    cache = ClusterCache()
    cache.replace("Service", [service("ext", cluster_ip="", type="ExternalName", externalName="example.org")])
    forwarder = Forwarder(upstreams, timeout=timeout)
    return DnsHandler(Resolver(cache, domain="cluster.local", ttl=30), forwarder, scope_of=cache.scope_of)


async def ask(handler: DnsHandler, name: str, *, limit: int | None = None) -> tuple[DNSRecord, DNSRecord]:
    query = DNSRecord.question(name)
    packet = query.pack()
    answer, request, chase = handler.answer_locally(packet, "10.88.0.5", limit=limit)
    assert answer is None and request is not None, f"{name} was answered without the network"
    answer = await handler.answer_remotely(packet, request, chase, "10.88.0.5", limit=limit)
    return query, DNSRecord.parse(answer)


Upstreams = list[tuple[Upstream, FakeUpstream]]


async def test_other_names_are_answered_by_the_upstream(upstreams: Upstreams) -> None:
    (upstream, fake), _ = upstreams
    query, reply = await ask(handler_with([upstream]), "www.example.com")
    assert reply.header.id == query.header.id and reply.header.rcode == RCODE.NOERROR
    assert sorted(str(r.rdata) for r in reply.rr) == ["192.0.2.1", "192.0.2.2"]
    assert fake.protocols == ["udp"]


async def test_a_truncated_udp_answer_is_asked_again_over_tcp(upstreams: Upstreams) -> None:
    _, (upstream, fake) = upstreams
    _, reply = await ask(handler_with([upstream]), "big.example.com")
    assert fake.protocols == ["udp", "tcp"]
    assert reply.header.tc == 0 and len(reply.rr) == 2


async def test_a_dead_upstream_is_skipped(upstreams: Upstreams) -> None:
    (upstream, _), _ = upstreams
    dead = Upstream("127.0.0.1", _free_udp_and_tcp_port())
    _, reply = await ask(handler_with([dead, upstream], timeout=0.5), "www.example.com")
    assert len(reply.rr) == 2


async def test_no_upstream_answering_is_servfail() -> None:
    silent = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)  # bound, never answers: a timeout
    silent.bind(("127.0.0.1", 0))
    try:
        query, reply = await ask(handler_with([Upstream("127.0.0.1", silent.getsockname()[1])], timeout=0.3),
                                 "www.example.com")
    finally:
        silent.close()
    assert reply.header.rcode == RCODE.SERVFAIL and reply.header.id == query.header.id


async def test_external_name_target_is_resolved_upstream(upstreams: Upstreams) -> None:
    (upstream, _), _ = upstreams
    _, reply = await ask(handler_with([upstream]), "ext.default.svc.cluster.local")
    assert [(QTYPE[r.rtype], str(r.rdata)) for r in reply.rr] == [
        ("CNAME", "example.org."), ("A", "192.0.2.1"), ("A", "192.0.2.2")]


def test_upstreams_come_from_resolv_conf(tmp_path: Path) -> None:
    resolv = tmp_path / "resolv.conf"
    resolv.write_text("search example.com\nnameserver 10.255.255.53\n# nameserver 9.9.9.9\n"
                      "nameserver fe80::1%eth0\noptions ndots:5\n")
    assert upstreams_from_resolv_conf(resolv) == [Upstream("10.255.255.53"), Upstream("fe80::1")]


@pytest.mark.parametrize(("text", "expected"), [
    ("1.2.3.4", Upstream("1.2.3.4", 53)), ("127.0.0.1:5353", Upstream("127.0.0.1", 5353)),
    ("[::1]:5353", Upstream("::1", 5353)), ("::1", Upstream("::1", 53))])
def test_upstream_flag_forms(text: str, expected: Upstream) -> None:
    assert Upstream.parse(text) == expected


async def test_past_max_concurrent_forwards_a_query_is_refused() -> None:
    silent = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    silent.bind(("127.0.0.1", 0))
    try:
        handler = handler_with([Upstream("127.0.0.1", silent.getsockname()[1])], timeout=0.5)
        handler.forwarder.max_concurrent = 1
        first = asyncio.ensure_future(ask(handler, "one.example.com"))
        await asyncio.sleep(0.05)  # the first is waiting on the silent upstream
        _, second = await ask(handler, "two.example.com")
        assert second.header.rcode == RCODE.REFUSED
        _, first_reply = await first
        assert first_reply.header.rcode == RCODE.SERVFAIL
    finally:
        silent.close()
