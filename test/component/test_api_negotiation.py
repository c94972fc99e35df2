"""Content negotiation and the documents that describe the API.

Covers: ``Accept`` Table for pods, nodes, namespaces and deployments (upstream's column names and
priorities; ``includeObject`` None / Metadata / Object), the TENANT column of the system admin's
lists and watches across tenants (and its absence elsewhere), PartialObjectMetadata and
PartialObjectMetadataList, YAML responses, a protobuf-only ``Accept`` (406 Status), aggregated
discovery v2 and v2beta1 (the Content-Type echoes the chosen form), the classic discovery
documents, ``/openapi/v2`` (JSON and protobuf), ``/openapi/v3`` and one group-version document,
``/version``.
Leaves out: the content of every table column (unit tests), request bodies in YAML (test_api_errors),
kubectl's use of these documents (e2e).
"""

from __future__ import annotations

import orjson
import pytest
import yaml
from component_http import Api, assert_status, configmap, deployment, pod, watching

TABLE = "application/json;as=Table;v=v1;g=meta.k8s.io"
PARTIAL = "application/json;as=PartialObjectMetadata;v=v1;g=meta.k8s.io"
PARTIAL_LIST = "application/json;as=PartialObjectMetadataList;v=v1;g=meta.k8s.io"
AGGREGATED = "application/json;g=apidiscovery.k8s.io;v={v};as=APIGroupDiscoveryList"
KUBECTL_DISCOVERY_ACCEPT = (f"{AGGREGATED.format(v='v2')},{AGGREGATED.format(v='v2beta1')},"
                            "application/json")


def column_names(table: dict) -> list[str]:
    return [c["name"] for c in table["columnDefinitions"]]


@pytest.mark.parametrize(("path", "expected"), [
    ("/api/v1/namespaces/{ns}/pods", ["Name", "Ready", "Status", "Restarts", "Age", "IP", "Node",
                                      "Nominated Node", "Readiness Gates"]),
    ("/api/v1/nodes", ["Name", "Status", "Roles", "Age", "Version", "Internal-IP", "External-IP",
                       "OS-Image", "Kernel-Version", "Container-Runtime"]),
    # The system admin's namespaces of every tenant: a TENANT column tells same-named ones apart.
    ("/api/v1/namespaces", ["Tenant", "Name", "Status", "Age"]),
    ("/api/v1/tenants/system/namespaces", ["Name", "Status", "Age"]),
    ("/apis/apps/v1/namespaces/{ns}/deployments", ["Name", "Ready", "Up-to-date", "Available", "Age",
                                                   "Containers", "Images", "Selector"]),
])
async def test_table_columns(api: Api, namespace: str, path: str, expected: list[str]) -> None:
    table = await api.ok("GET", path.format(ns=namespace), headers={"Accept": TABLE})
    assert table["kind"] == "Table" and table["apiVersion"] == "meta.k8s.io/v1"
    assert column_names(table) == expected
    assert table["columnDefinitions"][0]["priority"] == 0
    assert int(table["metadata"]["resourceVersion"]) > 0


async def test_table_rows_and_include_object(api: Api, namespace: str) -> None:
    base = f"/api/v1/namespaces/{namespace}/pods"
    await api.ok("POST", base, pod("t"))
    await api.ok("POST", f"/apis/apps/v1/namespaces/{namespace}/deployments", deployment("d", replicas=3))

    metadata = await api.ok("GET", base, headers={"Accept": TABLE})
    (row,) = metadata["rows"]
    assert row["cells"][0] == "t" and row["cells"][1] == "0/1" and row["cells"][2] == "Pending"
    assert row["object"]["kind"] == "PartialObjectMetadata"
    assert row["object"]["metadata"]["name"] == "t"

    whole = await api.ok("GET", base, headers={"Accept": TABLE}, params={"includeObject": "Object"})
    assert whole["rows"][0]["object"]["kind"] == "Pod"
    assert whole["rows"][0]["object"]["spec"]["containers"][0]["name"] == "c"

    bare = await api.ok("GET", base, headers={"Accept": TABLE}, params={"includeObject": "None"})
    assert bare["rows"][0].get("object") is None

    single = await api.ok("GET", f"/apis/apps/v1/namespaces/{namespace}/deployments/d",
                          headers={"Accept": TABLE})
    assert single["rows"][0]["cells"][:4] == ["d", "0/3", 0, 0]


async def test_tables_across_tenants_carry_the_tenant(api: Api, namespace: str) -> None:
    await api.ok("POST", f"/api/v1/namespaces/{namespace}/configmaps", configmap("mine"))
    for path in ("/api/v1/configmaps", "/api/v1/tenants/all/configmaps"):
        table = await api.ok("GET", path, headers={"Accept": TABLE},
                             params={"fieldSelector": "metadata.name=mine"})
        assert column_names(table) == ["Tenant", "Name", "Data", "Age"]
        assert [r["cells"][:2] for r in table["rows"]] == [["system", "mine"]]
    async with watching(api, "/api/v1/configmaps", {"fieldSelector": "metadata.name=mine"},
                        headers={"Accept": TABLE}) as stream:
        (added,) = await stream.events(1)
    assert column_names(added["object"]) == ["Tenant", "Name", "Data", "Age"]
    assert added["object"]["rows"][0]["cells"][:2] == ["system", "mine"]
    plain = await api.ok("GET", f"/api/v1/namespaces/{namespace}/configmaps", headers={"Accept": TABLE})
    assert column_names(plain) == ["Name", "Data", "Age"]
    listed = await api.ok("GET", "/api/v1/configmaps", params={"fieldSelector": "metadata.name=mine"})
    assert "Tenant" not in orjson.dumps(listed).decode()  # JSON lists stay as they are


