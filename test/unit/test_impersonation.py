"""server.impersonation: who a request with ``Impersonate-*`` headers acts as, and who may ask.

Covers, with the real RBAC authorizer chain over an in-memory policy: the identity built from
the headers (user, groups, service accounts and their groups, uid, extras with upstream's key
unescaping, ``system:authenticated`` / ``system:unauthenticated``), each part authorized with
upstream's attributes and refused with upstream's 403 text, headers that name no user (400),
Arktos's tenant rule (the requester's tenant, the tenant extra for system-tenant requesters
only, a tenant user confined to its tenant whatever its roles say, service accounts of the
chosen tenant) and the header stripping.
Leaves out the HTTP wiring, the audit log and kubectl (test/component/test_api_impersonation.py,
test/e2e/test_tenancy_impersonation.py).
"""

from __future__ import annotations

from typing import Any

import pytest
from multidict import CIMultiDict, CIMultiDictProxy

from server.auth.user import UserInfo
from server.authz.attributes import Attributes
from server.authz.chain import AuthorizerChain
from server.authz.policy_source import MemoryPolicySource
from server.authz.rbac import RBACAuthorizer
from server.errors import BadRequest, Forbidden
from server.impersonation import asks_to_impersonate, impersonated_user, without_impersonation

AUTH = "system:authenticated"
TENANT_EXTRA_HEADER = "Impersonate-Extra-arktos.futurewei.com%2Ftenant"

SYS_ADMIN = UserInfo("system:admin", groups=("system:masters", AUTH))
SYS_IMPERSONATOR = UserInfo("ops", groups=(AUTH,))
ACME_VIEWER = UserInfo("viewer", groups=(AUTH,), tenant="acme")
ACME_NOBODY = UserInfo("nobody", groups=(AUTH,), tenant="acme")
GLOBEX_VIEWER = UserInfo("viewer", groups=(AUTH,), tenant="globex")


def _rule(verbs: list[str], resources: list[str], group: str = "", names: list[str] | None = None
          ) -> dict[str, Any]:
    rule: dict[str, Any] = {"verbs": verbs, "apiGroups": [group], "resources": resources}
    if names:
        rule["resourceNames"] = names
    return rule


def _grant(source: MemoryPolicySource, tenant: str, name: str, rules: list[dict[str, Any]], user: str, *,
           namespace: str = "") -> None:
    role_kind, binding_kind = ("Role", "RoleBinding") if namespace else ("ClusterRole", "ClusterRoleBinding")
    meta = {"name": name, "namespace": namespace}
    source.put(role_kind, {"metadata": meta, "rules": rules}, tenant=tenant)
    source.put(binding_kind, {"metadata": meta, "subjects": [{"kind": "User", "name": user}],
                              "roleRef": {"apiGroup": "rbac.authorization.k8s.io", "kind": role_kind,
                                          "name": name}}, tenant=tenant)


@pytest.fixture(scope="module")
def allowed() -> Any:
    source = MemoryPolicySource()
    _grant(source, "system", "ops-impersonate", [
        _rule(["impersonate"], ["users", "groups"]),
        _rule(["impersonate"], ["userextras/arktos.futurewei.com/tenant"], "authentication.k8s.io",
              names=["acme"]),
    ], "ops")
    _grant(source, "acme", "viewer-impersonate", [
        _rule(["impersonate"], ["users"], names=["admin", "alice"]),
        _rule(["impersonate"], ["userextras/arktos.futurewei.com/tenant", "uids"], "authentication.k8s.io"),
    ], "viewer")
    # upstream's `edit` role lets a namespace's editors impersonate its service accounts.
    _grant(source, "acme", "sa-impersonate", [_rule(["impersonate"], ["serviceaccounts"])], "viewer",
           namespace="ci")
    chain = AuthorizerChain(RBACAuthorizer(source))

    def decide(attrs: Attributes) -> bool:
        return chain.authorize(attrs).allowed

    return decide


def _headers(*pairs: tuple[str, str]) -> CIMultiDictProxy[str]:
    return CIMultiDictProxy(CIMultiDict(pairs))


def _refusal(allowed: Any, requester: UserInfo, *pairs: tuple[str, str]) -> Forbidden:
    with pytest.raises(Forbidden) as refused:
        impersonated_user(_headers(*pairs), requester, allowed=allowed)
    return refused.value


def test_no_impersonation_headers_change_nothing(allowed: Any) -> None:
    headers = _headers(("Accept", "application/json"), ("Impersonate-User", ""))
    assert impersonated_user(headers, ACME_NOBODY, allowed=allowed) is None
    assert not asks_to_impersonate(_headers(("Accept", "*/*")))
    assert asks_to_impersonate(_headers(("impersonate-user", "x")))


