"""Every failure is a Kubernetes Status, and bad input never causes a 5xx.

Covers: the shape of error answers (kind Status, apiVersion v1, status Failure, reason and code
matching the HTTP status) for unknown paths/resources (404), wrong methods (405), unsupported
content types (415), malformed JSON/YAML and non-object bodies (400), strict unknown fields (400),
invalid names (422 with causes), oversized bodies (413) — each storing nothing; review and
TokenReview bodies of the wrong shape (400 with the decoder's text; found while fuzzing by hand, they
used to answer 500); then ~300 seeded
random requests (random paths, methods, query parameters and bodies) none of which may be answered
5xx, and every 4xx a well-formed Status.
Leaves out: semantic validation rules (unit tests), conflicts and preconditions (their own files),
authentication/authorization errors (no authn yet).
"""

from __future__ import annotations

import random
import string
from typing import Any

import orjson
import pytest
from component_http import Api, Reply, assert_status, configmap


def assert_is_status(reply: Reply) -> None:
    assert reply.headers.get("Content-Type", "").startswith("application/json"), reply.headers
    status = reply.body
    assert status["kind"] == "Status" and status["apiVersion"] == "v1", status
    assert status["status"] == "Failure" and status["code"] == reply.status, status
    assert status["reason"] and isinstance(status["message"], str), status


@pytest.mark.parametrize(("method", "path", "code", "reason"), [
    ("GET", "/nothing/here", 404, "NotFound"),
    ("GET", "/api/v1/foos", 404, "NotFound"),
    ("GET", "/apis/nope.example.com/v1/things", 404, "NotFound"),
    ("GET", "/api/v1/namespaces/default/pods/p/nosuchsub", 404, "NotFound"),
    ("POST", "/api/v1/namespaces/default/configmaps/named", 405, "MethodNotAllowed"),
    ("PUT", "/api/v1/namespaces/default/configmaps", 405, "MethodNotAllowed"),
    ("PATCH", "/api/v1/namespaces/default/configmaps", 405, "MethodNotAllowed"),
    ("POST", "/api/v1/namespaces/default/pods/p/scale", 404, "NotFound"),
])
async def test_paths_and_methods(api: Api, method: str, path: str, code: int, reason: str) -> None:
    reply = await api.request(method, path, {"apiVersion": "v1", "kind": "ConfigMap",
                                             "metadata": {"name": "named"}})
    assert_status(reply, code, reason)
    assert_is_status(reply)


@pytest.mark.parametrize(("raw", "content_type", "code", "reason"), [
    (b'{"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": "x"}', "application/json",
     400, "BadRequest"),
    (b"apiVersion: v1\nkind: [ConfigMap\n", "application/yaml", 400, "BadRequest"),
    (b'["not", "an", "object"]', "application/json", 400, "BadRequest"),
    (b"", "application/json", 400, "BadRequest"),
    (b'{"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": "x"}}', "text/plain",
     415, "UnsupportedMediaType"),
    (b'{"apiVersion": "v1", "kind": "Pod", "metadata": {"name": "x"}}', "application/json",
     400, "BadRequest"),
    (b'{"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": "x"}, "data": "text"}',
     "application/json", 400, "BadRequest"),
])
async def test_bad_bodies_store_nothing(api: Api, namespace: str, raw: bytes, content_type: str,
                                        code: int, reason: str) -> None:
    base = f"/api/v1/namespaces/{namespace}/configmaps"
    reply = await api.request("POST", base, raw=raw, content_type=content_type,
                              headers={"Content-Type": content_type})
    assert_status(reply, code, reason)
    assert_is_status(reply)
    assert (await api.ok("GET", base))["items"] == []


async def test_yaml_body_is_accepted(api: Api, namespace: str) -> None:
    raw = b"apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: from-yaml\ndata:\n  k: v\n"
    reply = await api.request("POST", f"/api/v1/namespaces/{namespace}/configmaps", raw=raw,
                              headers={"Content-Type": "application/yaml"})
    assert reply.status == 201 and reply.body["data"] == {"k": "v"}


async def test_strict_unknown_field_is_rejected_and_warn_warns(api: Api, namespace: str) -> None:
    base = f"/api/v1/namespaces/{namespace}/configmaps"
    body = configmap("u")
    body["bogus"] = 1
    reply = await api.post(base, body, params={"fieldValidation": "Strict"})
    status = assert_status(reply, 400, "BadRequest")
    assert 'unknown field "bogus"' in status["message"]
    assert (await api.ok("GET", base))["items"] == []
    reply = await api.post(base, body, params={"fieldValidation": "Warn"})
    assert reply.status == 201
    assert 'unknown field \\"bogus\\"' in reply.headers.get("Warning", "") or \
        'unknown field "bogus"' in reply.headers.get("Warning", "")
    assert "bogus" not in reply.body


