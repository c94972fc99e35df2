"""Flow-control policy: classification into flows, long-running requests, seat estimates, the
max-in-flight limiter, the LIST memory budget and the nominal seats of each priority level.

Covers the table of flow schemas as identities of this project present themselves (system admin,
kubelet, scheduler, controller manager, tenant users and service accounts, health probes),
including the Arktos rules (system identities only in tenant ``system``; one flow per tenant);
upstream's list work estimate; the limiter's read-only/mutating split and system:masters
exemption; the budget's FIFO waiting, cap and cancellation.
Leaves out: queueing (test_flowcontrol_queueset.py) and the HTTP gate (component suite).
"""

from __future__ import annotations

import asyncio

import pytest

from server.auth.user import UserInfo
from server.flowcontrol.budget import ByteBudget
from server.flowcontrol.classifier import Classifier, is_long_running, is_mutating
from server.flowcontrol.config import FLOW_SCHEMAS, PRIORITY_LEVELS, nominal_limits
from server.flowcontrol.estimator import seats_for
from server.flowcontrol.maxinflight import MaxInFlight
from server.request_info import parse_request

AUTH = "system:authenticated"
ADMIN = UserInfo("system:admin", groups=("system:masters", AUTH))
KUBELET = UserInfo("system:node:n1", groups=("system:nodes", AUTH))
SCHEDULER = UserInfo("system:kube-scheduler", groups=(AUTH,))
CONTROLLERS = UserInfo("system:kube-controller-manager", groups=(AUTH,))
ACME_ADMIN = UserInfo("admin", groups=(AUTH,), tenant="acme")
ACME_VIEWER = UserInfo("viewer", groups=(AUTH,), tenant="acme")
GLOBEX_ADMIN = UserInfo("admin", groups=(AUTH,), tenant="globex")
ACME_FAKE_MASTER = UserInfo("system:admin", groups=("system:masters", AUTH), tenant="acme")
ACME_FAKE_SCHEDULER = UserInfo("system:kube-scheduler", groups=(AUTH,), tenant="acme")
ACME_SA = UserInfo("system:serviceaccount:default:default", tenant="acme",
                   groups=("system:serviceaccounts", "system:serviceaccounts:default", AUTH))
KUBE_SYSTEM_SA = UserInfo("system:serviceaccount:kube-system:job-controller", groups=(
    "system:serviceaccounts", "system:serviceaccounts:kube-system", AUTH))

classifier = Classifier(FLOW_SCHEMAS, PRIORITY_LEVELS)

LEASE = ("PUT", "/apis/coordination.k8s.io/v1/namespaces/kube-system/leases/kube-scheduler")
PODS = ("GET", "/api/v1/namespaces/default/pods")


@pytest.mark.parametrize(("user", "request_line", "schema", "level"), [
    (ADMIN, PODS, "exempt", "exempt"),
    (ACME_ADMIN, ("GET", "/healthz"), "probes", "exempt"),
    (KUBELET, ("PUT", "/apis/coordination.k8s.io/v1/namespaces/kube-node-lease/leases/n1"),
     "system-node-high", "node-high"),
    (KUBELET, ("PATCH", "/api/v1/nodes/n1/status"), "system-node-high", "node-high"),
    (KUBELET, PODS, "system-nodes", "system"),
    (SCHEDULER, LEASE, "system-leader-election", "leader-election"),
    (SCHEDULER, ("POST", "/api/v1/namespaces/default/pods/p/binding"), "kube-scheduler", "workload-high"),
    (CONTROLLERS, LEASE, "system-leader-election", "leader-election"),
    (CONTROLLERS, PODS, "kube-controller-manager", "workload-high"),
    (KUBE_SYSTEM_SA, PODS, "kube-system-service-accounts", "workload-high"),
    (ACME_SA, PODS, "service-accounts", "workload-low"),
    (ACME_ADMIN, PODS, "global-default", "global-default"),
    (ACME_ADMIN, ("GET", "/apis"), "global-default", "global-default"),
    # Arktos: a tenant's certificate cannot claim a system component's place.
    (ACME_FAKE_MASTER, PODS, "global-default", "global-default"),
    (ACME_FAKE_SCHEDULER, LEASE, "global-default", "global-default"),
    (UserInfo("system:anonymous", groups=()), ("GET", "/version"), "catch-all", "catch-all"),
])
def test_requests_are_classified_as_the_default_flow_schemas_say(
        user: UserInfo, request_line: tuple[str, str], schema: str, level: str) -> None:
    found = classifier.classify(user, parse_request(*request_line))
    assert (found.schema.name, found.level.name) == (schema, level)


def test_a_tenant_is_one_flow_and_system_users_are_told_apart() -> None:
    def flow(user: UserInfo) -> str:
        return classifier.classify(user, parse_request(*PODS)).flow

    assert flow(ACME_ADMIN) == flow(ACME_VIEWER) == "tenant:acme"
    assert flow(GLOBEX_ADMIN) == "tenant:globex"
    assert classifier.classify(ACME_ADMIN, parse_request(*PODS)).flow_hash != \
        classifier.classify(GLOBEX_ADMIN, parse_request(*PODS)).flow_hash
    assert flow(KUBELET) == "user:system:node:n1"
    assert flow(CONTROLLERS) == "namespace:default"


