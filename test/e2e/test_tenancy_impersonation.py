"""`kubectl --as` on a tenanted cluster: impersonation is honoured, authorized and confined to tenants.

Covers, with stock kubectl 1.32 and 1.37: the system admin acting as a user of tenant acme (a
kubeconfig with `as-user-extra` naming the tenant, and `--as`) sees only acme's namespaces, writes
into acme, and is refused exactly where that user is (same 403 text as the user's own kubectl);
`kubectl auth can-i --as=X` and `kubectl auth whoami --as=X --as-group=G` answer for X; acme's
view-only token user without the `impersonate` verb gets upstream's 403; once acme's admin grants
it `impersonate` on the user `admin` with a ClusterRole of acme, it acts as acme's admin but still
cannot reach globex, nor name globex in the tenant extra; the audit log names both identities.
Leaves out: uid and arbitrary extras with kubectl (`--as-uid`; component and unit tests cover
them), service-account impersonation with kubectl (component tests).
"""

from __future__ import annotations

import json
import secrets
from typing import Any

import pytest
import yaml
from kubectl_runner import Kubectl
from tenancy_env import Identity, TenancyEnv, TenancyKubectl

pytestmark = [pytest.mark.e2e]

TENANT_EXTRA = "arktos.futurewei.com/tenant"


def _with_tenant_extra(env: TenancyEnv, kubectl: TenancyKubectl, identity: Identity, tenant: str) -> Kubectl:
    """kubectl as ``identity`` with ``as-user-extra`` naming ``tenant`` in its kubeconfig (client-go
    sends it as ``Impersonate-Extra-arktos.futurewei.com%2Ftenant`` along with any ``--as``), and a
    discovery cache of its own (what it discovers is the impersonated user's view)."""
    assert identity.kubeconfig is not None
    document: dict[str, Any] = yaml.safe_load(identity.kubeconfig.read_text())
    for entry in document["users"]:
        entry["user"]["as-user-extra"] = {TENANT_EXTRA: [tenant]}
    label = f"{identity.label}-as-{tenant}-{secrets.token_hex(3)}"
    path = env.workdir / f"{label}.kubeconfig"
    path.write_text(yaml.safe_dump(document))
    path.chmod(0o600)
    return Kubectl(binary=kubectl.binary, kubeconfig=path, cache_dir=kubectl.cache_root / label,
                   label=f"{kubectl.label} as {label}")


def _error(kubectl: Kubectl, *args: str) -> str:
    result = kubectl.run(*args, check=False)
    assert result.returncode == 1, f"[{kubectl.label}] {args} succeeded: {result.stdout}"
    return result.stderr.strip()


def _can_i(kubectl: Kubectl, *args: str) -> str:
    result = kubectl.run("auth", "can-i", *args, check=False)
    return f"{result.returncode} {result.stdout.strip()}"


