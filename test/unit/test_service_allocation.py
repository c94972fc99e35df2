"""Service ClusterIP and node port allocation through the generic store, and its repair loop.

Covers: the ranges (parsing, network/broadcast never handed out, dynamic picks from the upper band
first); allocation on create for ClusterIP/NodePort/LoadBalancer, none for headless and
ExternalName (a clusterIP on ExternalName refused); requested IPs and node ports honoured or refused
with upstream's texts; a range that is full; immutable clusterIP; type changes (ClusterIP →
NodePort gets node ports, NodePort → ClusterIP and → ExternalName release them and the IP); a
client's update without the allocated values keeps them; release on delete (reusable at once); a
create that fails after allocating gives back what it took; dry runs take nothing; two servers on
one store racing creates never share an address; the repair loop frees a leaked claim (only once
it is older than the grace) and claims an address a Service holds unrecorded.
Leaves out: HTTP, kubectl and real processes (test/component/test_service_ips.py).
"""

from __future__ import annotations

import asyncio
from typing import Any

import pytest
from shared_backend import running_servers

from server.app import ApiServer, ServerConfig
from server.errors import AlreadyExists, InternalError, Invalid
from server.registry.keys import SYSTEM_TENANT, Scope
from server.registry.store import WriteOptions
from server.services.claims import Holder
from server.services.ranges import IPRange, PortRange, RangeError, ServiceRanges
from server.services.repair import AllocationRepair

SCOPE = Scope(SYSTEM_TENANT, "default")
RANGES = ServiceRanges.parse("10.200.0.0/26", "30100-30109")


def service(name: str, **spec: Any) -> dict[str, Any]:
    body = {"ports": [{"port": 80, "protocol": "TCP"}], **spec}
    return {"apiVersion": "v1", "kind": "Service", "metadata": {"name": name}, "spec": body}


def servers(count: int = 1, ranges: ServiceRanges = RANGES) -> Any:
    return running_servers(count, ServerConfig(storage_url="memory://", service_ranges=ranges))


async def create(server: ApiServer, body: dict[str, Any], *, dry_run: bool = False) -> dict[str, Any]:
    record = server.catalogue.lookup("", "v1", "services")
    assert record is not None
    return (await server.store.create(record, SCOPE, body, WriteOptions(dry_run=dry_run))).obj


async def patch(server: ApiServer, name: str, change: dict[str, Any]) -> dict[str, Any]:
    record = server.catalogue.lookup("", "v1", "services")
    assert record is not None

    def apply(current: dict[str, Any]) -> dict[str, Any]:
        current["spec"].update(change)
        current["metadata"].pop("resourceVersion", None)
        return current

    return (await server.store.guaranteed_update(record, SCOPE, name, apply, options=WriteOptions())).obj


async def delete(server: ApiServer, name: str) -> None:
    record = server.catalogue.lookup("", "v1", "services")
    assert record is not None
    await server.store.delete(record, SCOPE, name, {}, WriteOptions())


async def claimed_ips(server: ApiServer) -> set[str]:
    return {claim.item for claim in await server.service_allocator.ips.all()}


async def claimed_ports(server: ApiServer) -> set[str]:
    return {claim.item for claim in await server.service_allocator.ports.all()}


# -- ranges ---------------------------------------------------------------------------------------
def test_ip_range_hands_out_neither_network_nor_broadcast() -> None:
    ips = IPRange.parse("10.0.0.0/30")
    assert ips.size == 2
    assert [ips.contains(ip) for ip in ("10.0.0.0", "10.0.0.1", "10.0.0.2", "10.0.0.3", "10.0.1.1", "x")] \
        == [False, True, True, False, False, False]
    assert sorted(ips.candidates()) == ["10.0.0.1", "10.0.0.2"]


def test_dynamic_picks_come_from_the_upper_band_first() -> None:
    ips = IPRange.parse("10.0.0.0/24")  # 254 usable, the lower 16 kept for static picks
    order = list(ips.candidates())
    assert len(order) == len(set(order)) == 254
    assert all(int(ip.rsplit(".", 1)[1]) > 16 for ip in order[:238])
    assert ServiceRanges.parse("10.0.0.0/16").kubernetes_service_ip == "10.0.0.1"


