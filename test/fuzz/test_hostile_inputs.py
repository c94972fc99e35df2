"""Hand-written hostile inputs, as a tenant user and as the system admin: each answered with a
Kubernetes Status, and nothing stored or changed.

Covers, over TLS with client certificates: YAML alias bombs and a self-containing anchor, nesting
deeper than the decoder allows (JSON, YAML, a merge patch), CR/LF in field names, label keys and
names, integers beyond int32/int64 (JSON and YAML), 10 MiB bodies (with a Content-Length and
chunked), a 2 MiB request line, bad dryRun values (query and DeleteOptions body), malformed and
failing preconditions, orphanDependents with propagationPolicy, ConfigMaps over 1 MiB and
annotations over 256 KiB, apply without fieldManager, a patch renaming its object, a watch from
``resourceVersion=abc``, malformed DeleteOptions on a collection delete, and subresource and
review bodies of the wrong shape (binding, eviction, scale, access review). After each, every
object of the namespace is listed and compared (names, uids, generations and what clients write:
labels, annotations, data, spec; not the status the controllers keep updating). A CR/LF in an
unknown field under the default fieldValidation=Warn is answered (the object stored without the
field, the Warning header escaped). Leaves out: overload (H4's suite) and the schema-driven
fuzzing (test_openapi_fuzz.py).
"""

from __future__ import annotations

import json
import socket
import time
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

import pytest
import requests
from fuzz_callers import Caller

pytestmark = [pytest.mark.slow, pytest.mark.e2e]

MIB = 1024 * 1024
LISTED = ("/api/v1/namespaces/{ns}/configmaps", "/api/v1/namespaces/{ns}/secrets",
          "/api/v1/namespaces/{ns}/pods", "/apis/apps/v1/namespaces/{ns}/deployments")
JSON, YAML = "application/json", "application/yaml"
MERGE, APPLY = "application/merge-patch+json", "application/apply-patch+yaml"


@dataclass(frozen=True)
class Hostile:
    """One hostile request: ``{ns}`` in the path is the test's namespace; the seeded objects are
    ConfigMap ``seed``, Deployment ``web`` and Pod ``p``."""

    name: str
    method: str
    path: str
    body: bytes | None
    codes: tuple[int, ...]
    content_type: str = JSON


def _json(value: Any) -> bytes:
    return json.dumps(value).encode()  # the stdlib: it writes what orjson refuses (2**70, depth 300)


def _configmap(name: str, **fields: Any) -> dict[str, Any]:
    return {"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": name}, **fields}


def _deployment(name: str, replicas: Any = 1) -> dict[str, Any]:
    labels = {"app": name}
    return {"apiVersion": "apps/v1", "kind": "Deployment", "metadata": {"name": name, "labels": labels},
            "spec": {"replicas": replicas, "selector": {"matchLabels": labels},
                     "template": {"metadata": {"labels": labels},
                                  "spec": {"containers": [{"name": "c", "image": "busybox"}]}}}}


def _laughs() -> bytes:
    lines = ["apiVersion: v1", "kind: ConfigMap", "metadata:", "  name: bomb", "  annotations:",
             '    a: &a "lol"']
    for level, previous in zip("bcdefghi", "abcdefgh", strict=True):
        lines.append(f"    {level}: &{level} [{', '.join([f'*{previous}'] * 9)}]")
    return "\n".join(lines).encode()


def _nested(depth: int) -> Any:
    value: Any = "leaf"
    for _ in range(depth):
        value = {"x": value}
    return value


