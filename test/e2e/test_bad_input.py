"""Bad requests over raw HTTP: each gets the right Kubernetes Status and stores nothing.

Covers, for ConfigMaps and Pods: malformed JSON and YAML (400), unknown fields with
fieldValidation=Strict (400 `strict decoding error`, as upstream answers decoding errors) and
Warn (201 with a `299` Warning header, the field dropped), wrong JSON types (400), an invalid
name (422 Invalid, cause on metadata.name), a 4 MiB body (413), an unsupported Content-Type
(415), a stale resourceVersion on update (409), a missing object (404), an unknown resource
(404), a method the path does not allow (405) and an Accept the server cannot produce (406);
`{"preconditions": "x"}` on DELETE (400, not 500) and a YAML alias bomb (400, nothing stored).
Every failure body is a `v1 Status` with status Failure, reason and code, and a list afterwards
shows the namespace unchanged. Raw HTTP (http.client) so the client library cannot mask or
pre-validate anything. Through the official python client: dry runs of create and delete store
and delete nothing, an invalid dryRun is a 422. Through stock kubectl: a ConfigMap over 1 MiB is
refused with upstream's text. Leaves out: protobuf and CBOR bodies (not served); the full set of
hostile inputs (test/component/test_api_limits.py, test_api_options.py, test/fuzz).
"""

from __future__ import annotations

import http.client
import json
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

import pytest
from apiserver_process import ApiServerProcess
from kubectl_runner import Kubectl
from kubernetes import client as k8s

pytestmark = [pytest.mark.e2e]

HTTP_TIMEOUT_S = 15.0


@dataclass
class Reply:
    status: int
    headers: http.client.HTTPMessage
    body: bytes

    def json(self) -> Any:
        try:
            return json.loads(self.body)
        except json.JSONDecodeError as e:
            raise AssertionError(f"HTTP {self.status} body is not JSON: {self.body[:500]!r}") from e


def request(
    server: ApiServerProcess,
    method: str,
    path: str,
    body: bytes | str | None = None,
    headers: Mapping[str, str] | None = None,
) -> Reply:
    """One request on a fresh connection; tolerates a server that answers before reading a huge body."""
    payload = body.encode() if isinstance(body, str) else body
    all_headers = {"Accept": "application/json", **(headers or {})}
    if payload is not None:
        all_headers.setdefault("Content-Type", "application/json")
    conn = server.http_connection(timeout=HTTP_TIMEOUT_S)  # HTTPS as system:admin on a TLS server
    try:
        try:
            conn.request(method, path, body=payload, headers=all_headers)
        except (BrokenPipeError, ConnectionResetError):
            pass  # e.g. 413: the server may reply and close before the body is sent
        response = conn.getresponse()
        return Reply(response.status, response.headers, response.read())
    finally:
        conn.close()


def cm_path(namespace: str, name: str = "") -> str:
    base = f"/api/v1/namespaces/{namespace}/configmaps"
    return f"{base}/{name}" if name else base


def assert_status(reply: Reply, code: int, reason: str) -> dict[str, Any]:
    assert reply.status == code, f"expected {code} {reason}, got {reply.status}: {reply.body[:1000]!r}"
    status = reply.json()
    assert status["kind"] == "Status" and status["apiVersion"] == "v1", status
    assert status["status"] == "Failure", status
    assert status["code"] == code, status
    assert status["reason"] == reason, status
    assert status.get("message"), status
    return dict(status)


def stored_configmaps(server: ApiServerProcess, namespace: str) -> list[str]:
    reply = request(server, "GET", cm_path(namespace))
    assert reply.status == 200, reply.body
    return sorted(item["metadata"]["name"] for item in reply.json()["items"])


def pod_manifest(name: str, **spec_extra: Any) -> dict[str, Any]:
    return {
        "apiVersion": "v1",
        "kind": "Pod",
        "metadata": {"name": name},
        "spec": {"containers": [{"name": "c", "image": "busybox"}], **spec_extra},
    }


def pods_path(namespace: str) -> str:
    return f"/api/v1/namespaces/{namespace}/pods"


def stored_pods(server: ApiServerProcess, namespace: str) -> list[str]:
    reply = request(server, "GET", pods_path(namespace))
    assert reply.status == 200, reply.body
    return sorted(item["metadata"]["name"] for item in reply.json()["items"])


def test_malformed_json_is_400(apiserver: ApiServerProcess, namespace: str) -> None:
    reply = request(
        apiserver, "POST", cm_path(namespace), '{"apiVersion": "v1", "kind": "ConfigMap", "metadata":'
    )
    assert_status(reply, 400, "BadRequest")
    assert stored_configmaps(apiserver, namespace) == []


