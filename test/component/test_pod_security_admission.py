"""PodSecurity admission against a real TLS server with users of tenants acme, globex and system.

Covers: a tenant's namespaces enforce baseline by default — hostPath, privileged, hostPID,
hostNetwork and hostPort pods refused with upstream's exact texts, a baseline-clean pod and a VM
pod admitted, dry runs refused alike; tenant system's namespaces are privileged; namespace labels:
bad values (422), enforce=privileged below the tenant floor (403, for the tenant admin and the
system admin alike), a tightened level warning about existing pods, warn labels (Warning header),
audit labels (audit log annotations); workload templates only warned about; pod updates that
change an image re-evaluated, others not; the tenant floor label: only a system identity may set
it, bad values refused, ``privileged`` granting a tenant privileged namespaces, the grant's removal
binding pods to baseline again whatever the namespace says, and ``restricted`` tightening a tenant.
Leaves out: each check's details (unit tests in test/unit/test_pod_security_*.py), stock kubectl
(test/e2e/test_tenancy_pod_security.py) and the kubelet's enforcement of securityContext.
"""

from __future__ import annotations

import json
from collections.abc import AsyncIterator, Iterator
from typing import Any

import pytest
from component_http import Api, Reply, assert_status
from token_cluster import TokenServer, logged_in, make_tenant, serve

USERS = {
    "root": ("root", "system:masters", "system"),
    "acme": ("admin", "", "acme"),
    "globex": ("admin", "", "globex"),
}
FLOOR = "pod-security.arktos.futurewei.com/enforce-floor"
ENFORCE = "pod-security.kubernetes.io/enforce"


@pytest.fixture(scope="module")
def token_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[TokenServer]:
    yield from serve(tmp_path_factory, USERS, "podsec")


@pytest.fixture
async def users(token_server: TokenServer) -> AsyncIterator[dict[str, Api]]:
    async with logged_in(token_server, USERS) as apis:
        await make_tenant(apis["root"], "acme", "default", "dev", "grant")
        await make_tenant(apis["root"], "globex", "default")
        yield apis


def pod(name: str, *, spec: dict[str, Any] | None = None, **container: Any) -> dict[str, Any]:
    body = {"containers": [{"name": "c", "image": "busybox:1.36", **container}], **(spec or {})}
    return {"apiVersion": "v1", "kind": "Pod", "metadata": {"name": name}, "spec": body}


def forbidden_message(reply: Reply) -> str:
    return str(assert_status(reply, 403, "Forbidden")["message"])


def warnings_of(reply: Reply) -> list[str]:
    """The Warning header values, unquoted (``299 - "text"``)."""
    return [json.loads(v.split(" - ", 1)[1]) for v in reply.headers.getall("Warning", [])]


PODS = "/api/v1/namespaces/dev/pods"
HOSTILE = {
    "root": (
        pod(
            "root",
            volumeMounts=[{"name": "root", "mountPath": "/host"}],
            spec={"volumes": [{"name": "root", "hostPath": {"path": "/"}}]},
        ),
        'hostPath volumes (volume "root")',
    ),
    "priv": (
        pod("priv", securityContext={"privileged": True}),
        'privileged (container "c" must not set securityContext.privileged=true)',
    ),
    "pid": (pod("pid", spec={"hostPID": True}), "host namespaces (hostPID=true)"),
    "net": (pod("net", spec={"hostNetwork": True}), "host namespaces (hostNetwork=true)"),
    "port": (
        pod("port", ports=[{"containerPort": 80, "hostPort": 80}]),
        'hostPort (container "c" uses hostPort 80)',
    ),
}


@pytest.mark.parametrize("name", sorted(HOSTILE))
async def test_tenant_pods_reaching_the_host_are_refused(users: dict[str, Api], name: str) -> None:
    body, detail = HOSTILE[name]
    for params in ({}, {"dryRun": "All"}):
        message = forbidden_message(await users["acme"].post(PODS, body, params=params))
        assert message == f'pods "{name}" is forbidden: violates PodSecurity "baseline:latest": {detail}'
    assert_status(await users["acme"].get(f"{PODS}/{name}"), 404, "NotFound")


