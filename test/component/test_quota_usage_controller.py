"""The ResourceQuota controller against a real API server, the test playing kubelet.

Covers: ``status.hard`` mirrors ``spec.hard``; ``status.used`` counts pods, configmaps, services
(with load balancers and node ports) and ``count/deployments.apps``, sums pod requests/limits
(``cpu`` = ``requests.cpu``); usage goes down when a pod finishes (replenishment) or an object is
deleted; a quota in another tenant's same-named namespace counts only its own objects.
Leaves out: refusing creates over the limit (the API server's admission, calling `apis.quota`).
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Any

import pytest
from apiserver_process import ApiServerProcess
from playing_kubelet import PODS, eventually, new_tenant_namespace, running, set_pod_status

from client.config import config_for_url
from client.resources import CONFIGMAPS, ResourceRef
from client.rest import ApiClient
from controllers.endpoint_pods import SERVICES
from controllers.resourcequota import RESOURCE_QUOTAS, ResourceQuotaController

DEPLOYMENTS = ResourceRef("apps", "v1", "deployments", "Deployment")
HARD = {
    "pods": "10",
    "requests.cpu": "4",
    "cpu": "4",
    "limits.memory": "8Gi",
    "configmaps": "5",
    "services": "3",
    "services.loadbalancers": "1",
    "services.nodeports": "4",
    "count/deployments.apps": "2",
}


@pytest.fixture
async def client(apiserver: ApiServerProcess) -> AsyncIterator[ApiClient]:
    async with ApiClient(config_for_url(apiserver.url)) as api_client:
        yield api_client


def pod_body(name: str, cpu: str, memory: str) -> dict[str, Any]:
    return {
        "apiVersion": "v1",
        "kind": "Pod",
        "metadata": {"name": name},
        "spec": {
            "containers": [
                {
                    "name": "c",
                    "image": "nginx",
                    "resources": {"requests": {"cpu": cpu}, "limits": {"memory": memory}},
                }
            ]
        },
    }


async def used_equals(client: ApiClient, tenant: str, ns: str, want: dict[str, str]) -> dict[str, Any] | None:
    quota = await client.get(RESOURCE_QUOTAS, "compute", tenant=tenant, namespace=ns)
    status = quota.get("status") or {}
    return status if status.get("used") == want else None


async def test_quota_usage_is_counted_and_replenished(client: ApiClient) -> None:
    tenant, ns = await new_tenant_namespace(client, "rq")
    other, _ = await new_tenant_namespace(client, "rq")
    quota = {
        "apiVersion": "v1",
        "kind": "ResourceQuota",
        "metadata": {"name": "compute"},
        "spec": {"hard": HARD},
    }
    async with running(client, ResourceQuotaController):
        await client.create(RESOURCE_QUOTAS, quota, tenant=tenant, namespace=ns)
        await client.create(RESOURCE_QUOTAS, quota, tenant=other, namespace=ns)
        zero = {name: "0" for name in HARD}
        status = await eventually(lambda: used_equals(client, tenant, ns, zero), "zero usage")
        assert status["hard"] == HARD

        first = await client.create(PODS, pod_body("a", "500m", "1Gi"), tenant=tenant, namespace=ns)
        await client.create(PODS, pod_body("b", "1", "512Mi"), tenant=tenant, namespace=ns)
        await client.create(PODS, pod_body("elsewhere", "3", "1Gi"), tenant=other, namespace=ns)
        await client.create(
            CONFIGMAPS, {"metadata": {"name": "cfg"}, "data": {}}, tenant=tenant, namespace=ns
        )
        await client.create(
            SERVICES,
            {
                "metadata": {"name": "lb"},
                "spec": {
                    "type": "LoadBalancer",
                    "ports": [{"name": "h", "port": 80}, {"name": "s", "port": 443}],
                },
            },
            tenant=tenant,
            namespace=ns,
        )
        await client.create(
            DEPLOYMENTS,
            {
                "metadata": {"name": "d"},
                "spec": {
                    "selector": {"matchLabels": {"a": "b"}},
                    "template": {
                        "metadata": {"labels": {"a": "b"}},
                        "spec": {"containers": [{"name": "c", "image": "nginx"}]},
                    },
                },
            },
            tenant=tenant,
            namespace=ns,
        )
        busy = {
            **zero,
            "pods": "2",
            "requests.cpu": "1500m",
            "cpu": "1500m",
            "limits.memory": "1536Mi",
            "configmaps": "1",
            "services": "1",
            "services.loadbalancers": "1",
            "services.nodeports": "2",
            "count/deployments.apps": "1",
        }
        await eventually(lambda: used_equals(client, tenant, ns, busy), "usage counted")

        await set_pod_status(client, first, phase="Succeeded")
        await client.delete(CONFIGMAPS, "cfg", tenant=tenant, namespace=ns)
        replenished = {
            **busy,
            "pods": "1",
            "requests.cpu": "1",
            "cpu": "1",
            "limits.memory": "512Mi",
            "configmaps": "0",
        }
        await eventually(lambda: used_equals(client, tenant, ns, replenished), "usage replenished")
        elsewhere = await client.get(RESOURCE_QUOTAS, "compute", tenant=other, namespace=ns)
        assert elsewhere["status"]["used"]["pods"] == "1"
        assert elsewhere["status"]["used"]["requests.cpu"] == "3"