def test_dynamic_node_ports_come_from_the_upper_band_first() -> None:
    ports = PortRange.parse("30000-32767")  # 2768 ports: the lower 86 (size/32) kept for requests
    order = list(ports.candidates())
    assert sorted(order) == list(range(30000, 32768))
    assert all(port >= 30086 for port in order[:2768 - 86]) and order[-86:] == list(range(30000, 30086))
    small = list(PortRange.parse("31200-31219").candidates())  # at least 16 kept: 4 dynamic first
    assert sorted(small[:4]) == [31216, 31217, 31218, 31219]


@pytest.mark.parametrize("text", ["", "abc", "30000-", "0-10", "300-200", "1-70000"])
def test_bad_port_ranges_are_refused(text: str) -> None:
    with pytest.raises(RangeError):
        PortRange.parse(text)


@pytest.mark.parametrize("text", ["10.0.0.0/31", "fd00::/64", "nonsense"])
def test_bad_ip_ranges_are_refused(text: str) -> None:
    with pytest.raises(RangeError):
        IPRange.parse(text)


# -- create ---------------------------------------------------------------------------------------
async def test_each_type_that_needs_them_gets_an_ip_and_node_ports() -> None:
    async with servers() as (server,):
        plain = await create(server, service("plain"))
        node = await create(server, service("node", type="NodePort"))
        balancer = await create(server, service("lb", type="LoadBalancer"))
        headless = await create(server, service("headless", clusterIP="None"))
        external = await create(server, service("ext", type="ExternalName", externalName="example.com"))
        ips = [s["spec"]["clusterIP"] for s in (plain, node, balancer)]
        assert len(set(ips)) == 3 and all(RANGES.cluster_ips.contains(ip) for ip in ips)
        assert plain["spec"]["clusterIPs"] == [ips[0]]
        assert plain["spec"]["ipFamilies"] == ["IPv4"] and plain["spec"]["ipFamilyPolicy"] == "SingleStack"
        assert "nodePort" not in plain["spec"]["ports"][0]
        assert node["spec"]["ports"][0]["nodePort"] in RANGES.node_ports
        assert balancer["spec"]["ports"][0]["nodePort"] in RANGES.node_ports
        assert headless["spec"]["clusterIP"] == "None" and headless["spec"]["clusterIPs"] == ["None"]
        assert "clusterIP" not in external["spec"] and "ipFamilies" not in external["spec"]
        assert await claimed_ips(server) == set(ips)


async def test_requested_values_are_honoured_or_refused_in_upstreams_words() -> None:
    async with servers() as (server,):
        got = await create(server, service("a", type="NodePort", clusterIP="10.200.0.10",
                                           ports=[{"port": 80, "nodePort": 30105}]))
        assert got["spec"]["clusterIP"] == "10.200.0.10" and got["spec"]["ports"][0]["nodePort"] == 30105
        cases = {
            "10.9.9.9": 'spec.clusterIPs: Invalid value: ["10.9.9.9"]: failed to allocate IP 10.9.9.9: '
                        "provided IP is not in the valid range. The range of valid IPs is 10.200.0.0/26",
            "10.200.0.63": 'spec.clusterIPs: Invalid value: ["10.200.0.63"]: failed to allocate IP '
                           "10.200.0.63: provided IP is not in the valid range. The range of valid IPs "
                           "is 10.200.0.0/26",
            "10.200.0.10": 'spec.clusterIPs: Invalid value: ["10.200.0.10"]: failed to allocate IP '
                           "10.200.0.10: provided IP is already allocated",
        }
        for ip, message in cases.items():
            with pytest.raises(Invalid) as refused:
                await create(server, service("b", clusterIP=ip))
            assert refused.value.message == f'Service "b" is invalid: {message}'
        for port, message in {30105: "provided port is already allocated",
                              30000: "provided port is not in the valid range. The range of valid ports is "
                                     "30100-30109"}.items():
            with pytest.raises(Invalid) as refused:
                await create(server, service("c", type="NodePort", ports=[{"port": 80, "nodePort": port}]))
            assert refused.value.message == \
                f'Service "c" is invalid: spec.ports[0].nodePort: Invalid value: {port}: {message}'
        with pytest.raises(Invalid) as refused:
            await create(server, service("d", type="ExternalName", externalName="x.org",
                                         clusterIP="10.200.0.20"))
        assert "spec.clusterIPs: Forbidden: may not be set for ExternalName services" in refused.value.message
        # Nothing the refused creates asked for stayed taken.
        assert await claimed_ips(server) == {"10.200.0.10"}
        assert await claimed_ports(server) == {"30105"}


