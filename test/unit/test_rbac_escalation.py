"""server.authz.escalation and escalation_check: RBAC escalation prevention, without a server.

Covers: upstream's Covers cases (policy_comparator_test.go: exact match, several rules covering
one, ``*`` covering enumerations but not the reverse, resourceNames, non-resource URLs and their
``*`` suffix), CompactRules merging verbs of simple rules, CompactString and the message text;
the admission plugin over an in-memory policy: system:masters and server writes pass, Roles and
bindings checked against the rules held where the object grants (namespace, tenant), ``escalate``
and ``bind`` (by resource name), a tenant's binding to the system tenant's ``cluster-admin``
(allowed for a tenant admin holding everything in the tenant, refused for a namespace admin),
missing roles, aggregation rules, and GC-only updates.
Leaves out: the HTTP layer and error rendering over the wire (component tests).
"""

from __future__ import annotations

from typing import Any

import pytest

from server.auth.user import UserInfo
from server.authz.bootstrap_policy import bootstrap_cluster_role_bindings, bootstrap_cluster_roles
from server.authz.chain import AuthorizerChain
from server.authz.escalation import compact, compact_string, escalation_error, uncovered
from server.authz.escalation_check import RBACEscalationCheck, only_gc_fields_changed
from server.authz.policy_source import MemoryPolicySource
from server.authz.rbac import RBACAuthorizer
from server.errors import Forbidden, NotFound
from server.registry.admission.interface import AdmissionRequest
from server.registry.keys import Scope
from server.resources.builtin import builtin_catalogue


def r(groups: list[str], verbs: list[str], resources: list[str], **extra: Any) -> dict[str, Any]:
    return {"apiGroups": groups, "verbs": verbs, "resources": resources, **extra}


def urls(paths: list[str], verbs: list[str]) -> dict[str, Any]:
    return {"nonResourceURLs": paths, "verbs": verbs}


COVERS = [
    ([r(["v1"], ["get"], ["builds"])], [r(["v1"], ["get"], ["builds"])], []),
    (
        [
            r(["v1"], ["delete"], ["deployments"]),
            r(["v1"], ["delete"], ["builds"]),
            r(["v1"], ["update"], ["builds", "deployments"]),
        ],
        [r(["v1"], ["delete", "update"], ["builds", "deployments"])],
        [],
    ),
    (
        [r(["v1"], ["delete", "update"], ["builds", "deployments"]), r(["v1"], ["delete"], ["pods"])],
        [r(["v1"], ["delete", "update"], ["builds", "deployments", "pods"])],
        [r(["v1"], ["update"], ["pods"])],
    ),
    ([r(["*"], ["get"], ["roles"])], [r(["group1", "group2"], ["get"], ["roles"])], []),
    (
        [r(["dummy-group"], ["get"], ["roles"])],
        [r(["*"], ["get"], ["roles"])],
        [r(["*"], ["get"], ["roles"])],
    ),
    ([r(["v1"], ["*"], ["roles"])], [r(["v1"], ["watch", "list"], ["roles"])], []),
    (
        [r(["v1"], ["get", "list", "watch", "create", "update", "delete", "exec"], ["roles"])],
        [r(["v1"], ["*"], ["roles"])],
        [r(["v1"], ["*"], ["roles"])],
    ),
    ([r(["v1"], ["get"], ["*"])], [r(["v1"], ["get"], ["resourcegroup:deployments"])], []),
    (
        [r(["v1"], ["get"], ["roles", "resourcegroup:deployments"])],
        [r(["v1"], ["get"], ["*"])],
        [r(["v1"], ["get"], ["*"])],
    ),
    (
        [r(["v1"], ["get"], ["pods"], resourceNames=[])],
        [r(["v1"], ["get"], ["pods"], resourceNames=["foo", "bar"])],
        [],
    ),
    (
        [r(["v1"], ["get"], ["pods"], resourceNames=["foo", "bar"])],
        [r(["v1"], ["get"], ["pods"], resourceNames=[])],
        [r(["v1"], ["get"], ["pods"])],
    ),
    ([urls(["/apis"], ["*"])], [urls(["/apis"], ["*"])], []),
    ([urls(["*"], ["*"])], [urls(["/apis", "/apis/v1", "/"], ["*"])], []),
    ([urls(["/apis/*"], ["*"])], [urls(["/apis", "/apis/v1"], ["get"])], [urls(["/apis"], ["get"])]),
    ([urls(["/apis/*"], ["*"])], [urls(["/apis/v1/foo", "/apis/v1"], ["get"])], []),
    (
        [r(["v1"], ["get"], ["builds"])],
        [r(["v1"], ["get"], ["builds"], nonResourceURLs=["/apis"])],
        [urls(["/apis"], ["get"])],
    ),
    ([urls(["/api/*/*"], ["get"])], [urls(["/api/v1"], ["get"])], [urls(["/api/v1"], ["get"])]),
]


