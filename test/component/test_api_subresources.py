"""The action and view subresources: ``scale``, ``binding`` and ``eviction``, over raw HTTP.

Covers: deployments/scale GET (autoscaling/v1 Scale with the selector as a string), PUT and merge
PATCH writing spec.replicas (and bumping generation), a scale PUT with a stale resourceVersion
(409); pods/binding (201, spec.nodeName and the PodScheduled condition; a second binding 409);
pods/eviction (201 and the pod gone; 429 while a matching PodDisruptionBudget's
status.disruptionsAllowed, set through its ``/status``, is 0); bodies of the wrong shape for
each (found while fuzzing by hand: they used to answer 500) refused with upstream's decoder text, the
pod and deployment unchanged; an eviction's DeleteOptions checked as a delete's.
Leaves out: scale of other workloads, the /status subresource (test_api_status_split.py),
computing PDB status (the disruption controller, a later issue).
"""

from __future__ import annotations

from typing import Any

import pytest
from component_http import Api, assert_status, deployment, pod


async def test_scale_get_put_patch(api: Api, namespace: str) -> None:
    base = f"/apis/apps/v1/namespaces/{namespace}/deployments"
    await api.ok("POST", base, deployment("web", replicas=2))
    scale = await api.ok("GET", f"{base}/web/scale")
    assert scale["kind"] == "Scale" and scale["apiVersion"] == "autoscaling/v1"
    assert scale["metadata"]["name"] == "web" and scale["metadata"]["namespace"] == namespace
    assert scale["spec"] == {"replicas": 2}
    assert scale["status"]["selector"] == "app=web"

    scale["spec"]["replicas"] = 4
    written = await api.ok("PUT", f"{base}/web/scale", scale)
    assert written["spec"]["replicas"] == 4
    stored = await api.ok("GET", f"{base}/web")
    assert stored["spec"]["replicas"] == 4 and stored["metadata"]["generation"] == 2

    patched = await api.ok("PATCH", f"{base}/web/scale", {"spec": {"replicas": 1}},
                           content_type="application/merge-patch+json")
    assert patched["spec"]["replicas"] == 1
    assert (await api.ok("GET", f"{base}/web"))["spec"]["replicas"] == 1

    status = assert_status(await api.put(f"{base}/web/scale", scale), 409, "Conflict")
    assert "the object has been modified" in status["message"]


async def test_binding_assigns_a_node_once(api: Api, namespace: str) -> None:
    base = f"/api/v1/namespaces/{namespace}/pods"
    await api.ok("POST", base, pod("b"))
    binding = {"apiVersion": "v1", "kind": "Binding", "metadata": {"name": "b"},
               "target": {"apiVersion": "v1", "kind": "Node", "name": "node-1"}}
    reply = await api.post(f"{base}/b/binding", binding)
    assert reply.status == 201, reply.raw
    assert reply.body["status"] == "Success"
    bound = await api.ok("GET", f"{base}/b")
    assert bound["spec"]["nodeName"] == "node-1"
    assert any(c["type"] == "PodScheduled" and c["status"] == "True"
               for c in bound["status"]["conditions"])

    binding["target"]["name"] = "node-2"
    status = assert_status(await api.post(f"{base}/b/binding", binding), 409, "Conflict")
    assert status["message"] == 'pod b is already assigned to node "node-1"'
    assert (await api.ok("GET", f"{base}/b"))["spec"]["nodeName"] == "node-1"


def _eviction(name: str) -> dict:
    return {"apiVersion": "policy/v1", "kind": "Eviction", "metadata": {"name": name}}


async def test_eviction_deletes_the_pod(api: Api, namespace: str) -> None:
    base = f"/api/v1/namespaces/{namespace}/pods"
    await api.ok("POST", base, pod("e"))
    reply = await api.post(f"{base}/e/eviction", _eviction("e"))
    assert reply.status == 201, reply.raw
    assert_status(await api.get(f"{base}/e"), 404, "NotFound")