async def test_all_violations_are_named_in_upstream_order(users: dict[str, Api]) -> None:
    body = pod(
        "c",
        securityContext={"privileged": True},
        spec={"hostNetwork": True, "volumes": [{"name": "root", "hostPath": {"path": "/"}}]},
    )
    message = forbidden_message(await users["root"].post("/api/v1/tenants/acme/namespaces/dev/pods", body))
    assert message == (
        'pods "c" is forbidden: violates PodSecurity "baseline:latest": host namespaces '
        '(hostNetwork=true), hostPath volumes (volume "root"), privileged (container "c" must '
        "not set securityContext.privileged=true)"
    )


async def test_clean_and_vm_pods_are_admitted_in_a_tenant(users: dict[str, Api]) -> None:
    reply = await users["acme"].post(PODS, pod("clean", securityContext={"runAsUser": 1000}))
    assert reply.status == 201, reply.raw
    assert warnings_of(reply) == []
    vm = {
        "apiVersion": "v1",
        "kind": "Pod",
        "metadata": {"name": "vm"},
        "spec": {
            "virtualMachine": {
                "name": "vm",
                "image": "cirros",
                "keyPairName": "k",
                "resources": {"requests": {"cpu": "1", "memory": "512Mi"}},
            }
        },
    }
    reply = await users["acme"].post(PODS, vm)
    assert reply.status == 201, reply.raw


async def test_system_tenant_namespaces_are_privileged(users: dict[str, Api]) -> None:
    body, _ = HOSTILE["priv"]
    reply = await users["root"].post("/api/v1/tenants/system/namespaces/default/pods", body)
    assert reply.status == 201, reply.raw
    await users["root"].delete("/api/v1/tenants/system/namespaces/default/pods/priv")


async def test_namespace_labels_are_validated(users: dict[str, Api]) -> None:
    body = {
        "apiVersion": "v1",
        "kind": "Namespace",
        "metadata": {
            "name": "bad",
            "labels": {ENFORCE: "strict", "pod-security.kubernetes.io/warn-version": "1.2"},
        },
    }
    status = assert_status(await users["acme"].post("/api/v1/namespaces", body), 422, "Invalid")
    assert status["message"] == (
        'Namespace "bad" is invalid: [metadata.labels[pod-security.kubernetes.io/enforce]: Invalid value: '
        '"strict": must be one of privileged, baseline, restricted, '
        "metadata.labels[pod-security.kubernetes.io/"
        'warn-version]: Invalid value: "1.2": must be "latest" or "v1.x"]'
    )


async def test_tenants_may_not_label_namespaces_below_their_floor(users: dict[str, Api]) -> None:
    expected = (
        'namespaces "dev" is forbidden: pod-security.kubernetes.io/enforce=privileged is below the Pod '
        'Security floor "baseline" of tenant "acme"; only a system administrator may lower the floor, '
        f"with the label {FLOOR} on the tenant"
    )
    patch = {"metadata": {"labels": {ENFORCE: "privileged"}}}
    assert forbidden_message(await users["acme"].patch("/api/v1/namespaces/dev", patch)) == expected
    # The system admin is held to the floor too: lowering it is the explicit, tenant-wide grant.
    assert (
        forbidden_message(await users["root"].patch("/api/v1/tenants/acme/namespaces/dev", patch)) == expected
    )
    created = {
        "apiVersion": "v1",
        "kind": "Namespace",
        "metadata": {"name": "p", "labels": {ENFORCE: "privileged"}},
    }
    assert "below the Pod Security floor" in forbidden_message(
        await users["acme"].post("/api/v1/namespaces", created)
    )


