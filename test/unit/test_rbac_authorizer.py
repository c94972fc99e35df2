"""server.authz.rbac: RBAC decisions with Arktos's tenant rule.

Covers a table of allow/deny cases over three tenants: system-tenant bindings holding
everywhere, tenant bindings holding only for their own tenant's users, the tenant rule (other
tenants, ``all``, cluster scope, non-resource paths) and its exemptions (discovery/health paths,
self-subject reviews), RoleBinding → Role and → ClusterRole, aggregation, User/Group/
ServiceAccount subjects, system:masters, denial reasons for missing roles, allow reasons,
invalidation by generation, ``rules_for`` and a cached decision answering as the first one.
Leaves out the bootstrap roles' contents (test_rbac_bootstrap), the HTTP layer and the hot
path's cost (a figure: bench/hot_paths_bench.py).
"""

from __future__ import annotations

from typing import Any

import pytest

from server.auth.user import UserInfo
from server.authz.attributes import Attributes
from server.authz.bootstrap_policy import bootstrap_cluster_role_bindings, bootstrap_cluster_roles
from server.authz.policy_source import MemoryPolicySource
from server.authz.rbac import RBACAuthorizer

AUTH = "system:authenticated"
PUBLIC = {"system:discovery", "system:basic-user", "system:public-info-viewer"}


def role(
    name: str,
    rules: list[dict[str, Any]],
    *,
    namespace: str = "",
    labels: dict[str, str] | None = None,
    aggregate: dict[str, str] | None = None,
) -> dict[str, Any]:
    obj: dict[str, Any] = {
        "metadata": {"name": name, "namespace": namespace, "labels": labels or {}},
        "rules": rules,
    }
    if aggregate:
        obj["aggregationRule"] = {"clusterRoleSelectors": [{"matchLabels": aggregate}]}
    return obj


def binding(
    name: str, ref_kind: str, ref_name: str, subjects: list[dict[str, Any]], *, namespace: str = ""
) -> dict[str, Any]:
    return {
        "metadata": {"name": name, "namespace": namespace},
        "roleRef": {"apiGroup": "rbac.authorization.k8s.io", "kind": ref_kind, "name": ref_name},
        "subjects": subjects,
    }


def rule(verbs: list[str], resources: list[str], groups: list[str] | None = None) -> dict[str, Any]:
    return {"verbs": verbs, "apiGroups": groups if groups is not None else [""], "resources": resources}


def user(name: str, *groups: str, tenant: str = "system") -> UserInfo:
    return UserInfo(name, groups=(*groups, AUTH), tenant=tenant)


def build_source() -> MemoryPolicySource:
    source = MemoryPolicySource()
    for obj in bootstrap_cluster_roles():
        if obj["metadata"]["name"] in PUBLIC:
            source.put("ClusterRole", obj, tenant="system")
    for obj in bootstrap_cluster_role_bindings():
        if obj["metadata"]["name"] in PUBLIC:
            source.put("ClusterRoleBinding", obj, tenant="system")
    source.put("ClusterRole", role("pod-reader", [rule(["get", "list"], ["pods"])]), tenant="system")
    source.put(
        "ClusterRoleBinding",
        binding("readers", "ClusterRole", "pod-reader", [{"kind": "Group", "name": "readers"}]),
        tenant="system",
    )
    for tenant in ("acme", "globex"):
        source.put(
            "ClusterRole",
            role("admin-role", [rule(["*"], ["*"], ["*"]), {"verbs": ["*"], "nonResourceURLs": ["*"]}]),
            tenant=tenant,
        )
        source.put(
            "ClusterRoleBinding",
            binding("admin-role-binding", "ClusterRole", "admin-role", [{"kind": "User", "name": "admin"}]),
            tenant=tenant,
        )
    source.put(
        "Role",
        role("cm-editor", [rule(["create", "update"], ["configmaps"])], namespace="default"),
        tenant="acme",
    )
    source.put(
        "RoleBinding",
        binding("edit-cms", "Role", "cm-editor", [{"kind": "User", "name": "alice"}], namespace="default"),
        tenant="acme",
    )
    source.put(
        "RoleBinding",
        binding(
            "sa-edit",
            "Role",
            "cm-editor",
            [
                {"kind": "ServiceAccount", "name": "builder"},
                {"kind": "ServiceAccount", "name": "deployer", "namespace": "ci"},
            ],
            namespace="default",
        ),
        tenant="acme",
    )
    source.put("ClusterRole", role("viewer", [], aggregate={"acme.io/view": "true"}), tenant="acme")
    source.put(
        "ClusterRole",
        role("viewer-pods", [rule(["get", "list"], ["pods"])], labels={"acme.io/view": "true"}),
        tenant="acme",
    )
    source.put(
        "ClusterRole",
        role("viewer-cms", [rule(["get"], ["configmaps"])], labels={"acme.io/view": "true"}),
        tenant="acme",
    )
    source.put(
        "RoleBinding",
        binding("view-dev", "ClusterRole", "viewer", [{"kind": "Group", "name": "devs"}], namespace="dev"),
        tenant="acme",
    )
    source.put(
        "RoleBinding",
        binding("broken", "ClusterRole", "view", [{"kind": "User", "name": "ghost"}], namespace="default"),
        tenant="acme",
    )
    return source


