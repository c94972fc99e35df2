"""server.authz.bootstrap_policy: upstream's default roles and bindings, exercised through RBAC.

Covers that every binding references a defined role, the aggregated admin/edit/view hierarchy
(stored rules and evaluation), what view/edit/admin/scheduler/controller-manager/controller
service accounts may do (each controller the manager runs has its upstream-named account with a
``system:controller:`` role and binding; in any tenant, within its role only), the API server's
kubelet client allowed the kubelet API without system:masters, discovery for every authenticated
user, and that kubelets get nothing from RBAC (the node authorizer's job). Leaves out the server
creating and reconciling these objects on start
(test/component/test_rbac_bootstrap_reconcile.py).
"""

from __future__ import annotations

import dataclasses

import pytest

from controllers.credentials import SERVICE_ACCOUNTS, service_account_of
from controllers.registry import load_controllers
from server.auth.user import UserInfo
from server.authz.attributes import Attributes
from server.authz.bootstrap_policy import bootstrap_cluster_role_bindings, bootstrap_cluster_roles
from server.authz.policy_source import MemoryPolicySource
from server.authz.rbac import RBACAuthorizer

AUTH = "system:authenticated"


def _authorizer() -> RBACAuthorizer:
    source = MemoryPolicySource()
    for obj in bootstrap_cluster_roles():
        source.put("ClusterRole", obj, tenant="system")
    for obj in bootstrap_cluster_role_bindings():
        source.put("ClusterRoleBinding", obj, tenant="system")
    for name in ("view", "edit", "admin"):
        source.put(
            "RoleBinding",
            {
                "metadata": {"name": f"{name}-binding", "namespace": "team"},
                "roleRef": {"apiGroup": "rbac.authorization.k8s.io", "kind": "ClusterRole", "name": name},
                "subjects": [{"kind": "User", "name": f"{name}-user"}],
            },
            tenant="system",
        )
    return RBACAuthorizer(source)


def test_names_and_references() -> None:
    roles = {r["metadata"]["name"]: r for r in bootstrap_cluster_roles()}
    for expected in (
        "cluster-admin",
        "admin",
        "edit",
        "view",
        "system:discovery",
        "system:basic-user",
        "system:public-info-viewer",
        "system:node",
        "system:kube-scheduler",
        "system:kube-controller-manager",
        "system:controller:namespace-controller",
        "system:controller:tenant-controller",
    ):
        assert expected in roles
    for item in bootstrap_cluster_role_bindings():
        assert item["roleRef"]["name"] in roles
        assert item["metadata"]["labels"]["kubernetes.io/bootstrapping"] == "rbac-defaults"
    nodes = next(b for b in bootstrap_cluster_role_bindings() if b["metadata"]["name"] == "system:node")
    assert nodes["subjects"] == []


def test_aggregated_roles_carry_their_sources_rules() -> None:
    roles = {r["metadata"]["name"]: r for r in bootstrap_cluster_roles()}
    view_rules = roles["system:aggregate-to-view"]["rules"]
    assert all(r in roles["view"]["rules"] for r in view_rules)
    assert all(r in roles["edit"]["rules"] for r in view_rules)
    assert all(r in roles["admin"]["rules"] for r in roles["edit"]["rules"])
    assert roles["admin"]["aggregationRule"]["clusterRoleSelectors"] == [
        {"matchLabels": {"rbac.authorization.k8s.io/aggregate-to-admin": "true"}}
    ]


def _res(
    name: str,
    verb: str,
    resource: str,
    *,
    group: str = "",
    sub: str = "",
    namespace: str = "team",
    tenant: str = "system",
    groups: tuple[str, ...] = (AUTH,),
) -> Attributes:
    return Attributes(
        user=UserInfo(name, groups=groups),
        verb=verb,
        resource_request=True,
        api_group=group,
        resource=resource,
        subresource=sub,
        namespace=namespace,
        tenant=tenant,
    )


CASES = [
    ("view-user", "get", "pods", "", "", True),
    ("view-user", "list", "deployments", "apps", "", True),
    ("view-user", "get", "pods", "", "log", True),
    ("view-user", "get", "secrets", "", "", False),
    ("view-user", "create", "pods", "", "", False),
    ("view-user", "create", "rolebindings", "rbac.authorization.k8s.io", "", False),
    ("edit-user", "create", "deployments", "apps", "", True),
    ("edit-user", "update", "deployments", "apps", "scale", True),
    ("edit-user", "get", "secrets", "", "", True),
    ("edit-user", "create", "pods", "", "exec", True),
    ("edit-user", "create", "pods", "", "action", True),  # Arktos: VM actions
    ("edit-user", "delete", "actions", "", "", True),
    ("view-user", "list", "actions", "", "", True),
    ("view-user", "create", "pods", "", "action", False),
    ("edit-user", "get", "pods", "", "", True),
    ("edit-user", "create", "rolebindings", "rbac.authorization.k8s.io", "", False),
    ("edit-user", "update", "resourcequotas", "", "", False),
    ("admin-user", "create", "rolebindings", "rbac.authorization.k8s.io", "", True),
    ("admin-user", "create", "localsubjectaccessreviews", "authorization.k8s.io", "", True),
    ("admin-user", "delete", "configmaps", "", "", True),
    ("system:kube-scheduler", "create", "pods", "", "binding", True),
    ("system:kube-scheduler", "update", "pods", "", "status", True),
    ("system:kube-scheduler", "create", "pods", "", "", False),
    ("system:kube-controller-manager", "watch", "deployments", "apps", "", True),
    ("system:kube-controller-manager", "delete", "pods", "", "", False),
    ("system:node:n1", "get", "secrets", "", "", False),
]


