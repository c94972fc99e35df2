"""Cluster DNS answers from a filled cache, on the wire (dnslib packets in and out): A/AAAA,
headless and per-endpoint names, SRV, PTR, ExternalName, pod names, NXDOMAIN vs NODATA with the
SOA, truncation, and the tenant scoping of every answer. Forwarding has its own file; the watch
that fills the cache is covered by the component test."""

from __future__ import annotations

import pytest
from clusterdns_objects import endpoint, endpoint_slice, pod, service
from dnslib import EDNS0, QTYPE, RCODE, DNSRecord

from clusterdns.cache import ClusterCache
from clusterdns.forwarder import Forwarder
from clusterdns.objects import SYSTEM_SCOPE, Scope
from clusterdns.resolver import Resolution, Resolver
from clusterdns.server import TCP_LIMIT, DnsHandler

TENANT_A_POD_IP = "10.88.0.11"
TENANT_B_POD_IP = "10.88.0.12"


@pytest.fixture
def cache() -> ClusterCache:
    cache = ClusterCache()
    cache.replace("Service", [
        service("kubernetes", cluster_ip="10.0.0.1",
                ports=[{"name": "https", "port": 443, "protocol": "TCP"}]),
        service("web", cluster_ip="10.0.0.50", ports=[{"name": "http", "port": 80, "protocol": "TCP"},
                                                      {"port": 9090, "protocol": "TCP"}]),
        service("hl", cluster_ip="None"),
        service("empty-hl", cluster_ip="None"),
        service("ext", cluster_ip="", type="ExternalName", externalName="example.org"),
        service("alias", cluster_ip="", type="ExternalName", externalName="web.default.svc.cluster.local"),
        service("web", tenant="a", cluster_ip="10.0.0.60"),
        service("secret-a", tenant="a", cluster_ip="10.0.0.61"),
        service("kubernetes", tenant="b", cluster_ip="10.0.0.99"),
    ])
    cache.replace("EndpointSlice", [
        endpoint_slice("hl-x", "hl", [
            endpoint("10.88.1.1", hostname="pet-0"), endpoint("10.88.1.2"),
            endpoint("10.88.1.3", ready=False), endpoint("10.88.1.4", ready=None)]),
    ])
    cache.replace("Pod", [pod("a-client", TENANT_A_POD_IP, tenant="a"),
                          pod("b-client", TENANT_B_POD_IP, tenant="b"), pod("sys", "10.88.0.13")])
    return cache


def handler_for(cache: ClusterCache, ttl: int = 30) -> DnsHandler:
    resolver = Resolver(cache, domain="cluster.local", ttl=ttl)
    return DnsHandler(resolver, Forwarder([]), scope_of=cache.scope_of)


def ask(cache: ClusterCache, name: str, qtype: str = "A", *, source: str = "10.88.0.13",
        limit: int | None = None) -> DNSRecord:
    packet = DNSRecord.question(name, qtype).pack()
    answer, request, _ = handler_for(cache).answer_locally(packet, source, limit=limit)
    assert answer is not None and request is None, f"{name} {qtype} was not answered locally"
    return DNSRecord.parse(answer)


def rdata(reply: DNSRecord) -> list[str]:
    return sorted(str(r.rdata) for r in reply.rr)


def assert_negative(reply: DNSRecord, rcode: int) -> None:
    assert reply.header.rcode == rcode and not reply.rr
    assert [QTYPE[r.rtype] for r in reply.auth] == ["SOA"], "a negative answer carries the SOA (RFC 2308)"
    assert str(reply.auth[0].rname) == "cluster.local."


def test_cluster_ip_service_answers_its_ip_with_the_ttl_authoritatively(cache: ClusterCache) -> None:
    reply = ask(cache, "web.default.svc.cluster.local")
    assert rdata(reply) == ["10.0.0.50"]
    assert reply.rr[0].ttl == 30 and reply.header.aa == 1 and reply.header.rcode == RCODE.NOERROR


def test_ttl_is_configurable(cache: ClusterCache) -> None:
    answer, _, _ = handler_for(cache, ttl=5).answer_locally(
        DNSRecord.question("web.default.svc.cluster.local").pack(), "10.88.0.13", limit=None)
    assert answer is not None and DNSRecord.parse(answer).rr[0].ttl == 5


