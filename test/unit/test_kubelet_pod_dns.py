"""kubelet.pod_dns: a pod's sandbox DNSConfig per dnsPolicy, as upstream's dns.Configurer.

Covers: resolv.conf parsing (nameservers accumulate, the last search line wins, options override
by name, comments); ClusterFirst (cluster servers, the three cluster searches then the node's,
ndots:5), ClusterFirstWithHostNet, ClusterFirst on the host network and Default (the node's file),
ClusterFirst without --cluster-dns (falls back to Default, MissingClusterDNS on node and pod),
Arktos networks (the pod's network's dnsServiceIP; --cluster-dns with NetworkDNSMissing while it
has none; host-network pods keep --cluster-dns; the pod sync waits for the Networks' first list,
once),
``--resolv-conf ""``; None with dnsConfig, and dnsConfig merged on ClusterFirst; the limits (3
servers, 32 searches, 253-character domains, 2048-character line) with the DNSConfigForming event;
the dns_config the CRI sandbox gets; the pod sync handing it to the runtime (and failing the sandbox
on an unreadable --resolv-conf); the kubelet flags. Leaves out the runtime writing resolv.conf
(component: test_kubelet_pod_network).
"""

from __future__ import annotations

import asyncio
from pathlib import Path
from typing import Any, cast

import pytest
from kubelet_fakes import ScriptedRuntime, probed_pod, syncer_on

from client.rest import ApiClient
from kubelet.cri_specs import build_sandbox_config
from kubelet.networks import NetworkWatch
from kubelet.pod_dns import DnsConfigurer, DnsSettings, fit_limits, parse_resolv_conf
from kubelet.runtime import SandboxDns, SandboxInfo

HOST_RESOLV = """# written by the node's dhcp client
nameserver 192.0.2.53
search old.example
nameserver 192.0.2.54
search corp.example. lab.example .
options ndots:2 timeout:1
options ndots:3 rotate
"""


class Events:
    def __init__(self) -> None:
        self.pod: list[tuple[str, str]] = []
        self.node: list[tuple[str, str]] = []

    def config(self, configurer: DnsConfigurer, pod: dict[str, Any]) -> SandboxDns:
        return configurer.pod_config(pod, host=configurer.host_config(),
                                     warn_pod=lambda r, m: self.pod.append((r, m)),
                                     warn_node=lambda r, m: self.node.append((r, m)))


@pytest.fixture
def resolv(tmp_path: Path) -> Path:
    path = tmp_path / "resolv.conf"
    path.write_text(HOST_RESOLV)
    return path


def pod(**spec: Any) -> dict[str, Any]:
    return {"metadata": {"name": "web", "namespace": "shop", "uid": "u1"}, "spec": spec}


def cluster(resolv: Path, *servers: str) -> DnsConfigurer:
    return DnsConfigurer(DnsSettings(servers or ("10.0.0.10",), "cluster.local", str(resolv)))


def test_resolv_conf_is_parsed_as_upstream() -> None:
    parsed = parse_resolv_conf(HOST_RESOLV)
    assert parsed.servers == ("192.0.2.53", "192.0.2.54")
    assert parsed.searches == ("corp.example", "lab.example")
    assert parsed.options == ("ndots:3", "timeout:1", "rotate")


@pytest.mark.parametrize("spec", [{}, {"dnsPolicy": "ClusterFirst"},
                                  {"dnsPolicy": "ClusterFirstWithHostNet", "hostNetwork": True}])
def test_cluster_first_uses_the_cluster_dns_and_search_path(resolv: Path, spec: dict[str, Any]) -> None:
    events = Events()
    config = events.config(cluster(resolv), pod(**spec))
    searches = ("shop.svc.cluster.local", "svc.cluster.local", "cluster.local", "corp.example", "lab.example")
    assert config == SandboxDns(("10.0.0.10",), searches, ("ndots:5",))
    assert events.pod == events.node == []


@pytest.mark.parametrize("spec", [{"dnsPolicy": "Default"},
                                  {"dnsPolicy": "ClusterFirst", "hostNetwork": True}])
def test_default_and_host_network_cluster_first_get_the_nodes_resolver(resolv: Path,
                                                                       spec: dict[str, Any]) -> None:
    assert Events().config(cluster(resolv), pod(**spec)) == parse_resolv_conf(HOST_RESOLV)


def test_cluster_first_without_cluster_dns_falls_back_with_upstreams_events(resolv: Path) -> None:
    events = Events()
    config = events.config(DnsConfigurer(DnsSettings((), "cluster.local", str(resolv))), pod())
    assert config == parse_resolv_conf(HOST_RESOLV)
    message = ('kubelet does not have ClusterDNS IP configured and cannot create Pod using "ClusterFirst" '
               'policy. Falling back to "Default" policy.')
    assert events.node == [("MissingClusterDNS", message)]
    assert events.pod == [("MissingClusterDNS", f'pod: "web_shop(u1)". {message}')]


