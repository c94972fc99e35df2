"""A pod's resolver configuration per ``dnsPolicy``: what the CRI sandbox gets as its DNSConfig.

Upstream's pkg/kubelet/network/dns (``Configurer.GetPodDNS``); the runtime writes the sandbox's
resolv.conf from it (containerd copies the node's file only when the config is empty):

* ``ClusterFirst`` (the default) and ``ClusterFirstWithHostNet``: the ``--cluster-dns`` servers
  only, searches ``<ns>.svc.<domain> svc.<domain> <domain>`` then the node's (from
  ``--resolv-conf``), ``options ndots:5``. A host-network pod with ``ClusterFirst`` falls back to
  ``Default``, as does any ClusterFirst pod when the kubelet has no cluster DNS — with upstream's
  ``MissingClusterDNS`` warning events on the node and the pod. Arktos: a pod in its own network
  namespace uses its network's DNS Service (the Network's ``status.dnsServiceIP``,
  `kubelet.networks`) instead of ``--cluster-dns``, which stays the fallback while the network
  has none (a ``NetworkDNSMissing`` warning on the pod) and the server of host-network pods (their
  address is the node's, which the cluster DNS answers as tenant system's);
* ``Default``: the node's resolv.conf as it is (``--resolv-conf ""``: ``nameserver 127.0.0.1``
  and search ``.``, upstream's "disable lookups" setting);
* ``None``: nothing but the pod's ``dnsConfig``.

A pod's ``dnsConfig`` is merged on top (servers and searches appended without duplicates,
options overriding by name), then the result is cut to the resolver's limits — 3 nameservers, 32
search domains of at most 253 characters and 2048 characters in all — with upstream's
``DNSConfigForming`` warning event naming what was applied.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Protocol

from kubelet.networks import network_of, pod_tenant
from kubelet.runtime import SandboxDns

MAX_NAMESERVERS = 3
MAX_SEARCH_PATHS = 32
MAX_SEARCH_LINE_CHARS = 2048
MAX_DOMAIN_CHARS = 253  # a DNS-1123 subdomain; longer search paths abort some resolvers (glibc 2.28)
MAX_RESOLV_CONF_BYTES = 10 * 1024 * 1024  # upstream's maxResolvConfLength
DEFAULT_OPTIONS = ("ndots:5",)
DEFAULT_RESOLV_CONF = "/etc/resolv.conf"

NETWORK_SYNC_WAIT_S = 10.0  # how long a first sandbox waits for the Networks' first list

# (reason, message): a Warning event on the pod, or on the node.
Warn = Callable[[str, str], None]


class NetworkDns(Protocol):
    """Where a network's DNS Service address comes from (`kubelet.networks.NetworkWatch`)."""

    async def wait_for_sync(self, timeout_s: float) -> bool: ...

    def dns_service_ip(self, tenant: str, network: str) -> str: ...


@dataclass(frozen=True, slots=True)
class DnsSettings:
    """The kubelet's ``--cluster-dns``, ``--cluster-domain`` and ``--resolv-conf``."""

    cluster_dns: tuple[str, ...] = ()
    cluster_domain: str = ""
    resolv_conf: str = DEFAULT_RESOLV_CONF


def parse_resolv_conf(text: str) -> SandboxDns:
    """Nameserver lines accumulate; the last ``search`` line wins (trailing dots dropped, ``.``
    skipped); ``options`` accumulate, a later option overriding an earlier one of its name."""
    servers: list[str] = []
    searches: list[str] = []
    options: list[str] = []
    for line in text.splitlines():
        fields = line.strip().split()
        if not fields or fields[0].startswith("#"):
            continue
        if fields[0] == "nameserver" and len(fields) >= 2:
            servers.append(fields[1])
        elif fields[0] == "search":
            searches = [s.removesuffix(".") for s in fields[1:] if s != "."]
        elif fields[0] == "options":
            options = _append_options(options, fields[1:])
    return SandboxDns(tuple(servers), tuple(searches), tuple(options))


def _option_name(option: str) -> str:
    return option.split(":", 1)[0]


def _append_options(options: Iterable[str], more: Iterable[str]) -> list[str]:
    merged = {_option_name(o): o for o in options}
    merged.update({_option_name(o): o for o in more})
    return list(merged.values())


def _unique(values: Iterable[str]) -> tuple[str, ...]:
    return tuple(dict.fromkeys(values))


def pod_dns_type(pod: dict[str, Any]) -> str:
    """``cluster``, ``host`` or ``none`` (upstream's getPodDNSType; an unknown policy is cluster)."""
    spec = pod.get("spec") or {}
    policy = spec.get("dnsPolicy") or "ClusterFirst"
    if policy == "None":
        return "none"
    if policy == "Default" or (policy == "ClusterFirst" and spec.get("hostNetwork")):
        return "host"
    return "cluster"


