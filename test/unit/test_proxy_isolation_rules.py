"""Network isolation's rules (proxy.isolation, proxy.rules): pods → (tenant, network) → filter chains.

Covers: a pod's network from its label (``default`` when absent) within its tenant, which pods hold
no pod IP (host network, finished, no IP yet), the cluster DNS pods and which Service addresses may
lead to them (system's, the asker's own network's, not another network's), the whole filter text for
two tenants and two networks of one tenant, the rule count O(pods + networks), partial syncs leaving
unchanged networks' chains out, the flag off, chain names under the prefix, the isolation jump, and
which pod events ask for a sync.
Leaves out: the kernel (test/component/test_proxy_isolation.py, test_proxy_netns.py).
"""

from __future__ import annotations

from typing import Any

from proxy.chains import ChainNames
from proxy.isolation import (
    IsolationPlan,
    NetworkKey,
    NetworkMembers,
    PodMemberships,
    isolation_plan,
    pod_member,
    slim_pod,
)
from proxy.model import endpoints_by_port, service_ports
from proxy.rules import RuleSettings, build_rules, isolation_jump, network_chains, plan

NAMES = ChainNames("KT")
SETTINGS = RuleSettings(NAMES, cluster_cidr="10.244.0.0/16")


def pod(tenant: str, name: str, ip: str | None, *, namespace: str = "default", network: str | None = None,
        labels: dict[str, str] | None = None, **spec: Any) -> dict[str, Any]:
    all_labels = dict(labels or {})
    if network:
        all_labels["arktos.futurewei.com/network"] = network
    status: dict[str, Any] = {"phase": spec.pop("phase", "Running")}
    if ip:
        status |= {"podIP": ip, "podIPs": [{"ip": ip}]}
    return {"metadata": {"tenant": tenant, "namespace": namespace, "name": name, "labels": all_labels},
            "spec": {"containers": [], **spec}, "status": status}


def filter_rules(plan: IsolationPlan, **kwargs: Any) -> list[str]:
    return build_rules(SETTINGS, {}, isolation=plan, **kwargs).filter.rules


def test_a_pods_network_is_its_label_within_its_tenant_default_when_absent() -> None:
    member = pod_member(pod("acme", "a", "10.244.0.5"))
    assert member is not None and member.network == NetworkKey("acme", "default")
    member = pod_member(pod("acme", "b", "10.244.0.6", network="blue"))
    assert member is not None and member.network == NetworkKey("acme", "blue") and not member.dns


def test_pods_without_a_pod_ip_take_no_part() -> None:
    assert pod_member(pod("acme", "pending", None)) is None
    assert pod_member(pod("acme", "done", "10.244.0.7", phase="Succeeded")) is None
    assert pod_member(pod("acme", "host", "192.168.1.4", hostNetwork=True)) is None


def test_only_kube_dns_pods_of_tenant_system_kube_system_are_the_dns_exception() -> None:
    dns = {"k8s-app": "kube-dns"}
    assert pod_member(pod("system", "dns", "10.244.0.2", namespace="kube-system", labels=dns)).dns  # type: ignore[union-attr]
    assert not pod_member(pod("acme", "fake", "10.244.0.3", namespace="kube-system", labels=dns)).dns  # type: ignore[union-attr]
    assert not pod_member(pod("system", "fake", "10.244.0.4", namespace="default", labels=dns)).dns  # type: ignore[union-attr]


def test_slimmed_pods_keep_what_isolation_reads() -> None:
    full = pod("acme", "a", "10.244.0.5", network="blue", nodeName="n1")
    assert pod_member(slim_pod(full)) == pod_member(full)
    assert "containers" not in slim_pod(full)["spec"]


PODS = [
    pod("acme", "a1", "10.244.0.5"),
    pod("acme", "a2", "10.244.0.6"),
    pod("acme", "blue", "10.244.0.7", network="blue"),
    pod("beta", "b1", "10.244.0.8"),
    pod("system", "dns", "10.244.0.2", namespace="kube-system", labels={"k8s-app": "kube-dns"}),
]