def test_malformed_yaml_is_400(apiserver: ApiServerProcess, namespace: str) -> None:
    body = "apiVersion: v1\nkind: ConfigMap\nmetadata: {name: [unclosed\n"
    reply = request(apiserver, "POST", cm_path(namespace), body, {"Content-Type": "application/yaml"})
    assert_status(reply, 400, "BadRequest")
    assert stored_configmaps(apiserver, namespace) == []


def test_yaml_body_is_accepted(apiserver: ApiServerProcess, namespace: str) -> None:
    body = "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: from-yaml\ndata:\n  k: v\n"
    reply = request(apiserver, "POST", cm_path(namespace), body, {"Content-Type": "application/yaml"})
    assert reply.status == 201, reply.body
    assert stored_configmaps(apiserver, namespace) == ["from-yaml"]


def test_unknown_field_strict_is_400(apiserver: ApiServerProcess, namespace: str) -> None:
    body = json.dumps(pod_manifest("strict", foo="bar"))
    reply = request(apiserver, "POST", pods_path(namespace) + "?fieldValidation=Strict", body)
    status = assert_status(reply, 400, "BadRequest")
    assert 'strict decoding error: unknown field "spec.foo"' in status["message"], status
    assert stored_pods(apiserver, namespace) == []


def test_unknown_field_warn_creates_with_warning(apiserver: ApiServerProcess, namespace: str) -> None:
    body = json.dumps(pod_manifest("warned", foo="bar"))
    reply = request(apiserver, "POST", pods_path(namespace) + "?fieldValidation=Warn", body)
    assert reply.status == 201, reply.body
    warnings = reply.headers.get_all("Warning") or []
    assert '299 - "unknown field \\"spec.foo\\""' in warnings, warnings
    assert "foo" not in reply.json()["spec"], "unknown fields are dropped, not stored"
    assert stored_pods(apiserver, namespace) == ["warned"]


def test_wrong_types_are_400(apiserver: ApiServerProcess, namespace: str) -> None:
    wrong_data = {"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": "typed"}, "data": {"k": 5}}
    assert_status(request(apiserver, "POST", cm_path(namespace), json.dumps(wrong_data)), 400, "BadRequest")
    wrong_list = pod_manifest("typed")
    wrong_list["spec"]["containers"] = "busybox"
    assert_status(request(apiserver, "POST", pods_path(namespace), json.dumps(wrong_list)), 400, "BadRequest")
    assert stored_configmaps(apiserver, namespace) == []
    assert stored_pods(apiserver, namespace) == []


def test_invalid_name_is_422_with_cause(apiserver: ApiServerProcess, namespace: str) -> None:
    body = json.dumps({"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": "Bad_Name"}})
    status = assert_status(request(apiserver, "POST", cm_path(namespace), body), 422, "Invalid")
    assert status["details"]["kind"] == "ConfigMap" and status["details"]["name"] == "Bad_Name", status
    causes = status["details"]["causes"]
    assert any(c["field"] == "metadata.name" and c["reason"] == "FieldValueInvalid" for c in causes), causes
    assert "RFC 1123" in status["message"], status
    assert stored_configmaps(apiserver, namespace) == []


def test_body_over_3mib_is_413(apiserver: ApiServerProcess, namespace: str) -> None:
    big = {
        "apiVersion": "v1",
        "kind": "ConfigMap",
        "metadata": {"name": "huge"},
        "data": {"k": "x" * (4 << 20)},
    }
    assert_status(
        request(apiserver, "POST", cm_path(namespace), json.dumps(big)), 413, "RequestEntityTooLarge"
    )
    assert stored_configmaps(apiserver, namespace) == []


def test_unsupported_content_type_is_415(apiserver: ApiServerProcess, namespace: str) -> None:
    body = json.dumps({"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": "plain"}})
    reply = request(apiserver, "POST", cm_path(namespace), body, {"Content-Type": "text/plain"})
    assert_status(reply, 415, "UnsupportedMediaType")
    assert stored_configmaps(apiserver, namespace) == []


def test_stale_resource_version_is_409(apiserver: ApiServerProcess, namespace: str) -> None:
    body = {"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": "raced"}, "data": {"k": "0"}}
    created = request(apiserver, "POST", cm_path(namespace), json.dumps(body)).json()
    first = dict(created, data={"k": "1"})
    assert request(apiserver, "PUT", cm_path(namespace, "raced"), json.dumps(first)).status == 200
    second = dict(created, data={"k": "2"})  # the resourceVersion the first update replaced
    status = assert_status(
        request(apiserver, "PUT", cm_path(namespace, "raced"), json.dumps(second)), 409, "Conflict"
    )
    assert "the object has been modified" in status["message"], status
    stored = request(apiserver, "GET", cm_path(namespace, "raced")).json()
    assert stored["data"] == {"k": "1"}


