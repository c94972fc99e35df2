"""Stock kubectl's read-only discovery commands: api-resources, api-versions, explain.

Covers: the resource catalogue as kubectl sees it through aggregated discovery (names, short
names, namespaced column, groups), the group-versions list, and `explain` rendered from the
served OpenAPI v3 (kubectl 1.37) / v2-or-v3 (1.32). Leaves out: the exact discovery documents
(component tests check those over raw HTTP) and per-tenant discovery (a later issue).
"""

from __future__ import annotations

import re

import pytest
from kubectl_runner import Kubectl

pytestmark = [pytest.mark.e2e]


def test_api_resources_lists_core_groups_and_tenants(kubectl: Kubectl) -> None:
    names = set(kubectl.run("api-resources", "-o", "name").stdout.split())
    for expected in (
        "pods",
        "namespaces",
        "nodes",
        "tenants",
        "deployments.apps",
        "jobs.batch",
        "leases.coordination.k8s.io",
        "clusterroles.rbac.authorization.k8s.io",
        "horizontalpodautoscalers.autoscaling",
        "ingresses.networking.k8s.io",
    ):
        assert expected in names, f"{expected} missing from api-resources: {sorted(names)}"


def test_api_resources_table_shows_short_names_and_scope(kubectl: Kubectl) -> None:
    table = kubectl.run("api-resources", "--api-group=").stdout
    rows = {line.split()[0]: line.split() for line in table.splitlines()[1:] if line.strip()}
    assert table.splitlines()[0].split()[:5] == ["NAME", "SHORTNAMES", "APIVERSION", "NAMESPACED", "KIND"]
    assert rows["pods"] == ["pods", "po", "v1", "true", "Pod"]
    assert rows["nodes"] == ["nodes", "no", "v1", "false", "Node"]
    assert rows["configmaps"] == ["configmaps", "cm", "v1", "true", "ConfigMap"]


def test_api_resources_namespaced_filter(kubectl: Kubectl) -> None:
    namespaced = set(kubectl.run("api-resources", "--namespaced=true", "-o", "name").stdout.split())
    cluster = set(kubectl.run("api-resources", "--namespaced=false", "-o", "name").stdout.split())
    assert "pods" in namespaced and "deployments.apps" in namespaced
    assert "nodes" in cluster and "namespaces" in cluster and "tenants" in cluster
    assert not namespaced & cluster


def test_api_versions_lists_served_group_versions(kubectl: Kubectl) -> None:
    versions = set(kubectl.run("api-versions").stdout.split())
    for expected in (
        "v1",
        "apps/v1",
        "batch/v1",
        "autoscaling/v1",
        "autoscaling/v2",
        "coordination.k8s.io/v1",
        "rbac.authorization.k8s.io/v1",
        "policy/v1",
        "networking.k8s.io/v1",
        "storage.k8s.io/v1",
        "discovery.k8s.io/v1",
    ):
        assert expected in versions, f"{expected} missing from api-versions: {sorted(versions)}"


def test_explain_pod_containers(kubectl: Kubectl) -> None:
    text = kubectl.run("explain", "pods.spec.containers").stdout
    assert "KIND:" in text and "Pod" in text
    assert "containers" in text and "Container" in text
    for field in ("image", "imagePullPolicy", "ports", "resources", "env"):
        assert re.search(rf"^\s+{field}\s+<", text, re.MULTILINE), f"{field} not listed by explain:\n{text}"


def test_explain_recursive_reaches_nested_fields(kubectl: Kubectl) -> None:
    text = kubectl.run("explain", "pods.spec.containers.ports").stdout
    assert "containerPort" in text and "protocol" in text


def test_explain_pod_virtual_machine(kubectl: Kubectl) -> None:
    """Arktos's VM fields are in the served OpenAPI, so explain renders them like upstream fields."""
    text = kubectl.run("explain", "pods.spec.virtualMachine").stdout
    for field in ("image", "keyPairName", "publicKey", "userData", "powerSpec", "resources"):
        assert re.search(rf"^\s+{field}\s+<", text, re.MULTILINE), f"{field} not listed by explain:\n{text}"
    status = kubectl.run("explain", "pods.status.virtualMachineStatus").stdout
    assert re.search(r"^\s+powerState\s+<", status, re.MULTILINE), status