async def test_two_ports_of_one_number_share_a_node_port() -> None:
    async with servers() as (server,):
        got = await create(server, service("dns", type="NodePort", ports=[
            {"name": "dns", "port": 53, "protocol": "UDP"},
            {"name": "dns-tcp", "port": 53, "protocol": "TCP"}]))
        ports = got["spec"]["ports"]
        assert ports[0]["nodePort"] == ports[1]["nodePort"]
        assert await claimed_ports(server) == {str(ports[0]["nodePort"])}


async def test_a_full_range_is_refused_and_a_released_address_is_reusable_at_once() -> None:
    tiny = ServiceRanges.parse("10.200.0.0/30", "30100-30101")
    async with servers(ranges=tiny) as (server,):
        first = await create(server, service("one"))
        second = await create(server, service("two"))
        assert {first["spec"]["clusterIP"], second["spec"]["clusterIP"]} == {"10.200.0.1", "10.200.0.2"}
        with pytest.raises(InternalError, match="failed to allocate a serviceIP: range is full"):
            await create(server, service("three"))
        await delete(server, "one")
        again = await create(server, service("three"))
        assert again["spec"]["clusterIP"] == first["spec"]["clusterIP"]


async def test_a_failed_create_gives_back_what_it_took_and_a_dry_run_takes_nothing() -> None:
    async with servers() as (server,):
        await create(server, service("a", clusterIP="10.200.0.5"))
        with pytest.raises(AlreadyExists):
            await create(server, service("a", type="NodePort", clusterIP="10.200.0.6",
                                         ports=[{"port": 80, "nodePort": 30101}]))
        dry = await create(server, service("b", type="NodePort", clusterIP="10.200.0.7"), dry_run=True)
        assert dry["spec"]["clusterIP"] == "10.200.0.7"
        with pytest.raises(Invalid, match="already allocated"):
            await create(server, service("c", clusterIP="10.200.0.5"), dry_run=True)
        assert await claimed_ips(server) == {"10.200.0.5"}
        assert await claimed_ports(server) == set()


async def test_a_local_load_balancer_gets_a_health_check_node_port_until_it_needs_none() -> None:
    async with servers() as (server,):
        got = await create(server, service("lb", type="LoadBalancer", externalTrafficPolicy="Local"))
        health = got["spec"]["healthCheckNodePort"]
        node_port = got["spec"]["ports"][0]["nodePort"]
        assert health in RANGES.node_ports and health != node_port
        assert await claimed_ports(server) == {str(health), str(node_port)}
        with pytest.raises(InternalError) as refused:
            await create(server, service("other", type="LoadBalancer", externalTrafficPolicy="Local",
                                         healthCheckNodePort=health))
        assert refused.value.message == ("Internal error occurred: failed to allocate requested HealthCheck "
                                         f"NodePort {health}: provided port is already allocated")
        cluster = await patch(server, "lb", {"externalTrafficPolicy": "Cluster"})
        assert "healthCheckNodePort" not in cluster["spec"]
        assert await claimed_ports(server) == {str(node_port)}