@pytest.mark.parametrize(("owner", "servant", "missing"), COVERS)
def test_covers_follows_upstream(
    owner: list[dict[str, Any]], servant: list[dict[str, Any]], missing: list[dict[str, Any]]
) -> None:
    def canonical(rules: list[dict[str, Any]]) -> list[dict[str, Any]]:
        return sorted(({k: v for k, v in rule.items() if v} for rule in rules), key=repr)

    assert canonical(uncovered(owner, servant)) == canonical(missing)


def test_compaction_merges_verbs_of_simple_rules_only() -> None:
    missing = [
        r([""], ["get"], ["pods"]),
        r([""], ["list"], ["pods"]),
        r([""], ["get"], ["pods"], resourceNames=["a"]),
        urls(["/x"], ["get"]),
        r(["apps"], ["get"], ["deployments"]),
    ]
    assert sorted(compact_string(rule) for rule in compact(missing)) == [
        '{APIGroups:[""], Resources:["pods"], ResourceNames:["a"], Verbs:["get"]}',
        '{APIGroups:[""], Resources:["pods"], Verbs:["get" "list"]}',
        '{APIGroups:["apps"], Resources:["deployments"], Verbs:["get"]}',
        '{NonResourceURLs:["/x"], Verbs:["get"]}',
    ]


def test_the_message_names_the_user_its_groups_and_what_is_missing() -> None:
    alice = UserInfo("alice", groups=("devs", "system:authenticated"), tenant="acme")
    held = [r([""], ["get"], ["pods"])]
    assert escalation_error(alice, held, [r([""], ["get"], ["pods"])]) is None
    assert escalation_error(
        alice,
        held,
        [r([""], ["get", "delete"], ["pods", "secrets"])],
        resolution_error='role.rbac.authorization.k8s.io "x" not found',
    ) == (
        'user "alice" (groups=["devs" "system:authenticated"]) is attempting to grant RBAC permissions not '
        'currently held:\n{APIGroups:[""], Resources:["pods"], Verbs:["delete"]}\n'
        '{APIGroups:[""], Resources:["secrets"], Verbs:["get" "delete"]}; resolution errors: '
        '[role.rbac.authorization.k8s.io "x" not found]'
    )


# -- the admission plugin -------------------------------------------------------------------------

CATALOGUE = builtin_catalogue()
RBAC_GROUP = "rbac.authorization.k8s.io"
AUTH = "system:authenticated"


def _obj(name: str, **fields: Any) -> dict[str, Any]:
    return {"metadata": {"name": name}, **fields}


def _ref(kind: str, name: str) -> dict[str, Any]:
    return {"apiGroup": RBAC_GROUP, "kind": kind, "name": name}


def _subjects(*users: str) -> list[dict[str, Any]]:
    return [{"kind": "User", "apiGroup": RBAC_GROUP, "name": u} for u in users]


@pytest.fixture
def check() -> RBACEscalationCheck:
    source = MemoryPolicySource()
    for obj in bootstrap_cluster_roles():
        source.put("ClusterRole", obj, tenant="system")
    for obj in bootstrap_cluster_role_bindings():
        source.put("ClusterRoleBinding", obj, tenant="system")
    source.put(
        "ClusterRole", _obj("admin-role", rules=[r(["*"], ["*"], ["*"]), urls(["*"], ["*"])]), tenant="acme"
    )
    source.put(
        "ClusterRoleBinding",
        _obj("admin-role-binding", roleRef=_ref("ClusterRole", "admin-role"), subjects=_subjects("admin")),
        tenant="acme",
    )
    source.put(
        "RoleBinding",
        {
            "metadata": {"name": "dev", "namespace": "dev"},
            "roleRef": _ref("ClusterRole", "admin"),
            "subjects": _subjects("dev"),
        },
        tenant="acme",
    )
    source.put(
        "ClusterRole",
        _obj(
            "granter",
            rules=[
                r([RBAC_GROUP], ["bind"], ["clusterroles"], resourceNames=["view"]),
                r([RBAC_GROUP], ["escalate"], ["roles"]),
            ],
        ),
        tenant="acme",
    )
    source.put(
        "ClusterRoleBinding",
        _obj("granter", roleRef=_ref("ClusterRole", "granter"), subjects=_subjects("granter")),
        tenant="acme",
    )
    rbac = RBACAuthorizer(source)
    return RBACEscalationCheck(AuthorizerChain(rbac), rbac, catalogue=CATALOGUE)


def _request(
    plural: str,
    obj: dict[str, Any],
    who: UserInfo | None,
    *,
    namespace: str = "",
    old: dict[str, Any] | None = None,
) -> AdmissionRequest:
    resource = CATALOGUE.lookup(RBAC_GROUP, "v1", plural)
    assert resource is not None
    return AdmissionRequest(
        "UPDATE" if old else "CREATE", resource, Scope("acme", namespace), obj, old, user=who
    )