async def test_invalid_name_is_unprocessable_with_causes(api: Api, namespace: str) -> None:
    base = f"/api/v1/namespaces/{namespace}/configmaps"
    status = assert_status(await api.post(base, configmap("Bad_Name")), 422, "Invalid")
    assert status["message"].startswith('ConfigMap "Bad_Name" is invalid: metadata.name: Invalid value: '
                                        '"Bad_Name"')
    assert status["details"]["causes"][0]["field"] == "metadata.name"
    assert status["details"]["causes"][0]["reason"] == "FieldValueInvalid"
    assert (await api.ok("GET", base))["items"] == []


async def test_oversized_body_is_rejected(api: Api, namespace: str) -> None:
    base = f"/api/v1/namespaces/{namespace}/configmaps"
    body = configmap("huge", {"blob": "x" * (4 * 1024 * 1024)})
    reply = await api.post(base, body)
    assert_status(reply, 413, "RequestEntityTooLarge")
    assert (await api.ok("GET", base))["items"] == []


@pytest.mark.parametrize("metadata", ["text", 7, ["a"]])
async def test_apply_patch_with_malformed_metadata_is_bad_request(api: Api, namespace: str,
                                                                  metadata: Any) -> None:
    """Found by the fuzzer: server-side apply creating an object used to crash on this (500)."""
    body = {"apiVersion": "v1", "kind": "ConfigMap", "metadata": metadata}
    reply = await api.request("PATCH", f"/api/v1/namespaces/{namespace}/configmaps/new",
                              raw=orjson.dumps(body),
                              headers={"Content-Type": "application/apply-patch+yaml"},
                              params={"fieldManager": "test"})
    assert_status(reply, 400, "BadRequest")
    assert (await api.ok("GET", f"/api/v1/namespaces/{namespace}/configmaps"))["items"] == []


@pytest.mark.parametrize(("path", "kind"), [
    ("/apis/authorization.k8s.io/v1/selfsubjectaccessreviews", "SelfSubjectAccessReview"),
    ("/apis/authorization.k8s.io/v1/subjectaccessreviews", "SubjectAccessReview"),
    ("/apis/authorization.k8s.io/v1/selfsubjectrulesreviews", "SelfSubjectRulesReview"),
    ("/apis/authentication.k8s.io/v1/tokenreviews", "TokenReview"),
])
async def test_malformed_review_bodies_are_bad_requests(api: Api, path: str, kind: str) -> None:
    for body in ({"spec": 5}, ["x"]):
        status = assert_status(await api.post(path, body), 400, "BadRequest")
        assert status["message"].startswith(f'{kind} in version "v1" cannot be handled as a {kind}: json: '
                                            "cannot unmarshal"), status


# -- fuzz ---------------------------------------------------------------------------------------

# Mostly real (group-version, resource) pairs, so requests get past routing; some nonsense too.
_RESOURCES = [("/api/v1", "pods"), ("/api/v1", "configmaps"), ("/api/v1", "services"),
              ("/api/v1", "secrets"), ("/api/v1", "namespaces"), ("/api/v1", "nodes"),
              ("/api/v1", "events"), ("/api/v1", "tenants"), ("/apis/apps/v1", "deployments"),
              ("/apis/coordination.k8s.io/v1", "leases"), ("/apis/policy/v1", "poddisruptionbudgets"),
              ("/api/v1/tenants/system", "configmaps"), ("/tenants/system/api/v1", "pods"),
              ("/api/v1", "foo"), ("/api/v2", "pods"), ("/apis/x/y", "z"), ("/api", "")]
_SUBRESOURCES = ["", "", "", "status", "scale", "binding", "eviction", "log", "x"]
_QUERY_KEYS = ["labelSelector", "fieldSelector", "limit", "continue", "resourceVersion",
               "resourceVersionMatch", "dryRun", "fieldValidation", "gracePeriodSeconds",
               "propagationPolicy", "includeObject", "allowWatchBookmarks", "sendInitialEvents",
               "watch", "pretty", "orphanDependents"]
_QUERY_VALUES = ["", "0", "1", "-1", "abc", "true", "All", "Exact", "Strict", "a=b", "a in (", "!x",
                 "metadata.name=x", "spec.foo=1", "Orphan", "%00", "ü", "a,b", "eyJydiI6MX0="]
_CONTENT_TYPES = ["application/json", "application/yaml", "application/merge-patch+json",
                  "application/json-patch+json", "application/strategic-merge-patch+json",
                  "application/apply-patch+yaml", "text/plain", ""]
_ACCEPTS = ["", "application/json", "application/yaml", "application/vnd.kubernetes.protobuf",
            "application/json;as=Table;v=v1;g=meta.k8s.io", "text/html", "*/*",
            "application/json;as=PartialObjectMetadataList;v=v1;g=meta.k8s.io"]


