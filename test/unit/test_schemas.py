"""apis.schemas and apis.arktos_schemas: loading upstream definitions plus Arktos's additions.

Covers the definition lookup by group/version/kind, Arktos's metadata fields and Tenant kinds,
ref resolution and reachability. Leaves out the served (converted) documents: see test_openapi.
"""

from __future__ import annotations

from apis.schemas import (
    SERVED_KUBERNETES_VERSION,
    definition_name,
    definitions,
    reachable_definitions,
    resolve,
)


def test_serves_kubernetes_1_32_definitions() -> None:
    assert SERVED_KUBERNETES_VERSION == "1.32"
    defs = definitions()
    assert "io.k8s.api.core.v1.Pod" in defs
    assert len(defs) > 600


def test_definition_name_finds_kinds_by_group_version_kind() -> None:
    assert definition_name("", "v1", "Pod") == "io.k8s.api.core.v1.Pod"
    assert definition_name("apps", "v1", "Deployment") == "io.k8s.api.apps.v1.Deployment"
    assert definition_name("autoscaling", "v2", "HorizontalPodAutoscaler") == (
        "io.k8s.api.autoscaling.v2.HorizontalPodAutoscaler"
    )
    assert definition_name("apps", "v1", "Nope") is None


def test_object_meta_carries_arktos_tenant_and_hash_key() -> None:
    meta = definitions()["io.k8s.apimachinery.pkg.apis.meta.v1.ObjectMeta"]["properties"]
    assert "string" in meta["tenant"]["type"]
    assert meta["hashKey"]["format"] == "int64"
    assert "integer" in meta["hashKey"]["type"]
    owner = definitions()["io.k8s.apimachinery.pkg.apis.meta.v1.OwnerReference"]["properties"]
    assert owner["hashKey"]["format"] == "int64"


def test_tenant_kinds_are_core_v1_with_spec_and_status() -> None:
    assert definition_name("", "v1", "Tenant") == "io.k8s.api.core.v1.Tenant"
    assert definition_name("", "v1", "TenantList") == "io.k8s.api.core.v1.TenantList"
    tenant = definitions()["io.k8s.api.core.v1.Tenant"]
    spec = resolve(tenant["properties"]["spec"])["properties"]
    assert set(spec) == {"storageClusterId", "finalizers"}
    assert spec["finalizers"]["items"]["type"] == ["string", "null"]
    status = resolve(tenant["properties"]["status"])["properties"]
    assert "phase" in status


def test_resolve_follows_refs() -> None:
    pod = definitions()["io.k8s.api.core.v1.Pod"]
    assert "containers" in resolve(pod["properties"]["spec"])["properties"]


def test_reachable_definitions_include_transitive_refs_and_survive_recursion() -> None:
    reachable = reachable_definitions(["io.k8s.api.core.v1.Pod"])
    assert "io.k8s.api.core.v1.Container" in reachable
    assert "io.k8s.apimachinery.pkg.api.resource.Quantity" in reachable
    assert "io.k8s.api.apps.v1.Deployment" not in reachable
    crd = reachable_definitions(
        ["io.k8s.apiextensions-apiserver.pkg.apis.apiextensions.v1.CustomResourceDefinition"]
    )
    assert "io.k8s.apiextensions-apiserver.pkg.apis.apiextensions.v1.JSONSchemaProps" in crd
