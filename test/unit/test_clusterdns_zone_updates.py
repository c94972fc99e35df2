"""A network's zone kept up to date Service by Service must equal one built afresh: random
sequences of Service and EndpointSlice changes (shared addresses, headless and ClusterIP, Services
changing network, the kubernetes-<network> and kubernetes fallbacks) are applied to a cache, the
incremental zones are refreshed after each, and their records, PTRs and existing names are
compared with zones built from scratch."""

from __future__ import annotations

import random
from typing import Any

import pytest
from clusterdns_objects import endpoint, endpoint_slice, service

from clusterdns.cache import ClusterCache
from clusterdns.objects import Scope
from clusterdns.resolver import Resolver
from clusterdns.zone import Zone, build_zone

DOMAIN = "cluster.local."
SCOPES = (Scope("system", "default"), Scope("a", "default"), Scope("a", "blue"))


def snapshot(zone: Zone) -> tuple[Any, ...]:
    def table(t: dict[str, dict[int, dict[str, Any]]]) -> dict[str, dict[int, list[str]]]:
        return {name: {qtype: sorted(by_text) for qtype, by_text in types.items()}
                for name, types in t.items()}
    names = {n for n in zone._name_refs}
    return table(zone.records), table(zone.ptrs), names


def random_change(rng: random.Random) -> tuple[str, str, dict[str, Any]]:
    tenant = rng.choice(["system", "a"])
    name = rng.choice(["web", "db", "kubernetes", "kubernetes-blue", "kubernetes-default", "ext"])
    namespace = "default" if name.startswith("kubernetes") else rng.choice(["default", "prod"])
    network = rng.choice([None, "default", "blue"])
    if rng.random() < 0.5:
        kind = "Service"
        ip = rng.choice(["None", "10.0.0.5", "10.0.0.6", "10.0.0.1"])
        obj = service(name, namespace=namespace, tenant=tenant, cluster_ip=ip, network=network)
        if name == "ext":
            obj = service(name, namespace=namespace, tenant=tenant, cluster_ip="", type="ExternalName",
                          externalName="example.org", network=network)
    else:
        kind = "EndpointSlice"
        endpoints = [endpoint(f"10.88.0.{rng.randint(1, 4)}", hostname=rng.choice(["", "pet"]),
                              ready=rng.choice([True, False, None])) for _ in range(rng.randint(0, 3))]
        obj = endpoint_slice(f"{name}-{rng.randint(1, 2)}", name, endpoints, namespace=namespace,
                             tenant=tenant)
    return kind, rng.choice(["ADDED", "MODIFIED", "DELETED"]), obj


@pytest.mark.parametrize("seed", range(20))
def test_incremental_zone_equals_a_fresh_one(seed: int) -> None:
    rng = random.Random(seed)
    cache = ClusterCache()
    for kind in ("Service", "EndpointSlice", "Pod"):
        cache.replace(kind, [])
    resolver = Resolver(cache, domain=DOMAIN, ttl=30)
    for step in range(60):
        kind, event_type, obj = random_change(rng)
        cache.apply(kind, event_type, obj)
        if step == 30:
            cache.replace("Service", [service("web", cluster_ip="10.0.0.7")])
        for scope in rng.sample(SCOPES, rng.randint(1, len(SCOPES))):  # some zones wait their turn
            zone, _ = resolver.zone_for(scope)
            assert snapshot(zone) == snapshot(build_zone(cache, scope, DOMAIN)), f"step {step}: {kind} {obj}"
