"""kube-proxy's rule generation (proxy.model, proxy.chains, proxy.rules) and its UDP clean-up plan.

Covers: the whole iptables-restore text for a NodePort Service with ready and unready endpoints next to a
Service with none (REJECT in filter), stale chains deleted, stable chain hashes that include the tenant,
ClientIP affinity (``-m recent``), the terminating fallback, which Services are not proxied, the prefix
limits, and the conntrack deletions after endpoint changes. Leaves out: applying the text to a kernel
(test/component/test_proxy_iptables.py does, in a network namespace).
"""

from __future__ import annotations

from typing import Any

import pytest

from proxy.chains import ChainNames, ChainPrefixError
from proxy.conntrack import UdpTarget, stale_deletions
from proxy.model import Endpoint, ServicePortName, endpoints_by_port, service_ports, usable_endpoints
from proxy.rules import RuleSettings, build_rules, plan, service_chains

SETTINGS = RuleSettings(ChainNames("KT"), cluster_cidr="10.244.0.0/16")


def service(name: str, cluster_ip: str, ports: list[dict[str, Any]], **spec: Any) -> dict[str, Any]:
    return {"metadata": {"tenant": "acme", "namespace": "web", "name": name},
            "spec": {"clusterIP": cluster_ip, "ports": ports, **spec}}


def endpoint_slice(service_name: str, ports: list[dict[str, Any]], endpoints: list[dict[str, Any]],
                   *, tenant: str = "acme") -> dict[str, Any]:
    return {"metadata": {"tenant": tenant, "namespace": "web", "name": f"{service_name}-1",
                         "labels": {"kubernetes.io/service-name": service_name}},
            "addressType": "IPv4", "ports": ports, "endpoints": endpoints}


FRONT = service("front", "10.0.0.20", [{"name": "http", "port": 80, "nodePort": 30080}], type="NodePort")
IDLE = service("idle", "10.0.0.21", [{"port": 53, "protocol": "UDP"}])
FRONT_SLICE = endpoint_slice("front", [{"name": "http", "port": 8080}], [
    {"addresses": ["10.244.0.5"]},
    {"addresses": ["10.244.0.6"], "conditions": {"ready": True}},
    {"addresses": ["10.244.0.7"], "conditions": {"ready": False}},
])

EXPECTED = '''*filter
:KT-SERVICES - [0:0]
:KT-EXTERNAL-SERVICES - [0:0]
:KT-FORWARD - [0:0]
-A KT-FORWARD -m comment --comment "kubernetes forwarding rules" -m mark --mark 0x4000/0x4000 -j ACCEPT
-A KT-FORWARD -m comment --comment "kubernetes forwarding conntrack rule" -m conntrack --ctstate RELATED,ESTABLISHED -j ACCEPT
-A KT-SERVICES -m comment --comment "acme/web/idle has no endpoints" -d 10.0.0.21/32 -p udp -m udp --dport 53 -j REJECT --reject-with icmp-port-unreachable
COMMIT
*nat
:KT-SERVICES - [0:0]
:KT-NODEPORTS - [0:0]
:KT-POSTROUTING - [0:0]
:KT-MARK-MASQ - [0:0]
:KT-SVC-W2VQUGOENIMQ6UZ4 - [0:0]
:KT-SEP-66DDHGKBR3RULNN6 - [0:0]
:KT-SEP-FCGNALSH3NGAPUZA - [0:0]
:KT-SVC-AAAAAAAAAAAAAAAA - [0:0]
-A KT-POSTROUTING -m mark ! --mark 0x4000/0x4000 -j RETURN
-A KT-POSTROUTING -j MARK --xor-mark 0x4000
-A KT-POSTROUTING -m comment --comment "kubernetes service traffic requiring SNAT" -j MASQUERADE
-A KT-MARK-MASQ -j MARK --or-mark 0x4000
-A KT-SERVICES -m comment --comment "acme/web/front:http cluster IP" -d 10.0.0.20/32 -p tcp -m tcp --dport 80 -j KT-SVC-W2VQUGOENIMQ6UZ4
-A KT-NODEPORTS -m comment --comment "acme/web/front:http" -p tcp -m tcp --dport 30080 -j KT-MARK-MASQ
-A KT-NODEPORTS -m comment --comment "acme/web/front:http" -p tcp -m tcp --dport 30080 -j KT-SVC-W2VQUGOENIMQ6UZ4
-A KT-SVC-W2VQUGOENIMQ6UZ4 -m comment --comment "acme/web/front:http cluster IP" ! -s 10.244.0.0/16 -d 10.0.0.20/32 -p tcp -m tcp --dport 80 -j KT-MARK-MASQ
-A KT-SVC-W2VQUGOENIMQ6UZ4 -m comment --comment "acme/web/front:http -> 10.244.0.5:8080" -m statistic --mode random --probability 0.5000000000 -j KT-SEP-66DDHGKBR3RULNN6
-A KT-SVC-W2VQUGOENIMQ6UZ4 -m comment --comment "acme/web/front:http -> 10.244.0.6:8080" -j KT-SEP-FCGNALSH3NGAPUZA
-A KT-SEP-66DDHGKBR3RULNN6 -m comment --comment "acme/web/front:http" -s 10.244.0.5/32 -j KT-MARK-MASQ
-A KT-SEP-66DDHGKBR3RULNN6 -m comment --comment "acme/web/front:http" -p tcp -m tcp -j DNAT --to-destination 10.244.0.5:8080
-A KT-SEP-FCGNALSH3NGAPUZA -m comment --comment "acme/web/front:http" -s 10.244.0.6/32 -j KT-MARK-MASQ
-A KT-SEP-FCGNALSH3NGAPUZA -m comment --comment "acme/web/front:http" -p tcp -m tcp -j DNAT --to-destination 10.244.0.6:8080
-A KT-SERVICES -m comment --comment "kubernetes service nodeports" -m addrtype --dst-type LOCAL -j KT-NODEPORTS
-X KT-SVC-AAAAAAAAAAAAAAAA
COMMIT
'''  # noqa: E501


