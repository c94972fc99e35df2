"""Admission runs as upstream's chain around validation, through the real server.

Covers: the mutating phase answers before validation (an invalid pod in a namespace that does not
exist is a 404 from NamespaceLifecycle, not a 422), validation before the validating phase (an
invalid DaemonSet is a 422 even where SystemDaemonSet would refuse it; a valid one is refused
with 403), the Priority plugin's defaults on a created pod and kept through a replace that leaves
them out, and a delete of an immortal namespace refused by NamespaceLifecycle. Leaves out each
plugin's own rules (PodSecurity, quota, RBAC escalation and tenancy have their own suites).
"""

from __future__ import annotations

from typing import Any

from component_http import Api, assert_status, deployment, pod


async def test_a_missing_namespace_is_answered_before_validation(api: Api) -> None:
    invalid = {**pod("p"), "spec": {"containers": []}}
    reply = await api.post("/api/v1/namespaces/no-such-namespace/pods", invalid)
    status = assert_status(reply, 404, "NotFound")
    assert status["message"] == 'namespaces "no-such-namespace" not found'


async def test_validation_comes_before_the_validating_plugins(api: Api) -> None:
    await api.ok("POST", "/api/v1/tenants",
                 {"apiVersion": "v1", "kind": "Tenant", "metadata": {"name": "order"}})
    await api.ok("POST", "/api/v1/tenants/order/namespaces",
                 {"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": "work"}})
    daemonsets = "/apis/apps/v1/tenants/order/namespaces/work/daemonsets"
    valid: dict[str, Any] = {**deployment("d"), "kind": "DaemonSet"}
    del valid["spec"]["replicas"]
    invalid = {**valid, "spec": {**valid["spec"], "selector": {"matchLabels": {"app": "other"}}}}
    assert_status(await api.post(daemonsets, invalid), 422, "Invalid")
    refused = assert_status(await api.post(daemonsets, valid), 403, "Forbidden")
    assert refused["message"] == ('daemonsets.apps "d" is forbidden: only the system tenant may create '
                                  "DaemonSets")


async def test_priority_is_set_by_admission_and_kept_on_replace(api: Api, namespace: str) -> None:
    pods = f"/api/v1/namespaces/{namespace}/pods"
    created = await api.ok("POST", pods, pod("p"))
    assert (created["spec"]["priority"], created["spec"]["preemptionPolicy"]) == (0, "PreemptLowerPriority")
    replacing = {**created, "spec": {k: v for k, v in created["spec"].items()
                                     if k not in ("priority", "preemptionPolicy")}}
    replacing["metadata"] = {**created["metadata"], "labels": {"replaced": "yes"}}
    replaced = await api.ok("PUT", f"{pods}/p", replacing)
    assert replaced["spec"]["priority"] == 0 and replaced["metadata"]["labels"] == {"replaced": "yes"}


async def test_immortal_namespaces_are_refused_in_the_delete_chain(api: Api) -> None:
    status = assert_status(await api.delete("/api/v1/namespaces/kube-system"), 403, "Forbidden")
    assert status["message"] == 'namespaces "kube-system" is forbidden: this namespace may not be deleted'