def test_names_compare_case_insensitively(cache: ClusterCache) -> None:
    assert rdata(ask(cache, "WEB.Default.SVC.Cluster.Local")) == ["10.0.0.50"]


def test_aaaa_of_an_ipv4_only_service_is_nodata(cache: ClusterCache) -> None:
    assert_negative(ask(cache, "web.default.svc.cluster.local", "AAAA"), RCODE.NOERROR)


@pytest.mark.parametrize("name", [
                                  "nope.default.svc.cluster.local", "web.other.svc.cluster.local",
                                  "web.default.svc.cluster.local.default.svc.cluster.local",
                                  "x.web.default.svc.cluster.local",
                                  "_http._udp.web.default.svc.cluster.local"])
def test_a_name_that_does_not_exist_is_nxdomain(cache: ClusterCache, name: str) -> None:
    assert_negative(ask(cache, name), RCODE.NXDOMAIN)


@pytest.mark.parametrize("name", ["default.svc.cluster.local", "svc.cluster.local", "cluster.local",
                                  "_tcp.web.default.svc.cluster.local", "empty-hl.default.svc.cluster.local"])
def test_a_name_that_exists_without_records_of_the_type_is_nodata(cache: ClusterCache, name: str) -> None:
    assert_negative(ask(cache, name), RCODE.NOERROR)


def test_headless_service_answers_ready_endpoints_only(cache: ClusterCache) -> None:
    assert rdata(ask(cache, "hl.default.svc.cluster.local")) == ["10.88.1.1", "10.88.1.2", "10.88.1.4"]


def test_publish_not_ready_addresses_includes_unready_endpoints(cache: ClusterCache) -> None:
    cache.apply("Service", "MODIFIED", service("hl", cluster_ip="None", publishNotReadyAddresses=True))
    assert "10.88.1.3" in rdata(ask(cache, "hl.default.svc.cluster.local"))


def test_headless_endpoints_have_their_own_names(cache: ClusterCache) -> None:
    assert rdata(ask(cache, "pet-0.hl.default.svc.cluster.local")) == ["10.88.1.1"]
    # Without a hostname, CoreDNS names an endpoint by its address with dashes.
    assert rdata(ask(cache, "10-88-1-2.hl.default.svc.cluster.local")) == ["10.88.1.2"]
    assert_negative(ask(cache, "10-88-1-3.hl.default.svc.cluster.local"), RCODE.NXDOMAIN)


def test_srv_of_a_named_port_points_at_the_service_with_its_address_additional(cache: ClusterCache) -> None:
    reply = ask(cache, "_http._tcp.web.default.svc.cluster.local", "SRV")
    [record] = reply.rr
    assert (record.rdata.port, str(record.rdata.target)) == (80, "web.default.svc.cluster.local.")
    assert [str(r.rdata) for r in reply.ar] == ["10.0.0.50"]


def test_srv_of_a_headless_service_names_each_ready_endpoint(cache: ClusterCache) -> None:
    reply = ask(cache, "_http._tcp.hl.default.svc.cluster.local", "SRV")
    targets = sorted((r.rdata.port, str(r.rdata.target)) for r in reply.rr)
    assert targets == [(8080, "10-88-1-2.hl.default.svc.cluster.local."),
                       (8080, "10-88-1-4.hl.default.svc.cluster.local."),
                       (8080, "pet-0.hl.default.svc.cluster.local.")]
    assert sorted(str(r.rdata) for r in reply.ar) == ["10.88.1.1", "10.88.1.2", "10.88.1.4"]


def test_ptr_of_a_service_ip_and_of_a_headless_endpoint(cache: ClusterCache) -> None:
    assert rdata(ask(cache, "50.0.0.10.in-addr.arpa", "PTR")) == ["web.default.svc.cluster.local."]
    assert rdata(ask(cache, "1.1.88.10.in-addr.arpa", "PTR")) == ["pet-0.hl.default.svc.cluster.local."]


def test_an_unknown_reverse_name_is_forwarded(cache: ClusterCache) -> None:
    answer, request, chase = handler_for(cache).answer_locally(
        DNSRecord.question("8.8.8.8.in-addr.arpa", "PTR").pack(), "10.88.0.13", limit=None)
    assert answer is None and request is not None and chase == ""


