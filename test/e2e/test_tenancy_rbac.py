"""`kubectl auth can-i` and `kubectl auth whoami` for the kinds of users a tenanted cluster has.

Covers, with stock kubectl 1.32 and 1.37 (exit code 0 with `yes`, 1 with `no`): the system admin
(everything, in every namespace, incl. nodes and tenants); acme's tenant admin by certificate
(everything in acme, nothing cluster-scoped); acme's view-only token user (get/list in the
namespace its RoleBinding names, nothing else); a service account of acme bound to a Role, using
a token from `kubectl create token` (read configmaps yes, write or other resources no); `kubectl
auth whoami` for a certificate user (name, OU groups, system:authenticated) and for the service
account.
Leaves out: how the answers are computed (unit tests of server/authz), SubjectAccessReview for
other users and `can-i --list`.
"""

from __future__ import annotations

from pathlib import Path

import pytest
from kubectl_runner import Kubectl
from tenancy_env import Identity, TenancyEnv, TenancyKubectl, token_kubeconfig

pytestmark = [pytest.mark.e2e]

VIEW_VERBS = "get,list,watch"


def can_i(kubectl: Kubectl, *args: str) -> bool:
    """`kubectl auth can-i ARGS`: True for exit 0 + `yes`, False for exit 1 + `no`; else fails."""
    result = kubectl.run("auth", "can-i", *args, check=False)
    answer = result.stdout.strip().splitlines()[-1] if result.stdout.strip() else ""
    if (result.returncode, answer) == (0, "yes"):
        return True
    assert (result.returncode, answer) == (1, "no"), (
        f"[{kubectl.label}] can-i {' '.join(args)}: exit {result.returncode} "
        f"{result.stdout!r} {result.stderr!r}"
    )
    return False


def _suffix(kubectl: TenancyKubectl) -> str:
    return kubectl.label.replace("kubectl-", "").replace(".", "")


def test_system_admin_can_do_everything(tenancy_env: TenancyEnv, tenancy_kubectl: TenancyKubectl) -> None:
    admin = tenancy_kubectl.as_identity(tenancy_env.admin)
    for args in (
        ("create", "configmaps"),
        ("list", "nodes"),
        ("delete", "tenants"),
        ("*", "*", "--all-namespaces"),
        ("list", "pods", "--all-namespaces"),
        ("create", "clusterroles.rbac.authorization.k8s.io"),
    ):
        assert can_i(admin, *args), args


def test_tenant_admin_can_do_everything_in_its_tenant_only(
    tenancy_env: TenancyEnv, tenancy_kubectl: TenancyKubectl
) -> None:
    acme = tenancy_kubectl.as_identity(tenancy_env.identity("acme-cert-admin"))
    for args in (
        ("create", "configmaps", "-n", "default"),
        ("*", "*", "-n", "default"),
        ("delete", "namespaces"),
        ("create", "clusterroles.rbac.authorization.k8s.io"),
        ("list", "configmaps", "--all-namespaces"),
        ("create", "networks.arktos.futurewei.com"),
    ):
        assert can_i(acme, *args), args
    # (Cluster-scoped resources of named groups cannot be asked about this way: acme's discovery
    # hides them, so kubectl sends the unresolved "priorityclasses.scheduling.k8s.io" as a core
    # resource in namespace default, which acme's wildcard admin-role does allow.)
    for args in (
        ("list", "nodes"),
        ("get", "nodes"),
        ("create", "tenants"),
        ("list", "tenants"),
        ("delete", "nodes"),
    ):
        assert not can_i(acme, *args), args


