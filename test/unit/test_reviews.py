"""server.authz.reviews (and server.authz.chain): access reviews as ``kubectl auth can-i`` uses them.

Covers SelfSubjectAccessReview for a system admin, a tenant admin, a view-only user and a service
account (incl. cluster-scoped resources for tenant users), SubjectAccessReview subject handling
and the tenant extra, LocalSubjectAccessReview namespace rules, spec validation (422 texts),
SelfSubjectRulesReview status shape, and the authorizer chain (masters, node, RBAC reasons).
Leaves out the HTTP endpoints that call these functions.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

import pytest

from server.auth.user import UserInfo
from server.authz.attributes import Attributes
from server.authz.bootstrap_policy import bootstrap_cluster_role_bindings, bootstrap_cluster_roles
from server.authz.chain import AuthorizerChain
from server.authz.node import NodeAuthorizer
from server.authz.policy_source import MemoryPolicySource
from server.authz.rbac import RBACAuthorizer
from server.authz.reviews import (
    local_subject_access_review,
    self_subject_access_review,
    self_subject_rules_review,
    subject_access_review,
)
from server.errors import BadRequest, Invalid

AUTH = "system:authenticated"
CLUSTER_SCOPED = {("", "nodes"), ("", "tenants")}
SYS_ADMIN = UserInfo("system:admin", groups=("system:masters", AUTH))
ACME_ADMIN = UserInfo("admin", groups=(AUTH,), tenant="acme")
VIEWER = UserInfo("vera", groups=(AUTH,), tenant="acme")
ACME_SA = UserInfo(
    "system:serviceaccount:default:builder",
    groups=("system:serviceaccounts", "system:serviceaccounts:default", AUTH),
    tenant="acme",
)


def _binding(name: str, kind: str, role: str, subject: dict[str, Any], namespace: str = "") -> dict[str, Any]:
    return {
        "metadata": {"name": name, "namespace": namespace},
        "roleRef": {"apiGroup": "rbac.authorization.k8s.io", "kind": kind, "name": role},
        "subjects": [subject],
    }


class NoPods:
    def pods_on_node(self, node: str) -> Iterable[dict[str, Any]]:
        return []


def _chain() -> AuthorizerChain:
    source = MemoryPolicySource()
    for obj in bootstrap_cluster_roles():
        source.put("ClusterRole", obj, tenant="system")
    for obj in bootstrap_cluster_role_bindings():
        source.put("ClusterRoleBinding", obj, tenant="system")
    source.put(
        "ClusterRole",
        {
            "metadata": {"name": "admin-role"},
            "rules": [{"verbs": ["*"], "apiGroups": ["*"], "resources": ["*"]}],
        },
        tenant="acme",
    )
    source.put(
        "ClusterRoleBinding",
        _binding("admin-role-binding", "ClusterRole", "admin-role", {"kind": "User", "name": "admin"}),
        tenant="acme",
    )
    view = next(r for r in bootstrap_cluster_roles() if r["metadata"]["name"] == "view")
    source.put("ClusterRole", view, tenant="acme")
    source.put(
        "RoleBinding",
        _binding("vera-view", "ClusterRole", "view", {"kind": "User", "name": "vera"}, "default"),
        tenant="acme",
    )
    source.put(
        "Role",
        {
            "metadata": {"name": "cm", "namespace": "default"},
            "rules": [{"verbs": ["get"], "apiGroups": [""], "resources": ["configmaps"]}],
        },
        tenant="acme",
    )
    source.put(
        "RoleBinding",
        _binding("sa-cm", "Role", "cm", {"kind": "ServiceAccount", "name": "builder"}, "default"),
        tenant="acme",
    )
    return AuthorizerChain(RBACAuthorizer(source), NodeAuthorizer(NoPods()))


def _ssar(
    verb: str, resource: str, *, namespace: str = "", group: str = "", tenant: str = ""
) -> dict[str, Any]:
    attributes = {"verb": verb, "resource": resource, "group": group, "namespace": namespace}
    if tenant:
        attributes["tenant"] = tenant
    return {
        "apiVersion": "authorization.k8s.io/v1",
        "kind": "SelfSubjectAccessReview",
        "spec": {"resourceAttributes": attributes},
    }


def _cluster_scoped(group: str, resource: str) -> bool:
    return (group, resource) in CLUSTER_SCOPED


CAN_I = [
    (SYS_ADMIN, _ssar("delete", "nodes"), True),
    (SYS_ADMIN, _ssar("create", "pods", namespace="default", tenant="acme"), True),
    (ACME_ADMIN, _ssar("create", "deployments", namespace="default", group="apps"), True),
    (ACME_ADMIN, _ssar("list", "namespaces"), True),
    (ACME_ADMIN, _ssar("list", "nodes"), False),
    (ACME_ADMIN, _ssar("get", "tenants"), False),
    (ACME_ADMIN, _ssar("get", "pods", namespace="default", tenant="globex"), False),
    (VIEWER, _ssar("list", "pods", namespace="default"), True),
    (VIEWER, _ssar("create", "pods", namespace="default"), False),
    (VIEWER, _ssar("get", "secrets", namespace="default"), False),
    (VIEWER, _ssar("list", "pods", namespace="kube-system"), False),
    (ACME_SA, _ssar("get", "configmaps", namespace="default"), True),
    (ACME_SA, _ssar("list", "configmaps", namespace="default"), False),
    (ACME_SA, _ssar("get", "configmaps", namespace="other"), False),
]


@pytest.mark.parametrize(("who", "review", "allowed"), CAN_I)
def test_can_i(who: UserInfo, review: dict[str, Any], allowed: bool) -> None:
    answered = self_subject_access_review(
        review, authorizer=_chain(), requester=who, cluster_scoped=_cluster_scoped
    )
    assert answered["status"]["allowed"] is allowed
    assert answered["kind"] == "SelfSubjectAccessReview"
    assert answered["spec"] == review["spec"]


def test_allowed_reason_is_reported() -> None:
    answered = self_subject_access_review(
        _ssar("list", "pods", namespace="default"), authorizer=_chain(), requester=VIEWER
    )
    assert answered["status"] == {
        "allowed": True,
        "reason": 'RBAC: allowed by RoleBinding "vera-view/default" of ClusterRole "view" to User "vera"',
    }


def test_non_resource_self_review() -> None:
    review = {"spec": {"nonResourceAttributes": {"verb": "get", "path": "/apis"}}}
    assert self_subject_access_review(review, authorizer=_chain(), requester=VIEWER)["status"]["allowed"]
    review = {"spec": {"nonResourceAttributes": {"verb": "get", "path": "/metrics"}}}
    assert not self_subject_access_review(review, authorizer=_chain(), requester=VIEWER)["status"]["allowed"]


def test_subject_access_review_asks_about_the_named_user() -> None:
    review: dict[str, Any] = {
        "spec": {
            "user": "vera",
            "resourceAttributes": {"verb": "list", "resource": "pods", "namespace": "default"},
        }
    }
    assert subject_access_review(review, authorizer=_chain(), requester=ACME_ADMIN)["status"]["allowed"]
    # A system requester asks about acme's user through the tenant extra; without it, vera is a system user.
    assert not subject_access_review(review, authorizer=_chain(), requester=SYS_ADMIN)["status"]["allowed"]
    review["spec"]["extra"] = {"arktos.futurewei.com/tenant": ["acme"]}
    review["spec"]["resourceAttributes"]["tenant"] = "acme"
    assert subject_access_review(review, authorizer=_chain(), requester=SYS_ADMIN)["status"]["allowed"]
    # A tenant requester cannot move the subject into another tenant.
    globex_admin = UserInfo("admin", groups=(AUTH,), tenant="globex")
    assert not subject_access_review(review, authorizer=_chain(), requester=globex_admin)["status"]["allowed"]


def test_review_spec_validation() -> None:
    with pytest.raises(Invalid, match="at least one of user or group must be specified"):
        subject_access_review(
            {"spec": {"resourceAttributes": {"verb": "get"}}}, authorizer=_chain(), requester=SYS_ADMIN
        )
    with pytest.raises(Invalid, match="exactly one of nonResourceAttributes or resourceAttributes"):
        self_subject_access_review({"spec": {}}, authorizer=_chain(), requester=SYS_ADMIN)
    both: dict[str, Any] = {"spec": {"resourceAttributes": {}, "nonResourceAttributes": {}}}
    with pytest.raises(Invalid, match="cannot be specified in combination"):
        self_subject_access_review(both, authorizer=_chain(), requester=SYS_ADMIN)


def test_local_subject_access_review() -> None:
    review: dict[str, Any] = {
        "metadata": {"namespace": "default"},
        "spec": {"user": "vera", "resourceAttributes": {"verb": "get", "resource": "pods"}},
    }
    answered = local_subject_access_review(
        review, namespace="default", authorizer=_chain(), requester=ACME_ADMIN
    )
    assert answered["status"]["allowed"]
    assert answered["spec"]["resourceAttributes"]["namespace"] == "default"
    assert "namespace" not in review["spec"]["resourceAttributes"]  # input untouched
    with pytest.raises(BadRequest, match="must match namespace"):
        local_subject_access_review(review, namespace="other", authorizer=_chain(), requester=ACME_ADMIN)
    review["spec"]["resourceAttributes"]["namespace"] = "other"
    with pytest.raises(Invalid, match=r"must match metadata\.namespace"):
        local_subject_access_review(review, namespace="default", authorizer=_chain(), requester=ACME_ADMIN)


def test_self_subject_rules_review_status_shape() -> None:
    chain = _chain()
    answered = self_subject_rules_review(
        {"spec": {"namespace": "default"}}, rules_source=chain.rbac, requester=ACME_SA
    )
    status = answered["status"]
    assert status["incomplete"] is False
    assert {"verbs": ["get"], "apiGroups": [""], "resources": ["configmaps"]} in status["resourceRules"]
    assert any("/api/*" in r["nonResourceURLs"] for r in status["nonResourceRules"])
    assert all("nonResourceURLs" not in r for r in status["resourceRules"])
    assert "evaluationError" not in status


def test_chain_masters_node_and_reasons() -> None:
    chain = _chain()
    masters = Attributes(user=SYS_ADMIN, verb="delete", resource_request=True, resource="tenants")
    assert chain.authorize(masters).allowed
    kubelet = UserInfo("system:node:n1", groups=("system:nodes", AUTH))
    own = Attributes(user=kubelet, verb="get", resource_request=True, resource="nodes", name="n1")
    assert chain.authorize(own).allowed
    other = Attributes(
        user=kubelet,
        verb="get",
        resource_request=True,
        resource="secrets",
        name="s",
        namespace="default",
        tenant="system",
    )
    decision = chain.authorize(other)
    assert not decision.allowed
    assert decision.reason == "no relationship found between node 'n1' and this object"
    discovery = Attributes(user=kubelet, verb="get", resource_request=False, path="/apis")
    assert chain.authorize(discovery).allowed


def test_rbac_rules_review_status_convenience() -> None:
    status = _chain().rbac.rules_review_status(VIEWER, "acme", "default")
    assert status["incomplete"] is False
    assert any("pods" in r.get("resources", []) and "list" in r["verbs"] for r in status["resourceRules"])
    assert not any("secrets" in r.get("resources", []) for r in status["resourceRules"])
