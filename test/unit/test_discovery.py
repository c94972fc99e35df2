"""Discovery documents (server/resources/discovery.py).

Covers: the shapes of /api, /apis, /apis/{g}, the APIResourceLists and aggregated discovery v2/v2beta1,
values upstream publishes (storageVersionHash of pods, subresource kinds), Arktos's `tenanted`, the
`visible` filter dropping resources, versions and groups, and that the official python client
deserialises every document into its models.
Leaves out: HTTP content negotiation (Accept headers) and kubectl itself (server and e2e tests).
"""

from __future__ import annotations

import json
from typing import Any

import pytest
from kubernetes.client import ApiClient

from apis.catalogue import Resource
from server.resources import discovery
from server.resources.builtin import builtin_catalogue

CAT = builtin_catalogue()


def entries(doc: dict[str, Any] | None) -> dict[str, dict[str, Any]]:
    assert doc is not None
    return {e["name"]: e for e in doc["resources"]}


def tenant_view(resource: Resource) -> bool:
    return resource.scope != "Cluster"


def test_core_versions() -> None:
    assert discovery.core_versions("10.0.0.1:6443") == {
        "kind": "APIVersions",
        "versions": ["v1"],
        "serverAddressByClientCIDRs": [{"clientCIDR": "0.0.0.0/0", "serverAddress": "10.0.0.1:6443"}],
    }


def test_core_resource_list() -> None:
    doc = discovery.resource_list(CAT, "", "v1")
    assert doc is not None
    assert doc["kind"] == "APIResourceList" and doc["groupVersion"] == "v1" and "apiVersion" not in doc
    found = entries(doc)
    pods = found["pods"]
    assert pods == {
        "name": "pods", "singularName": "pod", "namespaced": True, "tenanted": True, "kind": "Pod",
        "verbs": ["create", "delete", "deletecollection", "get", "list", "patch", "update", "watch"],
        "shortNames": ["po"], "categories": ["all"],
        "storageVersionHash": "xPOwRZ+Yhw8=",  # the value a 1.32 kube-apiserver publishes
    }
    assert found["pods/eviction"] == {
        "name": "pods/eviction", "singularName": "", "namespaced": True, "tenanted": True,
        "kind": "Eviction", "verbs": ["create"], "group": "policy", "version": "v1",
    }
    assert found["pods/status"]["kind"] == "Pod" and "group" not in found["pods/status"]
    assert found["configmaps"]["storageVersionHash"] == "qFsyl6wFWjQ="
    assert "storageVersionHash" not in found["bindings"]
    assert (found["namespaces"]["namespaced"], found["namespaces"]["tenanted"]) == (False, True)
    assert (found["nodes"]["namespaced"], found["nodes"]["tenanted"]) == (False, False)
    assert found["namespaces/finalize"]["verbs"] == ["update"]
    assert found["tenants"]["kind"] == "Tenant"


def test_group_resource_list_has_api_version_and_scale() -> None:
    doc = discovery.resource_list(CAT, "apps", "v1")
    assert doc is not None and doc["apiVersion"] == "v1" and doc["groupVersion"] == "apps/v1"
    scale = entries(doc)["deployments/scale"]
    assert (scale["group"], scale["version"], scale["kind"]) == ("autoscaling", "v1", "Scale")


def test_unknown_group_versions_are_none() -> None:
    assert discovery.resource_list(CAT, "apps", "v1beta1") is None
    assert discovery.group(CAT, "extensions") is None
    assert discovery.group(CAT, "") is None


def test_group_list_and_group() -> None:
    doc = discovery.group_list(CAT)
    assert doc["kind"] == "APIGroupList" and doc["apiVersion"] == "v1"
    groups = {g["name"]: g for g in doc["groups"]}
    assert "" not in groups
    assert groups["autoscaling"]["preferredVersion"] == {"groupVersion": "autoscaling/v2", "version": "v2"}
    assert [v["version"] for v in groups["autoscaling"]["versions"]] == ["v2", "v1"]
    apps = discovery.group(CAT, "apps")
    assert apps == {
        "kind": "APIGroup", "apiVersion": "v1", "name": "apps",
        "versions": [{"groupVersion": "apps/v1", "version": "v1"}],
        "preferredVersion": {"groupVersion": "apps/v1", "version": "v1"},
    }


