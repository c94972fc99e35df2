"""The spec/status split of resources with a ``status`` subresource, as upstream's strategies.

Covers: PUT and PATCH of the main resource keep the stored status; PUT and PATCH of ``/status``
keep the stored spec and labels; ``metadata.generation`` increases on spec changes
only (not on status, label or no-op writes). Uses deployments (generation, status) and pods.
Leaves out: the scale subresource (test_api_subresources.py) and status of resources without a
status subresource (status is then ordinary data).
"""

from __future__ import annotations

from component_http import Api, deployment


async def _created(api: Api, namespace: str) -> tuple[str, dict]:
    path = f"/apis/apps/v1/namespaces/{namespace}/deployments/web"
    await api.ok("POST", f"/apis/apps/v1/namespaces/{namespace}/deployments", deployment("web"))
    await api.ok("PATCH", path + "/status", {"status": {"replicas": 1, "observedGeneration": 1}},
                 content_type="application/merge-patch+json")
    return path, await api.ok("GET", path)


async def test_create_drops_status_the_client_sent(api: Api, namespace: str) -> None:
    body = deployment("web")
    body["status"] = {"replicas": 7}
    created = await api.ok("POST", f"/apis/apps/v1/namespaces/{namespace}/deployments", body)
    assert created.get("status", {}).get("replicas") in (None, 0)


async def test_main_resource_writes_cannot_change_status(api: Api, namespace: str) -> None:
    path, current = await _created(api, namespace)
    assert current["status"]["replicas"] == 1
    current["status"]["replicas"] = 42
    current["spec"]["replicas"] = 3
    updated = await api.ok("PUT", path, current)
    assert updated["spec"]["replicas"] == 3
    assert updated["status"]["replicas"] == 1

    patched = await api.ok("PATCH", path, {"status": {"replicas": 99}},
                           content_type="application/merge-patch+json")
    assert patched["status"]["replicas"] == 1
    assert (await api.ok("GET", path))["status"]["replicas"] == 1


async def test_status_writes_cannot_change_spec_or_labels(api: Api, namespace: str) -> None:
    path, current = await _created(api, namespace)
    current["spec"]["replicas"] = 5
    current["metadata"]["labels"] = {"changed": "yes"}
    current["status"]["replicas"] = 4
    updated = await api.ok("PUT", path + "/status", current)
    assert updated["status"]["replicas"] == 4
    assert updated["spec"]["replicas"] == 1
    assert updated["metadata"]["labels"] == {"app": "web"}

    patched = await api.ok("PATCH", path + "/status",
                           {"spec": {"replicas": 9}, "metadata": {"labels": {"x": "y"}},
                            "status": {"readyReplicas": 2}},
                           content_type="application/merge-patch+json")
    assert patched["spec"]["replicas"] == 1
    assert patched["metadata"]["labels"] == {"app": "web"}
    assert patched["status"]["readyReplicas"] == 2
    stored = await api.ok("GET", path)
    assert stored["spec"]["replicas"] == 1 and stored["status"]["readyReplicas"] == 2


async def test_generation_bumps_on_spec_changes_only(api: Api, namespace: str) -> None:
    path, current = await _created(api, namespace)
    assert current["metadata"]["generation"] == 1
    after_status = await api.ok("PATCH", path + "/status", {"status": {"replicas": 3}},
                                content_type="application/merge-patch+json")
    assert after_status["metadata"]["generation"] == 1
    after_label = await api.ok("PATCH", path, {"metadata": {"labels": {"tier": "front"}}},
                               content_type="application/merge-patch+json")
    assert after_label["metadata"]["generation"] == 1
    after_spec = await api.ok("PATCH", path, {"spec": {"replicas": 2}},
                              content_type="application/merge-patch+json")
    assert after_spec["metadata"]["generation"] == 2
    no_op = await api.ok("PATCH", path, {"spec": {"replicas": 2}},
                         content_type="application/merge-patch+json")
    assert no_op["metadata"]["generation"] == 2
    assert no_op["metadata"]["resourceVersion"] == after_spec["metadata"]["resourceVersion"]


async def test_pod_status_is_written_only_through_status(api: Api, namespace: str) -> None:
    base = f"/api/v1/namespaces/{namespace}/pods"
    await api.ok("POST", base, {"apiVersion": "v1", "kind": "Pod", "metadata": {"name": "p"},
                                "spec": {"containers": [{"name": "c", "image": "busybox"}]}})
    ignored = await api.ok("PATCH", f"{base}/p", {"status": {"phase": "Running"}},
                           content_type="application/merge-patch+json")
    assert ignored["status"]["phase"] == "Pending"
    written = await api.ok("PATCH", f"{base}/p/status", {"status": {"phase": "Running"}},
                           content_type="application/merge-patch+json")
    assert written["status"]["phase"] == "Running"