@pytest.mark.parametrize(("name", "verb", "resource", "group", "sub", "allowed"), CASES)
def test_bootstrap_role_powers(
    name: str, verb: str, resource: str, group: str, sub: str, allowed: bool
) -> None:
    groups = (AUTH, "system:nodes") if name.startswith("system:node:") else (AUTH,)
    attrs = _res(name, verb, resource, group=group, sub=sub, groups=groups)
    assert _authorizer().authorize(attrs).allowed is allowed


def _account(name: str) -> UserInfo:
    return UserInfo(f"system:serviceaccount:kube-system:{name}",
                    groups=("system:serviceaccounts", "system:serviceaccounts:kube-system", AUTH))


def test_every_controller_has_its_account_role_and_binding() -> None:
    roles = {r["metadata"]["name"] for r in bootstrap_cluster_roles()}
    bindings = {b["metadata"]["name"]: b for b in bootstrap_cluster_role_bindings()}
    registry = load_controllers()
    assert set(registry.names()) == set(SERVICE_ACCOUNTS)
    for name in registry.names():
        account = service_account_of(registry.get(name))
        role = f"system:controller:{account}"
        assert role in roles, name
        assert bindings[role]["subjects"] == [{"kind": "ServiceAccount", "name": account,
                                               "namespace": "kube-system"}]


# (account, verb, resource, group, subresource, allowed): upstream's roles, in another tenant too.
CONTROLLER_CASES = [
    ("replicaset-controller", "create", "pods", "", "", True),
    ("replicaset-controller", "get", "secrets", "", "", False),
    ("replicaset-controller", "create", "deployments", "apps", "", False),
    ("deployment-controller", "create", "replicasets", "apps", "", True),
    ("deployment-controller", "delete", "pods", "", "", False),
    ("generic-garbage-collector", "delete", "configmaps", "", "", True),
    ("generic-garbage-collector", "create", "pods", "", "", False),
    ("namespace-controller", "deletecollection", "secrets", "", "", True),
    ("namespace-controller", "create", "pods", "", "", False),
    ("tenant-controller", "create", "clusterroles", "rbac.authorization.k8s.io", "", True),
    ("tenant-controller", "escalate", "clusterroles", "rbac.authorization.k8s.io", "", True),
    ("tenant-controller", "update", "tenants", "", "finalize", True),
    ("tenant-controller", "create", "pods", "", "exec", False),
    ("root-ca-cert-publisher", "update", "configmaps", "", "", True),
    ("root-ca-cert-publisher", "get", "secrets", "", "", False),
    ("node-controller", "update", "nodes", "", "status", True),
    ("pod-garbage-collector", "get", "secrets", "", "", False),
]


@pytest.mark.parametrize(("account", "verb", "resource", "group", "sub", "allowed"), CONTROLLER_CASES)
@pytest.mark.parametrize("tenant", ["system", "acme"])
def test_controller_accounts_act_across_tenants_within_their_roles(
        account: str, verb: str, resource: str, group: str, sub: str, allowed: bool, tenant: str) -> None:
    attrs = dataclasses.replace(_res("", verb, resource, group=group, sub=sub, tenant=tenant),
                                user=_account(account))
    if resource in ("nodes", "tenants"):
        attrs = dataclasses.replace(attrs, namespace="", tenant="")
    assert _authorizer().authorize(attrs).allowed is allowed


def test_the_api_servers_kubelet_client_may_use_the_kubelet_api_only() -> None:
    client = UserInfo("kube-apiserver-kubelet-client", groups=(AUTH,))
    for verb, sub in (("get", "proxy"), ("create", "proxy"), ("get", "log"), ("get", "stats")):
        attrs = Attributes(user=client, verb=verb, resource_request=True, resource="nodes", subresource=sub,
                           name="n1")
        assert _authorizer().authorize(attrs).allowed, (verb, sub)
    assert not _authorizer().authorize(dataclasses.replace(_res("", "get", "secrets"), user=client)).allowed


def test_namespace_bindings_do_not_reach_other_namespaces() -> None:
    assert not _authorizer().authorize(_res("admin-user", "get", "pods", namespace="other")).allowed


def test_controller_service_accounts() -> None:
    authorizer = _authorizer()
    namespace_controller = UserInfo(
        "system:serviceaccount:kube-system:namespace-controller",
        groups=("system:serviceaccounts", "system:serviceaccounts:kube-system", AUTH),
    )
    sweep = _res("", "deletecollection", "configmaps", namespace="gone", tenant="acme")
    assert authorizer.authorize(dataclasses.replace(sweep, user=namespace_controller)).allowed
    impostor = UserInfo("system:serviceaccount:default:namespace-controller", groups=(AUTH,))
    assert not authorizer.authorize(dataclasses.replace(sweep, user=impostor)).allowed


@pytest.mark.parametrize("path", ["/api", "/apis/apps/v1", "/version", "/healthz", "/openapi/v3"])
def test_discovery_for_every_authenticated_user(path: str) -> None:
    attrs = Attributes(user=UserInfo("nobody", groups=(AUTH,)), verb="get", resource_request=False, path=path)
    assert _authorizer().authorize(attrs).allowed


def test_self_reviews_for_everyone() -> None:
    attrs = _res(
        "nobody", "create", "selfsubjectaccessreviews", group="authorization.k8s.io", namespace="", tenant=""
    )
    assert _authorizer().authorize(attrs).allowed
