"""The proxier against real iptables in network namespaces of the test's own (no API server, no pods).

Covers: a partial sync after changes (an endpoint gone, a Service gone, a Service added, a port left
without endpoints) leaves exactly the tables a full sync of the same objects makes in a fresh
namespace; a full sync removes chains of ours it did not write (left by an earlier run) but no chain of
another prefix; ``cleanup`` leaves nothing of the prefix; a UDP client that keeps its source port is
moved to the new endpoint when its endpoint is replaced (stale conntrack entries deleted), with UDP
servers on a dummy interface of the namespace; network isolation: a partial sync after pods came, went
and changed network ends where a full sync does, the isolation jump stays ahead of another cluster's
accept rules inserted later, and turning isolation off removes its chains and jump. Leaves out:
traffic to pods (test_proxy_iptables.py, test_proxy_isolation.py).
"""

from __future__ import annotations

import asyncio
import re
import subprocess
import sys
import uuid
from collections.abc import Iterator
from typing import Any

import pytest

from proxy.chains import ChainNames
from proxy.conntrack import Conntrack
from proxy.iptables import Iptables, ensure_installed
from proxy.proxier import Proxier
from proxy.rules import RuleSettings

SETTINGS = RuleSettings(ChainNames("PXN"), cluster_cidr="10.212.0.0/16")


@pytest.fixture
def netns() -> Iterator[Iterator[str]]:
    ensure_installed()
    made: list[str] = []

    def names() -> Iterator[str]:
        while True:
            name = f"arktos-pxn-{uuid.uuid4().hex[:6]}"
            subprocess.run(["ip", "netns", "add", name], check=True)
            made.append(name)
            yield name

    try:
        yield names()
    finally:
        for name in made:
            subprocess.run(["ip", "netns", "del", name], check=False)


def service(name: str, ip: str, *, node_port: int = 0, protocol: str = "TCP") -> dict[str, Any]:
    port = {"name": "p", "port": 80, "nodePort": node_port, "protocol": protocol}
    spec: dict[str, Any] = {"clusterIP": ip, "ports": [port]}
    if node_port:
        spec["type"] = "NodePort"
    return {"metadata": {"tenant": "t", "namespace": "n", "name": name}, "spec": spec}


def endpoint_slice(name: str, *ips: str, protocol: str = "TCP") -> dict[str, Any]:
    return {"metadata": {"tenant": "t", "namespace": "n", "name": f"{name}-1",
                         "labels": {"kubernetes.io/service-name": name}},
            "addressType": "IPv4", "ports": [{"name": "p", "port": 8080, "protocol": protocol}],
            "endpoints": [{"addresses": [ip]} for ip in ips]}


async def saved(iptables: Iptables) -> str:
    """Both tables without counters and comments of iptables-save itself, chains sorted."""
    lines = []
    for table in ("nat", "filter"):
        text = await iptables.rules(table)
        lines += sorted(re.sub(r"\[\d+:\d+\]", "", line) for line in text.splitlines()
                        if line and not line.startswith("#"))
    return "\n".join(lines)


async def test_a_partial_sync_ends_where_a_full_sync_of_the_same_objects_does(netns: Iterator[str]) -> None:
    partial = Proxier(Iptables(netns=next(netns)), SETTINGS)
    services = [service("a", "10.211.0.1"), service("b", "10.211.0.2", node_port=30002),
                service("c", "10.211.0.3")]
    slices = [endpoint_slice("a", "10.212.0.1", "10.212.0.2"), endpoint_slice("b", "10.212.0.3"),
              endpoint_slice("c", "10.212.0.4")]
    first = await partial.sync(services, slices, full=False)  # nothing known yet: full anyway
    assert first.full
    services = [services[0], services[1], service("d", "10.211.0.4")]
    slices = [endpoint_slice("a", "10.212.0.2"), endpoint_slice("b"), endpoint_slice("d", "10.212.0.5")]
    second = await partial.sync(services, slices, full=False)
    # Gone: c's SVC and SEP, the SEP of a's removed endpoint, b's SVC and SEP (b has no endpoint now).
    assert not second.full and second.stale_chains == 5
    fresh = Proxier(Iptables(netns=next(netns)), SETTINGS)
    await fresh.sync(services, slices)
    assert await saved(partial.iptables) == await saved(fresh.iptables)
    assert "PXN-SVC" in await saved(fresh.iptables)


