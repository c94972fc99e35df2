"""Limits on what one request may make the server decode, store or echo; each a Status, nothing kept.

Covers: YAML alias bombs ("billion laughs", 9 levels of 9) and a self-referencing anchor → 400
with go-yaml's ``document contains excessive aliasing`` inside upstream's ``the object provided
is unrecognized`` text, in a few milliseconds; a YAML document within the alias budget that
still builds a 4 MB object → 413; nesting deeper than 128 levels in JSON, YAML and merge patches
→ 400; integers beyond their int32/int64 format (``replicas: 2147483648``, ``generation: 2**70``,
an IntOrString port) → 400 with the Go decoder's text, also through a patch; YAML's non-JSON
scalars (int keys, timestamps) stored as JSON; ConfigMap and Secret data over 1 MiB and
annotations over 256 KiB → 422 with upstream's ``Too long: may not be more than N bytes``, exactly
at the limit accepted; a chunked body past 3 MiB → 413 with upstream's text; a CR/LF in an unknown
field name → 201 with the name escaped in the Warning header (and the 400 under Strict); a request
line of 40 KiB served, one of 2 MiB → 431 Status, a malformed request line → 400 Status.
Leaves out: request options (test_api_options.py) and the fuzzing of all operations (test/fuzz).
"""

from __future__ import annotations

import asyncio
import base64
import json
import time
from collections.abc import AsyncIterator
from typing import Any

import orjson
import pytest
from apiserver_process import ApiServerProcess
from component_http import Api, Reply, assert_status, configmap, deployment, pod

MIB = 1024 * 1024


def laughs(levels: int = 9, width: int = 9) -> bytes:
    """The classic bomb as a ConfigMap's annotations: 491 bytes, 9**9 strings once expanded."""
    lines = ["apiVersion: v1", "kind: ConfigMap", "metadata:", "  name: bomb", "  annotations:",
             '    a0: &a0 "lol"']
    for level in range(1, levels):
        refs = ", ".join([f"*a{level - 1}"] * width)
        lines.append(f"    a{level}: &a{level} [{refs}]")
    return ("\n".join(lines) + "\n").encode()


async def post_yaml(api: Api, path: str, raw: bytes) -> Reply:
    return await api.request("POST", path, raw=raw, headers={"Content-Type": "application/yaml"})


async def send_json(api: Api, method: str, path: str, body: Any, *,
                    content_type: str = "application/json") -> Reply:
    """Serialised with the stdlib (orjson refuses what these tests must send: 2**70, 300 levels)."""
    return await api.request(method, path, raw=json.dumps(body).encode(), content_type=content_type)


async def names(api: Api, path: str) -> list[str]:
    return sorted(item["metadata"]["name"] for item in (await api.ok("GET", path))["items"])


async def test_billion_laughs_is_refused_before_it_expands(api: Api, namespace: str) -> None:
    base = f"/api/v1/namespaces/{namespace}/configmaps"
    bomb = laughs()
    assert len(bomb) < 600
    started = time.perf_counter()
    status = assert_status(await post_yaml(api, base, bomb), 400, "BadRequest")
    assert time.perf_counter() - started < 10  # expanding it would take minutes, not a loaded second
    assert status["message"].startswith(
        "the object provided is unrecognized (must be of type ConfigMap): error converting YAML to JSON: "
        "yaml: document contains excessive aliasing ("), status
    self_ref = b"apiVersion: v1\nkind: ConfigMap\nmetadata: {name: loop}\ndata: &d {a: *d}\n"
    looped = assert_status(await post_yaml(api, base, self_ref), 400, "BadRequest")
    assert "contains itself" in looped["message"]
    assert await names(api, base) == []


async def test_aliases_within_budget_still_cannot_build_a_huge_object(api: Api, namespace: str) -> None:
    """40 references to one 100 KB string: few aliases, but a 4 MB pod → 413, nothing stored."""
    base = f"/api/v1/namespaces/{namespace}/pods"
    refs = ", ".join(["*big"] * 40)
    doc = (f"apiVersion: v1\nkind: Pod\nmetadata: {{name: wide}}\nspec:\n  containers:\n"
           f"  - name: c\n    image: i\n    env: [{{name: A, value: &big \"{'x' * 100_000}\"}}]\n"
           f"    args: [{refs}]\n").encode()
    status = assert_status(await post_yaml(api, base, doc), 413, "RequestEntityTooLarge")
    assert status["message"] == "Request entity too large: limit is 3145728"
    assert await names(api, base) == []


