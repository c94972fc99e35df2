"""Service ranges of Arktos Networks, and Services and pods joining them, through the generic store.

Covers: the pool flag (carved into /24s, refused when it overlaps the cluster range); ipam Arktos
networks get disjoint /24s (also from two servers on one store), released on delete and reused;
ipam Kubernetes gets none; External cidrs taken as given, refused when they overlap another
network's, the pool or the cluster range, or are missing; ``spec.service`` immutable (a manifest
without it keeps it); dry runs claim nothing; a Service takes its ClusterIP from its network's
range (by label; label-less into ``default``), the cluster range for ipam Kubernetes and for a
tenant without a ``default`` network; a Service or pod naming a missing network is refused with
a 422 on metadata.labels; a Service's network label cannot change; the repair loop keeps a
network range's address claimed.
Leaves out: HTTP, kubectl, the controller (test/component/test_network_services.py).
"""

from __future__ import annotations

import ipaddress
from typing import Any

import pytest
from shared_backend import running_servers

from server.app import ApiServer, ServerConfig
from server.errors import Invalid
from server.registry.keys import Scope
from server.registry.store import WriteOptions
from server.services.ranges import RangeError, ServiceRanges
from server.services.repair import AllocationRepair

RANGES = ServiceRanges.parse("10.201.0.0/24", "30100-30109", "10.202.0.0/22")  # 4 network /24s
LABEL = "arktos.futurewei.com/network"


def servers(count: int = 1) -> Any:
    # Tenants and namespaces are not what is tested here: no need to make them.
    return running_servers(count, ServerConfig(
        storage_url="memory://", service_ranges=RANGES,
        disabled_admission_plugins=frozenset({"TenantExists", "NamespaceLifecycle", "ServiceAccount",
                                              "PodSecurity"})))


def network(name: str, **service: Any) -> dict[str, Any]:
    spec: dict[str, Any] = {"type": "flat"}
    if service:
        spec["service"] = service
    return {"apiVersion": "arktos.futurewei.com/v1", "kind": "Network", "metadata": {"name": name},
            "spec": spec}


def service(name: str, network_name: str | None = None, **spec: Any) -> dict[str, Any]:
    labels = {LABEL: network_name} if network_name else {}
    return {"apiVersion": "v1", "kind": "Service", "metadata": {"name": name, "labels": labels},
            "spec": {"ports": [{"port": 80, "protocol": "TCP"}], **spec}}


def pod(name: str, network_name: str | None = None) -> dict[str, Any]:
    labels = {LABEL: network_name} if network_name else {}
    return {"apiVersion": "v1", "kind": "Pod", "metadata": {"name": name, "labels": labels},
            "spec": {"containers": [{"name": "c", "image": "busybox"}]}}


async def create(server: ApiServer, tenant: str, body: dict[str, Any], *, namespace: str = "default",
                 dry_run: bool = False) -> dict[str, Any]:
    group, _, version = body["apiVersion"].rpartition("/")
    plural = {"Network": "networks", "Service": "services", "Pod": "pods"}[body["kind"]]
    record = server.catalogue.lookup(group, version, plural)
    assert record is not None
    scope = Scope(tenant, "" if body["kind"] == "Network" else namespace)
    return (await server.store.create(record, scope, body, WriteOptions(dry_run=dry_run))).obj


async def delete_network(server: ApiServer, tenant: str, name: str) -> None:
    record = server.catalogue.lookup("arktos.futurewei.com", "v1", "networks")
    assert record is not None
    await server.store.delete(record, Scope(tenant), name, {}, WriteOptions())


async def update_network(server: ApiServer, tenant: str, name: str, change: Any) -> dict[str, Any]:
    record = server.catalogue.lookup("arktos.futurewei.com", "v1", "networks")
    assert record is not None

    def apply(current: dict[str, Any]) -> dict[str, Any]:
        change(current)
        current["metadata"].pop("resourceVersion", None)
        return current

    return (await server.store.guaranteed_update(record, Scope(tenant), name, apply,
                                                 options=WriteOptions())).obj


async def claimed_cidrs(server: ApiServer) -> set[str]:
    return {c.item for c in await server.network_ipam.cidrs.all()}