async def test_a_full_sync_removes_only_stale_chains_of_its_own_prefix(netns: Iterator[str]) -> None:
    iptables = Iptables(netns=next(netns))
    # Left by an earlier run of ours, and one of another cluster's prefix.
    await iptables.restore("*nat\n:PXN-SVC-AAAAAAAAAAAAAAAA - [0:0]\n:PXO-SVC-AAAAAAAAAAAAAAAA - [0:0]\n"
                           "COMMIT\n")
    proxier = Proxier(iptables, SETTINGS)
    result = await proxier.sync([service("a", "10.211.0.1")], [endpoint_slice("a", "10.212.0.1")])
    chains = await iptables.chains("nat")
    assert result.stale_chains == 1 and "PXN-SVC-AAAAAAAAAAAAAAAA" not in chains
    assert "PXO-SVC-AAAAAAAAAAAAAAAA" in chains
    # nat: SERVICES, NODEPORTS, POSTROUTING, MARK-MASQ, a's SVC and SEP; filter: SERVICES,
    # EXTERNAL-SERVICES, FORWARD, ISOLATION, ISOLATION-PODS.
    assert await proxier.cleanup() == 11
    text = await saved(iptables)
    assert "PXN-" not in text and "PXO-SVC-AAAAAAAAAAAAAAAA" in text


UDP_SERVER = """
import socket, sys
sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
sock.bind((sys.argv[1], 8080))
while True:
    _, peer = sock.recvfrom(64)
    sock.sendto(sys.argv[1].encode(), peer)
"""
# One datagram from a fixed source port, so the second run reuses the first run's conntrack entry.
UDP_CLIENT = """
import socket, sys
sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
sock.bind(("0.0.0.0", 40000))
sock.settimeout(3)
sock.sendto(b"?", (sys.argv[1], 80))
print(sock.recvfrom(64)[0].decode())
"""


def in_netns(netns: str, *command: str) -> list[str]:
    return ["ip", "netns", "exec", netns, *command]


def udp_servers(netns: str, addresses: list[str]) -> list[subprocess.Popen[bytes]]:
    """One UDP server per address (each answers with its address) on a veth end of ``netns``, whose
    default route points there (no dummy module on these machines)."""
    commands = [["ip", "link", "set", "lo", "up"],
                ["ip", "link", "add", "d0", "type", "veth", "peer", "name", "d1"],
                ["ip", "addr", "add", "10.212.9.1/24", "dev", "d0"],
                *(["ip", "addr", "add", f"{address}/24", "dev", "d0"] for address in addresses),
                ["ip", "link", "set", "d0", "up"], ["ip", "link", "set", "d1", "up"],
                ["ip", "route", "add", "default", "dev", "d0"]]
    for command in commands:
        subprocess.run(in_netns(netns, *command), check=True)
    return [subprocess.Popen(in_netns(netns, sys.executable, "-c", UDP_SERVER, address))
            for address in addresses]


async def test_a_udp_client_moves_to_the_new_endpoint_when_its_endpoint_is_replaced(
        netns: Iterator[str]) -> None:
    name = next(netns)
    servers = await asyncio.to_thread(udp_servers, name, ["10.212.9.2", "10.212.9.3"])
    try:
        proxier = Proxier(Iptables(netns=name), SETTINGS, conntrack=Conntrack(netns=name))
        udp = [service("dns", "10.211.0.53", protocol="UDP")]

        def ask() -> str:
            return subprocess.run(in_netns(name, sys.executable, "-c", UDP_CLIENT, "10.211.0.53"),
                                  capture_output=True, text=True, check=True, timeout=10).stdout.strip()

        await proxier.sync(udp, [endpoint_slice("dns", "10.212.9.2", protocol="UDP")])
        assert ask() == "10.212.9.2"
        await proxier.sync(udp, [endpoint_slice("dns", "10.212.9.3", protocol="UDP")], full=False)
        # The old server still answers: only the deleted conntrack entry sends the client elsewhere.
        assert ask() == "10.212.9.3"
    finally:
        for server in servers:
            server.kill()


