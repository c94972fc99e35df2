"""Status bodies are kube-apiserver's bytes: compared byte for byte with captured upstream answers.

Covers: a 404 NotFound, a 409 AlreadyExists (core and grouped resources) and a 422 Invalid with two
causes, each compared with a fixture in fixtures/status/ — field order ``kind, apiVersion, metadata,
status, message, reason, details, code``, ``omitempty`` fields left out, a trailing newline — and the
Success Status a delete answers. Fixture sources (client tests compare this text exactly):
- not_found.json: kubernetes/kubernetes CHANGELOG-1.11.md, the release note of #62695 quoting the
  Status of ``kubectl get pods abc``;
- already_exists.json, already_exists_group.json: kubernetes-client/python
  kubernetes/e2e_test/test_utils.py (``exp_error`` of the conflict tests, trailing newline included);
- invalid.json: the Deployment ``test_deploy`` answer quoted in maclof/kubernetes-client's README,
  with the name rule's text as current upstream words it ("a lowercase RFC 1123 subdomain", the
  wording k8s.io/apimachinery's validation has used since it replaced "a DNS-1123 subdomain").
Leaves out: Go's HTML escaping and the omitempty rules in isolation (test/unit/test_status_encoding.py).
"""

from __future__ import annotations

from pathlib import Path

from component_http import Api, Reply, configmap, deployment

FIXTURES = Path(__file__).parent / "fixtures" / "status"


def _assert_fixture(reply: Reply, fixture: str, code: int) -> None:
    assert reply.status == code, reply.raw
    assert reply.headers["Content-Type"].startswith("application/json")
    assert reply.raw == (FIXTURES / fixture).read_bytes()


async def test_not_found_is_upstreams_bytes(api: Api, namespace: str) -> None:
    _assert_fixture(await api.get(f"/api/v1/namespaces/{namespace}/pods/abc"), "not_found.json", 404)


async def test_already_exists_is_upstreams_bytes(api: Api, namespace: str) -> None:
    service = {"apiVersion": "v1", "kind": "Service", "metadata": {"name": "mock-2"},
               "spec": {"ports": [{"port": 99}], "selector": {"app": "mock-2"}}}
    base = f"/api/v1/namespaces/{namespace}/services"
    await api.ok("POST", base, service)
    _assert_fixture(await api.post(base, service), "already_exists.json", 409)

    apps = f"/apis/apps/v1/namespaces/{namespace}/deployments"
    await api.ok("POST", apps, deployment("triple-nginx"))
    _assert_fixture(await api.post(apps, deployment("triple-nginx")), "already_exists_group.json", 409)


async def test_invalid_is_upstreams_bytes(api: Api, namespace: str) -> None:
    invalid = deployment("test_deploy")
    invalid["spec"]["template"]["spec"] = {}
    reply = await api.post(f"/apis/apps/v1/namespaces/{namespace}/deployments", invalid)
    _assert_fixture(reply, "invalid.json", 422)


async def test_delete_success_status_is_upstreams_shape(api: Api, namespace: str) -> None:
    created = await api.ok("POST", f"/api/v1/namespaces/{namespace}/configmaps", configmap("bye"))
    reply = await api.delete(f"/api/v1/namespaces/{namespace}/configmaps/bye")
    uid = created["metadata"]["uid"]
    # Upstream's finalizeDelete: details name, kind (the resource), uid; no code, no message.
    assert reply.raw == (b'{"kind":"Status","apiVersion":"v1","metadata":{},"status":"Success",'
                         b'"details":{"name":"bye","kind":"configmaps","uid":"' + uid.encode() + b'"}}\n')
    deployed = await api.ok("POST", f"/apis/apps/v1/namespaces/{namespace}/deployments", deployment("web"))
    grouped = await api.delete(f"/apis/apps/v1/namespaces/{namespace}/deployments/web")
    assert grouped.raw.endswith(b'"details":{"name":"web","group":"apps","kind":"deployments","uid":"'
                                + deployed["metadata"]["uid"].encode() + b'"}}\n')