def cidrs(obj: dict[str, Any]) -> list[str]:
    return list(obj["spec"]["service"].get("cidrs") or [])


# -- the pool -------------------------------------------------------------------------------------
def test_the_pool_is_carved_into_24s_and_may_not_overlap_the_cluster_range() -> None:
    assert list(RANGES.network_pool.subnets()) == ["10.202.0.0/24", "10.202.1.0/24", "10.202.2.0/24",
                                                   "10.202.3.0/24"]
    with pytest.raises(RangeError, match="overlaps the service cluster IP range"):
        ServiceRanges.parse("10.96.0.0/16")  # inside the default pool 10.96.0.0/12
    with pytest.raises(RangeError, match="at least one /24"):
        ServiceRanges.parse("10.0.0.0/16", "30000-32767", "10.202.0.0/25")


# -- network ranges -------------------------------------------------------------------------------
async def test_arktos_networks_get_disjoint_24s_released_on_delete() -> None:
    async with servers(2) as (one, two):
        made = [await create(one if i % 2 else two, tenant, network(name))
                for i, (tenant, name) in enumerate([("a", "default"), ("b", "default"), ("a", "vpc1")])]
        ranges = [cidrs(m) for m in made]
        assert all(len(r) == 1 and ipaddress.ip_network(r[0]).prefixlen == 24 for r in ranges)
        assert len({r[0] for r in ranges}) == 3
        assert all(m["spec"]["service"]["ipam"] == "Arktos" for m in made)
        freed = ranges[1][0]
        await delete_network(one, "b", "default")
        assert freed.replace("/", "-") not in await claimed_cidrs(one)
        again = await create(two, "c", network("default"))
        fourth = await create(one, "c", network("other"))
        assert freed in cidrs(again) + cidrs(fourth)
        with pytest.raises(Exception, match=r"pool 10\.202\.0\.0/22 is full"):
            await create(one, "d", network("default"))


async def test_kubernetes_ipam_gets_no_range_and_dry_runs_claim_nothing() -> None:
    async with servers() as (server,):
        system = await create(server, "system", network("default", ipam="Kubernetes"))
        assert "cidrs" not in system["spec"]["service"]
        dry = await create(server, "a", network("default"), dry_run=True)
        assert cidrs(dry) == ["10.202.0.0/24"]  # what it would get
        assert await claimed_cidrs(server) == set()


async def test_external_cidrs_are_taken_as_given_and_refused_when_overlapping() -> None:
    async with servers() as (server,):
        made = await create(server, "a", network("ext", ipam="External", cidrs=["10.210.0.0/24"]))
        assert cidrs(made) == ["10.210.0.0/24"]
        cases = {"10.210.0.128/25": "overlaps 10.210.0.0/24, the service CIDR of another network",
                 "10.202.1.0/24": "overlaps the network service CIDR pool 10.202.0.0/22",
                 "10.201.0.0/25": "overlaps the service cluster IP range 10.201.0.0/24",
                 "10.211.0.1/24": "must be a valid IPv4 CIDR"}
        for cidr, message in cases.items():
            with pytest.raises(Invalid) as refused:
                await create(server, "b", network("ext", ipam="External", cidrs=[cidr]))
            assert refused.value.code == 422
            assert f'spec.service.cidrs[0]: Invalid value: "{cidr}": {message}' in refused.value.message
        with pytest.raises(Invalid, match=r"spec\.service\.cidrs: Required value"):
            await create(server, "b", network("ext", ipam="External"))
        with pytest.raises(Invalid, match=r'spec.service.ipam: Unsupported value: "Mizar"'):
            await create(server, "b", network("ext", ipam="Mizar"))
        with pytest.raises(Invalid, match="must be empty when ipam is Arktos"):
            await create(server, "b", network("ext", cidrs=["10.212.0.0/24"]))
        await delete_network(server, "a", "ext")
        assert cidrs(await create(server, "b", network("ext", ipam="External",
                                                       cidrs=["10.210.0.128/25"]))) == ["10.210.0.128/25"]