def test_the_filter_text_for_two_tenants_and_two_networks_of_one_tenant() -> None:
    plan = isolation_plan(PODS)
    acme = NAMES.network_chain("acme", "default")
    blue = NAMES.network_chain("acme", "blue")
    beta = NAMES.network_chain("beta", "default")
    system = NAMES.network_chain("system", "default")
    assert len({acme, blue, beta, system}) == 4
    rules = [rule for rule in filter_rules(plan) if "ISOLATION" in rule or "-NET-" in rule]
    reject = "-j REJECT --reject-with icmp-admin-prohibited"
    dns = '-A KT-ISOLATION -m comment --comment "cluster DNS" -d 10.244.0.2/32'
    assert rules == [
        '-A KT-ISOLATION -m comment --comment "replies of allowed connections" '
        "-m conntrack --ctstate RELATED,ESTABLISHED -j RETURN",
        f"{dns} -p udp -m udp --dport 53 -m conntrack --ctorigdst 10.244.0.2/32 -j RETURN",
        f"{dns} -p tcp -m tcp --dport 53 -m conntrack --ctorigdst 10.244.0.2/32 -j RETURN",
        f'-A KT-ISOLATION -m comment --comment "pod of acme/blue" -s 10.244.0.7/32 -j {blue}',
        f'-A KT-ISOLATION-PODS -m comment --comment "pod of acme/blue" -d 10.244.0.7/32 {reject}',
        f'-A {blue} -m comment --comment "same network acme/blue" -d 10.244.0.7/32 -j RETURN',
        f'-A {blue} -m comment --comment "other networks than acme/blue" -j KT-ISOLATION-PODS',
        f'-A KT-ISOLATION -m comment --comment "pod of acme/default" -s 10.244.0.5/32 -j {acme}',
        f'-A KT-ISOLATION-PODS -m comment --comment "pod of acme/default" -d 10.244.0.5/32 {reject}',
        f'-A KT-ISOLATION -m comment --comment "pod of acme/default" -s 10.244.0.6/32 -j {acme}',
        f'-A KT-ISOLATION-PODS -m comment --comment "pod of acme/default" -d 10.244.0.6/32 {reject}',
        f'-A {acme} -m comment --comment "same network acme/default" -d 10.244.0.5/32 -j RETURN',
        f'-A {acme} -m comment --comment "same network acme/default" -d 10.244.0.6/32 -j RETURN',
        f'-A {acme} -m comment --comment "other networks than acme/default" -j KT-ISOLATION-PODS',
        f'-A KT-ISOLATION -m comment --comment "pod of beta/default" -s 10.244.0.8/32 -j {beta}',
        f'-A KT-ISOLATION-PODS -m comment --comment "pod of beta/default" -d 10.244.0.8/32 {reject}',
        f'-A {beta} -m comment --comment "same network beta/default" -d 10.244.0.8/32 -j RETURN',
        f'-A {beta} -m comment --comment "other networks than beta/default" -j KT-ISOLATION-PODS',
        f'-A KT-ISOLATION -m comment --comment "pod of system/default" -s 10.244.0.2/32 -j {system}',
        f'-A KT-ISOLATION-PODS -m comment --comment "pod of system/default" -d 10.244.0.2/32 {reject}',
        f'-A {system} -m comment --comment "same network system/default" -d 10.244.0.2/32 -j RETURN',
        f'-A {system} -m comment --comment "other networks than system/default" -j KT-ISOLATION-PODS',
    ]
    text = build_rules(SETTINGS, {}, isolation=plan).restore_text()
    for chain in ("KT-ISOLATION", "KT-ISOLATION-PODS", acme, blue, beta, system):
        assert f":{chain} - [0:0]" in text


def test_the_rule_count_grows_with_pods_plus_networks_not_their_square() -> None:
    def count(tenants: int, pods_per_tenant: int) -> int:
        pods = [pod(f"t{t}", f"p{p}", f"10.{t // 250}.{t % 250}.{p + 1}")
                for t in range(tenants) for p in range(pods_per_tenant)]
        return len([r for r in filter_rules(isolation_plan(pods)) if "ISOLATION" in r or "-NET-" in r])

    # 3 rules per pod (source jump, same-network return, reject as a destination), 1 per network, 1 fixed;
    # a network's own DNS Service adds 2 per DNS pod (none here).
    assert count(100, 3) == 3 * 300 + 100 + 1
    assert count(200, 3) == 3 * 600 + 200 + 1


def test_a_partial_sync_leaves_unchanged_networks_chains_out() -> None:
    plan = isolation_plan(PODS)
    rule_set = build_rules(SETTINGS, {}, isolation=plan, unchanged_networks=[NetworkKey("acme", "default")])
    acme = NAMES.network_chain("acme", "default")
    assert acme not in rule_set.filter.chains
    assert not any(rule.startswith(f"-A {acme} ") for rule in rule_set.filter.rules)
    # The jumps into it are rewritten with the ISOLATION chain.
    assert any(rule.endswith(f"-j {acme}") for rule in rule_set.filter.rules)


def test_isolation_off_writes_no_isolation_chain() -> None:
    off = RuleSettings(NAMES, network_isolation=False)
    rule_set = build_rules(off, {}, isolation=isolation_plan(PODS))
    assert not [c for c in rule_set.filter.chains if "ISOLATION" in c or "-NET-" in c]
    assert not [r for r in rule_set.filter.rules if "ISOLATION" in r]