# -- update ---------------------------------------------------------------------------------------
async def test_cluster_ip_may_not_change_once_set() -> None:
    async with servers() as (server,):
        got = await create(server, service("a"))
        with pytest.raises(Invalid) as refused:
            await patch(server, "a", {"clusterIP": "10.200.0.9", "clusterIPs": ["10.200.0.9"]})
        assert refused.value.message == ('Service "a" is invalid: spec.clusterIPs[0]: '
                                         'Invalid value: ["10.200.0.9"]: may not change once set')
        with pytest.raises(Invalid, match="may not change once set"):
            await patch(server, "a", {"clusterIP": "None", "clusterIPs": ["None"]})
        # A client that sends the object without the allocated address keeps it.
        kept = await patch(server, "a", {"clusterIP": "", "clusterIPs": []})
        assert kept["spec"]["clusterIP"] == got["spec"]["clusterIP"]


async def test_type_changes_allocate_and_release() -> None:
    async with servers() as (server,):
        got = await create(server, service("a"))
        ip = got["spec"]["clusterIP"]
        node = await patch(server, "a", {"type": "NodePort"})
        node_port = node["spec"]["ports"][0]["nodePort"]
        assert node_port in RANGES.node_ports and await claimed_ports(server) == {str(node_port)}
        back = await patch(server, "a", {"type": "ClusterIP"})
        assert "nodePort" not in back["spec"]["ports"][0] and await claimed_ports(server) == set()
        again = await patch(server, "a", {"type": "NodePort"})
        external = await patch(server, "a", {"type": "ExternalName", "externalName": "example.com"})
        assert "clusterIP" not in external["spec"] and "nodePort" not in external["spec"]["ports"][0]
        assert ip not in await claimed_ips(server)
        assert str(again["spec"]["ports"][0]["nodePort"]) not in await claimed_ports(server)
        internal = await patch(server, "a", {"type": "ClusterIP", "externalName": None})
        assert RANGES.cluster_ips.contains(internal["spec"]["clusterIP"])
        assert await claimed_ips(server) == {internal["spec"]["clusterIP"]}


# -- several servers --------------------------------------------------------------------------------
async def test_two_servers_racing_creates_never_share_an_address() -> None:
    ranges = ServiceRanges.parse("10.200.0.0/27", "30100-30139")  # 30 addresses, 40 node ports
    async with servers(2, ranges=ranges) as (first, second):
        bodies = [(first if i % 2 else second, service(f"s{i}", type="NodePort")) for i in range(30)]
        made = await asyncio.gather(*(create(server, body) for server, body in bodies))
        ips = [s["spec"]["clusterIP"] for s in made]
        ports = [s["spec"]["ports"][0]["nodePort"] for s in made]
        assert len(set(ips)) == 30 and len(set(ports)) == 30
        assert await claimed_ips(first) == set(ips)


# -- repair ---------------------------------------------------------------------------------------
async def test_repair_frees_a_leak_after_the_grace_and_reclaims_an_unrecorded_address() -> None:
    async with servers() as (server,):
        allocator = server.service_allocator
        kept = await create(server, service("kept", type="NodePort"))
        leaked = Holder(SYSTEM_TENANT, "default", "gone", "uid-of-nothing")
        assert await allocator.ips.claim("10.200.0.33", leaked)
        leaked_port = "30109" if kept["spec"]["ports"][0]["nodePort"] != 30109 else "30108"
        assert await allocator.ports.claim(leaked_port, leaked)
        patient = AllocationRepair(allocator, server.cache, interval=60, leak_grace=60)
        assert (await patient.repair_once()).freed == ()
        # An address a Service holds without its claim (a store restored from a backup).
        assert await allocator.ips.release(kept["spec"]["clusterIP"], Holder.of(kept))
        eager = AllocationRepair(allocator, server.cache, interval=60, leak_grace=0)
        await asyncio.sleep(0.01)
        report = await eager.repair_once()
        assert set(report.freed) == {"10.200.0.33", leaked_port}
        assert report.reclaimed == (kept["spec"]["clusterIP"],)
        assert await claimed_ips(server) == {kept["spec"]["clusterIP"]}
        assert await claimed_ports(server) == {str(kept["spec"]["ports"][0]["nodePort"])}
        reused = await create(server, service("reuse", clusterIP="10.200.0.33"))
        assert reused["spec"]["clusterIP"] == "10.200.0.33"