def test_a_user_is_acted_as_with_system_authenticated(allowed: Any) -> None:
    acting = impersonated_user(_headers(("Impersonate-User", "alice")), SYS_ADMIN, allowed=allowed)
    assert acting == UserInfo("alice", groups=(AUTH,), tenant="system")


def test_named_groups_uid_and_extras_are_the_identity(allowed: Any) -> None:
    acting = impersonated_user(_headers(
        ("Impersonate-User", "alice"), ("Impersonate-Group", "devs"), ("Impersonate-Group", "ops"),
        ("Impersonate-Uid", "u-1"), ("Impersonate-Extra-Scopes", "view"),
        ("Impersonate-Extra-Scopes", "edit"), ("Impersonate-Extra-example.com%2fteam", "blue"),
    ), SYS_ADMIN, allowed=allowed)
    assert acting == UserInfo("alice", uid="u-1", groups=("devs", "ops", AUTH), tenant="system",
                              extra=(("example.com/team", ("blue",)), ("scopes", ("view", "edit"))))


def test_well_known_groups_are_not_doubled(allowed: Any) -> None:
    unauthenticated = impersonated_user(_headers(("Impersonate-User", "bob"),
                                                 ("Impersonate-Group", "system:unauthenticated")),
                                        SYS_ADMIN, allowed=allowed)
    assert unauthenticated is not None and unauthenticated.groups == ("system:unauthenticated",)
    anonymous = impersonated_user(_headers(("Impersonate-User", "system:anonymous")), SYS_ADMIN,
                                  allowed=allowed)
    assert anonymous is not None and anonymous.groups == ("system:unauthenticated",)


def test_a_service_account_brings_its_groups_unless_groups_are_named(allowed: Any) -> None:
    acting = impersonated_user(_headers(("Impersonate-User", "system:serviceaccount:ci:builder")),
                               ACME_VIEWER, allowed=allowed)
    assert acting == UserInfo("system:serviceaccount:ci:builder", tenant="acme", groups=(
        "system:serviceaccounts", "system:serviceaccounts:ci", AUTH))
    named = impersonated_user(_headers(("Impersonate-User", "system:serviceaccount:ci:builder"),
                                       ("Impersonate-Group", "x")), SYS_ADMIN, allowed=allowed)
    assert named is not None and named.groups == ("x", AUTH)
    # Not a service-account name (three parts): an ordinary user, authorized as users.
    refused = _refusal(allowed, ACME_VIEWER, ("Impersonate-User", "system:serviceaccount:a:b:c"))
    assert refused.message.startswith('users "system:serviceaccount:a:b:c" is forbidden')


@pytest.mark.parametrize(("requester", "pairs", "message"), [
    (ACME_NOBODY, [("Impersonate-User", "admin")],
     'users "admin" is forbidden: User "nobody" cannot impersonate resource "users" in API group "" '
     "at the cluster scope"),
    (ACME_VIEWER, [("Impersonate-User", "bob")],
     'users "bob" is forbidden: User "viewer" cannot impersonate resource "users" in API group "" '
     "at the cluster scope"),
    (ACME_VIEWER, [("Impersonate-User", "admin"), ("Impersonate-Group", "devs")],
     'groups "devs" is forbidden: User "viewer" cannot impersonate resource "groups" in API group "" '
     "at the cluster scope"),
    (ACME_VIEWER, [("Impersonate-User", "system:serviceaccount:prod:deployer")],
     'serviceaccounts "deployer" is forbidden: User "viewer" cannot impersonate resource '
     '"serviceaccounts" in API group "" in the namespace "prod"'),
    (SYS_IMPERSONATOR, [("Impersonate-User", "alice"), ("Impersonate-Uid", "u-1")],
     'uids.authentication.k8s.io "u-1" is forbidden: User "ops" cannot impersonate resource "uids" '
     'in API group "authentication.k8s.io" at the cluster scope'),
    (SYS_IMPERSONATOR, [("Impersonate-User", "alice"), ("Impersonate-Extra-Scopes", "view")],
     'userextras.authentication.k8s.io "view" is forbidden: User "ops" cannot impersonate resource '
     '"userextras/scopes" in API group "authentication.k8s.io" at the cluster scope'),
])
def test_each_part_needs_the_impersonate_verb(allowed: Any, requester: UserInfo,
                                              pairs: list[tuple[str, str]], message: str) -> None:
    refused = _refusal(allowed, requester, *pairs)
    assert refused.message == message
    assert refused.status()["reason"] == "Forbidden" and refused.code == 403