async def test_tightening_a_namespace_warns_about_existing_pods(users: dict[str, Api]) -> None:
    await users["root"].ok(
        "POST",
        "/api/v1/tenants/acme/namespaces",
        {"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": "tight"}},
    )
    for name in ("a", "b"):
        await users["acme"].ok("POST", "/api/v1/namespaces/tight/pods", pod(name))
    reply = await users["acme"].patch(
        "/api/v1/namespaces/tight", {"metadata": {"labels": {ENFORCE: "restricted"}}}
    )
    assert reply.status == 200, reply.raw
    assert warnings_of(reply) == [
        'existing pods in namespace "tight" violate the new PodSecurity enforce level "restricted:latest"',
        "a (and 1 other pod): allowPrivilegeEscalation != false, unrestricted capabilities, "
        "runAsNonRoot != true, "
        "seccompProfile",
    ]
    message = forbidden_message(await users["acme"].post("/api/v1/namespaces/tight/pods", pod("c")))
    assert message.startswith(
        'pods "c" is forbidden: violates PodSecurity "restricted:latest": '
        'allowPrivilegeEscalation != false (container "c" must set'
    )


async def test_warn_and_audit_labels(
    users: dict[str, Api], token_server: TokenServer
) -> None:
    labels = {
        "pod-security.kubernetes.io/warn": "restricted",
        "pod-security.kubernetes.io/audit": "restricted",
        "pod-security.kubernetes.io/audit-version": "v1.24",
    }
    await users["acme"].ok(
        "POST",
        "/api/v1/namespaces",
        {"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": "watched", "labels": labels}},
    )
    reply = await users["acme"].post("/api/v1/namespaces/watched/pods", pod("w"))
    assert reply.status == 201, reply.raw
    assert warnings_of(reply) == [
        'would violate PodSecurity "restricted:latest": allowPrivilegeEscalation != false '
        '(container "c" must set '
        'securityContext.allowPrivilegeEscalation=false), unrestricted capabilities (container "c" must set '
        'securityContext.capabilities.drop=["ALL"]), runAsNonRoot != true (pod or container "c" must set '
        'securityContext.runAsNonRoot=true), seccompProfile (pod or container "c" must set '
        'securityContext.seccompProfile.type to "RuntimeDefault" or "Localhost")'
    ]
    server, _ = token_server
    lines = [
        json.loads(line)
        for line in server.log_path.with_name("kube-apiserver-audit.log").read_text().splitlines()
    ]
    event = next(e for e in lines if e["path"].endswith("/namespaces/watched/pods") and e["code"] == 201)
    assert event["annotations"]["pod-security.kubernetes.io/enforce-policy"] == "baseline:latest"
    assert event["annotations"]["pod-security.kubernetes.io/audit-violations"].startswith(
        'would violate PodSecurity "restricted:v1.24": allowPrivilegeEscalation != false'
    )


async def test_workload_templates_are_warned_about_not_refused(users: dict[str, Api]) -> None:
    labels = {"app": "w"}
    deployment = {
        "apiVersion": "apps/v1",
        "kind": "Deployment",
        "metadata": {"name": "w"},
        "spec": {
            "selector": {"matchLabels": labels},
            "template": {
                "metadata": {"labels": labels},
                "spec": {"hostPID": True, "containers": [{"name": "c", "image": "busybox:1.36"}]},
            },
        },
    }
    reply = await users["acme"].post("/apis/apps/v1/namespaces/dev/deployments", deployment)
    assert reply.status == 201, reply.raw
    assert warnings_of(reply) == [
        'would violate PodSecurity "baseline:latest": host namespaces (hostPID=true)'
    ]