SYS_ADMIN = UserInfo("system:admin", groups=("system:masters", AUTH))
SYS_READER = user("reader", "readers")
SYS_NAMED_ADMIN = user("admin")
ACME_ADMIN = user("admin", tenant="acme")
GLOBEX_ADMIN = user("admin", tenant="globex")
ALICE = user("alice", tenant="acme")
DAN = user("dan", "devs", tenant="acme")
BUILDER = UserInfo(
    "system:serviceaccount:default:builder",
    groups=("system:serviceaccounts", "system:serviceaccounts:default", AUTH),
    tenant="acme",
)
DEPLOYER = UserInfo("system:serviceaccount:ci:deployer", groups=(AUTH,), tenant="acme")
OTHER_BUILDER = UserInfo("system:serviceaccount:other:builder", groups=(AUTH,), tenant="acme")
ACME_MASTER = user("boss", "system:masters", tenant="acme")
ANONYMOUS = UserInfo("system:anonymous", groups=("system:unauthenticated",))


def res(
    who: UserInfo,
    verb: str,
    resource: str,
    *,
    tenant: str,
    namespace: str = "",
    group: str = "",
    sub: str = "",
    name: str = "",
) -> Attributes:
    return Attributes(
        user=who,
        verb=verb,
        resource_request=True,
        api_group=group,
        api_version="v1",
        resource=resource,
        subresource=sub,
        name=name,
        namespace=namespace,
        tenant=tenant,
    )


def path(who: UserInfo, p: str, *, verb: str = "get", tenant: str = "") -> Attributes:
    return Attributes(user=who, verb=verb, resource_request=False, path=p, tenant=tenant)