CM, DEPLOY = "/api/v1/namespaces/{ns}/configmaps", "/apis/apps/v1/namespaces/{ns}/deployments"
POD = "/api/v1/namespaces/{ns}/pods"
HOSTILE = [
    Hostile("yaml-billion-laughs", "POST", CM, _laughs(), (400,), YAML),
    Hostile("yaml-self-anchor", "POST", CM, b"apiVersion: v1\nkind: ConfigMap\nmetadata: {name: loop}\n"
            b"data: &d {a: *d}\n", (400,), YAML),
    Hostile("yaml-deep-nesting", "POST", CM, b"apiVersion: v1\nkind: ConfigMap\nmetadata: {name: deep}\n"
            b"data:\n" + b"".join(b"  " * i + b"- \n" for i in range(1, 400)), (400,), YAML),
    Hostile("json-deep-nesting", "POST", CM, _json(_configmap("deep", data=_nested(300))), (400,)),
    Hostile("merge-patch-deep-nesting", "PATCH", CM + "/seed", _json({"data": _nested(500)}), (400,), MERGE),
    Hostile("crlf-unknown-field-strict", "POST", CM + "?fieldValidation=Strict",
            _json({**_configmap("crlf"), "evil\r\nX-Injected: 1": 1}), (400,)),
    Hostile("crlf-label-key", "POST", CM,
            _json(_configmap("crlf", metadata={"name": "crlf", "labels": {"a\r\nb": "c"}})), (422,)),
    Hostile("crlf-name", "POST", CM, _json(_configmap("cr\r\nlf")), (422,)),
    Hostile("replicas-beyond-int32", "POST", DEPLOY, _json(_deployment("big", 2**31)), (400,)),
    Hostile("generation-beyond-int64", "POST", DEPLOY,
            _json({**_deployment("big"), "metadata": {"name": "big", "generation": 2**70}}), (400,)),
    Hostile("yaml-replicas-10e30", "POST", DEPLOY, json.dumps(_deployment("big")).replace(
        '"replicas": 1', '"replicas": 1000000000000000000000000000000').encode(), (400,), YAML),
    Hostile("body-10mib", "POST", CM, _json(_configmap("huge", data={"k": "x" * (10 * MIB)})), (413,)),
    Hostile("configmap-over-1mib", "POST", CM, _json(_configmap("big", data={"k": "x" * (MIB + 1)})), (422,)),
    Hostile("annotations-over-256kib", "POST", CM,
            _json(_configmap("big", metadata={"name": "big", "annotations": {"k": "x" * (256 * 1024)}})),
            (422,)),
    Hostile("dry-run-bogus-create", "POST", CM + "?dryRun=Bogus", _json(_configmap("dry")), (422,)),
    Hostile("dry-run-bogus-delete-body", "DELETE", CM + "/seed", _json({"dryRun": ["Bogus"]}), (422,)),
    Hostile("dry-run-string-delete-body", "DELETE", CM + "/seed", _json({"dryRun": "All"}), (400,)),
    Hostile("preconditions-not-an-object", "DELETE", CM + "/seed", _json({"preconditions": "x"}), (400,)),
    Hostile("preconditions-wrong-uid", "DELETE", CM + "/seed",
            _json({"preconditions": {"uid": str(uuid.UUID(int=0))}}), (409,)),
    Hostile("orphan-with-propagation", "DELETE", CM + "/seed",
            _json({"orphanDependents": True, "propagationPolicy": "Foreground"}), (422,)),
    Hostile("deletecollection-bad-options", "DELETE", CM, _json({"gracePeriodSeconds": "now"}), (400,)),
    Hostile("apply-without-field-manager", "PATCH", CM + "/seed", _json(_configmap("seed", data={"k": "w"})),
            (422,), APPLY),
    Hostile("patch-renames", "PATCH", CM + "/seed", _json({"metadata": {"name": "renamed"}}), (400,), MERGE),
    Hostile("binding-target-not-an-object", "POST", POD + "/p/binding", _json({"target": 5}), (400,)),
    Hostile("eviction-options-not-an-object", "POST", POD + "/p/eviction", _json({"deleteOptions": "x"}),
            (400,)),
    Hostile("scale-spec-not-an-object", "PUT", DEPLOY + "/web/scale", _json({"spec": 5}), (400,)),
    Hostile("access-review-spec-not-an-object", "POST",
            "/apis/authorization.k8s.io/v1/selfsubjectaccessreviews", _json({"spec": 5}), (400,)),
    Hostile("watch-bad-resource-version", "GET", CM + "?watch=true&resourceVersion=abc", None, (400,)),
    Hostile("list-bad-resource-version", "GET", CM + "?resourceVersion=-1", None, (400,)),
]


def _content(item: dict[str, Any]) -> str:
    """What a client wrote (the controllers keep writing the seeded Deployment's status)."""
    metadata = item["metadata"]
    kept = {"uid": metadata["uid"], "generation": metadata.get("generation"),
            "labels": metadata.get("labels"), "annotations": metadata.get("annotations"),
            "finalizers": metadata.get("finalizers"), "deletion": metadata.get("deletionTimestamp"),
            "data": item.get("data"), "spec": item.get("spec")}
    return json.dumps(kept, sort_keys=True)


def _snapshot(caller: Caller, namespace: str) -> list[tuple[str, str, str]]:
    rows = []
    for template in LISTED:
        answer = caller.session.get(caller.base_url + template.format(ns=namespace), timeout=30)
        assert answer.status_code == 200, answer.text[:500]
        rows.extend((template, item["metadata"]["name"], _content(item)) for item in answer.json()["items"])
    return sorted(rows)


def assert_status(response: requests.Response, codes: tuple[int, ...]) -> dict[str, Any]:
    assert response.status_code in codes, f"{response.status_code}: {response.text[:800]}"
    status = response.json()
    assert status["kind"] == "Status" and status["apiVersion"] == "v1", status
    assert status["status"] == "Failure" and status["code"] == response.status_code, status
    assert status["reason"] and status["message"], status
    return dict(status)


@pytest.fixture(params=["tenant", "admin"])
def caller(request: pytest.FixtureRequest, callers: dict[str, Caller]) -> Caller:
    return callers[request.param]


@pytest.fixture(scope="module")
def namespaces() -> dict[str, str]:
    """One namespace per caller for the whole module: every test leaves it as it found it."""
    return {}