def test_view_only_user(tenancy_env: TenancyEnv, tenancy_kubectl: TenancyKubectl) -> None:
    env = tenancy_env
    acme = tenancy_kubectl.as_identity(env.identity("acme-cert-admin"))
    binding = f"viewer-{_suffix(tenancy_kubectl)}"
    # A new tenant starts with admin-role only (ARKTOS.md §2): its admin defines what "view" is
    # there, then grants it to the viewer in the default namespace only.
    if acme.run("get", "clusterrole", "view", check=False).returncode != 0:
        acme.run(
            "create",
            "clusterrole",
            "view",
            f"--verb={VIEW_VERBS}",
            "--resource=configmaps,pods,services,serviceaccounts",
        )
    acme.run("create", "rolebinding", binding, "--clusterrole=view", "--user=viewer", "-n", "default")
    try:
        viewer = tenancy_kubectl.as_identity(env.identity("acme-viewer"))
        args: tuple[str, ...]
        for args in (
            ("get", "configmaps", "-n", "default"),
            ("list", "configmaps", "-n", "default"),
            ("watch", "pods", "-n", "default"),
        ):
            assert can_i(viewer, *args), args
        for args in (
            ("create", "configmaps", "-n", "default"),
            ("delete", "configmaps", "-n", "default"),
            ("list", "configmaps", "-n", "kube-system"),
            ("get", "secrets", "-n", "default"),
            ("list", "nodes"),
            ("create", "rolebindings", "-n", "default"),
        ):
            assert not can_i(viewer, *args), args
        # The answers are what the server does: the viewer lists, and is refused a create.
        viewer.run("get", "configmaps", "-n", "default")
        refused = viewer.run("create", "configmap", "nope", "-n", "default", check=False)
        assert refused.returncode == 1 and "forbidden" in refused.stderr.lower()
    finally:
        acme.run("delete", "rolebinding", binding, "-n", "default", "--ignore-not-found")


def test_service_account_with_token_from_create_token(
    tenancy_env: TenancyEnv, tenancy_kubectl: TenancyKubectl, tmp_path: Path
) -> None:
    env = tenancy_env
    acme = tenancy_kubectl.as_identity(env.identity("acme-cert-admin"))
    suffix = _suffix(tenancy_kubectl)
    account, role = f"robot-{suffix}", f"cm-reader-{suffix}"
    acme.run("create", "serviceaccount", account, "-n", "default")
    acme.run("create", "role", role, "--verb=get,list", "--resource=configmaps", "-n", "default")
    acme.run(
        "create",
        "rolebinding",
        role,
        f"--role={role}",
        f"--serviceaccount=default:{account}",
        "-n",
        "default",
    )
    try:
        token = acme.run("create", "token", account, "-n", "default").stdout.strip()
        assert token.count(".") == 2, token
        # A kubeconfig without credentials of its own, so only --token identifies the caller.
        bare = token_kubeconfig(
            tmp_path / "bare.kubeconfig",
            ca_cert=env.ca_cert,
            server_url=env.server.url,
            tenant="acme",
            token=None,
        )
        robot = tenancy_kubectl.as_identity(Identity(f"sa-{suffix}", account, "acme"), kubeconfig=bare)
        with_token = ("--token", token)
        assert can_i(robot, *with_token, "list", "configmaps", "-n", "default")
        assert can_i(robot, *with_token, "get", "configmaps", "-n", "default")
        for args in (
            ("create", "configmaps", "-n", "default"),
            ("list", "secrets", "-n", "default"),
            ("list", "configmaps", "-n", "kube-system"),
            ("list", "nodes"),
        ):
            assert not can_i(robot, *with_token, *args), args
        whoami = robot.json(*with_token, "auth", "whoami")["status"]["userInfo"]
        assert whoami["username"] == f"system:serviceaccount:default:{account}"
        assert {"system:serviceaccounts", "system:serviceaccounts:default"} <= set(whoami["groups"])
        robot.run(*with_token, "get", "configmaps", "-n", "default")
    finally:
        acme.run("delete", "rolebinding", role, "-n", "default", "--ignore-not-found")
        acme.run("delete", "role", role, "-n", "default", "--ignore-not-found")
        acme.run("delete", "serviceaccount", account, "-n", "default", "--ignore-not-found")


def test_whoami_shows_user_and_groups(tenancy_env: TenancyEnv, tenancy_kubectl: TenancyKubectl) -> None:
    for tenant in ("acme", "globex"):
        user = tenancy_kubectl.as_identity(tenancy_env.identity(f"{tenant}-cert-admin"))
        info = user.json("auth", "whoami")["status"]["userInfo"]
        assert info["username"] == "admin"
        # The OU entry setup-tenant-user.sh wrote is a group; O=tenant:T names the tenant, not a group.
        assert {f"{tenant}-devs", "system:authenticated"} <= set(info["groups"])
        assert not [g for g in info["groups"] if g.startswith("tenant:")]
    viewer = tenancy_kubectl.as_identity(tenancy_env.identity("acme-viewer"))
    assert viewer.json("auth", "whoami")["status"]["userInfo"]["username"] == "viewer"
