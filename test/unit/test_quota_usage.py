"""Quota accounting (`apis.quota`): what pods, services and claims cost, scopes, the admission
check and its upstream message.

Leaves out: the server's admission wiring (the server calls these functions) and the controller
that sums usage (component tests).
"""

from __future__ import annotations

from typing import Any

from apis.quantity import parse_quantity
from apis.quota import (
    add_usage,
    check,
    exceeded_message,
    matches_scopes,
    missing_constraints,
    parse_resource_list,
    usage_of,
)


def pod(*containers: dict[str, Any], phase: str = "Running", **spec: Any) -> dict[str, Any]:
    return {"metadata": {"name": "p"}, "spec": {"containers": list(containers), **spec},
            "status": {"phase": phase}}


def container(requests: dict[str, str] | None = None, limits: dict[str, str] | None = None) -> dict[str, Any]:
    resources: dict[str, Any] = {}
    if requests:
        resources["requests"] = requests
    if limits:
        resources["limits"] = limits
    return {"name": "c", "image": "i", "resources": resources}


def test_pod_usage_sums_containers_and_takes_the_larger_init_container() -> None:
    usage = usage_of("pods", pod(container({"cpu": "250m", "memory": "64Mi"}, {"cpu": "500m"}),
                                 container({"cpu": "250m"}),
                                 initContainers=[container({"cpu": "2"})]))
    assert {k: str(v) for k, v in usage.items()} == {
        "pods": "1", "count/pods": "1", "requests.cpu": "2", "cpu": "2",
        "requests.memory": "64Mi", "memory": "64Mi", "limits.cpu": "500m"}


def test_missing_request_defaults_to_the_limit_and_terminal_pods_are_free() -> None:
    usage = usage_of("pods", pod(container(limits={"memory": "1Gi"})))
    assert str(usage["requests.memory"]) == "1Gi" and str(usage["limits.memory"]) == "1Gi"
    assert usage_of("pods", pod(container({"cpu": "1"}), phase="Succeeded")) == {}
    assert usage_of("pods", pod(container({"cpu": "1"}), phase="Failed")) == {}


def test_services_claims_and_generic_counts() -> None:
    lb = {"spec": {"type": "LoadBalancer", "ports": [{"port": 80}, {"port": 443}]}}
    assert {k: str(v) for k, v in usage_of("services", lb).items()} == {
        "services": "1", "count/services": "1", "services.loadbalancers": "1", "services.nodeports": "2"}
    claim = {"spec": {"storageClassName": "gold", "resources": {"requests": {"storage": "5Gi"}}}}
    claim_usage = usage_of("persistentvolumeclaims", claim)
    assert str(claim_usage["requests.storage"]) == "5Gi"
    assert str(claim_usage["gold.storageclass.storage.k8s.io/persistentvolumeclaims"]) == "1"
    assert usage_of("deployments.apps", {}) == {"count/deployments.apps": parse_quantity("1")}


def test_scopes_select_pods_only() -> None:
    best_effort = pod(container())
    guaranteed = pod(container({"cpu": "1"}), activeDeadlineSeconds=30, priorityClassName="high")
    assert matches_scopes({"scopes": ["BestEffort"]}, "pods", best_effort)
    assert not matches_scopes({"scopes": ["BestEffort"]}, "pods", guaranteed)
    assert matches_scopes({"scopes": ["Terminating", "NotBestEffort"]}, "pods", guaranteed)
    assert not matches_scopes({"scopes": ["NotTerminating"]}, "pods", guaranteed)
    selector = {"scopeSelector": {"matchExpressions": [
        {"scopeName": "PriorityClass", "operator": "In", "values": ["high"]}]}}
    assert matches_scopes(selector, "pods", guaranteed)
    assert not matches_scopes(selector, "pods", best_effort)
    assert not matches_scopes({"scopes": ["BestEffort"]}, "services", {})
    assert matches_scopes({}, "services", {})


def test_check_names_exceeded_resources_with_upstream_message() -> None:
    hard = parse_resource_list({"pods": "2", "requests.cpu": "1", "configmaps": "5"})
    used: dict[str, Any] = {}
    add_usage(used, usage_of("pods", pod(container({"cpu": "500m"}))))
    add_usage(used, usage_of("pods", pod(container({"cpu": "250m"}))))
    delta = usage_of("pods", pod(container({"cpu": "500m"})))
    assert check(hard, used, delta) == ["pods", "requests.cpu"]
    assert check(hard, {}, delta) == []
    message = exceeded_message("q", ["pods"], requested=delta, used=used, hard=hard)
    assert message == "exceeded quota: q, requested: pods=1, used: pods=2, limited: pods=2"


def test_missing_constraints_for_limited_compute() -> None:
    hard = parse_resource_list({"requests.cpu": "1", "limits.memory": "1Gi", "pods": "3"})
    assert missing_constraints(hard, usage_of("pods", pod(container()))) == ["limits.memory", "requests.cpu"]
    full = usage_of("pods", pod(container({"cpu": "1"}, {"memory": "1Gi"})))
    assert missing_constraints(hard, full) == []