def test_an_empty_resolv_conf_flag_gives_default_pods_only_localhost() -> None:
    configurer = DnsConfigurer(DnsSettings(("10.0.0.10",), "cluster.local", ""), node_ips=("192.0.2.2",))
    assert Events().config(configurer, pod(dnsPolicy="Default")) == SandboxDns(("127.0.0.1",), (".",), ())


def test_none_takes_only_the_pods_dns_config(resolv: Path) -> None:
    dns_config = {"nameservers": ["1.1.1.1"], "searches": ["a.example"],
                  "options": [{"name": "ndots", "value": "1"}, {"name": "edns0"}]}
    config = Events().config(cluster(resolv), pod(dnsPolicy="None", dnsConfig=dns_config))
    assert config == SandboxDns(("1.1.1.1",), ("a.example",), ("ndots:1", "edns0"))


def test_dns_config_merges_onto_cluster_first(resolv: Path) -> None:
    dns_config = {"nameservers": ["10.0.0.10", "1.1.1.1"], "searches": ["cluster.local", "x.example"],
                  "options": [{"name": "ndots", "value": "2"}, {"name": "single-request"}]}
    config = Events().config(cluster(resolv), pod(dnsConfig=dns_config))
    assert config.servers == ("10.0.0.10", "1.1.1.1")
    assert config.searches[-1] == "x.example" and config.searches.count("cluster.local") == 1
    assert config.options == ("ndots:2", "single-request")


def test_more_than_three_nameservers_are_cut_with_an_event(resolv: Path) -> None:
    events = Events()
    config = events.config(cluster(resolv, "10.0.0.10", "10.0.0.11"),
                           pod(dnsConfig={"nameservers": ["1.1.1.1", "8.8.8.8"]}))
    assert config.servers == ("10.0.0.10", "10.0.0.11", "1.1.1.1")
    assert events.pod == [("DNSConfigForming", "Nameserver limits were exceeded, some nameservers have "
                                               "been omitted, the applied nameserver line is: "
                                               "10.0.0.10 10.0.0.11 1.1.1.1")]


def test_search_limits_count_domains_length_and_line() -> None:
    warnings: list[tuple[str, str]] = []

    def warn(reason: str, message: str) -> None:
        warnings.append((reason, message))

    many = tuple(f"d{i}.example" for i in range(40))
    assert fit_limits(SandboxDns(searches=many), warn).searches == many[:32]
    assert warnings[-1][1].startswith("Search Line limits were exceeded, some search paths have been "
                                      "omitted, the applied search line is: d0.example d1.example")
    long_domain = "x" * 254
    assert fit_limits(SandboxDns(searches=("a.example", long_domain)), warn).searches == ("a.example",)
    wide = tuple(f"{i:02d}" + "y" * 98 for i in range(25))  # 25 times 100 characters + spaces > 2048
    kept = fit_limits(SandboxDns(searches=wide), warn).searches
    assert kept == wide[:20] and len(" ".join(kept)) <= 2048
    fit = SandboxDns(("1.1.1.1",), ("a.example",), ("ndots:5",))
    count = len(warnings)
    assert fit_limits(fit, warn) == fit and len(warnings) == count


def test_the_sandbox_config_carries_the_dns_config(tmp_path: Path) -> None:
    dns = SandboxDns(("10.0.0.10",), ("shop.svc.cluster.local",), ("ndots:5",))
    config = build_sandbox_config(pod(), log_root=tmp_path, dns=dns)
    sent = config.dns_config
    assert (list(sent.servers), list(sent.searches), list(sent.options)) \
        == (["10.0.0.10"], ["shop.svc.cluster.local"], ["ndots:5"])
    assert not build_sandbox_config(pod(), log_root=tmp_path).HasField("dns_config")


def test_the_kubelet_flags_as_upstream() -> None:
    from kubelet.config import parse_args

    config = parse_args(["--master", "http://127.0.0.1:1", "--cluster-dns", "10.0.0.10,fd00::a",
                         "--cluster-domain", "Cluster.Local.", "--resolv-conf", "/run/resolv.conf"])
    assert (config.cluster_dns, config.cluster_domain, config.resolv_conf) == (
        ("10.0.0.10", "fd00::a"), "cluster.local", "/run/resolv.conf")
    defaults = parse_args(["--master", "http://127.0.0.1:1"])
    assert (defaults.cluster_dns, defaults.cluster_domain, defaults.resolv_conf) == \
        ((), "", "/etc/resolv.conf")
    with pytest.raises(SystemExit):
        parse_args(["--master", "http://127.0.0.1:1", "--cluster-dns", "kube-dns"])


class DnsRecordingRuntime(ScriptedRuntime):
    def __init__(self) -> None:
        super().__init__()
        self.dns: list[SandboxDns | None] = []

    async def run_sandbox(self, pod: dict[str, Any], *, dns: SandboxDns | None = None) -> SandboxInfo:
        self.dns.append(dns)
        return await super().run_sandbox(pod, dns=dns)


