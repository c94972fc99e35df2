"""server.schema.openapi: the served OpenAPI v2/v3 documents, shaped for kubectl.

Covers the v3 index (one hashed URL per group-version of the catalogue), each v3 document's
conversions (no "null" types, IntOrString/Quantity as strings, refs that resolve, $ref siblings
wrapped in allOf, GVK on kinds), the PATCH operations kubectl probes for fieldValidation,
Arktos's Tenant, and the v2 document. Leaves out running the real kubectl against them (the
e2e suite does that through the server).
"""

from __future__ import annotations

import hashlib
from typing import Any

import orjson
import pytest

from apis.catalogue import Resource
from apis.schemas import definitions
from server.registry.catalogue import group_versions
from server.schema.openapi import openapi_v2, openapi_v3_document, openapi_v3_index

RESOURCES = [
    Resource("", "v1", "Pod", "pods", "pod", "Namespaced", definition="io.k8s.api.core.v1.Pod"),
    Resource("", "v1", "Service", "services", "service", "Namespaced"),
    Resource("", "v1", "Tenant", "tenants", "tenant", "Cluster"),
    Resource("apps", "v1", "Deployment", "deployments", "deployment", "Namespaced"),
    Resource("autoscaling", "v2", "HorizontalPodAutoscaler", "horizontalpodautoscalers",
             "horizontalpodautoscaler", "Namespaced"),
    Resource("autoscaling", "v1", "HorizontalPodAutoscaler", "horizontalpodautoscalers",
             "horizontalpodautoscaler", "Namespaced"),
]
DEFS = definitions()


def document_of(path: str) -> bytes | None:
    return openapi_v3_document(RESOURCES, path, DEFS)


def v3(path: str) -> dict[str, Any]:
    document = document_of(path)
    assert document is not None
    parsed: dict[str, Any] = orjson.loads(document)
    return parsed


def walk(node: Any) -> Any:
    """Every schema below ``node`` (a ``properties`` map is not itself a schema: JSONSchemaProps
    has a property literally named ``$ref``)."""
    if isinstance(node, dict):
        yield node
        for name, value in node.items():
            if name == "properties" and isinstance(value, dict):
                for sub in value.values():
                    yield from walk(sub)
            else:
                yield from walk(value)
    elif isinstance(node, list):
        for value in node:
            yield from walk(value)


def test_index_lists_every_group_version_with_a_content_hash() -> None:
    index = openapi_v3_index(group_versions(RESOURCES), document_of)
    assert set(index["paths"]) == {"api/v1", "apis/apps/v1", "apis/autoscaling/v2", "apis/autoscaling/v1"}
    url = index["paths"]["apis/apps/v1"]["serverRelativeURL"]
    document = document_of("apis/apps/v1")
    assert document is not None
    assert url == "/openapi/v3/apis/apps/v1?hash=" + hashlib.sha512(document).hexdigest().upper()


def test_unknown_group_version_has_no_document() -> None:
    assert document_of("apis/nope/v1") is None


@pytest.mark.parametrize("path", ["api/v1", "apis/apps/v1"])
def test_v3_schemas_are_converted_for_kubectl(path: str) -> None:
    document = v3(path)
    schemas = document["components"]["schemas"]
    for node in walk(list(schemas.values())):
        assert not isinstance(node.get("type"), list), node
        assert "oneOf" not in node
        if "$ref" in node:
            assert set(node) == {"$ref"}, node  # siblings must be wrapped in allOf
            assert node["$ref"].removeprefix("#/components/schemas/") in schemas
    assert schemas["io.k8s.apimachinery.pkg.util.intstr.IntOrString"] == {
        "type": "string", "format": "int-or-string", "x-kubernetes-int-or-string": True,
    }
    assert schemas["io.k8s.apimachinery.pkg.api.resource.Quantity"]["type"] == "string"


def test_v3_core_document_keeps_kubectl_extensions() -> None:
    schemas = v3("api/v1")["components"]["schemas"]
    pod = schemas["io.k8s.api.core.v1.Pod"]
    assert pod["x-kubernetes-group-version-kind"] == [{"group": "", "kind": "Pod", "version": "v1"}]
    assert pod["properties"]["spec"]["allOf"] == [{"$ref": "#/components/schemas/io.k8s.api.core.v1.PodSpec"}]
    containers = schemas["io.k8s.api.core.v1.PodSpec"]["properties"]["containers"]
    assert containers["x-kubernetes-patch-merge-key"] == "name"
    assert containers["x-kubernetes-patch-strategy"] == "merge"
    assert containers["x-kubernetes-list-map-keys"] == ["name"]
    assert schemas["io.k8s.api.core.v1.Container"]["required"] == ["name"]
    assert "io.k8s.api.core.v1.PodList" in schemas
    assert "io.k8s.api.apps.v1.Deployment" not in schemas
    meta = schemas["io.k8s.apimachinery.pkg.apis.meta.v1.ObjectMeta"]["properties"]
    assert meta["hashKey"] == {"description": meta["hashKey"]["description"], "format": "int64",
                               "type": "integer"}
    assert schemas["io.k8s.api.core.v1.Tenant"]["x-kubernetes-group-version-kind"][0]["kind"] == "Tenant"


def test_v3_patch_operations_advertise_field_validation() -> None:
    paths = v3("apis/apps/v1")["paths"]
    item = paths["/apis/apps/v1/namespaces/{namespace}/deployments/{name}"]
    patch = item["patch"]
    gvk = {"group": "apps", "version": "v1", "kind": "Deployment"}
    assert patch["x-kubernetes-group-version-kind"] == gvk
    assert {"name": "fieldValidation", "in": "query"}.items() <= patch["parameters"][2].items()
    assert "application/strategic-merge-patch+json" in patch["requestBody"]["content"]
    assert [p["name"] for p in item["parameters"]] == ["name", "namespace"]
    listing = paths["/apis/apps/v1/namespaces/{namespace}/deployments"]["get"]
    assert listing["x-kubernetes-action"] == "list"
    assert listing["responses"]["200"]["content"]["application/json"]["schema"] == {
        "$ref": "#/components/schemas/io.k8s.api.apps.v1.DeploymentList"
    }


def test_cluster_scoped_resources_have_no_namespace_in_their_paths() -> None:
    paths = v3("api/v1")["paths"]
    assert "/api/v1/tenants/{name}" in paths
    assert "/api/v1/namespaces/{namespace}/pods/{name}" in paths


def test_autoscaling_versions_get_their_own_definitions() -> None:
    v1 = v3("apis/autoscaling/v1")["components"]["schemas"]
    v2 = v3("apis/autoscaling/v2")["components"]["schemas"]
    assert "io.k8s.api.autoscaling.v1.HorizontalPodAutoscaler" in v1
    assert "io.k8s.api.autoscaling.v2.HorizontalPodAutoscaler" in v2
    assert "io.k8s.api.autoscaling.v2.HorizontalPodAutoscaler" not in v1


def test_v2_document_uses_definitions_refs() -> None:
    document = orjson.loads(openapi_v2(RESOURCES, DEFS))
    assert document["swagger"] == "2.0"
    definitions = document["definitions"]
    assert definitions["io.k8s.api.core.v1.Pod"]["properties"]["spec"]["$ref"] == (
        "#/definitions/io.k8s.api.core.v1.PodSpec"
    )
    for node in walk(list(definitions.values())):
        assert not isinstance(node.get("type"), list)
        if "$ref" in node:
            assert node["$ref"].removeprefix("#/definitions/") in definitions
    assert "/api/v1/namespaces/{namespace}/pods/{name}" in document["paths"]