def pod(tenant: str, name: str, ip: str, network: str = "") -> dict[str, Any]:
    labels = {"arktos.futurewei.com/network": network} if network else {}
    return {"metadata": {"tenant": tenant, "namespace": "n", "name": name, "labels": labels},
            "spec": {}, "status": {"phase": "Running", "podIP": ip}}


async def test_a_partial_isolation_sync_ends_where_a_full_sync_does(netns: Iterator[str]) -> None:
    partial = Proxier(Iptables(netns=next(netns)), SETTINGS)
    pods = [pod("a", "a1", "10.212.1.1"), pod("a", "a2", "10.212.1.2"),
            pod("a", "blue", "10.212.1.3", "blue"), pod("b", "b1", "10.212.2.1"),
            pod("c", "c1", "10.212.3.1")]
    await partial.sync([], [], pods)
    # a2 moves to blue, c's only pod goes (its network's chain with it), d comes.
    pods = [pods[0], pod("a", "a2", "10.212.1.2", "blue"), pods[2], pods[3], pod("d", "d1", "10.212.4.1")]
    second = await partial.sync([], [], pods, full=False)
    assert not second.full and second.stale_chains == 1 and second.networks == 4
    fresh = Proxier(Iptables(netns=next(netns)), SETTINGS)
    await fresh.sync([], [], pods)
    assert await saved(partial.iptables) == await saved(fresh.iptables)
    assert "PXN-NET-" in await saved(fresh.iptables)


def forward_rules(netns: str) -> list[str]:
    out = subprocess.run(in_netns(netns, "iptables", "-S", "FORWARD"), capture_output=True, text=True,
                         check=True).stdout
    return [line for line in out.splitlines() if line.startswith("-A ")]


async def test_the_isolation_jump_stays_ahead_of_another_clusters_accept_rules(netns: Iterator[str]) -> None:
    name = next(netns)
    ours = Proxier(Iptables(netns=name), SETTINGS)
    other = Proxier(Iptables(netns=name), RuleSettings(ChainNames("PXO"), network_isolation=False))
    await ours.sync([], [], [pod("a", "a1", "10.212.1.1")])
    await other.sync([], [])  # its FORWARD jumps (accepting marked traffic) go first
    assert not forward_rules(name)[0].endswith("-j PXN-ISOLATION")
    await ours.sync([], [], [pod("a", "a1", "10.212.1.1")], full=False)
    rules = forward_rules(name)
    assert rules[0].endswith("-j PXN-ISOLATION") and sum("PXN-ISOLATION" in r for r in rules) == 1
    await other.cleanup()
    await ours.cleanup()
    assert forward_rules(name) == []


async def test_turning_isolation_off_removes_its_chains_and_jump(netns: Iterator[str]) -> None:
    iptables = Iptables(netns=next(netns))
    pods = [pod("a", "a1", "10.212.1.1"), pod("b", "b1", "10.212.2.1")]
    await Proxier(iptables, SETTINGS).sync([], [], pods)
    assert "PXN-NET-" in await saved(iptables)
    off = Proxier(iptables, RuleSettings(SETTINGS.chains, cluster_cidr=SETTINGS.cluster_cidr,
                                         network_isolation=False))
    result = await off.sync([], [], pods)
    text = await saved(iptables)
    assert result.stale_chains == 4 and "ISOLATION" not in text and "PXN-NET-" not in text
    assert "PXN-FORWARD" in text