def test_missing_object_is_404(apiserver: ApiServerProcess, namespace: str) -> None:
    status = assert_status(request(apiserver, "GET", cm_path(namespace, "nothing-here")), 404, "NotFound")
    assert status["details"]["name"] == "nothing-here" and status["details"]["kind"] == "configmaps", status
    assert status["message"] == 'configmaps "nothing-here" not found'


def test_unknown_resource_is_404(apiserver: ApiServerProcess, namespace: str) -> None:
    assert_status(request(apiserver, "GET", f"/api/v1/namespaces/{namespace}/frobnicators"), 404, "NotFound")
    assert_status(request(apiserver, "GET", "/apis/nosuch.example.com/v1/things"), 404, "NotFound")


def test_method_not_allowed_is_405(apiserver: ApiServerProcess, namespace: str) -> None:
    body = json.dumps({"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": "put-on-list"}})
    assert_status(request(apiserver, "PUT", cm_path(namespace), body), 405, "MethodNotAllowed")
    assert stored_configmaps(apiserver, namespace) == []


def test_unservable_accept_is_406(apiserver: ApiServerProcess, namespace: str) -> None:
    reply = request(apiserver, "GET", cm_path(namespace), headers={"Accept": "application/xml"})
    assert reply.status == 406, reply.body
    status = json.loads(reply.body)  # upstream still writes the Status as JSON
    assert status["kind"] == "Status" and status["reason"] == "NotAcceptable" and status["code"] == 406


def test_malformed_delete_options_are_400(apiserver: ApiServerProcess, namespace: str) -> None:
    body = {"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": "keep"}}
    assert request(apiserver, "POST", cm_path(namespace), json.dumps(body)).status == 201
    status = assert_status(
        request(apiserver, "DELETE", cm_path(namespace, "keep"), '{"preconditions": "x"}'), 400, "BadRequest"
    )
    assert "cannot unmarshal string" in status["message"], status
    assert stored_configmaps(apiserver, namespace) == ["keep"]


def test_yaml_alias_bomb_is_400(apiserver: ApiServerProcess, namespace: str) -> None:
    lines = ["apiVersion: v1", "kind: ConfigMap", "metadata:", "  name: bomb", "  annotations:",
             '    a: &a "lol"']
    previous = "a"
    for level in "bcdefghi":
        lines.append(f"    {level}: &{level} [{', '.join([f'*{previous}'] * 9)}]")
        previous = level
    reply = request(apiserver, "POST", cm_path(namespace), "\n".join(lines),
                    {"Content-Type": "application/yaml"})
    assert "excessive aliasing" in assert_status(reply, 400, "BadRequest")["message"]
    assert stored_configmaps(apiserver, namespace) == []


def test_python_client_dry_runs_store_nothing(core_v1: k8s.CoreV1Api, apiserver: ApiServerProcess,
                                              namespace: str) -> None:
    def cm(name: str) -> k8s.V1ConfigMap:
        return k8s.V1ConfigMap(metadata=k8s.V1ObjectMeta(name=name), data={"k": "v"})

    dry = core_v1.create_namespaced_config_map(namespace, cm("dry"), dry_run="All")
    assert dry.metadata.uid, "a dry run answers the object as it would be stored"
    core_v1.create_namespaced_config_map(namespace, cm("real"))
    core_v1.delete_namespaced_config_map("real", namespace, dry_run="All")
    assert stored_configmaps(apiserver, namespace) == ["real"]
    with pytest.raises(k8s.ApiException) as refused:
        core_v1.delete_namespaced_config_map("real", namespace, dry_run="Bogus")
    assert refused.value.status == 422
    assert json.loads(refused.value.body)["message"] == (
        'DeleteOptions.meta.k8s.io "" is invalid: dryRun: Unsupported value: ["Bogus"]: '
        'supported values: "All"'
    )
    assert stored_configmaps(apiserver, namespace) == ["real"]


def test_kubectl_create_of_an_oversize_configmap_is_refused(kubectl: Kubectl, apiserver: ApiServerProcess,
                                                            namespace: str, tmp_path: Any) -> None:
    big = tmp_path / "big.txt"
    big.write_text("x" * (1024 * 1024 + 1))
    result = kubectl.run("create", "configmap", "big", "-n", namespace, f"--from-file={big}", check=False)
    assert result.returncode != 0
    assert "Too long: may not be more than 1048576 bytes" in result.stderr, result.stderr
    assert stored_configmaps(apiserver, namespace) == []