ADMIN = UserInfo("admin", groups=(AUTH,), tenant="acme")
DEV = UserInfo("dev", groups=(AUTH,), tenant="acme")
GRANTER = UserInfo("granter", groups=(AUTH,), tenant="acme")
NODES = r([""], ["get"], ["nodes"])


async def test_masters_and_server_writes_are_not_checked(check: RBACEscalationCheck) -> None:
    root = UserInfo("root", groups=("system:masters",), tenant="system")
    for who in (None, root):
        await check.validate(_request("roles", _obj("x", rules=[NODES]), who, namespace="dev"))


async def test_roles_are_checked_against_the_rules_held_in_their_namespace(
        check: RBACEscalationCheck) -> None:
    pods_reader = _obj("ok", rules=[r([""], ["get"], ["pods"])])
    await check.validate(_request("roles", pods_reader, DEV, namespace="dev"))
    with pytest.raises(Forbidden) as refused:
        await check.validate(
            _request("roles", _obj("ok", rules=[r([""], ["get"], ["pods"])]), DEV, namespace="other")
        )
    assert refused.value.message.startswith(
        'roles.rbac.authorization.k8s.io "ok" is forbidden: user "dev" (groups=["system:authenticated"]) is '
        "attempting to grant RBAC permissions not currently held:\n"
    )
    with pytest.raises(Forbidden):
        await check.validate(_request("roles", _obj("nodes", rules=[NODES]), DEV, namespace="dev"))


async def test_escalate_and_bind_let_a_user_past_the_check(check: RBACEscalationCheck) -> None:
    await check.validate(
        _request("roles", _obj("anything", rules=[r(["*"], ["*"], ["*"])]), GRANTER, namespace="dev")
    )
    view = _obj("v", roleRef=_ref("ClusterRole", "view"), subjects=_subjects("x"))
    await check.validate(_request("rolebindings", view, GRANTER, namespace="dev"))
    edit = _obj("e", roleRef=_ref("ClusterRole", "edit"), subjects=_subjects("x"))
    with pytest.raises(Forbidden):
        await check.validate(_request("rolebindings", edit, GRANTER, namespace="dev"))


async def test_binding_the_system_tenants_cluster_admin_inside_a_tenant(check: RBACEscalationCheck) -> None:
    body = _obj("b", roleRef=_ref("ClusterRole", "cluster-admin"), subjects=_subjects("dev"))
    await check.validate(_request("clusterrolebindings", body, ADMIN))
    with pytest.raises(Forbidden) as refused:
        await check.validate(_request("rolebindings", body, DEV, namespace="dev"))
    assert refused.value.message.endswith(
        '{APIGroups:["*"], Resources:["*"], Verbs:["*"]}\n{NonResourceURLs:["*"], Verbs:["*"]}'
    )


async def test_a_missing_role_is_not_found(check: RBACEscalationCheck) -> None:
    body = _obj("b", roleRef=_ref("ClusterRole", "nope"), subjects=_subjects("x"))
    with pytest.raises(NotFound) as missing:
        await check.validate(_request("rolebindings", body, DEV, namespace="dev"))
    assert missing.value.message == 'clusterroles.rbac.authorization.k8s.io "nope" not found'


async def test_aggregation_rules_need_full_authority(check: RBACEscalationCheck) -> None:
    body = _obj("agg", rules=[], aggregationRule={"clusterRoleSelectors": [{"matchLabels": {"a": "b"}}]})
    await check.validate(_request("clusterroles", body, ADMIN))
    with pytest.raises(Forbidden) as refused:
        await check.validate(_request("clusterroles", body, DEV))
    assert refused.value.message == (
        'clusterroles.rbac.authorization.k8s.io "agg" is forbidden: must have '
        "cluster-admin privileges to use the aggregationRule"
    )


async def test_updates_touching_only_gc_fields_are_not_checked(check: RBACEscalationCheck) -> None:
    old = {"metadata": {"name": "n", "namespace": "dev", "resourceVersion": "5"}, "rules": [NODES]}
    gc_only = {
        "metadata": {"name": "n", "namespace": "dev", "finalizers": ["x"], "ownerReferences": [{"uid": "u"}]},
        "rules": [NODES],
    }
    assert only_gc_fields_changed(gc_only, old)
    await check.validate(_request("roles", gc_only, DEV, namespace="dev", old=old))
    labelled = {**gc_only, "metadata": {**gc_only["metadata"], "labels": {"a": "b"}}}
    assert not only_gc_fields_changed(labelled, old)
    with pytest.raises(Forbidden):
        await check.validate(_request("roles", labelled, DEV, namespace="dev", old=old))