@pytest.fixture
def namespace(caller: Caller, namespaces: dict[str, str]) -> str:
    """A namespace of the caller's tenant holding ConfigMap ``seed``, Deployment ``web``, Pod ``p``."""
    if caller.label in namespaces:
        return namespaces[caller.label]
    name = f"fz-{uuid.uuid4().hex[:8]}"
    session, base = caller.session, caller.base_url
    namespace_body = {"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": name}}
    for path, body in (("/api/v1/namespaces", namespace_body),
                       (CM.format(ns=name), _configmap("seed", data={"k": "v"})),
                       (DEPLOY.format(ns=name), _deployment("web", replicas=0)),
                       (POD.format(ns=name), {"apiVersion": "v1", "kind": "Pod", "metadata": {"name": "p"},
                                              "spec": {"containers": [{"name": "c", "image": "busybox"}]}})):
        answer = session.post(base + path, json=body, timeout=30)
        assert answer.status_code == 201, answer.text[:500]
    _settle(caller, name)
    namespaces[caller.label] = name
    return name


def _settle(caller: Caller, namespace: str, *, timeout: float = 20.0) -> None:
    """Wait for the controllers to finish with a new namespace (root CA ConfigMap, the
    Deployment's revision annotation): two equal snapshots half a second apart."""
    deadline = time.monotonic() + timeout
    previous = _snapshot(caller, namespace)
    while time.monotonic() < deadline:
        time.sleep(0.5)
        current = _snapshot(caller, namespace)
        if current == previous and any(row[1] == "kube-root-ca.crt" for row in current):
            return
        previous = current
    raise AssertionError(f"namespace {namespace} did not settle: {previous}")


@pytest.mark.parametrize("hostile", HOSTILE, ids=[h.name for h in HOSTILE])
def test_hostile_request_gets_a_status_and_stores_nothing(caller: Caller, namespace: str,
                                                          hostile: Hostile) -> None:
    before = _snapshot(caller, namespace)
    headers = {"Accept": JSON} | ({"Content-Type": hostile.content_type} if hostile.body is not None else {})
    response = caller.session.request(hostile.method, caller.base_url + hostile.path.format(ns=namespace),
                                      data=hostile.body, headers=headers, timeout=(10, 30))
    assert_status(response, hostile.codes)
    assert _snapshot(caller, namespace) == before


def _chunks(total: int) -> Iterator[bytes]:
    yield b'{"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": "chunked"}, "data": {"k": "'
    for _ in range(total // 65536):
        yield b"x" * 65536
    yield b'"}}'


def test_chunked_10mib_body(caller: Caller, namespace: str) -> None:
    before = _snapshot(caller, namespace)
    response = caller.session.post(caller.base_url + CM.format(ns=namespace), data=_chunks(10 * MIB),
                                   headers={"Content-Type": JSON}, timeout=(10, 30))
    assert assert_status(response, (413,))["message"] == "Request entity too large: limit is 3145728"
    assert _snapshot(caller, namespace) == before


def test_two_mib_request_line(caller: Caller, namespace: str) -> None:
    before = _snapshot(caller, namespace)
    with socket.create_connection(("127.0.0.1", caller.port), timeout=30) as raw, \
            caller.context.wrap_socket(raw, server_hostname="127.0.0.1") as tls:
        tls.sendall(f"GET /api/v1/namespaces/{namespace}/configmaps?labelSelector=".encode()
                    + b"a" * (2 * MIB) + b" HTTP/1.1\r\nHost: x\r\n\r\n")
        answer = b""
        while chunk := tls.recv(65536):
            answer += chunk
    head, _, body = answer.partition(b"\r\n\r\n")
    assert head.split()[1] == b"431", head
    status = json.loads(body)
    assert status["kind"] == "Status" and status["code"] == 431, status
    assert _snapshot(caller, namespace) == before


def test_crlf_in_an_unknown_field_is_answered_with_an_escaped_warning(caller: Caller, namespace: str) -> None:
    body = _json({**_configmap("warned", data={"k": "v"}), "evil\r\nX-Injected: 1": 1})
    response = caller.session.post(caller.base_url + CM.format(ns=namespace), data=body,
                                   headers={"Content-Type": JSON}, timeout=(10, 30))
    assert response.status_code == 201, response.text[:500]
    assert response.headers["Warning"] == '299 - "unknown field \\"evil\\\\r\\\\nX-Injected: 1\\""'
    assert "X-Injected" not in response.headers
    stored = caller.session.get(f"{caller.base_url}{CM.format(ns=namespace)}/warned", timeout=30).json()
    assert stored["data"] == {"k": "v"} and not any("evil" in key for key in stored)


def test_health_check_subpaths_are_answered(caller: Caller) -> None:
    for path in ("/healthz", "/healthz/ping", "/livez/ping", "/readyz/ping"):
        response = caller.session.get(caller.base_url + path, timeout=30)
        assert (response.status_code, response.text) == (200, "ok"), path