def test_chain_names_stay_within_iptables_limit_and_are_recognised_as_own() -> None:
    names = ChainNames("ABCDEFG")
    chain = names.network_chain("a-very-long-tenant-name", "a-very-long-network")
    assert len(chain) == 28
    assert names.is_own(chain) and names.is_network_chain(chain)
    assert names.is_own("ABCDEFG-ISOLATION") and names.is_own("ABCDEFG-ISOLATION-PODS")
    assert not ChainNames("KT").is_own("KT2-ISOLATION")
    assert network_chains(NAMES, isolation_plan(PODS)) == {
        NAMES.network_chain(t, n) for t, n in
        [("acme", "default"), ("acme", "blue"), ("beta", "default"), ("system", "default")]}


def test_the_isolation_jump_is_from_forward() -> None:
    jump = isolation_jump(SETTINGS)
    assert (jump.table, jump.chain, jump.args[-2:]) == ("filter", "FORWARD", ("-j", "KT-ISOLATION"))


def dns_service(tenant: str, name: str, cluster_ip: str,
                network: str = "") -> tuple[dict[str, Any], dict[str, Any]]:
    labels = {"arktos.futurewei.com/network": network} if network else {}
    meta = {"tenant": tenant, "namespace": "kube-system", "name": name, "labels": labels}
    service = {"metadata": meta, "spec": {"clusterIP": cluster_ip, "ports": [
        {"name": "dns", "port": 53, "protocol": "UDP"}, {"name": "dns-tcp", "port": 53, "protocol": "TCP"}]}}
    slice_meta = {**meta, "name": f"{name}-1", "labels": {"kubernetes.io/service-name": name}}
    endpoint_slice = {"metadata": slice_meta, "addressType": "IPv4",
                      "ports": [{"name": "dns", "port": 53, "protocol": "UDP"},
                                {"name": "dns-tcp", "port": 53, "protocol": "TCP"}],
                      "endpoints": [{"addresses": ["10.244.0.2"]}]}
    return service, endpoint_slice


def test_dns_services_open_the_dns_pods_to_their_own_network_only_system_ones_to_all() -> None:
    objects = [dns_service("system", "kube-dns", "10.0.0.10"),
               dns_service("acme", "kube-dns-default", "10.1.0.10"),
               dns_service("acme", "kube-dns-blue", "10.2.0.10", network="blue")]
    ports = [port for service, _ in objects for port in service_ports(service)]
    planned = plan(ports, endpoints_by_port([endpoint_slice for _, endpoint_slice in objects]))
    isolation = isolation_plan(PODS, planned.values())
    assert isolation.shared_dns_routes == (("10.0.0.10", "10.244.0.2"),)
    assert isolation.networks[NetworkKey("acme", "default")] == NetworkMembers(
        ("10.244.0.5", "10.244.0.6"), (("10.1.0.10", "10.244.0.2"),))
    assert isolation.networks[NetworkKey("acme", "blue")].dns_routes == (("10.2.0.10", "10.244.0.2"),)
    assert isolation.networks[NetworkKey("beta", "default")].dns_routes == ()
    rules = build_rules(SETTINGS, planned, isolation=isolation).filter.rules
    acme = NAMES.network_chain("acme", "default")
    route = "-d 10.244.0.2/32 -p udp -m udp --dport 53 -m conntrack --ctorigdst {} -j RETURN"
    shared = route.format("10.0.0.10/32")
    own = route.format("10.1.0.10/32")
    assert f'-A KT-ISOLATION -m comment --comment "cluster DNS Service" {shared}' in rules
    assert f'-A {acme} -m comment --comment "DNS Service of acme/default" {own}' in rules
    # Blue's DNS Service is blue's alone: nowhere but in blue's chain.
    blue_route = [rule for rule in rules if "10.2.0.10" in rule]
    assert len(blue_route) == 2 and all(rule.startswith(f"-A {NAMES.network_chain('acme', 'blue')} ")
                                         for rule in blue_route)
    # A DNS pod's other ports are nobody's exception.
    assert not [rule for rule in rules if "RETURN" in rule and "10.244.0.2" in rule
                and "--dport 53" not in rule and "same network" not in rule]


def test_only_pod_changes_that_matter_to_isolation_ask_for_a_sync() -> None:
    memberships = PodMemberships()
    pending = pod("acme", "a", None, phase="Pending")
    assert not memberships.changed("a", pending)  # no IP yet: nothing to program
    running = pod("acme", "a", "10.244.0.5")
    assert memberships.changed("a", running)
    assert not memberships.changed("a", {**running, "status": {**running["status"], "conditions": [{}]}})
    assert memberships.changed("a", pod("acme", "a", "10.244.0.5", network="blue"))
    assert memberships.changed("a", None)  # deleted
    assert not memberships.changed("a", None)