class DnsConfigurer:
    """Builds each pod's `SandboxDns` from the kubelet's settings and the node's resolv.conf."""

    def __init__(self, settings: DnsSettings, *, node_ips: tuple[str, ...] = (),
                 networks: NetworkDns | None = None) -> None:
        """``networks``: the pods' networks' DNS (None: every ClusterFirst pod uses ``--cluster-dns``)."""
        self.settings = settings
        self.node_ips = node_ips
        self.networks = networks

    async def wait_for_networks(self) -> None:
        """Before a pod's config: the Networks listed once (or a bounded wait for them)."""
        if self.networks is not None:
            await self.networks.wait_for_sync(NETWORK_SYNC_WAIT_S)

    def host_config(self) -> SandboxDns:
        """The node's resolv.conf, re-read for every pod as upstream does (blocking: run it in a
        thread); raises OSError when ``--resolv-conf`` cannot be read."""
        path = self.settings.resolv_conf
        if not path:
            return SandboxDns()
        with Path(path).open("rb") as f:
            return parse_resolv_conf(f.read(MAX_RESOLV_CONF_BYTES).decode(errors="replace"))

    def pod_config(self, pod: dict[str, Any], *, host: SandboxDns, warn_pod: Warn,
                   warn_node: Warn) -> SandboxDns:
        """The sandbox DNSConfig of ``pod``, given the node's (`host_config`)."""
        kind = pod_dns_type(pod)
        config = SandboxDns() if kind == "none" else host
        servers = self._cluster_servers(pod, warn_pod) if kind == "cluster" else ()
        if kind == "cluster" and servers:
            config = SandboxDns(servers, self._cluster_searches(pod, config.searches), DEFAULT_OPTIONS)
        elif kind == "cluster":
            message = ("kubelet does not have ClusterDNS IP configured and cannot create Pod using "
                       '"ClusterFirst" policy. Falling back to "Default" policy.')
            warn_node("MissingClusterDNS", message)
            warn_pod("MissingClusterDNS", f'pod: "{_pod_name(pod)}". {message}')
            kind = "host"
        if kind == "host" and not self.settings.resolv_conf:
            servers = tuple("::1" if ":" in ip else "127.0.0.1" for ip in self.node_ips) or ("127.0.0.1",)
            config = SandboxDns(_unique(servers), (".",), config.options)
        extra = (pod.get("spec") or {}).get("dnsConfig")
        if isinstance(extra, dict):
            config = merge_pod_dns_config(config, extra)
        return fit_limits(config, warn_pod)

    def _cluster_servers(self, pod: dict[str, Any], warn_pod: Warn) -> tuple[str, ...]:
        """The pod's network's DNS Service; ``--cluster-dns`` for host-network pods and while the
        network has none."""
        cluster_dns = self.settings.cluster_dns
        if self.networks is None or (pod.get("spec") or {}).get("hostNetwork"):
            return cluster_dns
        tenant, network = pod_tenant(pod), network_of(pod)
        network_dns = self.networks.dns_service_ip(tenant, network)
        if network_dns:
            return (network_dns,)
        if cluster_dns:
            warn_pod("NetworkDNSMissing", f'network "{network}" of tenant "{tenant}" has no DNS service IP; '
                                          f"using the kubelet's cluster DNS {' '.join(cluster_dns)}")
        return cluster_dns

    def _cluster_searches(self, pod: dict[str, Any], host_searches: tuple[str, ...]) -> tuple[str, ...]:
        domain = self.settings.cluster_domain
        if not domain:
            return host_searches
        namespace = str((pod.get("metadata") or {}).get("namespace") or "")
        return _unique((f"{namespace}.svc.{domain}", f"svc.{domain}", domain, *host_searches))


def _pod_name(pod: dict[str, Any]) -> str:
    """Upstream's format.Pod: ``name_namespace(uid)``."""
    metadata = pod.get("metadata") or {}
    return f"{metadata.get('name', '')}_{metadata.get('namespace', '')}({metadata.get('uid', '')})"


def merge_pod_dns_config(config: SandboxDns, extra: dict[str, Any]) -> SandboxDns:
    """Upstream's appendDNSConfig: the pod's ``dnsConfig`` on top of ``config``."""
    options = {_option_name(o): o for o in config.options}
    for option in extra.get("options") or []:
        name = str(option.get("name") or "")
        value = option.get("value")
        options[name] = f"{name}:{value}" if value not in (None, "") else name
    return SandboxDns(_unique((*config.servers, *(str(s) for s in extra.get("nameservers") or []))),
                      _unique((*config.searches, *(str(s) for s in extra.get("searches") or []))),
                      tuple(options.values()))


def fit_limits(config: SandboxDns, warn_pod: Warn) -> SandboxDns:
    """Cuts ``config`` to the resolver's limits, warning on the pod as upstream when it had to."""
    servers = config.servers
    if len(servers) > MAX_NAMESERVERS:
        servers = servers[:MAX_NAMESERVERS]
        warn_pod("DNSConfigForming", "Nameserver limits were exceeded, some nameservers have been omitted, "
                                     f"the applied nameserver line is: {' '.join(servers)}")
    searches = list(config.searches)
    exceeded = len(searches) > MAX_SEARCH_PATHS
    searches = searches[:MAX_SEARCH_PATHS]
    kept = [s for s in searches if len(s) <= MAX_DOMAIN_CHARS]
    exceeded = exceeded or len(kept) != len(searches)
    while kept and len(" ".join(kept)) > MAX_SEARCH_LINE_CHARS:
        kept.pop()  # upstream cuts whole domains from the end until the line fits
        exceeded = True
    if exceeded:
        warn_pod("DNSConfigForming", "Search Line limits were exceeded, some search paths have been omitted, "
                                     f"the applied search line is: {' '.join(kept)}")
    return SandboxDns(servers, tuple(kept), config.options)
