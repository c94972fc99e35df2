"""The node IPAM range allocator's arithmetic (`controllers.cidr_set`) and the TTL buckets.

Covers: cutting a cluster CIDR into node subnets (IPv4 and IPv6), allocating in order with a
rotating candidate (a released subnet is not reused at once), running out (upstream's error),
occupying existing subnets (also a larger block) so that allocation skips them, releasing,
rejecting CIDRs outside the cluster range and bad mask sizes, parsing ``--cluster-cidr`` and the
per-family default mask sizes; the TTL controller's bucket steps with hysteresis
(`controllers.ttl.next_step`). Leaves out the controllers' API traffic (component tests in
test_controller_node_ipam_ttl.py).
"""

from __future__ import annotations

import ipaddress

import pytest

from controllers.cidr_set import CIDRSet, CIDRSetError, RangeFull, node_mask_for, parse_cluster_cidrs
from controllers.ttl import BUCKETS, annotated_ttl, next_step


def net(text: str) -> ipaddress.IPv4Network | ipaddress.IPv6Network:
    return ipaddress.ip_network(text)


def test_allocates_subnets_in_order_until_full() -> None:
    cidrs = CIDRSet(net("10.0.0.0/22"), 24)
    assert cidrs.max_cidrs == 4
    assert [str(cidrs.allocate_next()) for _ in range(4)] == \
        ["10.0.0.0/24", "10.0.1.0/24", "10.0.2.0/24", "10.0.3.0/24"]
    with pytest.raises(RangeFull, match="no remaining CIDRs left"):
        cidrs.allocate_next()


def test_a_released_subnet_is_reused_only_after_the_others() -> None:
    cidrs = CIDRSet(net("10.0.0.0/22"), 24)
    first, second = cidrs.allocate_next(), cidrs.allocate_next()
    cidrs.release(first)
    assert cidrs.allocated == 1
    assert [str(cidrs.allocate_next()) for _ in range(3)] == ["10.0.2.0/24", "10.0.3.0/24", "10.0.0.0/24"]
    assert second == net("10.0.1.0/24")


def test_occupied_subnets_are_skipped() -> None:
    cidrs = CIDRSet(net("10.0.0.0/21"), 24)
    cidrs.occupy(net("10.0.0.0/24"))
    cidrs.occupy(net("10.0.2.0/23"))  # a larger block covers two subnets
    assert cidrs.allocated == 3
    assert [str(cidrs.allocate_next()) for _ in range(2)] == ["10.0.1.0/24", "10.0.4.0/24"]
    cidrs.occupy(net("10.0.0.0/24"))  # occupying twice counts once
    assert cidrs.allocated == 5


def test_ipv6_subnets() -> None:
    cidrs = CIDRSet(net("fd00:10::/56"), 64)
    assert cidrs.max_cidrs == 256
    assert str(cidrs.allocate_next()) == "fd00:10::/64"
    assert str(cidrs.allocate_next()) == "fd00:10:0:1::/64"


def test_cidr_outside_the_cluster_range_is_refused() -> None:
    cidrs = CIDRSet(net("10.0.0.0/16"), 24)
    with pytest.raises(CIDRSetError, match=r"out the range of cluster cidr 10\.0\.0\.0/16"):
        cidrs.occupy(net("10.1.0.0/24"))
    with pytest.raises(CIDRSetError):
        cidrs.release(net("fd00::/64"))


@pytest.mark.parametrize(("cluster", "mask", "message"), [
    ("10.0.0.0/16", 8, "smaller than the cluster"),
    ("10.0.0.0/8", 25, "more than 2\\^16 subnets"),
    ("10.0.0.0/16", 33, "too large"),
])
def test_bad_mask_sizes(cluster: str, mask: int, message: str) -> None:
    with pytest.raises(CIDRSetError, match=message):
        CIDRSet(net(cluster), mask)


def test_cluster_cidr_flag() -> None:
    assert parse_cluster_cidrs("10.244.0.0/16") == [net("10.244.0.0/16")]
    dual = parse_cluster_cidrs("10.244.0.0/16, fd00:10::/48")
    assert [c.version for c in dual] == [4, 6]
    assert [node_mask_for(c, None, dual_stack=True) for c in dual] == [24, 64]
    assert node_mask_for(dual[0], 26, dual_stack=False) == 26
    with pytest.raises(CIDRSetError, match="not allowed with dual-stack"):
        node_mask_for(dual[0], 26, dual_stack=True)
    for bad in ("", "10.0.0.1/16", "banana", "10.0.0.0/16,10.1.0.0/16"):
        with pytest.raises(CIDRSetError):
            parse_cluster_cidrs(bad)


@pytest.mark.parametrize(("step", "count", "expected_ttl"), [
    (0, 0, 0), (0, 100, 0), (0, 101, 15), (1, 95, 15), (1, 89, 0), (1, 501, 30),
    (2, 460, 30), (2, 449, 15), (0, 2500, 300), (0, 20000, 600), (5, 50, 0),
])
def test_ttl_buckets_step_with_hysteresis(step: int, count: int, expected_ttl: int) -> None:
    assert BUCKETS[next_step(step, count)].ttl_seconds == expected_ttl


def test_annotated_ttl() -> None:
    assert annotated_ttl({"metadata": {"annotations": {"node.alpha.kubernetes.io/ttl": "15"}}}) == 15
    assert annotated_ttl({"metadata": {"annotations": {"node.alpha.kubernetes.io/ttl": "x"}}}) is None
    assert annotated_ttl({"metadata": {}}) is None