def test_external_name_is_a_cname_whose_outside_target_is_resolved_upstream(cache: ClusterCache) -> None:
    answer, request, chase = handler_for(cache).answer_locally(
        DNSRecord.question("ext.default.svc.cluster.local").pack(), "10.88.0.13", limit=None)
    assert answer is None and request is not None and chase == "example.org."
    assert rdata(ask(cache, "ext.default.svc.cluster.local", "CNAME")) == ["example.org."]


def test_external_name_inside_the_domain_is_followed_here(cache: ClusterCache) -> None:
    reply = ask(cache, "alias.default.svc.cluster.local")
    assert [(QTYPE[r.rtype], str(r.rdata)) for r in reply.rr] == [
        ("CNAME", "web.default.svc.cluster.local."), ("A", "10.0.0.50")]


def test_pod_names_answer_only_for_an_ip_a_pod_has_in_that_namespace(cache: ClusterCache) -> None:
    assert rdata(ask(cache, "10-88-0-13.default.pod.cluster.local")) == ["10.88.0.13"]
    assert_negative(ask(cache, "10-88-0-13.other.pod.cluster.local"), RCODE.NXDOMAIN)
    assert_negative(ask(cache, "10-88-9-9.default.pod.cluster.local"), RCODE.NXDOMAIN)
    assert_negative(ask(cache, "default.pod.cluster.local"), RCODE.NOERROR)


def test_schema_version_record(cache: ClusterCache) -> None:
    assert rdata(ask(cache, "dns-version.cluster.local", "TXT")) == ['"1.1.0"']


def test_soa_at_the_apex_is_an_answer(cache: ClusterCache) -> None:
    reply = ask(cache, "cluster.local", "SOA")
    assert [QTYPE[r.rtype] for r in reply.rr] == ["SOA"] and not reply.auth


def test_changes_are_answered_at_once(cache: ClusterCache) -> None:
    assert rdata(ask(cache, "web.default.svc.cluster.local")) == ["10.0.0.50"]
    cache.apply("Service", "DELETED", service("web"))
    assert_negative(ask(cache, "web.default.svc.cluster.local"), RCODE.NXDOMAIN)
    cache.apply("EndpointSlice", "MODIFIED", endpoint_slice("hl-x", "hl", [endpoint("10.88.2.2")]))
    assert rdata(ask(cache, "hl.default.svc.cluster.local")) == ["10.88.2.2"]


def test_a_long_answer_is_truncated_over_udp_and_whole_over_tcp(cache: ClusterCache) -> None:
    cache.apply("EndpointSlice", "MODIFIED", endpoint_slice(
        "hl-x", "hl", [endpoint(f"10.88.3.{i}") for i in range(1, 101)]))
    udp = ask(cache, "hl.default.svc.cluster.local")
    assert udp.header.tc == 1 and len(udp.pack()) <= 512
    tcp = ask(cache, "hl.default.svc.cluster.local", limit=TCP_LIMIT)
    assert tcp.header.tc == 0 and len(tcp.rr) == 100


def test_edns_payload_size_raises_the_udp_limit(cache: ClusterCache) -> None:
    cache.apply("EndpointSlice", "MODIFIED", endpoint_slice(
        "hl-x", "hl", [endpoint(f"10.88.3.{i}") for i in range(1, 41)]))
    query = DNSRecord.question("hl.default.svc.cluster.local")
    query.add_ar(EDNS0(udp_len=4096))
    answer, _, _ = handler_for(cache).answer_locally(query.pack(), "10.88.0.13", limit=None)
    assert answer is not None
    reply = DNSRecord.parse(answer)
    assert reply.header.tc == 0 and len(reply.rr) == 40


# -- tenant scoping ---------------------------------------------------------------------------


def test_each_tenant_sees_its_own_service_of_the_same_name(cache: ClusterCache) -> None:
    assert rdata(ask(cache, "web.default.svc.cluster.local", source=TENANT_A_POD_IP)) == ["10.0.0.60"]
    assert rdata(ask(cache, "web.default.svc.cluster.local", source="10.88.0.13")) == ["10.0.0.50"]