@pytest.mark.parametrize("version", ["v2", "v2beta1"])
def test_aggregated_legacy(version: str) -> None:
    doc = discovery.aggregated(CAT, legacy=True, version=version)  # type: ignore[arg-type]
    assert doc["kind"] == "APIGroupDiscoveryList"
    assert doc["apiVersion"] == f"apidiscovery.k8s.io/{version}"
    assert len(doc["items"]) == 1 and doc["items"][0]["metadata"]["name"] == ""
    (core_v1,) = doc["items"][0]["versions"]
    assert core_v1["version"] == "v1" and core_v1["freshness"] == "Current"
    pods = next(r for r in core_v1["resources"] if r["resource"] == "pods")
    assert pods["responseKind"] == {"group": "", "version": "", "kind": "Pod"}
    assert pods["scope"] == "Namespaced" and pods["singularResource"] == "pod"
    assert pods["shortNames"] == ["po"] and pods["categories"] == ["all"]
    eviction = next(s for s in pods["subresources"] if s["subresource"] == "eviction")
    assert eviction == {"subresource": "eviction", "verbs": ["create"],
                        "responseKind": {"group": "policy", "version": "v1", "kind": "Eviction"}}
    namespaces = next(r for r in core_v1["resources"] if r["resource"] == "namespaces")
    assert namespaces["scope"] == "Cluster"


def test_aggregated_groups() -> None:
    doc = discovery.aggregated(CAT, legacy=False, version="v2")
    names = [item["metadata"]["name"] for item in doc["items"]]
    assert "" not in names and names[:2] == ["apiregistration.k8s.io", "apps"]
    autoscaling = next(i for i in doc["items"] if i["metadata"]["name"] == "autoscaling")
    assert [v["version"] for v in autoscaling["versions"]] == ["v2", "v1"]


def test_visible_filter_hides_cluster_scope_from_tenants() -> None:
    core = entries(discovery.resource_list(CAT, "", "v1", visible=tenant_view))
    assert "nodes" not in core and "tenants" not in core and "nodes/status" not in core
    assert "pods" in core and "namespaces" in core
    names = {g["name"] for g in discovery.group_list(CAT, visible=tenant_view)["groups"]}
    assert "scheduling.k8s.io" not in names and "node.k8s.io" not in names
    assert "apps" in names and "rbac.authorization.k8s.io" in names
    assert discovery.group(CAT, "scheduling.k8s.io", visible=tenant_view) is None
    assert discovery.resource_list(CAT, "scheduling.k8s.io", "v1", visible=tenant_view) is None
    aggregated = discovery.aggregated(CAT, legacy=False, version="v2", visible=tenant_view)
    for item in aggregated["items"]:
        for version in item["versions"]:
            assert version["resources"], (item["metadata"]["name"], version["version"])


@pytest.mark.parametrize(("doc", "model"), [
    (discovery.core_versions("127.0.0.1:6443"), "V1APIVersions"),
    (discovery.group_list(CAT), "V1APIGroupList"),
    (discovery.group(CAT, "apps"), "V1APIGroup"),
    (discovery.resource_list(CAT, "", "v1"), "V1APIResourceList"),
    (discovery.resource_list(CAT, "apps", "v1"), "V1APIResourceList"),
])
def test_python_client_reads_the_documents(doc: dict[str, Any], model: str) -> None:
    parsed = ApiClient().deserialize(json.dumps(doc), model, "application/json")
    assert parsed is not None
    if model == "V1APIResourceList":
        assert all(r.verbs for r in parsed.resources)
