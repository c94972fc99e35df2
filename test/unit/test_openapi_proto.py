"""server.schema.openapi_proto: the v2 document in gnostic's protobuf form, and which form a client asks for.

Covers, by reading the bytes back with our wire reader and gnostic's field numbers: document
header and info, definitions as named schemas (``$ref``, type, description, required, items,
additionalProperties as schema and as boolean, empty ``properties`` still present, vendor
extensions as YAML/JSON text — the group-version-kind list kubectl looks kinds up by), paths with
operations, query/path/body parameters and responses; that the served document encodes every
definition; the Accept negotiation. Leaves out whether kubectl parses it (test/e2e/
test_kubectl_client_validation.py runs kubectl's client-side validation on it).
"""

from __future__ import annotations

import json
from typing import Any

import pytest

from apis.schemas import definitions as served_definitions
from server.protobuf.wire import LENGTH_DELIMITED, iter_fields
from server.resources.builtin import builtin_catalogue
from server.schema import openapi, openapi_proto

Fields = dict[int, list[Any]]


def fields(data: bytes) -> Fields:
    """Field number -> values (bytes for length-delimited, int for varints, raw bytes otherwise)."""
    out: Fields = {}
    for number, wire_type, value, end in iter_fields(data, 0, len(data)):
        out.setdefault(number, []).append(data[value:end] if wire_type == LENGTH_DELIMITED else
                                          value if wire_type == 0 else data[value:end])
    return out


def named(data: bytes, field: int) -> dict[str, bytes]:
    """A repeated Named* field as name -> value bytes."""
    result = {}
    for entry in fields(data).get(field, []):
        parts = fields(entry)
        result[parts[1][0].decode()] = parts.get(2, [b""])[0]
    return result


def descend(data: bytes, *path: int) -> bytes:
    """The bytes of the first occurrence of each field number in turn (nested messages)."""
    for field in path:
        data = fields(data)[field][0]
    return data


def text(parts: Fields, field: int) -> str:
    return str(parts[field][0].decode())


def vendor(data: bytes, field: int) -> dict[str, Any]:
    return {name: json.loads(text(fields(value), 2)) for name, value in named(data, field).items()}


DOCUMENT = {
    "swagger": "2.0",
    "info": {"title": "Kubernetes", "version": "v1.37.0"},
    "paths": {"/api/v1/namespaces/{namespace}/configmaps": {
        "post": {"operationId": "createCoreV1NamespacedConfigMap",
                 "parameters": [{"name": "body", "in": "body", "required": True,
                                 "schema": {"$ref": "#/definitions/cm"}},
                                {"name": "dryRun", "in": "query", "type": "string", "uniqueItems": True}],
                 "responses": {"201": {"description": "Created", "schema": {"$ref": "#/definitions/cm"}}},
                 "x-kubernetes-action": "post"},
        "parameters": [{"name": "namespace", "in": "path", "required": True, "type": "string"}]}},
    "definitions": {
        "cm": {"type": "object", "description": "A map.", "required": ["data"],
               "properties": {"data": {"type": "object", "additionalProperties": {"type": "string"}},
                              "list": {"type": "array", "items": {"$ref": "#/definitions/empty"}}},
               "x-kubernetes-group-version-kind": [{"group": "", "kind": "ConfigMap", "version": "v1"}]},
        "empty": {"type": "object", "properties": {}, "additionalProperties": False},
    },
}


def test_document_header_and_definitions() -> None:
    document = fields(openapi_proto.document(DOCUMENT))
    assert text(document, 1) == "2.0"
    info = fields(document[2][0])
    assert (text(info, 1), text(info, 2)) == ("Kubernetes", "v1.37.0")
    definitions = named(document[9][0], 1)
    assert list(definitions) == ["cm", "empty"]

    cm = fields(definitions["cm"])
    assert text(cm, 4) == "A map." and [v.decode() for v in cm[19]] == ["data"]
    assert fields(cm[22][0])[1] == [b"object"]
    assert vendor(definitions["cm"], 31) == {
        "x-kubernetes-group-version-kind": [{"group": "", "kind": "ConfigMap", "version": "v1"}]}
    properties = named(cm[25][0], 1)
    # additionalProperties (21) -> its schema (1) -> type (22) -> values (1)
    assert fields(descend(properties["data"], 21, 1, 22))[1] == [b"string"]
    items = fields(fields(properties["list"])[23][0])[1]
    assert len(items) == 1 and text(fields(items[0]), 1) == "#/definitions/empty"

    empty = fields(definitions["empty"])
    assert empty[25] == [b""], "an empty properties map must still be present"
    assert fields(empty[21][0]) == {2: [0]}, "additionalProperties: false as the oneof's boolean"


def test_paths_operations_parameters_and_responses() -> None:
    paths = named(fields(openapi_proto.document(DOCUMENT))[8][0], 2)
    item = fields(paths["/api/v1/namespaces/{namespace}/configmaps"])
    post = item[4][0]
    operation = fields(post)
    assert text(operation, 5) == "createCoreV1NamespacedConfigMap"
    assert vendor(post, 13) == {"x-kubernetes-action": "post"}
    body, query = (fields(fields(p)[1][0]) for p in operation[8])
    body_parameter = fields(body[1][0])
    assert (text(body_parameter, 2), text(body_parameter, 3), body_parameter[4]) == ("body", "body", [1])
    assert text(fields(body_parameter[5][0]), 1) == "#/definitions/cm"
    query_parameter = fields(descend(query[2][0], 3))
    assert (text(query_parameter, 4), text(query_parameter, 2), text(query_parameter, 6)) == \
        ("dryRun", "query", "string")
    assert query_parameter[20] == [1]
    # PathItem.parameters (9) -> Parameter (1) -> NonBodyParameter (2) -> path sub-schema (4)
    path_parameter = fields(descend(item[9][0], 1, 2, 4))
    assert (text(path_parameter, 4), text(path_parameter, 5), path_parameter[1]) == \
        ("namespace", "string", [1])
    response = fields(descend(named(operation[9][0], 1)["201"], 1))
    assert text(response, 1) == "Created"
    assert text(fields(descend(response[2][0], 1)), 1) == "#/definitions/cm"


def test_the_served_document_encodes_every_definition() -> None:
    served = openapi.openapi_v2(builtin_catalogue(), served_definitions())
    encoded = openapi_proto.encoded(served)
    definitions = named(fields(encoded)[9][0], 1)
    assert list(definitions) == list(json.loads(served)["definitions"])
    review = vendor(definitions["io.k8s.api.authorization.v1.SubjectAccessReview"], 31)
    assert review["x-kubernetes-group-version-kind"] == [
        {"group": "authorization.k8s.io", "kind": "SubjectAccessReview", "version": "v1"}]


@pytest.mark.parametrize(("accept", "form"), [
    ("", "json"),
    ("application/json", "json"),
    ("application/json, */*", "json"),
    ("*/*", "json"),
    ("application/com.github.proto-openapi.spec.v2@v1.0+protobuf", "protobuf"),
    ("application/com.github.proto-openapi.spec.v2.v1.0+protobuf, application/json", "protobuf"),
    ("application/json;q=0.9, application/com.github.proto-openapi.spec.v2.v1.0+protobuf", "json"),
    ("application/vnd.kubernetes.protobuf", None),
    ("text/html", None),
])
def test_negotiation(accept: str, form: str | None) -> None:
    assert openapi_proto.negotiate(accept) == form
