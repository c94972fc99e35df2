"""What a DELETE answers, for every resource, checked against the server's own ``/openapi/v3``.

Covers: one object of every creatable built-in resource (`resource_samples`) is created and
deleted; the body is validated against the JSON schema the published OpenAPI document gives for
that path's DELETE 200 answer (the object where upstream's registry sets ReturnDeletedObject —
pods, services, service accounts, ... — a Success Status elsewhere), and the document's choice is
checked against the official python client's, which is generated from upstream's document.
Namespaces and tenants linger with finalizers: upstream answers them with the object (as it
does any object left in place), so the test holds them to that. A lingering object answers 202
only when the delete asked for ``orphanDependents=false`` (upstream's handlers/delete.go).
Leaves out: deletecollection (upstream answers the deleted list, while its document says Status),
create-only and read-only resources (nothing to delete), the python client's own round trip
(test/e2e/test_python_client.py).
"""

from __future__ import annotations

import importlib
import re
import uuid
from functools import cache
from typing import Any

import jsonschema
import pytest
from component_http import Api, configmap
from resource_samples import Sample, manifest_for, samples

_STATUS_REF = "#/components/schemas/io.k8s.apimachinery.pkg.apis.meta.v1.Status"
# Resources that linger after a delete (spec.finalizers set on create): answered with the object.
_LINGERING = {("", "namespaces"), ("", "tenants")}


def _id(sample: Sample) -> str:
    return f"{sample.group or 'core'}/{sample.version}/{sample.plural}"


async def _document(api: Api, group: str, version: str) -> dict[str, Any]:
    path = f"api/{version}" if not group else f"apis/{group}/{version}"
    index = await api.ok("GET", "/openapi/v3")
    document: dict[str, Any] = await api.ok("GET", index["paths"][path]["serverRelativeURL"])
    return document


def _delete_schema(document: dict[str, Any], sample: Sample, code: str) -> dict[str, Any]:
    """The JSON schema of the DELETE ``code`` answer of the sample's item path, refs resolvable."""
    base = f"/apis/{sample.group}/{sample.version}" if sample.group else f"/api/{sample.version}"
    scope = "/namespaces/{namespace}" if sample.namespaced else ""
    operation = document["paths"][f"{base}{scope}/{sample.plural}/{{name}}"]["delete"]
    schema: dict[str, Any] = operation["responses"][code]["content"]["application/json"]["schema"]
    return {**schema, "components": document["components"]}


def _type_or_int_or_string(validator: Any, types: Any, instance: Any, schema: dict[str, Any]) -> Any:
    """Kubernetes' ``x-kubernetes-int-or-string`` (served as ``type: string``) takes integers too."""
    if schema.get("x-kubernetes-int-or-string") and isinstance(instance, int):
        return
    yield from jsonschema.Draft7Validator.VALIDATORS["type"](validator, types, instance, schema)


_Validator = jsonschema.validators.extend(jsonschema.Draft7Validator, {"type": _type_or_int_or_string})


def _validate(body: Any, schema: dict[str, Any]) -> None:
    _Validator(schema).validate(body)


@cache
def _python_client_answers(group: str, version: str) -> dict[str, str]:
    """The python client's DELETE methods of one group-version (``delete_namespaced_service``) ->
    the type it parses a 200 into: a model where upstream's document says the object, "object"
    where it says Status. Empty when the client has no module for the group (Arktos's)."""
    module_name = (group or "core").removesuffix(".k8s.io").replace(".", "_") + f"_{version}_api"
    try:
        module = importlib.import_module(f"kubernetes.client.api.{module_name}")
    except ModuleNotFoundError:
        return {}
    with open(module.__file__ or "", encoding="utf-8") as source:
        text = source.read()
    return {m.group(1): m.group(2)
            for m in re.finditer(r"def (delete_\w+)_with_http_info\(.*?'200': \"(\w+)\"", text, re.S)}


def _snake(kind: str) -> str:
    return re.sub(r"(?<!^)(?=[A-Z])", "_", kind).lower().replace("c_s_i", "csi").replace("a_p_i", "api")


@pytest.mark.parametrize("sample", samples(), ids=_id)
async def test_delete_answers_what_the_openapi_document_says(api: Api, namespace: str,
                                                             sample: Sample) -> None:
    obj = manifest_for(sample, uuid.uuid4().hex[:8])
    name = obj["metadata"]["name"]
    collection = sample.collection(namespace)
    await api.ok("POST", collection, obj)
    reply = await api.delete(f"{collection}/{name}")
    assert reply.status == 200, reply.raw[:2000]
    body = reply.body
    document = await _document(api, sample.group, sample.version)
    schema = _delete_schema(document, sample, "200")
    if (sample.group, sample.plural) in _LINGERING:
        assert schema["$ref"] == _STATUS_REF
        assert body["kind"] == sample.kind and body["metadata"]["deletionTimestamp"], body
        return
    _validate(body, schema)
    assert _delete_schema(document, sample, "202")["$ref"] == schema["$ref"]
    if schema["$ref"] == _STATUS_REF:
        assert body["status"] == "Success" and body["details"]["name"] == name, body
        assert body["details"]["kind"] == sample.plural, body
    else:
        assert body["kind"] == sample.kind and body["metadata"]["name"] == name, body
        assert schema["$ref"].endswith(f".{sample.kind}")


@pytest.mark.parametrize("sample", samples(), ids=_id)
async def test_document_agrees_with_the_python_client(api: Api, sample: Sample) -> None:
    """The python client is generated from upstream's published document: where it parses a
    model, ours must name the object too; where it takes any object (a Status), ours a Status."""
    scope = "namespaced_" if sample.namespaced else ""
    operation = f"delete_{scope}{_snake(sample.kind)}"
    answers = _python_client_answers(sample.group, sample.version)
    if operation not in answers:
        pytest.skip(f"{operation}: not in the python client (an Arktos resource)")
    document = await _document(api, sample.group, sample.version)
    ours = _delete_schema(document, sample, "200")["$ref"]
    upstream_object = answers[operation] != "object"
    assert (ours != _STATUS_REF) == upstream_object, (operation, answers[operation], ours)


async def test_lingering_object_answers_202_only_for_orphan_dependents_false(api: Api,
                                                                              namespace: str) -> None:
    base = f"/api/v1/namespaces/{namespace}/configmaps"
    for name in ("held", "held-202"):
        await api.ok("POST", base, configmap(name, finalizers=["example.com/hold"]))
    plain = await api.delete(f"{base}/held")
    assert plain.status == 200 and plain.body["metadata"]["deletionTimestamp"], plain.raw
    accepted = await api.delete(f"{base}/held-202", {"kind": "DeleteOptions", "apiVersion": "v1",
                                                     "orphanDependents": False})
    assert accepted.status == 202, accepted.raw
    assert accepted.body["kind"] == "ConfigMap" and accepted.body["metadata"]["deletionTimestamp"]
    gone = await api.ok("POST", base, configmap("gone"))
    removed = await api.delete(f"{base}/gone", {"orphanDependents": False})
    assert removed.status == 200, removed.raw  # removed at once: 200 whatever the options
    assert removed.body["details"]["uid"] == gone["metadata"]["uid"]