def rules_for(services: list[dict[str, Any]], slices: list[dict[str, Any]]) -> str:
    ports = [port for svc in services for port in service_ports(svc)]
    return build_rules(SETTINGS, plan(ports, endpoints_by_port(slices))).restore_text()


def test_the_restore_text_of_a_node_port_service_and_one_without_endpoints() -> None:
    ports = service_ports(FRONT) + service_ports(IDLE)
    rule_set = build_rules(SETTINGS, plan(ports, endpoints_by_port([FRONT_SLICE])))
    assert rule_set.restore_text(stale_nat=["KT-SVC-AAAAAAAAAAAAAAAA", "KT-SEP-66DDHGKBR3RULNN6"]) == EXPECTED
    assert rule_set.rule_count == 18


def test_chain_hashes_are_stable_and_tell_tenants_apart() -> None:
    chains = ChainNames("KUBE")
    name = ServicePortName("acme", "web", "front", "http", "TCP")
    assert chains.service_chain(name) == "KUBE-SVC-W2VQUGOENIMQ6UZ4"
    other_tenant = ServicePortName("zeta", "web", "front", "http", "TCP")
    assert chains.service_chain(other_tenant) != chains.service_chain(name)
    udp = ServicePortName("acme", "web", "front", "http", "UDP")
    assert chains.service_chain(udp) != chains.service_chain(name)
    sep = chains.endpoint_chain(name, Endpoint("10.244.0.5", 8080))
    assert len(sep) <= 28 and chains.is_own(sep) and not ChainNames("KUB").is_own(sep)
    assert not chains.is_own("KUBE2-SERVICES") and chains.is_own("KUBE-MARK-MASQ")


@pytest.mark.parametrize("prefix", ["", "kube", "TOOLONG8", "K-1", "1K"])
def test_prefixes_that_make_bad_or_ambiguous_chain_names_are_refused(prefix: str) -> None:
    with pytest.raises(ChainPrefixError):
        ChainNames(prefix)


def test_client_ip_affinity_checks_and_sets_a_recent_list_per_endpoint() -> None:
    sticky = service("front", "10.0.0.20", [{"name": "http", "port": 80}], sessionAffinity="ClientIP",
                     sessionAffinityConfig={"clientIP": {"timeoutSeconds": 60}})
    text = rules_for([sticky], [FRONT_SLICE])
    sep = ChainNames("KT").endpoint_chain(ServicePortName("acme", "web", "front", "http", "TCP"),
                                          Endpoint("10.244.0.5", 8080))
    assert (f"-m recent --name {sep} --mask 255.255.255.255 --rsource --rcheck --seconds 60 --reap -j {sep}"
            in text)
    assert f"-m recent --name {sep} --mask 255.255.255.255 --rsource --set -j DNAT" in text
    # The affinity checks come before the random choice.
    assert text.index("--rcheck") < text.index("--mode random")