@pytest.mark.parametrize(("method", "path", "watch", "long_running"), [
    ("GET", "/api/v1/namespaces/d/pods", True, True),
    ("GET", "/api/v1/watch/namespaces/d/pods", False, True),
    ("GET", "/api/v1/namespaces/d/pods/p/log", False, True),
    ("POST", "/api/v1/namespaces/d/pods/p/exec", False, True),
    ("GET", "/api/v1/namespaces/d/pods/p/portforward", False, True),
    ("GET", "/api/v1/namespaces/d/pods", False, False),
    ("POST", "/api/v1/namespaces/d/pods/p/binding", False, False),
])
def test_long_running_requests_are_recognised(method: str, path: str, watch: bool,
                                              long_running: bool) -> None:
    assert is_long_running(parse_request(method, path, watch_param=watch)) is long_running


def test_get_list_watch_are_read_only_and_everything_else_mutates() -> None:
    assert not is_mutating(parse_request("GET", "/api/v1/namespaces/d/pods"))
    assert not is_mutating(parse_request("GET", "/api/v1/namespaces/d/pods/p"))
    assert is_mutating(parse_request("DELETE", "/api/v1/namespaces/d/pods"))
    assert is_mutating(parse_request("PATCH", "/api/v1/namespaces/d/pods/p"))


@pytest.mark.parametrize(("query", "stored", "seats"), [
    ({}, 0, 1),
    ({}, 99, 1),
    ({}, 1000, 10),
    ({}, 250, 3),
    ({}, 100_000, 10),
    ({"limit": "500"}, 1000, 10),  # from the cache: the whole scope is gone through
    ({"limit": "100", "continue": "x"}, 1000, 2),  # from the store: 2 x limit rows
    ({"limit": "100", "continue": "x", "labelSelector": "a=b"}, 1000, 10),
    ({"fieldSelector": "metadata.name=x"}, 1000, 1),
])
def test_list_seats_follow_upstreams_object_count_estimate(query: dict[str, str], stored: int,
                                                           seats: int) -> None:
    info = parse_request("GET", "/api/v1/namespaces/d/configmaps")
    assert seats_for(info, query, stored=lambda: stored, level_limit=49) == seats


def test_only_lists_are_wide_and_never_wider_than_their_level() -> None:
    get = parse_request("GET", "/api/v1/namespaces/d/configmaps/c")
    assert seats_for(get, {}, stored=lambda: pytest.fail("a GET needs no count"), level_limit=49) == 1
    listing = parse_request("GET", "/api/v1/namespaces/d/configmaps")
    assert seats_for(listing, {}, stored=lambda: 5000, level_limit=3) == 3


def test_nominal_seats_split_the_server_by_shares() -> None:
    limits = nominal_limits(PRIORITY_LEVELS, 600)
    assert "exempt" not in limits
    assert limits["global-default"] == 49 and limits["workload-low"] == 245
    assert min(nominal_limits(PRIORITY_LEVELS, 2).values()) == 1


def test_max_in_flight_counts_read_only_and_mutating_apart() -> None:
    limiter = MaxInFlight(read_only_limit=2, mutating_limit=1)
    assert limiter.try_acquire("readOnly", privileged=False) is True
    assert limiter.try_acquire("readOnly", privileged=False) is True
    assert limiter.try_acquire("readOnly", privileged=False) is False
    assert limiter.try_acquire("mutating", privileged=False) is True
    assert limiter.try_acquire("mutating", privileged=False) is False
    assert limiter.try_acquire("mutating", privileged=True) is None  # served, not counted
    limiter.release("readOnly")
    assert limiter.in_flight("readOnly") == 1 and limiter.rejected("readOnly") == 1
    assert MaxInFlight(read_only_limit=0, mutating_limit=0).try_acquire("readOnly", privileged=False) is None


async def test_the_budget_makes_reservations_wait_in_order_and_caps_big_ones() -> None:
    budget = ByteBudget(100)
    order: list[str] = []

    async def take(name: str, size: int, hold: asyncio.Event) -> None:
        async with budget.reserve(size):
            order.append(name)
            await hold.wait()

    release_first, release_rest = asyncio.Event(), asyncio.Event()
    first = asyncio.create_task(take("first", 80, release_first))
    await asyncio.sleep(0)
    big = asyncio.create_task(take("big", 10_000, release_rest))  # capped to the whole budget
    small = asyncio.create_task(take("small", 10, release_rest))  # fits, but waits its turn
    await asyncio.sleep(0.01)
    assert order == ["first"] and budget.waiting == 2
    release_first.set()
    await asyncio.sleep(0.01)
    assert order == ["first", "big"] and budget.in_use == 100
    release_rest.set()
    await asyncio.gather(first, big, small)
    assert order == ["first", "big", "small"] and budget.in_use == 0


async def test_a_cancelled_reservation_lets_the_next_one_through() -> None:
    budget = ByteBudget(100)
    hold = asyncio.Event()

    async def take(size: int) -> None:
        async with budget.reserve(size):
            await hold.wait()

    holder = asyncio.create_task(take(60))
    await asyncio.sleep(0)
    blocked = asyncio.create_task(take(80))
    behind = asyncio.create_task(take(30))
    await asyncio.sleep(0.01)
    assert budget.waiting == 2
    blocked.cancel()
    await asyncio.sleep(0.01)
    assert budget.waiting == 0 and budget.in_use == 90
    hold.set()
    await asyncio.gather(holder, behind)
    with pytest.raises(asyncio.CancelledError):
        await blocked
    assert budget.in_use == 0