def test_forbidden_details_name_the_refused_part(allowed: Any) -> None:
    refused = _refusal(allowed, SYS_IMPERSONATOR, ("Impersonate-User", "a"), ("Impersonate-Uid", "u-9"))
    assert refused.details == {"name": "u-9", "group": "authentication.k8s.io", "kind": "uids"}


@pytest.mark.parametrize("header", ["Impersonate-Group", "Impersonate-Uid", "Impersonate-Extra-Scopes"])
def test_parts_without_a_user_are_a_bad_request(allowed: Any, header: str) -> None:
    with pytest.raises(BadRequest, match="without impersonating a user"):
        impersonated_user(_headers((header, "x")), SYS_ADMIN, allowed=allowed)


def test_a_tenant_user_acts_within_its_tenant_by_its_tenant_roles(allowed: Any) -> None:
    acting = impersonated_user(_headers(("Impersonate-User", "admin")), ACME_VIEWER, allowed=allowed)
    assert acting == UserInfo("admin", groups=(AUTH,), tenant="acme")
    # globex's viewer has no binding in globex; acme's bindings never grant to another tenant's users.
    assert "cannot impersonate" in _refusal(allowed, GLOBEX_VIEWER, ("Impersonate-User", "admin")).message


def test_a_tenant_user_cannot_name_another_tenant_whatever_its_roles(allowed: Any) -> None:
    # acme's viewer may impersonate the tenant extra with any value in acme, and still not
    # move to globex.
    refused = _refusal(allowed, ACME_VIEWER, ("Impersonate-User", "admin"), (TENANT_EXTRA_HEADER, "globex"))
    assert refused.message == (
        'userextras.authentication.k8s.io "globex" is forbidden: User "viewer" cannot impersonate '
        'resource "userextras/arktos.futurewei.com/tenant" in API group "authentication.k8s.io" at the '
        'cluster scope: a user of tenant "acme" can only impersonate identities of its own tenant')
    same = impersonated_user(_headers(("Impersonate-User", "admin"), (TENANT_EXTRA_HEADER, "acme")),
                             ACME_VIEWER, allowed=allowed)
    assert same == UserInfo("admin", groups=(AUTH,), tenant="acme")


def test_a_system_requester_names_the_tenant_with_the_extra(allowed: Any) -> None:
    acting = impersonated_user(_headers(("Impersonate-User", "admin"), (TENANT_EXTRA_HEADER, "acme"),
                                        ("Impersonate-Group", "devs")), SYS_IMPERSONATOR, allowed=allowed)
    assert acting == UserInfo("admin", groups=("devs", AUTH), tenant="acme")
    # ops holds the tenant extra for acme only.
    refused = _refusal(allowed, SYS_IMPERSONATOR, ("Impersonate-User", "admin"),
                       (TENANT_EXTRA_HEADER, "globex"))
    assert refused.message == (
        'userextras.authentication.k8s.io "globex" is forbidden: User "ops" cannot impersonate resource '
        '"userextras/arktos.futurewei.com/tenant" in API group "authentication.k8s.io" at the cluster scope')


def test_a_service_account_of_another_tenant_for_the_system_admin(allowed: Any) -> None:
    acting = impersonated_user(_headers(("Impersonate-User", "system:serviceaccount:default:bot"),
                                        (TENANT_EXTRA_HEADER, "globex")), SYS_ADMIN, allowed=allowed)
    assert acting == UserInfo("system:serviceaccount:default:bot", tenant="globex", groups=(
        "system:serviceaccounts", "system:serviceaccounts:default", AUTH))


@pytest.mark.parametrize("pairs", [
    [(TENANT_EXTRA_HEADER, "acme"), (TENANT_EXTRA_HEADER, "globex")],
    [(TENANT_EXTRA_HEADER, "Not/A-Tenant")],
])
def test_a_bad_tenant_extra_is_a_bad_request(allowed: Any, pairs: list[tuple[str, str]]) -> None:
    with pytest.raises(BadRequest, match="tenant"):
        impersonated_user(_headers(("Impersonate-User", "admin"), *pairs), SYS_ADMIN, allowed=allowed)


def test_the_used_headers_are_stripped() -> None:
    kept = without_impersonation(_headers(
        ("Accept", "application/json"), ("impersonate-user", "a"), ("Impersonate-Group", "g"),
        ("Impersonate-Group", "h"), ("Impersonate-Uid", "u"), ("Impersonate-Extra-Scopes", "s"),
        ("Authorization", "Bearer t"), ("Impersonate-Other", "kept, as upstream keeps it")))
    assert list(kept.items()) == [("Accept", "application/json"), ("Authorization", "Bearer t"),
                                  ("Impersonate-Other", "kept, as upstream keeps it")]