def test_a_tenant_never_learns_another_tenants_names_or_ips(cache: ClusterCache) -> None:
    b = TENANT_B_POD_IP
    assert_negative(ask(cache, "secret-a.default.svc.cluster.local", source=b), RCODE.NXDOMAIN)
    assert_negative(ask(cache, "web.default.svc.cluster.local", source=b), RCODE.NXDOMAIN)
    assert_negative(ask(cache, "hl.default.svc.cluster.local", source=b), RCODE.NXDOMAIN)
    assert_negative(ask(cache, "10-88-0-11.default.pod.cluster.local", source=b), RCODE.NXDOMAIN)
    for reverse in ("61.0.0.10.in-addr.arpa", "50.0.0.10.in-addr.arpa", "1.1.88.10.in-addr.arpa"):
        answer, request, _ = handler_for(cache).answer_locally(
            DNSRecord.question(reverse, "PTR").pack(), b, limit=None)
        assert answer is None and request is not None, f"{reverse} answered to tenant b"
    # ...nor does tenant system, from an address no pod holds.
    assert_negative(ask(cache, "secret-a.default.svc.cluster.local", source="192.0.2.77"), RCODE.NXDOMAIN)


def test_kubernetes_default_falls_back_to_tenant_systems_service(cache: ClusterCache) -> None:
    assert rdata(ask(cache, "kubernetes.default.svc.cluster.local", source=TENANT_A_POD_IP)) == ["10.0.0.1"]
    srv = ask(cache, "_https._tcp.kubernetes.default.svc.cluster.local", "SRV", source=TENANT_A_POD_IP)
    assert [r.rdata.port for r in srv.rr] == [443]
    # A tenant with a kubernetes Service of its own gets that one.
    assert rdata(ask(cache, "kubernetes.default.svc.cluster.local", source=TENANT_B_POD_IP)) == ["10.0.0.99"]


def test_source_addresses_follow_pods(cache: ClusterCache) -> None:
    assert cache.scope_of(TENANT_A_POD_IP) == Scope("a", "default")
    cache.apply("Pod", "DELETED", pod("a-client", TENANT_A_POD_IP, tenant="a"))
    assert cache.scope_of(TENANT_A_POD_IP) == SYSTEM_SCOPE
    cache.apply("Pod", "ADDED", pod("done", "10.88.0.20", tenant="a", phase="Succeeded"))
    cache.apply("Pod", "ADDED", pod("hostnet", "192.0.2.2", tenant="a", host_network=True))
    assert cache.scope_of("10.88.0.20") == SYSTEM_SCOPE and cache.scope_of("192.0.2.2") == SYSTEM_SCOPE
    cache.apply("Pod", "ADDED", pod("blue", "10.88.0.21", tenant="a", network="blue"))
    assert cache.scope_of("10.88.0.21") == Scope("a", "blue")


def test_a_relist_forgets_what_is_gone(cache: ClusterCache) -> None:
    cache.replace("Service", [service("web", cluster_ip="10.0.0.77")])
    cache.replace("Pod", [])
    assert rdata(ask(cache, "web.default.svc.cluster.local")) == ["10.0.0.77"]
    assert_negative(ask(cache, "hl.default.svc.cluster.local"), RCODE.NXDOMAIN)
    # The pods are gone, so tenant a's former address now speaks for tenant system.
    assert rdata(ask(cache, "web.default.svc.cluster.local", source=TENANT_A_POD_IP)) == ["10.0.0.77"]


def test_not_a_query_gets_no_answer_and_another_opcode_notimp(cache: ClusterCache) -> None:
    handler = handler_for(cache)
    assert handler.answer_locally(b"\x00\x01garbage", "10.88.0.13", limit=None) == (None, None, "")
    query = DNSRecord.question("web.default.svc.cluster.local")
    query.header.opcode = 2
    answer, _, _ = handler.answer_locally(query.pack(), "10.88.0.13", limit=None)
    assert answer is not None and DNSRecord.parse(answer).header.rcode == RCODE.NOTIMP


def test_a_failing_answer_is_servfail_not_silence(cache: ClusterCache) -> None:
    class Broken(Resolver):
        def resolve(self, request: DNSRecord, scope: Scope) -> Resolution:
            raise ValueError("a bug")

    broken = Broken(cache, domain="cluster.local", ttl=30)
    handler = DnsHandler(broken, Forwarder([]), scope_of=cache.scope_of)
    answer, _, _ = handler.answer_locally(DNSRecord.question("web.default.svc.cluster.local").pack(),
                                          "10.88.0.13", limit=None)
    assert answer is not None and DNSRecord.parse(answer).header.rcode == RCODE.SERVFAIL


# -- answers kept between identical questions --------------------------------------------------


