"""Network isolation on the node: which pod may open connections to which, as filter-table rules.

A pod belongs to one network of its tenant: the one its label ``arktos.futurewei.com/network``
names (``default`` when absent); the key is (tenant, network), so two tenants' ``default`` networks,
and two networks of one tenant, are different networks. A forwarded packet from a pod IP to a pod IP
of another network is refused (``REJECT --reject-with icmp-admin-prohibited``) unless it is a query
to the cluster DNS: a pod of tenant system's ``kube-system`` labelled ``k8s-app=kube-dns``, on
53/UDP and TCP, asked at its pod IP, through a Service of tenant system (``kube-dns``, the fallback
every pod may use) or through a DNS Service of the asker's own network (``kube-dns-<network>``, any
Service of that (tenant, network) whose endpoint is a DNS pod's port 53) — not through another
network's. The check runs in ``FORWARD``, after DNAT (the address asked is conntrack's original
destination, ``--ctorigdst``), so a Service IP or a NodePort leading to another network's pod is
refused like the pod IP itself. Traffic from or to the node (the API server behind
``kubernetes-<network>``, NodePorts asked from the node) never passes ``FORWARD`` and is not
touched. Chains (prefix ``P``), O(pods + networks) rules:

  ``P-ISOLATION`` (jumped to first from ``FORWARD``): replies and related packets return at once;
  the DNS pods asked directly or through system's Services; then per pod
  ``-s podIP -j P-NET-<hash(tenant/network)>``.
  ``P-NET-x``: per pod of network x ``-d podIP -j RETURN``; the DNS pods through x's own DNS
  Services; then ``-j P-ISOLATION-PODS``.
  ``P-ISOLATION-PODS``: per pod ``-d podIP -j REJECT`` (reached only for another network's pods).

A pod the proxy has not seen yet (no IP in its status, or the sync has not run) is unknown on both
sides: its packets and packets to it pass until the next sync (at most ``--min-sync-period`` later).
"""

from __future__ import annotations

from collections.abc import Hashable, Iterable, Mapping
from dataclasses import dataclass
from typing import Any

from proxy.model import DEFAULT_NETWORK, NETWORK_LABEL, Endpoint, ServicePort

DNS_TENANT, DNS_NAMESPACE, DNS_LABEL = "system", "kube-system", ("k8s-app", "kube-dns")
DNS_PORT = 53


@dataclass(frozen=True, slots=True, order=True)
class NetworkKey:
    tenant: str
    network: str

    def __str__(self) -> str:
        return f"{self.tenant}/{self.network}"


@dataclass(frozen=True, slots=True)
class PodMember:
    """What isolation needs of one pod: its network, its IPv4 addresses, whether it serves cluster DNS."""

    network: NetworkKey
    ips: tuple[str, ...]
    dns: bool = False


def pod_member(pod: dict[str, Any]) -> PodMember | None:
    """The pod's place in isolation; None for pods that hold no pod IP (host network, finished, not
    started yet)."""
    metadata = pod.get("metadata") or {}
    spec = pod.get("spec") or {}
    status = pod.get("status") or {}
    if spec.get("hostNetwork") or status.get("phase") in ("Succeeded", "Failed"):
        return None
    ips = [str(entry.get("ip") or "") for entry in status.get("podIPs") or []]
    if not ips and status.get("podIP"):
        ips = [str(status["podIP"])]
    ipv4 = tuple(sorted({ip for ip in ips if ip and ":" not in ip}))
    if not ipv4:
        return None
    labels = metadata.get("labels") or {}
    tenant = str(metadata.get("tenant") or "system")
    namespace = str(metadata.get("namespace") or "")
    key = NetworkKey(tenant, str(labels.get(NETWORK_LABEL) or DEFAULT_NETWORK))
    dns = (tenant, namespace, labels.get(DNS_LABEL[0])) == (DNS_TENANT, DNS_NAMESPACE, DNS_LABEL[1])
    return PodMember(key, ipv4, dns)


class PodMemberships:
    """The last seen `PodMember` per pod: tells which pod events matter to the rules (a pod's status
    changes often; its IPs, network and DNS role rarely)."""

    def __init__(self) -> None:
        self._members: dict[Hashable, PodMember] = {}

    def changed(self, key: Hashable, pod: dict[str, Any] | None) -> bool:
        """Records ``pod`` (None: deleted) under ``key``; whether its place in isolation changed."""
        member = pod_member(pod) if pod is not None else None
        if member == self._members.get(key):
            return False
        if member is None:
            del self._members[key]
        else:
            self._members[key] = member
        return True


def slim_pod(pod: dict[str, Any]) -> dict[str, Any]:
    """An informer transform: only the fields `pod_member` reads are cached."""
    metadata = pod.get("metadata") or {}
    spec = pod.get("spec") or {}
    status = pod.get("status") or {}
    return {
        "metadata": {key: metadata[key] for key in ("name", "namespace", "tenant", "labels",
                                                    "resourceVersion", "uid") if key in metadata},
        "spec": {"hostNetwork": bool(spec.get("hostNetwork"))},
        "status": {key: status[key] for key in ("phase", "podIP", "podIPs") if key in status},
    }


# A Service address leading to a cluster DNS pod: (the Service's clusterIP, the DNS pod's IP).
DnsRoute = tuple[str, str]


@dataclass(frozen=True, slots=True)
class NetworkMembers:
    """What one network's chain holds: its pods' IPs and the routes of its own DNS Services
    (``kube-dns-<network>`` of its tenant), both sorted."""

    pod_ips: tuple[str, ...]
    dns_routes: tuple[DnsRoute, ...] = ()


@dataclass(frozen=True, slots=True)
class IsolationPlan:
    """What one sync programs: every network with pods, the cluster DNS pods' IPs, and the DNS
    routes through tenant system's Services (``kube-dns``: every network may use them)."""

    networks: Mapping[NetworkKey, NetworkMembers]
    dns_ips: tuple[str, ...] = ()
    shared_dns_routes: tuple[DnsRoute, ...] = ()


def isolation_plan(pods: Iterable[dict[str, Any]],
                   service_endpoints: Iterable[tuple[ServicePort, Iterable[Endpoint]]] = ()) -> IsolationPlan:
    """The plan for these pods; ``service_endpoints`` (each service port with its usable endpoints)
    tell which Service addresses lead to the DNS pods' port 53, and whose network they belong to."""
    members: dict[NetworkKey, set[str]] = {}
    dns: set[str] = set()
    for pod in pods:
        member = pod_member(pod)
        if member is None:
            continue
        members.setdefault(member.network, set()).update(member.ips)
        if member.dns:
            dns.update(member.ips)
    routes: dict[NetworkKey, set[DnsRoute]] = {}
    for port, endpoints in service_endpoints:
        for endpoint in endpoints:
            if endpoint.ip in dns and endpoint.port == DNS_PORT:
                key = NetworkKey(port.name.tenant, port.network)
                routes.setdefault(key, set()).add((port.cluster_ip, endpoint.ip))
    shared: set[DnsRoute] = set()
    for key in [key for key in routes if key.tenant == DNS_TENANT]:
        shared |= routes.pop(key)
    return IsolationPlan(
        {key: NetworkMembers(tuple(sorted(ips)), tuple(sorted(routes.get(key, ()))))
         for key, ips in sorted(members.items())},
        tuple(sorted(dns)), tuple(sorted(shared)))