def test_a_service_without_affinity_has_no_recent_rules_and_one_endpoint_needs_no_statistic() -> None:
    one = endpoint_slice("front", [{"name": "http", "port": 8080}], [{"addresses": ["10.244.0.9"]}])
    text = rules_for([FRONT], [one])
    assert "-m recent" not in text and "statistic" not in text
    assert "--to-destination 10.244.0.9:8080" in text


def test_probabilities_spread_traffic_evenly_over_n_endpoints() -> None:
    many = endpoint_slice("front", [{"name": "http", "port": 8080}],
                          [{"addresses": [f"10.244.0.{i}"]} for i in range(1, 5)])
    text = rules_for([FRONT], [many])
    odds = [line.split("--probability ")[1].split()[0] for line in text.splitlines() if "probability" in line]
    assert odds == ["0.2500000000", "0.3333333333", "0.5000000000"]


def test_terminating_serving_endpoints_are_used_only_when_none_is_ready() -> None:
    draining = Endpoint("10.244.0.8", 80, ready=False, serving=True, terminating=True)
    dead = Endpoint("10.244.0.9", 80, ready=False, serving=False, terminating=True)
    ready = Endpoint("10.244.0.10", 80)
    assert usable_endpoints([draining, dead, ready]) == [ready]
    assert usable_endpoints([draining, dead]) == [draining]
    assert usable_endpoints([dead]) == []


def test_headless_external_name_and_unaddressed_services_are_not_proxied() -> None:
    assert service_ports(service("h", "None", [{"port": 80}])) == []
    external = service("e", "", [{"port": 80}], type="ExternalName", externalName="x.example")
    assert service_ports(external) == []
    assert service_ports(service("n", "", [{"port": 80}])) == []
    # A ClusterIP Service's nodePort (left from a type change) is ignored.
    assert service_ports(service("c", "10.0.0.9", [{"port": 80, "nodePort": 30001}]))[0].node_port == 0


def test_slices_of_other_tenants_or_services_do_not_feed_a_service() -> None:
    stranger = endpoint_slice("front", [{"name": "http", "port": 8080}], [{"addresses": ["10.244.9.9"]}],
                              tenant="zeta")
    text = rules_for([FRONT], [stranger])
    assert "10.244.9.9" not in text and "acme/web/front:http has no endpoints" in text


def test_udp_conntrack_entries_of_removed_endpoints_and_newly_served_ports_are_deleted() -> None:
    dns = ServicePortName("acme", "web", "dns", "", "UDP")
    before = {dns: UdpTarget("10.0.0.10", 0, frozenset({"10.244.0.2", "10.244.0.3"}))}
    after = {dns: UdpTarget("10.0.0.10", 0, frozenset({"10.244.0.3"}))}
    gone = ("-p", "udp", "--orig-dst", "10.0.0.10", "--dst-nat", "10.244.0.2")
    assert stale_deletions(before, after) == [gone]
    empty = {dns: UdpTarget("10.0.0.10", 30053, frozenset())}
    served = {dns: UdpTarget("10.0.0.10", 30053, frozenset({"10.244.0.3"}))}
    assert stale_deletions(empty, served) == [
        ("-p", "udp", "--orig-dst", "10.0.0.10"), ("-p", "udp", "--orig-port-dst", "30053")]
    assert stale_deletions(after, after) == []


def test_a_partial_build_leaves_unchanged_service_chains_out_but_keeps_jumping_to_them() -> None:
    ports = service_ports(FRONT) + service_ports(IDLE)
    planned = plan(ports, endpoints_by_port([FRONT_SLICE]))
    front = ServicePortName("acme", "web", "front", "http", "TCP")
    text = build_rules(SETTINGS, planned, unchanged=[front]).restore_text()
    assert "-j KT-SVC-W2VQUGOENIMQ6UZ4" in text  # the jump from KT-SERVICES and KT-NODEPORTS
    assert ":KT-SVC-W2VQUGOENIMQ6UZ4" not in text and "-A KT-SVC-" not in text and "KT-SEP-" not in text
    assert service_chains(SETTINGS, planned) == {
        "KT-SVC-W2VQUGOENIMQ6UZ4", "KT-SEP-66DDHGKBR3RULNN6", "KT-SEP-FCGNALSH3NGAPUZA"}
