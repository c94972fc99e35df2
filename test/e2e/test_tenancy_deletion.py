"""Deleting a tenant: Terminating, closed to new content, emptied, released — and nobody else touched.

Covers: the system admin creates tenant `doomed` with stock `kubectl create -f`; the controller
manager initialises it; objects go into several of its namespaces (ConfigMaps, a Secret, a
ServiceAccount, a Role and RoleBinding) and tenant scope (a ClusterRole, a Network, an extra
Namespace); `kubectl delete tenant doomed` turns it Terminating; creating anything in it, by long
path or by kubectl through its prefix URL, is refused with a 403 Forbidden Status; the controller
removes every object of the tenant and then its `arktos` finalizer, after which the tenant is
gone; acme's and globex's objects are exactly what they were (names, uids, resourceVersions) —
compared from the moment they have settled (no terminating namespace, controllers caught up).
The test holds the tenant with a finalizer of its own (`e2e.arktos.io/hold`) so the Terminating
state is observed deterministically, and releases it once the controller is done.
Leaves out: deletion of tenant `system` (refused; unit tests) and the discovery-driven sweep of
custom resources (component tests of the controller).
"""

from __future__ import annotations

import pytest
from tenancy_env import (
    TENANT_LIST_PATHS,
    TENANTS,
    TenancyEnv,
    TenancyKubectl,
    tenant_settled,
    tenant_snapshot,
)

pytestmark = [pytest.mark.e2e]

HOLD = "e2e.arktos.io/hold"


def _fill_tenant(env: TenancyEnv, tenant: str) -> None:
    admin = env.admin
    base = f"/api/v1/tenants/{tenant}"
    rbac = f"/apis/rbac.authorization.k8s.io/v1/tenants/{tenant}"
    for namespace in ("app1", "app2"):
        env.ok(admin, "POST", f"{base}/namespaces", {"metadata": {"name": namespace}})
    for namespace in ("default", "app1", "app2"):
        env.ok(
            admin,
            "POST",
            f"{base}/namespaces/{namespace}/configmaps",
            {"metadata": {"name": "settings"}, "data": {"where": namespace}},
        )
    env.ok(
        admin,
        "POST",
        f"{base}/namespaces/app1/secrets",
        {"metadata": {"name": "password"}, "stringData": {"p": "hunter2"}},
    )
    env.ok(admin, "POST", f"{base}/namespaces/app2/serviceaccounts", {"metadata": {"name": "worker"}})
    env.ok(
        admin,
        "POST",
        f"{rbac}/namespaces/app2/roles",
        {
            "metadata": {"name": "reader"},
            "rules": [{"apiGroups": [""], "resources": ["configmaps"], "verbs": ["get"]}],
        },
    )
    env.ok(
        admin,
        "POST",
        f"{rbac}/namespaces/app2/rolebindings",
        {
            "metadata": {"name": "worker-reads"},
            "subjects": [{"kind": "ServiceAccount", "name": "worker", "namespace": "app2"}],
            "roleRef": {"apiGroup": "rbac.authorization.k8s.io", "kind": "Role", "name": "reader"},
        },
    )
    env.ok(
        admin,
        "POST",
        f"{rbac}/clusterroles",
        {
            "metadata": {"name": "doomed-reader"},
            "rules": [{"apiGroups": [""], "resources": ["pods"], "verbs": ["get"]}],
        },
    )
    env.ok(
        admin,
        "POST",
        f"/apis/arktos.futurewei.com/v1/tenants/{tenant}/networks",
        {
            "apiVersion": "arktos.futurewei.com/v1",
            "kind": "Network",
            "metadata": {"name": "extra"},
            "spec": {"type": "vpc", "vpcID": "vpc-1"},
        },
    )


def _object_count(env: TenancyEnv, tenant: str) -> int:
    return len(tenant_snapshot(env, tenant))


def test_deleting_a_tenant_removes_everything_of_it_and_nothing_else(
    tenancy_env: TenancyEnv, tenancy_kubectl: TenancyKubectl
) -> None:
    env = tenancy_env
    tenant = f"doomed-{tenancy_kubectl.label.replace('kubectl-', '').replace('.', '')}"
    admin = tenancy_kubectl.as_identity(env.admin)
    admin.run("create", "-f", str(env.tenant_manifest(tenant, extra_metadata={"finalizers": [HOLD]})))
    env.wait_for(f"tenant {tenant} to be initialised", lambda: env.tenant_initialised(tenant))
    _fill_tenant(env, tenant)
    assert _object_count(env, tenant) >= 15
    # The other tenants' snapshot is taken once nothing of theirs is still changing by itself (an
    # earlier test's namespace may still be terminating): what changes after it is this test's doing.
    env.wait_for("the other tenants to settle", lambda: all(tenant_settled(env, t) for t in TENANTS))
    others_before = {t: tenant_snapshot(env, t) for t in TENANTS}

    admin.run("delete", "tenant", tenant, "--wait=false")
    doomed = env.ok(env.admin, "GET", f"/api/v1/tenants/{tenant}")
    assert doomed["status"]["phase"] == "Terminating"
    assert doomed["metadata"].get("deletionTimestamp")

    # No new content while it terminates: long path as the admin, and kubectl via the prefix URL.
    refused = env.call(
        env.admin,
        "POST",
        f"/api/v1/tenants/{tenant}/namespaces/app1/configmaps",
        {"metadata": {"name": "late"}},
    )
    assert refused.status == 403, refused.describe()
    status = refused.json()
    assert (status["kind"], status["reason"], status["code"]) == ("Status", "Forbidden", 403)
    assert "being terminated" in status["message"]
    late = admin.run(
        f"--server={env.server.url}/tenants/{tenant}",
        "create",
        "configmap",
        "late2",
        "-n",
        "default",
        check=False,
    )
    assert late.returncode == 1 and "being terminated" in late.stderr, late.stderr

    def emptied_and_released() -> bool:
        spec = env.ok(env.admin, "GET", f"/api/v1/tenants/{tenant}").get("spec") or {}
        return _object_count(env, tenant) == 0 and "arktos" not in (spec.get("finalizers") or [])

    env.wait_for(f"tenant {tenant} to be emptied and released", emptied_and_released)
    for template in TENANT_LIST_PATHS:
        assert env.ok(env.admin, "GET", template.format(t=tenant))["items"] == []
    # Our hold was the last finalizer: removing it lets the server delete the tenant.
    env.ok(
        env.admin,
        "PATCH",
        f"/api/v1/tenants/{tenant}",
        {"metadata": {"finalizers": None}},
        content_type="application/merge-patch+json",
    )
    env.wait_for(f"tenant {tenant} to be gone", lambda: env.tenant_phase(tenant) is None)
    gone = admin.run("get", "tenant", tenant, check=False)
    assert gone.returncode == 1 and "NotFound" in gone.stderr

    assert {t: tenant_snapshot(env, t) for t in TENANTS} == others_before
    for t in TENANTS:
        assert env.tenant_initialised(t)
