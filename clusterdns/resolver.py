"""Answers a question from the zone of the querier's tenant and network, or says it belongs upstream.

Names under the cluster domain are ours (authoritative answers; NXDOMAIN for names that do not
exist, NODATA for existing names without the asked type, both with the zone's SOA in the
authority section as RFC 2308 asks); reverse names of Service and headless endpoint addresses are
ours too. Everything else — and reverse names we do not know, as CoreDNS's ``fallthrough
in-addr.arpa ip6.arpa`` — is forwarded. The asker's scope (tenant and network) picks the zone;
a zone is built on its first question and then updated, before each question, for the Services
of its tenant that changed since (zone.py): a tenant's changes are noted in each of its zones and
applied when that zone is next asked.
"""

from __future__ import annotations

import ipaddress
import time
from dataclasses import dataclass, field

from dnslib import QTYPE, RCODE, RD, RR, SOA, DNSHeader, DNSLabel, DNSRecord

from clusterdns.cache import KUBERNETES_SERVICE, ClusterCache
from clusterdns.objects import Scope
from clusterdns.zone import Zone, address_record, build_zone, refresh_zone

REVERSE_SUFFIXES = (".in-addr.arpa.", ".ip6.arpa.")
# CoreDNS's SOA timers for the cluster zone: refresh, retry, expire (the serial and the minimum
# TTL are the zone's own).
SOA_TIMERS = (7200, 1800, 86400)
MAX_KEPT_ANSWERS = 10_000  # per zone; past it the kept answers start over (random-name floods)


@dataclass
class _ScopeZone:
    zone: Zone
    generation: int
    kubernetes_generation: int
    serial: int
    pending: set[tuple[str, str]] = field(default_factory=set)  # its tenant's Services changed since
    # Answers already made from this zone, by question and flags: asked again, only the id and the
    # question's case change (most questions repeat: the same Services, the same search-path misses).
    answers: dict[tuple[str, int, int, int], Resolution] = field(default_factory=dict)


@dataclass(frozen=True)
class Resolution:
    """An answer of ours (``reply``), or ``None`` to forward the query as it came; ``chase`` names
    an ExternalName target outside the domain whose records the server appends from upstream."""

    reply: DNSRecord | None
    chase: str = ""


