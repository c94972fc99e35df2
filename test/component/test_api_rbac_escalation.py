"""RBAC escalation prevention on Role/ClusterRole/RoleBinding/ClusterRoleBinding writes, over TLS.

Users: the system admin (system:masters); acme's tenant admin (``admin-role``: everything in
acme); acme's ``dev``, admin of namespace ``dev`` only (a RoleBinding to the system tenant's
``admin`` ClusterRole); acme's ``binder`` (may create rolebindings and ``bind`` the ClusterRole
``edit``) and ``escalator`` (may create roles and ``escalate`` them); a system-tenant ``auditor``
allowed to create ClusterRoleBindings (and nothing else).
Covers: roles granting a subset of the creator's rights admitted, more refused with upstream's
text; bindings to roles whose rights the creator holds admitted, to ``cluster-admin`` refused for
``dev`` and the system-tenant ``auditor`` but admitted for acme's admin (a tenant's binding grants
only inside the tenant, which that admin already holds); ``bind`` and ``escalate`` verbs letting a
user past the check; a binding to a missing role (404); aggregationRule needing full authority;
updates re-checked except those touching only finalizers/ownerReferences; dry runs checked alike.
Leaves out: the rule-covering algorithm's corner cases (test/unit/test_rbac_escalation.py) and
stock kubectl (test/e2e/test_tenancy_pod_security.py).
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Iterator
from typing import Any

import pytest
from component_http import Api, assert_status
from token_cluster import (
    RBAC_API,
    TokenServer,
    binding,
    grant_cluster_role,
    logged_in,
    make_tenant,
    role,
    role_ref,
    serve,
)

USERS = {
    "root": ("root", "system:masters", "system"),
    "admin": ("admin", "", "acme"),
    "dev": ("dev", "acme-devs", "acme"),
    "binder": ("binder", "", "acme"),
    "escalator": ("escalator", "", "acme"),
    "auditor": ("auditor", "auditors", "system"),
}
ACME = f"{RBAC_API}/acme"
DEV_ROLES = "/apis/rbac.authorization.k8s.io/v1/namespaces/dev/roles"
DEV_BINDINGS = "/apis/rbac.authorization.k8s.io/v1/namespaces/dev/rolebindings"
NOT_HELD = "is attempting to grant RBAC permissions not currently held:\n"
DEV_USER = 'user "dev" (groups=["acme-devs" "system:authenticated"])'


@pytest.fixture(scope="module")
def token_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[TokenServer]:
    yield from serve(tmp_path_factory, USERS, "escalation")


@pytest.fixture
async def users(token_server: TokenServer) -> AsyncIterator[dict[str, Api]]:
    async with logged_in(token_server, USERS) as apis:
        root = apis["root"]
        await make_tenant(root, "acme", "default", "dev")
        if (await root.get(f"{ACME}/namespaces/dev/rolebindings/dev-admin")).status == 404:
            await _grant(root)
        yield apis


RBAC_RULES = "rbac.authorization.k8s.io"


async def _grant(root: Api) -> None:
    await root.ok("POST", f"{ACME}/namespaces/dev/rolebindings",
                  binding("RoleBinding", "dev-admin", role_ref("ClusterRole", "admin"), "dev"))
    await grant_cluster_role(root, "acme", "binder", [
        {"apiGroups": [RBAC_RULES], "resources": ["rolebindings"], "verbs": ["create"]},
        {"apiGroups": [RBAC_RULES], "resources": ["clusterroles"], "verbs": ["bind"],
         "resourceNames": ["edit"]},
    ], "binder")
    await grant_cluster_role(root, "acme", "escalator", [
        {"apiGroups": [RBAC_RULES], "resources": ["roles"], "verbs": ["create", "escalate"]}], "escalator")
    await grant_cluster_role(root, "system", "auditor", [
        {"apiGroups": [RBAC_RULES], "resources": ["clusterrolebindings"], "verbs": ["create"]}], "auditor")


def _message(reply: Any) -> str:
    return str(assert_status(reply, 403, "Forbidden")["message"])


async def test_roles_within_the_creators_rights_are_admitted(users: dict[str, Api]) -> None:
    reply = await users["dev"].post(
        DEV_ROLES,
        role(
            "Role",
            "pod-reader",
            [{"apiGroups": [""], "resources": ["pods", "pods/log"], "verbs": ["get", "list"]}],
        ),
    )
    assert reply.status == 201, reply.raw


async def test_roles_granting_more_are_refused(users: dict[str, Api]) -> None:
    body = role(
        "Role",
        "node-reader",
        [
            {"apiGroups": [""], "resources": ["nodes"], "verbs": ["get", "list"]},
            {"apiGroups": [""], "resources": ["pods"], "verbs": ["get"]},
            {
                "apiGroups": ["apps"],
                "resources": ["deployments"],
                "verbs": ["escalate"],
                "resourceNames": ["x"],
            },
        ],
    )
    for params in ({}, {"dryRun": "All"}):
        assert _message(await users["dev"].post(DEV_ROLES, body, params=params)) == (
            f'roles.rbac.authorization.k8s.io "node-reader" is forbidden: {DEV_USER} {NOT_HELD}'
            '{APIGroups:[""], Resources:["nodes"], Verbs:["get" "list"]}\n'
            '{APIGroups:["apps"], Resources:["deployments"], ResourceNames:["x"], Verbs:["escalate"]}'
        )
    assert_status(await users["dev"].get(f"{DEV_ROLES}/node-reader"), 404, "NotFound")


async def test_binding_a_role_the_creator_holds_is_admitted(users: dict[str, Api]) -> None:
    reply = await users["dev"].post(
        DEV_BINDINGS, binding("RoleBinding", "viewers", role_ref("ClusterRole", "view"), "someone")
    )
    assert reply.status == 201, reply.raw


async def test_binding_cluster_admin_is_refused_to_a_namespace_admin(users: dict[str, Api]) -> None:
    body = binding("RoleBinding", "takeover", role_ref("ClusterRole", "cluster-admin"), "dev")
    assert _message(await users["dev"].post(DEV_BINDINGS, body)) == (
        f'rolebindings.rbac.authorization.k8s.io "takeover" is forbidden: {DEV_USER} {NOT_HELD}'
        '{APIGroups:["*"], Resources:["*"], Verbs:["*"]}\n{NonResourceURLs:["*"], Verbs:["*"]}'
    )


async def test_binding_cluster_admin_is_refused_to_a_limited_system_user(users: dict[str, Api]) -> None:
    body = binding("ClusterRoleBinding", "me-too", role_ref("ClusterRole", "cluster-admin"), "auditor")
    message = _message(await users["auditor"].post(f"{RBAC_API}/system/clusterrolebindings", body))
    assert message.startswith(
        'clusterrolebindings.rbac.authorization.k8s.io "me-too" is forbidden: user "auditor" '
        '(groups=["auditors" "system:authenticated"]) ' + NOT_HELD
    )


async def test_a_tenant_admin_may_bind_cluster_admin_inside_its_tenant_only(users: dict[str, Api]) -> None:
    admin = users["admin"]
    body = binding("ClusterRoleBinding", "dev-is-admin", role_ref("ClusterRole", "cluster-admin"), "dev")
    reply = await admin.post("/apis/rbac.authorization.k8s.io/v1/clusterrolebindings", body)
    assert reply.status == 201, reply.raw
    try:
        dev = users["dev"]
        assert (await dev.get("/api/v1/namespaces/default/secrets")).status == 200
        assert_status(await dev.get("/api/v1/nodes"), 403, "Forbidden")
        assert_status(await dev.get("/api/v1/tenants/system/namespaces/default/secrets"), 403, "Forbidden")
    finally:
        await admin.ok("DELETE", "/apis/rbac.authorization.k8s.io/v1/clusterrolebindings/dev-is-admin")


async def test_bind_verb_allows_binding_a_role_not_held(users: dict[str, Api]) -> None:
    binder = users["binder"]
    reply = await binder.post(
        DEV_BINDINGS, binding("RoleBinding", "editors", role_ref("ClusterRole", "edit"), "x")
    )
    assert reply.status == 201, reply.raw
    # bind is granted for "edit" by name only.
    assert NOT_HELD in _message(
        await binder.post(
            DEV_BINDINGS, binding("RoleBinding", "viewers2", role_ref("ClusterRole", "view"), "x")
        )
    )


async def test_escalate_verb_allows_roles_beyond_the_creators_rights(users: dict[str, Api]) -> None:
    reply = await users["escalator"].post(
        DEV_ROLES, role("Role", "anything", [{"apiGroups": ["*"], "resources": ["*"], "verbs": ["*"]}])
    )
    assert reply.status == 201, reply.raw


async def test_binding_a_missing_role_is_not_found(users: dict[str, Api]) -> None:
    reply = await users["dev"].post(
        DEV_BINDINGS, binding("RoleBinding", "ghost", role_ref("Role", "ghost"), "x")
    )
    status = assert_status(reply, 404, "NotFound")
    assert status["message"] == 'roles.rbac.authorization.k8s.io "ghost" not found'


async def test_aggregation_rule_needs_full_authority(users: dict[str, Api]) -> None:
    rules = [{"apiGroups": [RBAC_RULES], "resources": ["clusterroles"], "verbs": ["create"]}]
    await grant_cluster_role(users["root"], "acme", "role-maker", rules, "binder")
    body = role(
        "ClusterRole", "gather", [], aggregationRule={"clusterRoleSelectors": [{"matchLabels": {"a": "b"}}]}
    )
    assert _message(await users["binder"].post("/apis/rbac.authorization.k8s.io/v1/clusterroles", body)) == (
        'clusterroles.rbac.authorization.k8s.io "gather" is forbidden: must have cluster-admin privileges '
        "to use the aggregationRule"
    )
    reply = await users["admin"].post("/apis/rbac.authorization.k8s.io/v1/clusterroles", body)
    assert reply.status == 201, reply.raw


async def test_updates_are_rechecked_unless_only_gc_fields_change(users: dict[str, Api]) -> None:
    root, dev = users["root"], users["dev"]
    await root.ok(
        "POST",
        f"{ACME}/namespaces/dev/roles",
        role("Role", "wide", [{"apiGroups": [""], "resources": ["nodes"], "verbs": ["get"]}]),
    )
    assert NOT_HELD in _message(await dev.patch(f"{DEV_ROLES}/wide", {"metadata": {"labels": {"team": "x"}}}))
    reply = await dev.patch(f"{DEV_ROLES}/wide", {"metadata": {"finalizers": ["example.com/keep"]}})
    assert reply.status == 200, reply.raw
    await dev.ok("POST", DEV_ROLES, role("Role", "small", []))
    held = {"rules": [{"apiGroups": [""], "resources": ["secrets"], "verbs": ["get"]}]}
    reply = await dev.patch(f"{DEV_ROLES}/small", held)
    assert reply.status == 200, reply.raw
    grown = {"rules": [{"apiGroups": [""], "resources": ["nodes"], "verbs": ["list"]}]}
    assert NOT_HELD in _message(await dev.patch(f"{DEV_ROLES}/small", grown))
    await root.ok(
        "PATCH",
        f"{ACME}/namespaces/dev/roles/wide",
        {"metadata": {"finalizers": None}},
        content_type="application/merge-patch+json",
    )