def test_the_admin_acting_as_a_tenant_user(tenancy_env: TenancyEnv, tenancy_kubectl: TenancyKubectl) -> None:
    env = tenancy_env
    suffix = secrets.token_hex(3)
    acme_admin = tenancy_kubectl.as_identity(env.identity("acme-cert-admin"))
    globex_admin = tenancy_kubectl.as_identity(env.identity("globex-token-admin"))
    acme_cm, globex_cm = f"acme-only-{suffix}", f"globex-only-{suffix}"
    acme_admin.run("create", "configmap", acme_cm, "-n", "default")
    globex_admin.run("create", "configmap", globex_cm, "-n", "default")
    as_acme = _with_tenant_extra(env, tenancy_kubectl, env.admin, "acme")
    try:
        seen = {cm["metadata"]["name"] for cm in as_acme.json("get", "configmaps", "-n", "default",
                                                              "--as=admin")["items"]}
        assert acme_cm in seen and globex_cm not in seen
        # (kubectl's typed objects drop metadata.tenant: where it landed is read by the long path.)
        as_acme.run("create", "configmap", f"made-as-admin-{suffix}", "-n", "default", "--as=admin")
        env.ok(env.admin, "GET", f"/api/v1/tenants/acme/namespaces/default/configmaps/made-as-admin-{suffix}")

        # The viewer may never create: acting as it, the admin is refused with the viewer's own 403.
        viewer = tenancy_kubectl.as_identity(env.identity("acme-viewer"))
        own = _error(viewer, "create", "configmap", f"nope-{suffix}", "-n", "default")
        acted = _error(as_acme, "create", "configmap", f"nope-{suffix}", "-n", "default", "--as=viewer")
        assert acted == own
        assert 'User "viewer" cannot create resource "configmaps"' in acted
        assert 'User "admin" cannot list resource "nodes" in API group "" at the cluster scope' in \
            _error(as_acme, "get", "--raw", "/api/v1/nodes", "--as=admin")

        # can-i and whoami answer for the identity acted as.
        assert _can_i(as_acme, "delete", "secrets", "--as=admin") == "0 yes"
        assert _can_i(as_acme, "delete", "secrets", "--as=viewer") == "1 no"
        assert _can_i(as_acme, "list", "nodes", "--as=admin") == "1 no"
        plain_admin = tenancy_kubectl.as_identity(env.admin)
        assert _can_i(plain_admin, "list", "nodes", "--as=admin") == "1 no"  # system's `admin`: no roles
        assert _can_i(plain_admin, "list", "nodes") == "0 yes"
        who = as_acme.json("auth", "whoami", "--as=alice", "--as-group=devs")["status"]["userInfo"]
        assert who["username"] == "alice" and who["groups"] == ["devs", "system:authenticated"]
        assert who["extra"][TENANT_EXTRA] == ["acme"]

        audited = [json.loads(line) for line in env.audit_log.read_text().splitlines()]
        entry = next(e for e in reversed(audited) if e["path"].endswith("/configmaps") and e["code"] == 201
                     and e.get("impersonatedUser", {}).get("username") == "admin")
        assert (entry["user"], entry["tenant"]) == ("system:admin", "system")
        assert entry["impersonatedUser"]["tenant"] == "acme"
    finally:
        acme_admin.run("delete", "configmap", acme_cm, f"made-as-admin-{suffix}", "-n", "default",
                       "--ignore-not-found")
        globex_admin.run("delete", "configmap", globex_cm, "-n", "default")


def test_a_tenant_user_impersonates_only_with_the_verb_and_only_in_its_tenant(
        tenancy_env: TenancyEnv, tenancy_kubectl: TenancyKubectl) -> None:
    env = tenancy_env
    suffix = secrets.token_hex(3)
    viewer_identity = env.identity("acme-viewer")
    viewer = tenancy_kubectl.as_identity(viewer_identity)
    # Discovery first, as the viewer itself: kubectl reads a refused discovery as an unstructured
    # error ("Error from server (Forbidden): unknown", as against upstream's server), so the
    # Status text shows once discovery is cached.
    viewer.run("api-resources", "--api-group=rbac.authorization.k8s.io")
    assert _error(viewer, "get", "configmaps", "-n", "default", "--as=admin") == (
        'Error from server (Forbidden): users "admin" is forbidden: User "viewer" cannot impersonate '
        'resource "users" in API group "" at the cluster scope')
    assert "cannot impersonate" in _error(viewer, "auth", "can-i", "list", "pods", "--as=admin")

    acme_admin = tenancy_kubectl.as_identity(env.identity("acme-cert-admin"))
    role = f"impersonate-admin-{suffix}"
    acme_admin.run("create", "clusterrole", role, "--verb=impersonate", "--resource=users",
                   "--resource-name=admin")
    acme_admin.run("create", "clusterrolebinding", role, f"--clusterrole={role}", "--user=viewer")
    try:
        viewer.run("create", "configmap", f"by-viewer-{suffix}", "-n", "default", "--as=admin")
        env.ok(env.admin, "GET", f"/api/v1/tenants/acme/namespaces/default/configmaps/by-viewer-{suffix}")
        assert _can_i(viewer, "delete", "secrets", "--as=admin") == "0 yes"
        assert "cannot impersonate" in _error(viewer, "get", "pods", "--as=alice")
        # Acting as acme's admin, another tenant is as closed as it is to acme's admin.
        other = _error(viewer, "get", "--raw", "/api/v1/tenants/globex/namespaces/default/configmaps",
                       "--as=admin")
        assert 'User "admin" cannot list resource "configmaps"' in other
        moved = _with_tenant_extra(env, tenancy_kubectl, viewer_identity, "globex")
        assert _error(moved, "get", "--raw", "/api/v1/namespaces/default/configmaps", "--as=admin").endswith(
            'a user of tenant "acme" can only impersonate identities of its own tenant')
    finally:
        acme_admin.run("delete", "configmap", f"by-viewer-{suffix}", "-n", "default", "--ignore-not-found")
        acme_admin.run("delete", "clusterrolebinding", role)
        acme_admin.run("delete", "clusterrole", role)
