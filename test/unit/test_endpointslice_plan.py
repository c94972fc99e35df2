"""EndpointSlice planning (`controllers.endpointslice_plan.plan_slices`): at most 100 endpoints per
slice, endpoints staying in the slice they are in, new ones filling free room first, slices for a
port list no pod has any more deleted, the placeholder slice, and terminating conditions.

Leaves out: the API calls (test/component/test_endpoints_controllers.py).
"""

from __future__ import annotations

from typing import Any

from controllers.endpointslice_plan import MAX_ENDPOINTS_PER_SLICE, plan_slices

SERVICE: dict[str, Any] = {
    "metadata": {"name": "svc", "namespace": "ns", "uid": "s-uid"},
    "spec": {"selector": {"app": "x"}, "ports": [{"name": "web", "port": 80, "targetPort": 8080}]},
}


def pod(index: int, *, ready: bool = True, deleting: bool = False) -> dict[str, Any]:
    metadata: dict[str, Any] = {
        "name": f"p{index:03d}",
        "namespace": "ns",
        "uid": f"u{index}",
        "labels": {"app": "x"},
    }
    if deleting:
        metadata["deletionTimestamp"] = "2024-05-01T00:00:00Z"
    return {
        "metadata": metadata,
        "spec": {},
        "status": {
            "phase": "Running",
            "podIP": f"10.0.{index // 250}.{index % 250 + 1}",
            "conditions": [{"type": "Ready", "status": "True" if ready else "False"}],
        },
    }


def as_existing(slices: list[dict[str, Any]]) -> list[dict[str, Any]]:
    return [{**s, "metadata": {**s["metadata"], "name": f"svc-{i}"}} for i, s in enumerate(slices)]


def test_endpoints_are_split_at_one_hundred_per_slice() -> None:
    plan = plan_slices(SERVICE, [pod(i) for i in range(250)], [])
    assert [len(s["endpoints"]) for s in plan.create] == [100, 100, 50]
    assert all(s["ports"] == [{"name": "web", "port": 8080, "protocol": "TCP"}] for s in plan.create)
    assert plan.create[0]["metadata"]["generateName"] == "svc-"
    assert plan.create[0]["metadata"]["labels"]["kubernetes.io/service-name"] == "svc"


def test_new_endpoints_fill_free_room_and_unchanged_slices_are_not_written() -> None:
    existing = as_existing(plan_slices(SERVICE, [pod(i) for i in range(150)], []).create)
    plan = plan_slices(SERVICE, [pod(i) for i in range(160)], existing)
    assert not plan.create and not plan.delete
    assert [s["metadata"]["name"] for s in plan.update] == ["svc-1"]
    assert len(plan.update[0]["endpoints"]) == 60
    assert len(existing[0]["endpoints"]) == MAX_ENDPOINTS_PER_SLICE


def test_emptied_slices_go_and_a_placeholder_stays_when_nothing_is_left() -> None:
    existing = as_existing(plan_slices(SERVICE, [pod(i) for i in range(150)], []).create)
    plan = plan_slices(SERVICE, [pod(i) for i in range(100)], existing)
    assert [s["metadata"]["name"] for s in plan.delete] == ["svc-1"] and not plan.update
    empty = plan_slices(SERVICE, [], existing)
    assert len(empty.delete) == 2 and len(empty.create) == 1
    assert empty.create[0]["endpoints"] == [] and "ports" not in empty.create[0]


def test_changed_ports_replace_the_slices() -> None:
    existing = as_existing(plan_slices(SERVICE, [pod(1)], []).create)
    moved = {
        **SERVICE,
        "spec": {**SERVICE["spec"], "ports": [{"name": "web", "port": 80, "targetPort": 9090}]},
    }
    plan = plan_slices(moved, [pod(1)], existing)
    assert [s["metadata"]["name"] for s in plan.delete] == ["svc-0"]
    assert plan.create[0]["ports"][0]["port"] == 9090


def test_conditions_of_not_ready_and_terminating_pods() -> None:
    plan = plan_slices(SERVICE, [pod(1, ready=False), pod(2, deleting=True)], [])
    conditions = {e["targetRef"]["name"]: e["conditions"] for e in plan.create[0]["endpoints"]}
    assert conditions["p001"] == {"ready": False, "serving": False, "terminating": False}
    assert conditions["p002"] == {"ready": False, "serving": True, "terminating": True}