async def test_partial_object_metadata(api: Api, namespace: str) -> None:
    base = f"/api/v1/namespaces/{namespace}/configmaps"
    created = await api.ok("POST", base, configmap("pm", labels={"a": "b"}))
    one = await api.ok("GET", f"{base}/pm", headers={"Accept": PARTIAL})
    assert one["kind"] == "PartialObjectMetadata" and one["apiVersion"] == "meta.k8s.io/v1"
    assert one["metadata"]["uid"] == created["metadata"]["uid"]
    assert one["metadata"]["labels"] == {"a": "b"}
    assert "data" not in one
    many = await api.ok("GET", base, headers={"Accept": PARTIAL_LIST})
    assert many["kind"] == "PartialObjectMetadataList" and many["apiVersion"] == "meta.k8s.io/v1"
    assert [i["metadata"]["name"] for i in many["items"]] == ["pm"]
    assert "data" not in many["items"][0]


async def test_yaml_responses(api: Api, namespace: str) -> None:
    base = f"/api/v1/namespaces/{namespace}/configmaps"
    await api.ok("POST", base, configmap("y", {"k": "v"}))
    for path in (f"{base}/y", base):
        reply = await api.get(path, headers={"Accept": "application/yaml"})
        assert reply.status == 200
        assert reply.headers["Content-Type"].startswith("application/yaml")
        doc = yaml.safe_load(reply.raw)
        assert doc["apiVersion"] == "v1"
    assert yaml.safe_load((await api.get(f"{base}/y", headers={"Accept": "application/yaml"})).raw)[
        "data"] == {"k": "v"}


async def test_protobuf_only_is_not_acceptable(api: Api, namespace: str) -> None:
    reply = await api.get(f"/api/v1/namespaces/{namespace}/configmaps",
                          headers={"Accept": "application/vnd.kubernetes.protobuf"})
    assert_status(reply, 406, "NotAcceptable")


@pytest.mark.parametrize("version", ["v2", "v2beta1"])
@pytest.mark.parametrize("root", ["/api", "/apis"])
async def test_aggregated_discovery(api: Api, version: str, root: str) -> None:
    accept = AGGREGATED.format(v=version)
    reply = await api.get(root, headers={"Accept": accept})
    assert reply.status == 200
    assert reply.headers["Content-Type"].replace(" ", "") == accept
    body = reply.body
    assert body["kind"] == "APIGroupDiscoveryList"
    assert body["apiVersion"] == f"apidiscovery.k8s.io/{version}"
    groups = {g["metadata"].get("name", ""): g for g in body["items"]}
    if root == "/api":
        resources = {r["resource"] for r in groups[""]["versions"][0]["resources"]}
        assert {"pods", "namespaces", "tenants"} <= resources
    else:
        assert {"apps", "batch", "policy"} <= set(groups)


async def test_kubectl_discovery_accept_list_picks_v2(api: Api) -> None:
    reply = await api.get("/apis", headers={"Accept": KUBECTL_DISCOVERY_ACCEPT})
    assert reply.body["apiVersion"] == "apidiscovery.k8s.io/v2"


async def test_classic_discovery(api: Api) -> None:
    versions = await api.ok("GET", "/api")
    assert versions["kind"] == "APIVersions" and versions["versions"] == ["v1"]
    groups = await api.ok("GET", "/apis")
    assert groups["kind"] == "APIGroupList"
    resources = await api.ok("GET", "/apis/apps/v1")
    assert resources["kind"] == "APIResourceList" and resources["groupVersion"] == "apps/v1"
    names = {r["name"] for r in resources["resources"]}
    assert {"deployments", "deployments/scale", "deployments/status"} <= names


async def test_openapi_documents(api: Api) -> None:
    v2 = await api.ok("GET", "/openapi/v2", headers={"Accept": "application/json"})
    assert v2["swagger"] == "2.0"
    assert "io.k8s.api.core.v1.Pod" in v2["definitions"]
    # client-go's OpenAPISchema asks for protobuf only (kubectl's client-side validation).
    proto = await api.get("/openapi/v2",
                          headers={"Accept": "application/com.github.proto-openapi.spec.v2@v1.0+protobuf"})
    assert proto.status == 200
    assert proto.headers["Content-Type"] == "application/com.github.proto-openapi.spec.v2.v1.0+protobuf"
    assert proto.raw.startswith(b"\x0a\x032.0") and b"io.k8s.api.core.v1.Pod" in proto.raw
    assert_status(await api.get("/openapi/v2", headers={"Accept": "application/xml"}), 406, "NotAcceptable")

    index = await api.ok("GET", "/openapi/v3")
    assert "api/v1" in index["paths"] and "apis/apps/v1" in index["paths"]
    url = index["paths"]["apis/apps/v1"]["serverRelativeURL"]
    reply = await api.get(url)
    assert reply.status == 200
    document = orjson.loads(reply.raw)
    assert document["openapi"].startswith("3.")
    assert "io.k8s.api.apps.v1.Deployment" in document["components"]["schemas"]
    assert_status(await api.get("/openapi/v3/apis/nothing/v9"), 404, "NotFound")


async def test_version(api: Api) -> None:
    version = await api.ok("GET", "/version")
    assert version["major"] == "1" and version["minor"] == "32"
    assert version["gitVersion"].startswith("v1.32.")