def nested(depth: int) -> Any:
    value: Any = "leaf"
    for _ in range(depth):
        value = {"x": value}
    return value


async def test_deep_nesting_is_refused(api: Api, namespace: str) -> None:
    base = "/apis/apiextensions.k8s.io/v1/customresourcedefinitions"
    body = {"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": "deep"}, "data": nested(300)}
    status = assert_status(await send_json(api, "POST", f"/api/v1/namespaces/{namespace}/configmaps", body),
                           400, "BadRequest")
    assert "exceeded max depth of 128" in status["message"]
    deep_yaml = b"apiVersion: v1\nkind: ConfigMap\nmetadata: {name: deep}\ndata: " + b"[" * 500 + b"]" * 500
    status = assert_status(await post_yaml(api, f"/api/v1/namespaces/{namespace}/configmaps", deep_yaml),
                           400, "BadRequest")
    assert "exceeded max depth of 128" in status["message"]
    await api.ok("POST", f"/api/v1/namespaces/{namespace}/configmaps", configmap("shallow"))
    patch = assert_status(await send_json(api, "PATCH", f"/api/v1/namespaces/{namespace}/configmaps/shallow",
                                          {"metadata": {"labels": nested(200)}},
                                          content_type="application/merge-patch+json"), 400, "BadRequest")
    assert patch["message"] == "invalid JSON patch: json: exceeded max depth of 128"
    assert await names(api, f"/api/v1/namespaces/{namespace}/configmaps") == ["shallow"]
    assert (await api.get(base)).status == 200


@pytest.mark.parametrize(("mutate", "message"), [
    (lambda d: d["spec"].update(replicas=2**31),
     "json: cannot unmarshal number 2147483648 into Go struct field DeploymentSpec.spec.replicas "
     "of type int32"),
    (lambda d: d["metadata"].update(generation=2**70),
     "json: cannot unmarshal number 1180591620717411303424 into Go struct field "
     "ObjectMeta.metadata.generation of type int64"),
    (lambda d: d["spec"]["template"]["spec"]["containers"][0].update(
        ports=[{"containerPort": 80}], livenessProbe={"tcpSocket": {"port": 2**40}}),
     "json: cannot unmarshal number 1099511627776 into Go value of type int32"),
])
async def test_integers_beyond_their_format_are_refused(api: Api, namespace: str, mutate: Any,
                                                        message: str) -> None:
    base = f"/apis/apps/v1/namespaces/{namespace}/deployments"
    body = deployment("web")
    mutate(body)
    status = assert_status(await send_json(api, "POST", base, body), 400, "BadRequest")
    assert status["message"] == f'Deployment in version "v1" cannot be handled as a Deployment: {message}'
    assert await names(api, base) == []
    await api.ok("POST", base, deployment("web"))
    patched = await api.patch(f"{base}/web", {"spec": {"replicas": 2**31}})
    assert assert_status(patched, 400, "BadRequest")["message"].endswith("of type int32")
    assert (await api.ok("GET", f"{base}/web"))["spec"]["replicas"] == 1


async def test_yaml_only_scalars_are_stored_as_json(api: Api, namespace: str) -> None:
    base = f"/api/v1/namespaces/{namespace}/configmaps"
    raw = (b"apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: scalars\n  labels: {1: two}\n"
           b"data:\n  when: 2024-01-02\n")
    created = (await post_yaml(api, base, raw)).body
    assert created["metadata"]["labels"] == {"1": "two"}
    assert created["data"] == {"when": "2024-01-02"}