def test_a_repeated_question_gets_its_own_id_and_case(cache: ClusterCache) -> None:
    handler = handler_for(cache)
    for name in ("web.default.svc.cluster.local", "WEB.default.svc.cluster.local",
                 "web.default.svc.cluster.local"):
        query = DNSRecord.question(name)
        answer, _, _ = handler.answer_locally(query.pack(), "10.88.0.13", limit=None)
        assert answer is not None
        reply = DNSRecord.parse(answer)
        assert reply.header.id == query.header.id
        assert str(reply.q.qname) == name + "." and str(reply.rr[0].rname) == name + "."
        assert [str(r.rdata) for r in reply.rr] == ["10.0.0.50"]


def test_kept_answers_follow_changes(cache: ClusterCache) -> None:
    handler = handler_for(cache)

    def ask_kept(name: str, source: str) -> DNSRecord:
        answer, _, _ = handler.answer_locally(DNSRecord.question(name).pack(), source, limit=None)
        assert answer is not None
        return DNSRecord.parse(answer)

    kubernetes = "kubernetes.default.svc.cluster.local"
    assert rdata(ask_kept(kubernetes, TENANT_A_POD_IP)) == ["10.0.0.1"]
    cache.apply("Service", "MODIFIED", service("kubernetes", cluster_ip="10.0.0.2"))
    assert rdata(ask_kept(kubernetes, TENANT_A_POD_IP)) == ["10.0.0.2"]
    pod_name = "10-88-0-13.default.pod.cluster.local"
    assert rdata(ask_kept(pod_name, "10.88.0.13")) == ["10.88.0.13"]
    cache.apply("Pod", "DELETED", pod("sys", "10.88.0.13"))
    assert ask_kept(pod_name, "10.88.0.13").header.rcode == RCODE.NXDOMAIN


# -- network scoping -----------------------------------------------------------------------------

A_BLUE_POD_IP = "10.88.0.31"
A_RED_POD_IP = "10.88.0.32"
C_POD_IP = "10.88.0.33"


@pytest.fixture
def networks() -> ClusterCache:
    """Tenant a: networks default, blue (with its kubernetes-blue) and red (without); tenant c: default
    with its kubernetes-default; tenant system's kubernetes for the rest."""
    cache = ClusterCache()
    https = [{"name": "https", "port": 443, "protocol": "TCP"}]
    cache.replace("Service", [
        service("kubernetes", cluster_ip="10.0.0.1", ports=https),
        service("web", tenant="a", cluster_ip="10.0.0.60"),
        service("web", tenant="a", namespace="shop", cluster_ip="10.1.0.60", network="blue"),
        service("only-blue", tenant="a", cluster_ip="10.1.0.61", network="blue"),
        service("kubernetes-blue", tenant="a", cluster_ip="10.1.0.1", ports=https, network="blue"),
        service("web", tenant="a", namespace="prod", cluster_ip="10.2.0.60", network="red"),
        service("web", tenant="c", cluster_ip="10.3.0.60"),
        service("kubernetes-default", tenant="c", cluster_ip="10.3.0.1", ports=https, network="default"),
    ])
    cache.replace("EndpointSlice", [])
    cache.replace("Pod", [pod("a-default", TENANT_A_POD_IP, tenant="a"),
                          pod("a-blue", A_BLUE_POD_IP, tenant="a", network="blue"),
                          pod("a-red", A_RED_POD_IP, tenant="a", namespace="prod", network="red"),
                          pod("c-client", C_POD_IP, tenant="c")])
    return cache


def test_each_network_sees_its_own_services(networks: ClusterCache) -> None:
    web = "web.default.svc.cluster.local"
    assert rdata(ask(networks, web, source=TENANT_A_POD_IP)) == ["10.0.0.60"]
    assert rdata(ask(networks, web, source=C_POD_IP)) == ["10.3.0.60"]
    assert rdata(ask(networks, "web.shop.svc.cluster.local", source=A_BLUE_POD_IP)) == ["10.1.0.60"]
    assert rdata(ask(networks, "web.prod.svc.cluster.local", source=A_RED_POD_IP)) == ["10.2.0.60"]