async def test_the_pod_sync_gives_the_sandbox_its_dns_and_records_the_events(resolv: Path) -> None:
    runtime = DnsRecordingRuntime()
    syncer, node, events, _ = syncer_on(runtime)
    syncer.dns = DnsConfigurer(DnsSettings((), "cluster.local", str(resolv)))
    await syncer.sync_pod(node, probed_pod())
    assert runtime.dns == [parse_resolv_conf(HOST_RESOLV)]
    # one on the node, one on the pod
    assert [reason for _, reason, _ in events.seen].count("MissingClusterDNS") == 2
    syncer.dns = DnsConfigurer(DnsSettings(("10.0.0.10",), "cluster.local", str(resolv.with_name("gone"))))
    pod = {**probed_pod(), "metadata": {"name": "q", "namespace": "default", "uid": "uid-2"}}
    await syncer.sync_pod(node, pod)
    assert len(runtime.dns) == 1  # an unreadable --resolv-conf fails the sandbox, as upstream's config
    assert any(reason == "FailedCreatePodSandBox" and "Failed to generate sandbox config" in message
               for _, reason, message in events.seen)


# -- Arktos networks ----------------------------------------------------------------------------


class Networks:
    """In-memory `kubelet.pod_dns.NetworkDns`: (tenant, network) → dnsServiceIP."""

    def __init__(self, ips: dict[tuple[str, str], str]) -> None:
        self.ips = ips
        self.waited = 0

    async def wait_for_sync(self, timeout_s: float) -> bool:
        self.waited += 1
        return True

    def dns_service_ip(self, tenant: str, network: str) -> str:
        return self.ips.get((tenant, network), "")


def network_pod(tenant: str, network: str | None, **spec: Any) -> dict[str, Any]:
    labels = {"arktos.futurewei.com/network": network} if network is not None else {}
    return {"metadata": {"name": "web", "namespace": "shop", "uid": "u1", "tenant": tenant, "labels": labels},
            "spec": spec}


NETWORKS = Networks({("acme", "default"): "10.10.0.10", ("acme", "blue"): "10.11.0.10",
                     ("system", "default"): "10.0.0.10"})


@pytest.mark.parametrize(("tenant", "network", "server"), [
    ("acme", None, "10.10.0.10"), ("acme", "default", "10.10.0.10"), ("acme", "blue", "10.11.0.10"),
    ("system", None, "10.0.0.10")])
def test_a_pods_nameserver_is_its_networks_dns_service(resolv: Path, tenant: str, network: str | None,
                                                       server: str) -> None:
    events = Events()
    configurer = DnsConfigurer(DnsSettings(("10.0.0.99",), "cluster.local", str(resolv)), networks=NETWORKS)
    config = events.config(configurer, network_pod(tenant, network))
    assert config.servers == (server,)
    assert config.searches[:3] == ("shop.svc.cluster.local", "svc.cluster.local", "cluster.local")
    assert events.pod == events.node == []


def test_a_network_without_dns_falls_back_to_the_cluster_dns_with_a_warning(resolv: Path) -> None:
    events = Events()
    configurer = DnsConfigurer(DnsSettings(("10.0.0.99",), "cluster.local", str(resolv)), networks=NETWORKS)
    assert events.config(configurer, network_pod("acme", "red")).servers == ("10.0.0.99",)
    assert events.pod == [("NetworkDNSMissing", 'network "red" of tenant "acme" has no DNS service IP; '
                                                "using the kubelet's cluster DNS 10.0.0.99")]
    assert events.node == []


def test_host_network_pods_keep_the_cluster_dns(resolv: Path) -> None:
    events = Events()
    configurer = DnsConfigurer(DnsSettings(("10.0.0.99",), "cluster.local", str(resolv)), networks=NETWORKS)
    pod = network_pod("acme", "blue", dnsPolicy="ClusterFirstWithHostNet", hostNetwork=True)
    assert events.config(configurer, pod).servers == ("10.0.0.99",)
    assert events.pod == []


async def test_the_pod_sync_waits_for_the_networks_and_uses_the_networks_dns(resolv: Path) -> None:
    runtime = DnsRecordingRuntime()
    syncer, node, _, _ = syncer_on(runtime)
    networks = Networks({("system", "blue"): "10.12.0.10"})
    syncer.dns = DnsConfigurer(DnsSettings(("10.0.0.99",), "cluster.local", str(resolv)), networks=networks)
    pod = probed_pod()
    pod["metadata"]["labels"] = {"arktos.futurewei.com/network": "blue"}
    await syncer.sync_pod(node, pod)
    assert networks.waited == 1
    assert [dns.servers if dns else None for dns in runtime.dns] == [("10.12.0.10",)]


async def test_the_network_watch_holds_pods_back_only_once_when_it_cannot_list() -> None:
    watch = NetworkWatch(cast(ApiClient, object()))  # never run: its first list never comes
    loop = asyncio.get_running_loop()
    started = loop.time()
    assert await watch.wait_for_sync(0.2) is False
    assert loop.time() - started >= 0.19
    started = loop.time()
    assert await watch.wait_for_sync(0.2) is False
    assert loop.time() - started < 0.05
    assert watch.dns_service_ip("acme", "default") == ""