async def test_spec_service_is_immutable_and_kept_by_a_manifest_without_it() -> None:
    async with servers() as (server,):
        made = await create(server, "a", network("default"))
        kept = await update_network(server, "a", "default", lambda n: n["spec"].pop("service"))
        assert kept["spec"]["service"] == made["spec"]["service"]
        kept = await update_network(server, "a", "default",
                                    lambda n: n["spec"].update(service={"ipam": "Arktos"}))
        assert kept["spec"]["service"] == made["spec"]["service"]

        def change(n: dict[str, Any]) -> None:
            n["spec"]["service"] = {"ipam": "Arktos", "cidrs": ["10.202.3.0/24"]}
        with pytest.raises(Invalid, match=r"spec\.service: Invalid value: .*field is immutable"):
            await update_network(server, "a", "default", change)


# -- Services and pods joining networks -----------------------------------------------------------
async def test_services_take_addresses_from_their_networks_range() -> None:
    async with servers() as (server,):
        default = ipaddress.ip_network(cidrs(await create(server, "a", network("default")))[0])
        vpc = ipaddress.ip_network(cidrs(await create(server, "a", network("vpc1")))[0])
        await create(server, "k", network("default", ipam="Kubernetes"))
        in_default = await create(server, "a", service("web"))
        in_vpc = await create(server, "a", service("api", "vpc1"))
        in_cluster = await create(server, "k", service("web"))
        no_network = await create(server, "z", service("web"))  # tenant z has no default network
        assert ipaddress.ip_address(in_default["spec"]["clusterIP"]) in default
        assert ipaddress.ip_address(in_vpc["spec"]["clusterIP"]) in vpc
        for fallback in (in_cluster, no_network):
            assert ipaddress.ip_address(fallback["spec"]["clusterIP"]) in RANGES.cluster_ips.network
        dns = await create(server, "a", service("kube-dns-vpc1", "vpc1", clusterIP=str(vpc[10])),
                           namespace="kube-system")
        assert dns["spec"]["clusterIP"] == str(vpc[10])
        with pytest.raises(Invalid, match="provided IP is not in the valid range. The range of valid IPs "
                                          f"is {vpc}"):
            await create(server, "a", service("outside", "vpc1", clusterIP=str(default[20])))


async def test_a_missing_network_is_refused_for_services_and_pods() -> None:
    async with servers() as (server,):
        await create(server, "a", network("default"))
        for body in (service("web", "nope"), pod("p", "nope")):
            with pytest.raises(Invalid) as refused:
                await create(server, "a", body)
            assert refused.value.code == 422
            assert ('metadata.labels: Invalid value: "arktos.futurewei.com/network=nope": network '
                    '"nope" does not exist in tenant "a"') in refused.value.message
        await create(server, "a", pod("p"))  # the default network exists
        await create(server, "z", pod("p"))  # no default network yet: as before networks


async def test_a_services_network_label_cannot_change() -> None:
    async with servers() as (server,):
        await create(server, "a", network("default"))
        await create(server, "a", network("vpc1"))
        await create(server, "a", service("web"))
        record = server.catalogue.lookup("", "v1", "services")
        assert record is not None

        def relabel(current: dict[str, Any]) -> dict[str, Any]:
            current["metadata"]["labels"] = {LABEL: "vpc1"}
            current["metadata"].pop("resourceVersion", None)
            return current
        with pytest.raises(Invalid, match=r"metadata.labels\[arktos.futurewei.com/network\]: Invalid value: "
                                          '"vpc1": field is immutable'):
            await server.store.guaranteed_update(record, Scope("a", "default"), "web", relabel,
                                                 options=WriteOptions())


async def test_repair_keeps_network_addresses_claimed() -> None:
    async with servers() as (server,):
        await create(server, "a", network("default"))
        web = await create(server, "a", service("web"))
        ip = web["spec"]["clusterIP"]
        await server.service_allocator.ips.release(ip, _holder(web))
        report = await AllocationRepair(server.service_allocator, server.cache, leak_grace=0).repair_once()
        assert report.reclaimed == (ip,)


def _holder(obj: dict[str, Any]) -> Any:
    from server.services.claims import Holder
    return Holder.of(obj)