class Resolver:
    def __init__(self, cache: ClusterCache, *, domain: str, ttl: int) -> None:
        self.cache = cache
        self.domain = domain.strip(".").lower() + "."
        self.ttl = ttl
        self._zones: dict[Scope, _ScopeZone] = {}
        self._networks: dict[str, set[str]] = {}  # tenant → the networks it has zones of

    def zone_for(self, scope: Scope) -> tuple[Zone, int]:
        """The scope's zone, brought up to date, and its SOA serial (the time it last changed)."""
        state = self._state(scope)
        return state.zone, state.serial

    def _state(self, scope: Scope) -> _ScopeZone:
        cache = self.cache
        dirty = cache.take_dirty(scope.tenant)
        if dirty:
            for network in self._networks.get(scope.tenant, ()):
                self._zones[Scope(scope.tenant, network)].pending |= dirty
        state = self._zones.get(scope)
        if state is None or state.generation != cache.generation:
            state = _ScopeZone(build_zone(cache, scope, self.domain), cache.generation,
                               cache.kubernetes_generation, int(time.time()))
            self._zones[scope] = state
            self._networks.setdefault(scope.tenant, set()).add(scope.network)
            return state
        dirty, state.pending = state.pending, set()
        if state.kubernetes_generation != cache.kubernetes_generation:
            dirty.add(KUBERNETES_SERVICE)
            state.kubernetes_generation = cache.kubernetes_generation
        if dirty:
            refresh_zone(state.zone, cache, scope, dirty)
            state.serial = max(state.serial + 1, int(time.time()))
            state.answers.clear()
        return state

    def resolve(self, request: DNSRecord, scope: Scope) -> Resolution:
        """Our answer (a fresh record the caller may change), or Resolution(None) to forward."""
        qname = str(request.q.qname).lower()
        if not qname.endswith("."):
            qname += "."
        reverse = qname.endswith(REVERSE_SUFFIXES)
        if not reverse and qname != self.domain and not qname.endswith("." + self.domain):
            return Resolution(None)
        state = self._state(scope)
        # The name as asked (case kept, for clients that check the echo) and the request's flags,
        # which the reply copies; pod names depend on pods, not on the zone, and are not kept.
        key = (str(request.q.qname), request.q.qtype, request.q.qclass, request.header.bitmap)
        resolution = state.answers.get(key)
        if resolution is None:
            if reverse:
                resolution = self._reverse(request, qname, state.zone)
            else:
                resolution = self._cluster_name(request, qname, scope, state)
            if not (qname.endswith(".pod." + self.domain) or qname == "pod." + self.domain):
                if len(state.answers) >= MAX_KEPT_ANSWERS:
                    state.answers.clear()
                state.answers[key] = resolution
        return _copy_for(resolution, request)

    def _cluster_name(self, request: DNSRecord, qname: str, scope: Scope, state: _ScopeZone) -> Resolution:
        """A name under the cluster domain."""
        reply = request.reply(ra=1, aa=1)
        if qname.endswith(".pod." + self.domain) or qname == "pod." + self.domain:
            self._pod(reply, qname, scope)
        else:
            chase = self._lookup(reply, state.zone, qname, request.q.qtype)
            if chase:
                return Resolution(reply, chase=chase)
        if qname == self.domain and request.q.qtype in (QTYPE.SOA, QTYPE.ANY):
            self._add_soa(reply, state.serial, authority=False)
        elif not reply.rr:
            self._add_soa(reply, state.serial, authority=True)
        return Resolution(reply)

    def _answer(self, reply: DNSRecord, name: str | DNSLabel, qtype: int, rdata: RD) -> None:
        reply.add_answer(RR(name, qtype, rdata=rdata, ttl=self.ttl))

    def _lookup(self, reply: DNSRecord, zone: Zone, qname: str, qtype: int) -> str:
        """Fills the reply; returns a CNAME target outside the domain that still needs resolving."""
        owner = reply.q.qname
        records = zone.records.get(qname)
        if records is None:
            if not zone.exists(qname):
                reply.header.rcode = RCODE.NXDOMAIN
            return ""
        if QTYPE.CNAME in records and qtype != QTYPE.CNAME:
            target = next(iter(records[QTYPE.CNAME].values()))
            self._answer(reply, owner, QTYPE.CNAME, target)
            target_name = str(target.label).lower()
            if not target_name.endswith("." + self.domain):
                return target_name
            inner = zone.records.get(target_name, {})
            for rdata in inner.get(qtype, {}).values():
                self._answer(reply, target.label, qtype, rdata)
            return ""
        for rtype, rdatas in records.items():
            if qtype in (rtype, QTYPE.ANY):
                for rdata in rdatas.values():
                    self._answer(reply, owner, rtype, rdata)
        if qtype == QTYPE.SRV:
            self._add_srv_targets(reply, zone, list(records.get(QTYPE.SRV, {}).values()))
        return ""

    def _add_srv_targets(self, reply: DNSRecord, zone: Zone, srvs: list[RD]) -> None:
        for srv in srvs:
            target = str(srv.target).lower()
            for rtype in (QTYPE.A, QTYPE.AAAA):
                for rdata in zone.records.get(target, {}).get(rtype, {}).values():
                    reply.add_ar(RR(srv.target, rtype, rdata=rdata, ttl=self.ttl))

    def _pod(self, reply: DNSRecord, qname: str, scope: Scope) -> None:
        """``<ip-with-dashes>.<ns>.pod.<domain>``, answered only for an IP a pod of the asker's
        network has in that namespace (CoreDNS's ``pods verified``); ``pod.<domain>`` and a
        namespace with pods under it exist (NODATA)."""
        if qname == "pod." + self.domain:
            return
        labels = qname[: -len(".pod." + self.domain)].split(".")
        if len(labels) == 1 and self.cache.has_pods_in(scope, labels[0]):
            return
        ip = _dashed_ip(labels[0]) if len(labels) == 2 else None
        if ip is None or not self.cache.has_pod_ip(scope, labels[1], ip):
            reply.header.rcode = RCODE.NXDOMAIN
            return
        rtype, rdata = address_record(ip)
        if reply.q.qtype in (rtype, QTYPE.ANY):
            self._answer(reply, reply.q.qname, rtype, rdata)

    def _reverse(self, request: DNSRecord, qname: str, zone: Zone) -> Resolution:
        targets = zone.ptr_targets(qname)
        if not targets or request.q.qtype not in (QTYPE.PTR, QTYPE.ANY):
            return Resolution(None)
        reply = request.reply(ra=1, aa=1)
        for rdata in targets:
            self._answer(reply, request.q.qname, QTYPE.PTR, rdata)
        return Resolution(reply)

    def _add_soa(self, reply: DNSRecord, serial: int, *, authority: bool) -> None:
        soa = SOA(mname=f"ns.dns.{self.domain}", rname=f"hostmaster.{self.domain}",
                  times=(serial, *SOA_TIMERS, self.ttl))
        record = RR(self.domain, QTYPE.SOA, rdata=soa, ttl=self.ttl)
        if authority:
            reply.add_auth(record)
        else:
            reply.add_answer(record)


def _copy_for(resolution: Resolution, request: DNSRecord) -> Resolution:
    """A kept answer for this request: its id and question, the kept flags and records."""
    kept = resolution.reply
    if kept is None:
        return resolution
    header = DNSHeader(id=request.header.id, bitmap=kept.header.bitmap)
    reply = DNSRecord(header, questions=list(request.questions), rr=list(kept.rr), auth=list(kept.auth),
                      ar=list(kept.ar))
    return Resolution(reply, chase=resolution.chase)


def _dashed_ip(label: str) -> str | None:
    """``10-1-2-3`` → ``10.1.2.3``; ``fd00--1`` → ``fd00::1``; None when it is no address."""
    for separator in (".", ":"):
        try:
            return str(ipaddress.ip_address(label.replace("-", separator)))
        except ValueError:
            continue
    return None