async def test_only_significant_pod_updates_are_evaluated(users: dict[str, Api]) -> None:
    root = users["root"]
    await root.ok(
        "POST",
        "/api/v1/tenants/acme/namespaces",
        {"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": "upd"}},
    )
    path = "/api/v1/tenants/acme/namespaces/upd"
    await root.ok("POST", f"{path}/pods", pod("p"))
    # Tightening does not evict; a later image change is held to the new level, a label change is not.
    await root.ok(
        "PATCH",
        path,
        {"metadata": {"labels": {ENFORCE: "restricted"}}},
        content_type="application/merge-patch+json",
    )
    reply = await root.patch(f"{path}/pods/p", {"metadata": {"labels": {"x": "y"}}})
    assert reply.status == 200, reply.raw
    image = {"spec": {"containers": [{"name": "c", "image": "busybox:1.37"}]}}
    assert 'violates PodSecurity "restricted:latest"' in forbidden_message(
        await root.patch(f"{path}/pods/p", image, kind="strategic")
    )


async def test_tenant_floor_grant_is_explicit_and_revocable(users: dict[str, Api]) -> None:
    root, acme = users["root"], users["acme"]
    assert_status(
        await acme.patch("/api/v1/tenants/acme", {"metadata": {"labels": {FLOOR: "privileged"}}}),
        403,
        "Forbidden",
    )
    bad = assert_status(
        await root.patch("/api/v1/tenants/acme", {"metadata": {"labels": {FLOOR: "open"}}}), 422, "Invalid"
    )
    assert bad["message"] == (
        f'Tenant "acme" is invalid: metadata.labels[{FLOOR}]: Unsupported value: "open": '
        'supported values: "privileged", "baseline", "restricted"'
    )
    await root.ok(
        "PATCH",
        "/api/v1/tenants/acme",
        {"metadata": {"labels": {FLOOR: "privileged"}}},
        content_type="application/merge-patch+json",
    )
    try:
        # The grant lets the tenant choose privileged; unlabelled namespaces stay baseline.
        body, _ = HOSTILE["priv"]
        assert "baseline:latest" in forbidden_message(
            await acme.post("/api/v1/namespaces/default/pods", body)
        )
        await acme.ok(
            "PATCH",
            "/api/v1/namespaces/grant",
            {"metadata": {"labels": {ENFORCE: "privileged"}}},
            content_type="application/merge-patch+json",
        )
        reply = await acme.post("/api/v1/namespaces/grant/pods", body)
        assert reply.status == 201, reply.raw
    finally:
        await root.ok(
            "PATCH",
            "/api/v1/tenants/acme",
            {"metadata": {"labels": {FLOOR: None}}},
            content_type="application/merge-patch+json",
        )
    # Revoked: the namespace still says privileged, the floor holds anyway.
    message = forbidden_message(
        await acme.post("/api/v1/namespaces/grant/pods", pod("again", securityContext={"privileged": True}))
    )
    assert message == (
        'pods "again" is forbidden: violates PodSecurity "baseline:latest": privileged '
        '(container "c" must not set securityContext.privileged=true)'
    )


async def test_a_restricted_floor_tightens_a_tenant(users: dict[str, Api]) -> None:
    root, globex = users["root"], users["globex"]
    await root.ok(
        "PATCH",
        "/api/v1/tenants/globex",
        {"metadata": {"labels": {FLOOR: "restricted"}}},
        content_type="application/merge-patch+json",
    )
    message = forbidden_message(await globex.post("/api/v1/namespaces/default/pods", pod("plain")))
    assert message.startswith('pods "plain" is forbidden: violates PodSecurity "restricted:latest": ')
    hardened = pod(
        "hardened",
        securityContext={"allowPrivilegeEscalation": False, "capabilities": {"drop": ["ALL"]}},
        spec={"securityContext": {"runAsNonRoot": True, "seccompProfile": {"type": "RuntimeDefault"}}},
    )
    reply = await globex.post("/api/v1/namespaces/default/pods", hardened)
    assert reply.status == 201, reply.raw
    relaxed = {"metadata": {"labels": {ENFORCE: "baseline"}}}
    assert 'floor "restricted"' in forbidden_message(
        await globex.patch("/api/v1/namespaces/default", relaxed)
    )