def test_a_network_never_learns_another_networks_names_or_ips(networks: ClusterCache) -> None:
    for name, source in [("only-blue.default", TENANT_A_POD_IP), ("web.shop", TENANT_A_POD_IP),
                         ("web.prod", A_BLUE_POD_IP), ("web.default", A_BLUE_POD_IP),
                         ("web.default", A_RED_POD_IP), ("shop", A_RED_POD_IP)]:
        assert_negative(ask(networks, f"{name}.svc.cluster.local", source=source), RCODE.NXDOMAIN)
    # Pod names are the network's too.
    pod_names = ("10-88-0-11.default.pod.cluster.local", "10-88-0-31.default.pod.cluster.local")
    assert_negative(ask(networks, pod_names[0], source=A_BLUE_POD_IP), RCODE.NXDOMAIN)
    assert rdata(ask(networks, pod_names[1], source=A_BLUE_POD_IP)) == ["10.88.0.31"]
    for reverse in ("60.0.0.10.in-addr.arpa", "61.0.1.10.in-addr.arpa", "60.0.1.10.in-addr.arpa"):
        answer, request, _ = handler_for(networks).answer_locally(
            DNSRecord.question(reverse, "PTR").pack(), A_RED_POD_IP, limit=None)
        assert answer is None and request is not None, f"{reverse} answered to network red"


def test_kubernetes_default_is_the_networks_kubernetes_service(networks: ClusterCache) -> None:
    kubernetes = "kubernetes.default.svc.cluster.local"
    assert rdata(ask(networks, kubernetes, source=A_BLUE_POD_IP)) == ["10.1.0.1"]
    srv = ask(networks, "_https._tcp.kubernetes.default.svc.cluster.local", "SRV", source=A_BLUE_POD_IP)
    assert [(str(r.rdata.target), r.rdata.port) for r in srv.rr] == [(kubernetes + ".", 443)]
    assert rdata(ask(networks, kubernetes, source=C_POD_IP)) == ["10.3.0.1"]
    # No kubernetes-<network>: tenant system's, as before networks.
    assert rdata(ask(networks, kubernetes, source=A_RED_POD_IP)) == ["10.0.0.1"]
    assert rdata(ask(networks, kubernetes, source=TENANT_A_POD_IP)) == ["10.0.0.1"]
    # The address's reverse name is kubernetes-blue's alone.
    assert rdata(ask(networks, "1.0.1.10.in-addr.arpa", "PTR", source=A_BLUE_POD_IP)) == [
        "kubernetes-blue.default.svc.cluster.local."]


def test_kubernetes_default_follows_the_networks_service(networks: ClusterCache) -> None:
    handler = handler_for(networks)

    def ask_kept(source: str) -> list[str]:
        answer, _, _ = handler.answer_locally(
            DNSRecord.question("kubernetes.default.svc.cluster.local").pack(), source, limit=None)
        assert answer is not None
        return rdata(DNSRecord.parse(answer))

    https = [{"name": "https", "port": 443, "protocol": "TCP"}]
    assert ask_kept(A_RED_POD_IP) == ["10.0.0.1"] and ask_kept(A_BLUE_POD_IP) == ["10.1.0.1"]
    networks.apply("Service", "ADDED", service("kubernetes-red", tenant="a", cluster_ip="10.2.0.1",
                                               ports=https, network="red"))
    assert ask_kept(A_RED_POD_IP) == ["10.2.0.1"] and ask_kept(A_BLUE_POD_IP) == ["10.1.0.1"]
    networks.apply("Service", "DELETED", service("kubernetes-blue", tenant="a", cluster_ip="10.1.0.1",
                                                 network="blue"))
    assert ask_kept(A_BLUE_POD_IP) == ["10.0.0.1"] and ask_kept(A_RED_POD_IP) == ["10.2.0.1"]


def test_a_service_moving_network_leaves_one_zone_for_the_other(networks: ClusterCache) -> None:
    handler = handler_for(networks)

    def ask_kept(source: str) -> DNSRecord:
        answer, _, _ = handler.answer_locally(
            DNSRecord.question("only-blue.default.svc.cluster.local").pack(), source, limit=None)
        assert answer is not None
        return DNSRecord.parse(answer)

    assert rdata(ask_kept(A_BLUE_POD_IP)) == ["10.1.0.61"]
    assert ask_kept(TENANT_A_POD_IP).header.rcode == RCODE.NXDOMAIN
    networks.apply("Service", "MODIFIED", service("only-blue", tenant="a", cluster_ip="10.1.0.61"))
    assert ask_kept(A_BLUE_POD_IP).header.rcode == RCODE.NXDOMAIN
    assert rdata(ask_kept(TENANT_A_POD_IP)) == ["10.1.0.61"]