def _random_value(rng: random.Random, depth: int = 0) -> Any:
    choice = rng.randrange(8 if depth < 3 else 5)
    if choice == 0:
        return rng.randint(-(2**40), 2**40)
    if choice == 1:
        return "".join(rng.choices(string.printable, k=rng.randrange(12)))
    if choice == 2:
        return rng.choice([None, True, False, 1.5, "", "v1", "ConfigMap"])
    if choice in (3, 4):
        return rng.choice(["default", "Bad_Name", "a" * 300, "x", "-"])
    if choice == 5:
        return [_random_value(rng, depth + 1) for _ in range(rng.randrange(4))]
    return {rng.choice(["metadata", "spec", "status", "data", "name", "kind", "apiVersion", "op", "path",
                        "value", "labels", "containers", "$patch", "replicas"]): _random_value(rng, depth + 1)
            for _ in range(rng.randrange(5))}


def _random_object(rng: random.Random, resource: str) -> Any:
    """A plausible object with a random part broken or replaced."""
    kinds = {"pods": "Pod", "configmaps": "ConfigMap", "services": "Service", "namespaces": "Namespace"}
    obj: dict[str, Any] = {"apiVersion": "v1", "kind": kinds.get(resource, "ConfigMap"),
                           "metadata": {"name": rng.choice(["f1", "f2", "Bad_Name", ""])},
                           "spec": {"containers": [{"name": "c", "image": "busybox"}]}}
    key = rng.choice(["metadata", "spec", "kind", "apiVersion", "data", "status"])
    obj[key] = _random_value(rng)
    return obj


def _random_path(rng: random.Random, namespace: str) -> str:
    prefix, resource = rng.choice(_RESOURCES)
    scope = rng.choice(["", "/namespaces/nope", *[f"/namespaces/{namespace}"] * 4])
    name = rng.choice(["", "", "f1", "f2", "Bad_Name", "%2F", "a" * 300])
    sub = rng.choice(_SUBRESOURCES) if name else ""
    path = "/".join(p for p in (prefix + scope, resource, name, sub) if p)
    if rng.random() < 0.05:
        path = "/" + "/".join(rng.choice(["api", "apis", "v1", "watch", "..", "x"]) for _ in range(4))
    return path


async def test_random_requests_never_cause_server_errors(api: Api, namespace: str) -> None:
    rng = random.Random(20261128)
    for name in ("f1", "f2"):  # so that some named requests find their object
        await api.ok("POST", f"/api/v1/namespaces/{namespace}/configmaps", configmap(name))
        await api.ok("POST", f"/api/v1/namespaces/{namespace}/pods",
                     {"apiVersion": "v1", "kind": "Pod", "metadata": {"name": name},
                      "spec": {"containers": [{"name": "c", "image": "busybox"}]}})
    answered: dict[int, int] = {}
    for number in range(300):
        method = rng.choice(["GET", "GET", "POST", "PUT", "PATCH", "DELETE"])
        path = _random_path(rng, namespace)
        params = [(rng.choice(_QUERY_KEYS), rng.choice(_QUERY_VALUES)) for _ in range(rng.randrange(4))]
        # Watches stream until timeoutSeconds: keep them short so the test stays bounded.
        params.append(("timeoutSeconds", "1"))
        headers = {"Accept": rng.choice(_ACCEPTS)} if rng.random() < 0.4 else {}
        raw: bytes | None = None
        if method != "GET" or rng.random() < 0.1:
            style = rng.randrange(4)
            if style == 0:
                raw = orjson.dumps(_random_object(rng, path.rsplit("/", 1)[-1]))
            elif style == 1:
                raw = orjson.dumps(_random_value(rng))
            elif style == 2:
                raw = bytes(rng.randrange(256) for _ in range(rng.randrange(64)))
            else:
                raw = b"apiVersion: v1\nkind: ConfigMap\nmetadata: {name: " + rng.choice([b"y1", b"[", b"}"])
            headers["Content-Type"] = rng.choice(_CONTENT_TYPES)
        reply = await api.request(method, path, raw=raw, headers=headers, params=params)
        answered[reply.status] = answered.get(reply.status, 0) + 1
        context = f"request {number}: {method} {path} {params} {headers} {raw!r:.300} -> {reply.raw[:500]!r}"
        assert reply.status < 500, context
        if reply.status >= 400:
            try:
                assert_is_status(reply)
            except (AssertionError, ValueError, KeyError, TypeError) as e:
                raise AssertionError(f"not a Status: {context}") from e
    # The seed exercises both successes and a spread of client errors.
    assert sum(answered.get(c, 0) for c in range(200, 300)) > 15, answered
    assert len([c for c in answered if c >= 400]) >= 4, answered
    assert (await api.get("/readyz")).status == 200
