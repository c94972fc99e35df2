"""ResourceQuota admission at create time, through a real server over raw HTTP.

Covers: object counts (pods) refused once the quota is used up, with upstream's Status text; pod
compute quotas (requests.cpu) refusing an over-large pod and a pod that states no request; a
refused create stores nothing; quotas of another namespace do not apply; absurd quantities
(``1e999999999``) are capped at 2^63-1 instead of expanded (found while fuzzing by hand: the refusal
message used to fail with a 500). Leaves out the
resourcequota controller's status.used (test_quota_*), scopes, and racing creates.
"""

from __future__ import annotations

from typing import Any

from component_http import Api, assert_status, pod


def quota(name: str, hard: dict[str, str]) -> dict[str, Any]:
    return {"apiVersion": "v1", "kind": "ResourceQuota", "metadata": {"name": name},
            "spec": {"hard": hard}}


def pod_with_cpu(name: str, cpu: str) -> dict[str, Any]:
    body = pod(name)
    body["spec"]["containers"][0]["resources"] = {"requests": {"cpu": cpu}, "limits": {"cpu": cpu}}
    return body


async def test_pod_count_quota_refuses_the_pod_over_the_limit(api: Api, namespace: str) -> None:
    await api.ok("POST", f"/api/v1/namespaces/{namespace}/resourcequotas", quota("pods", {"pods": "2"}))
    for name in ("a", "b"):
        await api.ok("POST", f"/api/v1/namespaces/{namespace}/pods", pod(name))
    status = assert_status(await api.post(f"/api/v1/namespaces/{namespace}/pods", pod("c")), 403, "Forbidden")
    assert status["message"] == ('pods "c" is forbidden: exceeded quota: pods, requested: pods=1, '
                                 "used: pods=2, limited: pods=2")
    listed = await api.ok("GET", f"/api/v1/namespaces/{namespace}/pods")
    names = [p["metadata"]["name"] for p in listed["items"]]
    assert names == ["a", "b"]


async def test_cpu_quota_counts_requests_and_requires_them(api: Api, namespace: str) -> None:
    await api.ok("POST", f"/api/v1/namespaces/{namespace}/resourcequotas",
                 quota("compute", {"requests.cpu": "1", "limits.cpu": "1"}))
    await api.ok("POST", f"/api/v1/namespaces/{namespace}/pods", pod_with_cpu("small", "600m"))
    too_big = assert_status(await api.post(f"/api/v1/namespaces/{namespace}/pods",
                                           pod_with_cpu("big", "500m")), 403, "Forbidden")
    assert "exceeded quota: compute" in too_big["message"]
    assert "requested: limits.cpu=500m,requests.cpu=500m" in too_big["message"]
    bare = assert_status(await api.post(f"/api/v1/namespaces/{namespace}/pods", pod("bare")),
                         403, "Forbidden")
    assert bare["message"] == ('pods "bare" is forbidden: failed quota: compute: must specify '
                              "limits.cpu,requests.cpu")


async def test_a_quota_binds_only_its_own_namespace(api: Api, namespace: str) -> None:
    await api.ok("POST", f"/api/v1/namespaces/{namespace}/resourcequotas", quota("none", {"configmaps": "0"}))
    refused = await api.post(f"/api/v1/namespaces/{namespace}/configmaps",
                             {"metadata": {"name": "x"}, "data": {}})
    assert_status(refused, 403, "Forbidden")
    await api.ok("POST", "/api/v1/namespaces/default/configmaps", {"metadata": {"name": f"free-{namespace}"}})


async def test_absurd_quantities_are_capped_not_expanded(api: Api, namespace: str) -> None:
    base = f"/api/v1/namespaces/{namespace}"
    await api.ok("POST", f"{base}/resourcequotas",
                 quota("compute", {"requests.cpu": "2", "limits.memory": "1Gi"}))
    huge = pod("huge")
    huge["spec"]["containers"][0]["resources"] = {"requests": {"cpu": "1e999999999"},
                                                  "limits": {"memory": "1e1000"}}
    status = assert_status(await api.post(f"{base}/pods", huge), 403, "Forbidden")
    capped = "requested: limits.memory=9223372036854775807,requests.cpu=9223372036854775807"
    assert capped in status["message"], status
    assert (await api.ok("GET", f"{base}/pods"))["items"] == []