async def test_eviction_respects_the_disruption_budget(api: Api, namespace: str) -> None:
    base = f"/api/v1/namespaces/{namespace}/pods"
    budgets = f"/apis/policy/v1/namespaces/{namespace}/poddisruptionbudgets"
    await api.ok("POST", base, pod("guarded", labels={"app": "guarded"}))
    await api.ok("POST", budgets, {"apiVersion": "policy/v1", "kind": "PodDisruptionBudget",
                                   "metadata": {"name": "pdb"},
                                   "spec": {"minAvailable": 1,
                                            "selector": {"matchLabels": {"app": "guarded"}}}})
    pdb_status = {"disruptionsAllowed": 0, "currentHealthy": 1, "desiredHealthy": 1, "expectedPods": 1}
    await api.ok("PATCH", f"{budgets}/pdb/status", {"status": pdb_status},
                 content_type="application/merge-patch+json")

    status = assert_status(await api.post(f"{base}/guarded/eviction", _eviction("guarded")),
                           429, "TooManyRequests")
    assert status["message"] == "Cannot evict pod as it would violate the pod's disruption budget."
    await api.ok("GET", f"{base}/guarded")

    await api.ok("PATCH", f"{budgets}/pdb/status", {"status": {"disruptionsAllowed": 1}},
                 content_type="application/merge-patch+json")
    reply = await api.post(f"{base}/guarded/eviction", _eviction("guarded"))
    assert reply.status == 201, reply.raw
    assert_status(await api.get(f"{base}/guarded"), 404, "NotFound")


@pytest.mark.parametrize(("sub", "method", "body", "message"), [
    ("pods/p/binding", "POST", {"target": 5},
     'Binding in version "v1" cannot be handled as a Binding: json: cannot unmarshal number into Go struct '
     "field Binding.target of type v1.ObjectReference"),
    ("pods/p/binding", "POST", ["node"],
     'Binding in version "v1" cannot be handled as a Binding: json: cannot unmarshal array into Go value '
     "of type v1.Binding"),
    ("pods/p/eviction", "POST", {"deleteOptions": "x"},
     'Eviction in version "v1" cannot be handled as a Eviction'),
    ("pods/p/eviction", "POST", {"deleteOptions": {"gracePeriodSeconds": "soon"}},
     "Go struct field DeleteOptions.deleteOptions.gracePeriodSeconds of type int64"),
    ("pods/p/action", "POST", {"kind": "CustomAction", "operation": 5},
     'CustomAction in version "v1" cannot be handled as a CustomAction'),
])
async def test_malformed_subresource_bodies_are_bad_requests(api: Api, namespace: str, sub: str, method: str,
                                                             body: Any, message: str) -> None:
    base = f"/api/v1/namespaces/{namespace}"
    created = await api.ok("POST", f"{base}/pods", pod("p"))
    reply = await api.request(method, f"{base}/{sub}", body)
    assert message in assert_status(reply, 400, "BadRequest")["message"]
    stored = await api.ok("GET", f"{base}/pods/p")
    assert stored["metadata"]["resourceVersion"] == created["metadata"]["resourceVersion"]


async def test_eviction_delete_options_are_validated(api: Api, namespace: str) -> None:
    base = f"/api/v1/namespaces/{namespace}/pods"
    await api.ok("POST", base, pod("p"))
    eviction = {"apiVersion": "policy/v1", "kind": "Eviction", "metadata": {"name": "p"},
                "deleteOptions": {"dryRun": ["Nope"]}}
    status = assert_status(await api.post(f"{base}/p/eviction", eviction), 422, "Invalid")
    assert status["message"].startswith('DeleteOptions.meta.k8s.io "" is invalid: dryRun: Unsupported value')
    eviction["deleteOptions"] = {"dryRun": ["All"]}
    assert (await api.post(f"{base}/p/eviction", eviction)).status == 201
    await api.ok("GET", f"{base}/p")  # a dry-run eviction deletes nothing


@pytest.mark.parametrize(("method", "body", "kind"), [
    ("PUT", {"spec": 5}, "application/json"),
    ("PATCH", {"spec": 5}, "application/merge-patch+json"),
    ("PATCH", {"spec": {"replicas": "many"}}, "application/merge-patch+json"),
])
async def test_malformed_scale_bodies_are_bad_requests(api: Api, namespace: str, method: str, body: Any,
                                                       kind: str) -> None:
    base = f"/apis/apps/v1/namespaces/{namespace}/deployments"
    await api.ok("POST", base, deployment("web", replicas=2))
    status = assert_status(await api.request(method, f"{base}/web/scale", body, content_type=kind),
                           400, "BadRequest")
    assert status["message"].startswith(
        'Scale in version "v1" cannot be handled as a Scale: json: cannot unmarshal'), status
    assert (await api.ok("GET", f"{base}/web"))["spec"]["replicas"] == 2