CASES: list[tuple[str, Attributes, bool]] = [
    ("masters anywhere", res(SYS_ADMIN, "delete", "pods", tenant="acme", namespace="default"), True),
    ("masters cluster scope", res(SYS_ADMIN, "delete", "nodes", tenant=""), True),
    ("system CRB in other tenant", res(SYS_READER, "list", "pods", tenant="acme", namespace="default"), True),
    ("system CRB in all tenants", res(SYS_READER, "list", "pods", tenant="all"), True),
    ("system CRB in system", res(SYS_READER, "get", "pods", tenant="system", namespace="x", name="p"), True),
    ("system CRB verb limit", res(SYS_READER, "delete", "pods", tenant="system", namespace="x"), False),
    ("system CRB resource limit", res(SYS_READER, "get", "secrets", tenant="system", namespace="x"), False),
    ("tenant admin own ns", res(ACME_ADMIN, "create", "pods", tenant="acme", namespace="default"), True),
    ("tenant admin tenant-scoped", res(ACME_ADMIN, "get", "namespaces", tenant="acme", name="dev"), True),
    (
        "tenant admin subresource",
        res(ACME_ADMIN, "update", "deployments", tenant="acme", namespace="d", group="apps", sub="scale"),
        True,
    ),
    ("tenant admin cluster scope", res(ACME_ADMIN, "get", "nodes", tenant=""), False),
    ("tenant admin tenants", res(ACME_ADMIN, "get", "tenants", tenant="", name="acme"), False),
    (
        "tenant admin other tenant",
        res(ACME_ADMIN, "list", "pods", tenant="globex", namespace="default"),
        False,
    ),
    ("tenant admin all tenants", res(ACME_ADMIN, "list", "pods", tenant="all"), False),
    (
        "tenant admin system tenant",
        res(ACME_ADMIN, "get", "pods", tenant="system", namespace="default"),
        False,
    ),
    (
        "other admin into acme",
        res(GLOBEX_ADMIN, "get", "configmaps", tenant="acme", namespace="default"),
        False,
    ),
    ("other admin own", res(GLOBEX_ADMIN, "get", "configmaps", tenant="globex", namespace="default"), True),
    (
        "system user named admin",
        res(SYS_NAMED_ADMIN, "get", "pods", tenant="acme", namespace="default"),
        False,
    ),
    ("role binding", res(ALICE, "create", "configmaps", tenant="acme", namespace="default"), True),
    ("role binding other ns", res(ALICE, "create", "configmaps", tenant="acme", namespace="other"), False),
    (
        "role binding other tenant",
        res(ALICE, "update", "configmaps", tenant="globex", namespace="default"),
        False,
    ),
    ("role binding verb", res(ALICE, "delete", "configmaps", tenant="acme", namespace="default"), False),
    ("aggregated pods", res(DAN, "list", "pods", tenant="acme", namespace="dev"), True),
    ("aggregated cms", res(DAN, "get", "configmaps", tenant="acme", namespace="dev", name="c"), True),
    ("aggregated verb", res(DAN, "delete", "pods", tenant="acme", namespace="dev"), False),
    ("CR via RB is namespaced", res(DAN, "list", "pods", tenant="acme", namespace="default"), False),
    ("CR via RB not tenant-wide", res(DAN, "list", "pods", tenant="acme"), False),
    (
        "SA defaulted namespace",
        res(BUILDER, "create", "configmaps", tenant="acme", namespace="default"),
        True,
    ),
    (
        "SA explicit namespace",
        res(DEPLOYER, "update", "configmaps", tenant="acme", namespace="default"),
        True,
    ),
    (
        "SA wrong namespace",
        res(OTHER_BUILDER, "create", "configmaps", tenant="acme", namespace="default"),
        False,
    ),
    ("tenant masters own", res(ACME_MASTER, "delete", "secrets", tenant="acme", namespace="x"), True),
    ("tenant masters other", res(ACME_MASTER, "get", "secrets", tenant="globex", namespace="x"), False),
    ("tenant masters cluster", res(ACME_MASTER, "list", "nodes", tenant=""), False),
    ("tenant discovery /api", path(ALICE, "/api"), True),
    ("tenant discovery group", path(ALICE, "/apis/apps/v1"), True),
    ("tenant health", path(ALICE, "/healthz"), True),
    ("tenant livez", path(ALICE, "/livez"), True),
    ("tenant version", path(ALICE, "/version"), True),
    ("tenant openapi", path(ALICE, "/openapi/v3/api/v1"), True),
    ("tenant discovery post", path(ALICE, "/api", verb="post"), False),
    ("tenant admin metrics", path(ACME_ADMIN, "/metrics"), False),
    ("tenant admin logs", path(ACME_ADMIN, "/logs/x"), False),
    ("tenant prefix own", path(ALICE, "/apis", tenant="acme"), True),
    ("tenant prefix other", path(ALICE, "/apis", tenant="globex"), False),
    (
        "tenant self review",
        res(ALICE, "create", "selfsubjectaccessreviews", tenant="", group="authorization.k8s.io"),
        True,
    ),
    (
        "tenant self rules review",
        res(ALICE, "create", "selfsubjectrulesreviews", tenant="", group="authorization.k8s.io"),
        True,
    ),
    (
        "tenant SAR",
        res(ALICE, "create", "subjectaccessreviews", tenant="", group="authorization.k8s.io"),
        False,
    ),
    ("system reader discovery", path(SYS_READER, "/apis"), True),
    ("system reader metrics", path(SYS_READER, "/metrics"), False),
    ("anonymous health", path(ANONYMOUS, "/healthz"), True),
    ("anonymous discovery", path(ANONYMOUS, "/api"), False),
    ("anonymous pods", res(ANONYMOUS, "list", "pods", tenant="system", namespace="default"), False),
]


@pytest.mark.parametrize(("attrs", "allowed"), [c[1:] for c in CASES], ids=[c[0] for c in CASES])
def test_decision_table(attrs: Attributes, allowed: bool) -> None:
    assert RBACAuthorizer(build_source()).authorize(attrs).allowed is allowed


def test_reasons_name_the_granting_binding_and_missing_roles() -> None:
    authorizer = RBACAuthorizer(build_source())
    allowed = authorizer.authorize(res(ALICE, "create", "configmaps", tenant="acme", namespace="default"))
    assert (
        allowed.reason
        == 'RBAC: allowed by RoleBinding "edit-cms/default" of Role "cm-editor" to User "alice"'
    )
    via_sa = authorizer.authorize(res(BUILDER, "create", "configmaps", tenant="acme", namespace="default"))
    assert via_sa.reason.endswith('to ServiceAccount "builder/default"')
    missing = authorizer.authorize(
        res(user("ghost", tenant="acme"), "get", "pods", tenant="acme", namespace="default")
    )
    assert missing == type(missing)(False, 'RBAC: clusterrole.rbac.authorization.k8s.io "view" not found')
    plain = authorizer.authorize(res(ALICE, "get", "pods", tenant="acme", namespace="default"))
    assert plain.reason == ""