async def test_configmap_and_secret_data_limits(api: Api, namespace: str) -> None:
    cms = f"/api/v1/namespaces/{namespace}/configmaps"
    await api.ok("POST", cms, configmap("at-limit", {"a": "x" * (MIB - 1), "b": "y"}))
    status = assert_status(await api.post(cms, configmap("over", {"a": "x" * MIB, "b": "y"})), 422, "Invalid")
    assert status["message"] == ('ConfigMap "over" is invalid: []: Too long: may not be more than '
                                 "1048576 bytes")
    binary = {**configmap("bin", {"a": "x" * (MIB // 2)}),
              "binaryData": {"b": base64.b64encode(b"\0" * (MIB // 2 + 1)).decode()}}
    assert_status(await api.post(cms, binary), 422, "Invalid")
    secrets = f"/api/v1/namespaces/{namespace}/secrets"
    secret = {"apiVersion": "v1", "kind": "Secret", "metadata": {"name": "s"},
              "data": {"k": base64.b64encode(b"\1" * (MIB + 1)).decode()}}
    status = assert_status(await api.post(secrets, secret), 422, "Invalid")
    assert status["message"] == 'Secret "s" is invalid: data: Too long: may not be more than 1048576 bytes'
    assert await names(api, cms) == ["at-limit"]
    assert await names(api, secrets) == []


async def test_annotations_limit(api: Api, namespace: str) -> None:
    base = f"/api/v1/namespaces/{namespace}/configmaps"
    at_limit = {"note": "x" * (256 * 1024 - len("note"))}
    await api.ok("POST", base, configmap("at-limit", annotations=at_limit))
    over = {"note": "x" * (256 * 1024)}
    status = assert_status(await api.post(base, configmap("over", annotations=over)), 422, "Invalid")
    assert status["message"] == ('ConfigMap "over" is invalid: metadata.annotations: Too long: may not be '
                                 "more than 262144 bytes")
    grown = await api.patch(f"{base}/at-limit", {"metadata": {"annotations": {"more": "y"}}})
    assert_status(grown, 422, "Invalid")
    bad_key = assert_status(await api.post(base, configmap("key", annotations={"a b": "c"})), 422, "Invalid")
    assert bad_key["details"]["causes"][0]["field"] == "metadata.annotations"
    assert await names(api, base) == ["at-limit"]


async def _chunks(total: int) -> AsyncIterator[bytes]:
    yield b'{"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": "chunked"}, "data": {"k": "'
    sent = 0
    while sent < total:
        yield b"x" * 65536
        sent += 65536
    yield b'"}}'


async def test_chunked_body_over_the_limit_is_refused(api: Api, namespace: str) -> None:
    base = f"/api/v1/namespaces/{namespace}/configmaps"
    async with api.session.post(api.base_url + base, data=_chunks(10 * MIB),
                                headers={"Content-Type": "application/json"}) as response:
        reply = Reply(response.status, response.headers, await response.read())
    status = assert_status(reply, 413, "RequestEntityTooLarge")
    assert status["message"] == "Request entity too large: limit is 3145728"
    assert await names(api, base) == []


async def test_control_characters_in_a_field_name_are_escaped_in_warnings(api: Api, namespace: str) -> None:
    base = f"/api/v1/namespaces/{namespace}/configmaps"
    body = {**configmap("crlf"), "evil\r\nX-Injected: yes": 1}
    reply = await api.post(base, body)
    assert reply.status == 201, reply.raw
    assert reply.headers.getall("Warning") == ['299 - "unknown field \\"evil\\\\r\\\\nX-Injected: yes\\""']
    assert "X-Injected" not in reply.headers
    assert "evil\r\nX-Injected: yes" not in (await api.ok("GET", f"{base}/crlf"))
    strict = await api.post(base, {**body, "metadata": {"name": "strict"}},
                            params={"fieldValidation": "Strict"})
    assert 'unknown field "evil\\r\\nX-Injected: yes"' in assert_status(strict, 400, "BadRequest")["message"]
    assert await names(api, base) == ["crlf"]


async def _raw_exchange(server: ApiServerProcess, request: bytes) -> tuple[int, bytes]:
    reader, writer = await asyncio.open_connection("127.0.0.1", server.port)
    try:
        writer.write(request)
        await writer.drain()
        data = await asyncio.wait_for(reader.read(), 20)
    finally:
        writer.close()
    head, _, body = data.partition(b"\r\n\r\n")
    return int(head.split()[1]), body


async def test_request_lines_within_limit_are_served_and_beyond_are_a_status(
        api: Api, apiserver: ApiServerProcess, namespace: str) -> None:
    base = f"/api/v1/namespaces/{namespace}/pods"
    await api.ok("POST", base, pod("p", labels={"app": "x"}))
    selector = "app notin (" + ",".join(f"v{i}" for i in range(6_000)) + ")"  # ~40 KiB
    served = await api.get(base, params={"labelSelector": selector})
    assert served.status == 200 and len(served.body["items"]) == 1
    status, body = await _raw_exchange(
        apiserver, b"GET /api/v1/pods?x=" + b"a" * (2 * MIB) + b" HTTP/1.1\r\nHost: x\r\n\r\n")
    assert status == 431
    answer = orjson.loads(body)
    assert answer["kind"] == "Status" and answer["code"] == 431, answer
    status, body = await _raw_exchange(apiserver, b"GET /api/v1/pods HTTP/9.Z\r\n\r\n")
    assert status == 400 and orjson.loads(body)["reason"] == "BadRequest"
    assert (await api.get("/readyz")).status == 200