def test_several_missing_roles_are_listed_once_each() -> None:
    source = build_source()
    source.put(
        "RoleBinding",
        binding("broken2", "Role", "nope", [{"kind": "User", "name": "ghost"}], namespace="default"),
        tenant="acme",
    )
    source.put(
        "RoleBinding",
        binding("broken3", "ClusterRole", "view", [{"kind": "User", "name": "ghost"}], namespace="default"),
        tenant="acme",
    )
    decision = RBACAuthorizer(source).authorize(
        res(user("ghost", tenant="acme"), "get", "pods", tenant="acme", namespace="default")
    )
    assert decision.reason == (
        'RBAC: [clusterrole.rbac.authorization.k8s.io "view" not found, '
        'role.rbac.authorization.k8s.io "nope" not found]'
    )


def test_policy_changes_take_effect_through_generation() -> None:
    source = build_source()
    authorizer = RBACAuthorizer(source)
    attrs = res(ALICE, "get", "secrets", tenant="acme", namespace="default")
    assert not authorizer.authorize(attrs).allowed
    source.put(
        "Role", role("secret-reader", [rule(["get"], ["secrets"])], namespace="default"), tenant="acme"
    )
    source.put(
        "RoleBinding",
        binding(
            "read-secrets", "Role", "secret-reader", [{"kind": "User", "name": "alice"}], namespace="default"
        ),
        tenant="acme",
    )
    assert authorizer.authorize(attrs).allowed
    source.remove("RoleBinding", "read-secrets", tenant="acme", namespace="default")
    assert not authorizer.authorize(attrs).allowed
    # Aggregation follows label changes too.
    dan_secrets = res(DAN, "get", "secrets", tenant="acme", namespace="dev")
    assert not authorizer.authorize(dan_secrets).allowed
    source.put(
        "ClusterRole",
        role("viewer-secrets", [rule(["get"], ["secrets"])], labels={"acme.io/view": "true"}),
        tenant="acme",
    )
    assert authorizer.authorize(dan_secrets).allowed


def test_aggregation_cycles_terminate() -> None:
    source = MemoryPolicySource()
    source.put("ClusterRole", role("a", [rule(["get"], ["pods"])], labels={"x": "1"}, aggregate={"y": "1"}))
    source.put("ClusterRole", role("b", [rule(["list"], ["pods"])], labels={"y": "1"}, aggregate={"x": "1"}))
    source.put("ClusterRoleBinding", binding("ab", "ClusterRole", "a", [{"kind": "User", "name": "u"}]))
    authorizer = RBACAuthorizer(source)
    assert authorizer.authorize(res(user("u"), "list", "pods", tenant="system", namespace="n")).allowed


def test_rules_for_merges_own_and_public_rules() -> None:
    authorizer = RBACAuthorizer(build_source())
    rules = authorizer.rules_for(ALICE, "acme", "default")
    assert not rules.incomplete and rules.evaluation_error == ""
    assert rule(["create", "update"], ["configmaps"]) in rules.rules
    assert any("/api/*" in r.get("nonResourceURLs", []) for r in rules.rules)
    assert any("selfsubjectaccessreviews" in r.get("resources", []) for r in rules.rules)
    elsewhere = authorizer.rules_for(ALICE, "globex", "default")
    assert rule(["create", "update"], ["configmaps"]) not in elsewhere.rules
    assert elsewhere.rules  # discovery stays visible
    reader = authorizer.rules_for(SYS_READER, "acme", "default")
    assert rule(["get", "list"], ["pods"]) in reader.rules
    ghost = authorizer.rules_for(user("ghost", tenant="acme"), "acme", "default")
    assert ghost.evaluation_error == 'clusterrole.rbac.authorization.k8s.io "view" not found'


def test_a_cached_allow_answers_as_the_first_decision() -> None:
    authorizer = RBACAuthorizer(build_source())
    attrs = res(DAN, "get", "configmaps", tenant="acme", namespace="dev", name="c")
    first = authorizer.authorize(attrs)
    assert first.allowed
    assert [authorizer.authorize(attrs) for _ in range(3)] == [first] * 3


def test_a_tenant_binding_may_name_a_bootstrap_cluster_role_of_the_system_tenant() -> None:
    source = MemoryPolicySource()
    source.put("ClusterRole", role("view", [rule(["get", "list"], ["configmaps"])]), tenant="system")
    source.put("RoleBinding", binding("viewers", "ClusterRole", "view", [{"kind": "User", "name": "vic"}],
                                      namespace="default"), tenant="acme")
    authorizer = RBACAuthorizer(source)
    vic = user("vic", tenant="acme")
    assert authorizer.authorize(res(vic, "list", "configmaps", tenant="acme", namespace="default")).allowed
    # The binding grants only where it lives: not another namespace, not another tenant.
    assert not authorizer.authorize(res(vic, "list", "configmaps", tenant="acme", namespace="other")).allowed
    assert not authorizer.authorize(res(vic, "list", "configmaps", tenant="globex",
                                        namespace="default")).allowed
