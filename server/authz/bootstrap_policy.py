"""The default ClusterRoles and ClusterRoleBindings every cluster starts with (tenant ``system``).

Upstream's bootstrap policy (k8s.io/kubernetes/plugin/pkg/auth/authorizer/rbac/bootstrappolicy
policy.go), reduced to the roles this system uses, by upstream's names and with their essential
rules, written as our own table. admin/edit/view aggregate the ``system:aggregate-to-*`` roles
through ``rbac.authorization.k8s.io/aggregate-to-*`` labels; the returned aggregated roles
already carry the union of their sources' rules, as upstream's aggregation controller would
write them. The server creates these in tenant ``system`` on start (upstream's post-start hook).
"""

from __future__ import annotations

from typing import Any

from apis.identity import (
    APISERVER_KUBELET_CLIENT_USER,
    KUBE_CONTROLLER_MANAGER_USER,
    KUBE_SCHEDULER_USER,
    SYSTEM_MASTERS,
)
from apis.selectors import label_selector_from_meta
from server.authz.controller_policy import controller_role_bindings, controller_roles
from server.authz.policy_rules import (
    APPS,
    AUTHENTICATION,
    AUTHORIZATION,
    AUTOSCALING,
    BATCH,
    CERTIFICATES,
    COORDINATION,
    CORE,
    DISCOVERY,
    EXTENSIONS,
    NETWORKING,
    NODE,
    POLICY,
    RBAC,
    READ,
    READ_UPDATE,
    READ_WRITE,
    STORAGE,
    WRITE,
    cluster_role,
    cluster_role_binding,
    events_rule,
    rule,
    subject,
    urls,
)
from server.authz.policy_rules import (
    ARKTOS as ARKTOS_GROUP,
)

AGGREGATE_TO_ADMIN = "rbac.authorization.k8s.io/aggregate-to-admin"
AGGREGATE_TO_EDIT = "rbac.authorization.k8s.io/aggregate-to-edit"
AGGREGATE_TO_VIEW = "rbac.authorization.k8s.io/aggregate-to-view"

ALL_AUTHENTICATED, ALL_UNAUTHENTICATED = "system:authenticated", "system:unauthenticated"

_DISCOVERY_URLS = ("/livez", "/readyz", "/healthz", "/version", "/version/", "/openapi", "/openapi/*",
                   "/api", "/api/*", "/apis", "/apis/*")
# Upstream's system:public-info-viewer, plus the health checks' subpaths (/healthz/ping, ...):
# upstream leaves those to system:monitoring, but they say nothing about any tenant (issue 10).
_PUBLIC_INFO_URLS = ("/livez", "/readyz", "/healthz", "/version", "/version/", "/livez/*", "/readyz/*",
                     "/healthz/*")
KUBELET_API_BINDING = "kube-apiserver:kubelet-apis"


def node_rules() -> list[dict[str, Any]]:
    """upstream ``NodeRules()``: what a kubelet needs (the node authorizer narrows it to its own objects)."""
    return [
        rule(("create",), AUTHENTICATION, ("tokenreviews",)),
        rule(("create",), AUTHORIZATION, ("subjectaccessreviews", "localsubjectaccessreviews")),
        rule(READ, CORE, ("services",)),
        rule(("create", "get", "list", "watch"), CORE, ("nodes",)),
        rule(("update", "patch"), CORE, ("nodes/status", "nodes")),
        rule(("create", "update", "patch"), CORE, ("events",)),
        rule(READ, CORE, ("pods",)),
        rule(("create", "delete"), CORE, ("pods",)),
        rule(("update", "patch"), CORE, ("pods/status",)),
        rule(("create",), CORE, ("pods/eviction",)),
        rule(READ, CORE, ("secrets", "configmaps")),
        rule(("get",), CORE, ("persistentvolumeclaims", "persistentvolumes")),
        rule(("get", "update", "patch"), CORE, ("persistentvolumeclaims/status",)),
        rule(("get",), CORE, ("endpoints",)),
        rule(("create", "get", "list", "watch"), CERTIFICATES, ("certificatesigningrequests",)),
        rule(("get", "create", "update", "patch", "delete"), COORDINATION, ("leases",)),
        rule(("get",), STORAGE, ("volumeattachments",)),
        rule(("create",), CORE, ("serviceaccounts/token",)),
        rule(READ, STORAGE, ("csidrivers",)),
        rule(("get", "create", "update", "patch", "delete"), STORAGE, ("csinodes",)),
        rule(READ, NODE, ("runtimeclasses",)),
        # Arktos: VM actions addressed to the node's pods.
        rule(READ_UPDATE, CORE, ("actions", "actions/status")),
    ]


def _aggregate_to_edit() -> list[dict[str, Any]]:
    return [
        rule(READ, CORE, ("pods/attach", "pods/proxy", "pods/exec", "pods/portforward", "secrets",
                          "services/proxy")),
        rule(("impersonate",), CORE, ("serviceaccounts",)),
        rule(WRITE, CORE, ("pods", "pods/attach", "pods/proxy", "pods/exec", "pods/portforward")),
        rule(("create",), CORE, ("pods/eviction",)),
        # Arktos: VM pods' actions (reboot, snapshot, restore) are an editor's to ask for.
        rule(("create",), CORE, ("pods/action",)),
        rule(WRITE, CORE, ("actions",)),
        rule(WRITE, CORE, ("replicationcontrollers", "replicationcontrollers/scale", "serviceaccounts",
                           "services", "services/proxy", "endpoints", "persistentvolumeclaims",
                           "configmaps", "secrets")),
        rule(("create",), CORE, ("serviceaccounts/token",)),
        rule(WRITE, APPS, ("statefulsets", "statefulsets/scale", "daemonsets", "deployments",
                           "deployments/scale", "deployments/rollback", "replicasets", "replicasets/scale")),
        rule(WRITE, AUTOSCALING, ("horizontalpodautoscalers",)),
        rule(WRITE, BATCH, ("jobs", "cronjobs")),
        rule(WRITE, POLICY, ("poddisruptionbudgets",)),
        rule(WRITE, NETWORKING, ("networkpolicies", "ingresses")),
    ]


def _aggregate_to_view() -> list[dict[str, Any]]:
    return [
        rule(READ, CORE, ("pods", "replicationcontrollers", "replicationcontrollers/scale", "serviceaccounts",
                          "services", "services/status", "endpoints", "persistentvolumeclaims",
                          "persistentvolumeclaims/status", "configmaps")),
        rule(READ, CORE, ("limitranges", "resourcequotas", "bindings", "events", "pods/status",
                          "resourcequotas/status", "namespaces/status", "replicationcontrollers/status",
                          "pods/log")),
        rule(READ, CORE, ("namespaces",)),
        rule(READ, DISCOVERY, ("endpointslices",)),
        rule(READ, APPS, ("controllerrevisions", "statefulsets", "statefulsets/status", "statefulsets/scale",
                          "daemonsets", "daemonsets/status", "deployments", "deployments/status",
                          "deployments/scale", "replicasets", "replicasets/status", "replicasets/scale")),
        rule(READ, AUTOSCALING, ("horizontalpodautoscalers", "horizontalpodautoscalers/status")),
        rule(READ, BATCH, ("jobs", "cronjobs", "cronjobs/status", "jobs/status")),
        rule(READ, EXTENSIONS, ("daemonsets", "deployments", "ingresses", "replicasets", "networkpolicies")),
        rule(READ, POLICY, ("poddisruptionbudgets", "poddisruptionbudgets/status")),
        rule(READ, NETWORKING, ("networkpolicies", "ingresses", "ingresses/status")),
        rule(READ, ARKTOS_GROUP, ("networks",)),
        rule(READ, CORE, ("actions", "actions/status")),
    ]


def _scheduler_rules() -> list[dict[str, Any]]:
    return [
        events_rule(),
        rule(("create",), COORDINATION, ("leases",)),
        rule(("get", "update"), COORDINATION, ("leases",), names=("kube-scheduler",)),
        rule(READ, CORE, ("nodes",)),
        rule(("get", "list", "watch", "delete"), CORE, ("pods",)),
        rule(("create",), CORE, ("pods/binding", "bindings")),
        rule(("patch", "update"), CORE, ("pods/status",)),
        rule(READ, CORE, ("services", "replicationcontrollers")),
        rule(READ, (APPS, EXTENSIONS), ("replicasets",)),
        rule(READ, APPS, ("statefulsets",)),
        rule(READ, POLICY, ("poddisruptionbudgets",)),
        rule(READ, CORE, ("persistentvolumeclaims", "persistentvolumes")),
        rule(("create",), AUTHENTICATION, ("tokenreviews",)),
        rule(("create",), AUTHORIZATION, ("subjectaccessreviews",)),
        rule(READ, STORAGE, ("csinodes", "csidrivers", "csistoragecapacities")),
        rule(READ, CORE, ("namespaces",)),
    ]


def _controller_manager_rules() -> list[dict[str, Any]]:
    return [
        events_rule(),
        rule(("create",), COORDINATION, ("leases",)),
        rule(("get", "update"), COORDINATION, ("leases",), names=("kube-controller-manager",)),
        rule(("create",), CORE, ("secrets", "serviceaccounts")),
        rule(("delete",), CORE, ("secrets",)),
        rule(("get",), CORE, ("namespaces", "secrets", "serviceaccounts", "configmaps")),
        rule(("update",), CORE, ("secrets", "serviceaccounts")),
        rule(("create",), AUTHENTICATION, ("tokenreviews",)),
        rule(("create",), AUTHORIZATION, ("subjectaccessreviews",)),
        rule(("list", "watch"), "*", ("*",)),
        rule(("create",), CORE, ("serviceaccounts/token",)),
        # Arktos's controller framework: each replica registers, renews and hands over ranges.
        rule(("create", "get", "update", "patch", "delete"), CORE, ("controllerinstances",)),
    ]


def _base_roles() -> list[dict[str, Any]]:
    return [
        cluster_role("cluster-admin", [rule(("*",), "*", ("*",)), urls(("*",), ("*",))]),
        cluster_role("system:discovery", [urls(("get",), _DISCOVERY_URLS)]),
        cluster_role("system:basic-user", [
            rule(("create",), AUTHORIZATION, ("selfsubjectaccessreviews", "selfsubjectrulesreviews")),
            rule(("create",), AUTHENTICATION, ("selfsubjectreviews",)),
        ]),
        cluster_role("system:public-info-viewer", [urls(("get",), _PUBLIC_INFO_URLS)]),
        cluster_role("admin", [], aggregate_from=(AGGREGATE_TO_ADMIN,)),
        cluster_role("edit", [], labels={AGGREGATE_TO_ADMIN: "true"}, aggregate_from=(AGGREGATE_TO_EDIT,)),
        cluster_role("view", [], labels={AGGREGATE_TO_EDIT: "true"}, aggregate_from=(AGGREGATE_TO_VIEW,)),
        cluster_role("system:aggregate-to-admin", [
            rule(("create",), AUTHORIZATION, ("localsubjectaccessreviews",)),
            rule(READ_WRITE, RBAC, ("roles", "rolebindings")),
        ], labels={AGGREGATE_TO_ADMIN: "true"}),
        cluster_role("system:aggregate-to-edit", _aggregate_to_edit(), labels={AGGREGATE_TO_EDIT: "true"}),
        cluster_role("system:aggregate-to-view", _aggregate_to_view(), labels={AGGREGATE_TO_VIEW: "true"}),
        cluster_role("system:node", node_rules()),
        cluster_role("system:node-proxier", [
            rule(("list", "watch"), CORE, ("services", "endpoints")),
            # Arktos: network isolation needs every pod's IP and network (proxy/isolation.py).
            rule(("list", "watch"), CORE, ("pods",)),
            rule(READ, CORE, ("nodes",)),
            events_rule(),
            rule(("list", "watch"), DISCOVERY, ("endpointslices",)),
        ]),
        cluster_role("system:node-bootstrapper", [
            rule(("create", "get", "list", "watch"), CERTIFICATES, ("certificatesigningrequests",)),
        ]),
        cluster_role("system:kubelet-api-admin", [
            rule(READ, CORE, ("nodes",)),
            rule(("proxy",), CORE, ("nodes",)),
            rule(("*",), CORE, ("nodes/proxy", "nodes/metrics", "nodes/spec", "nodes/stats", "nodes/log")),
        ]),
        cluster_role("system:auth-delegator", [
            rule(("create",), AUTHENTICATION, ("tokenreviews",)),
            rule(("create",), AUTHORIZATION, ("subjectaccessreviews",)),
        ]),
        cluster_role("system:kube-controller-manager", _controller_manager_rules()),
        cluster_role("system:kube-scheduler", _scheduler_rules()),
        cluster_role("system:volume-scheduler", [
            rule(READ_UPDATE, CORE, ("persistentvolumes", "persistentvolumeclaims")),
            rule(READ, STORAGE, ("storageclasses",)),
        ]),
        cluster_role("system:service-account-issuer-discovery", [
            urls(("get",), ("/.well-known/openid-configuration", "/openid/v1/jwks")),
        ]),
    ]


def _fill_aggregated(roles: list[dict[str, Any]]) -> None:
    """Write each aggregated role's rules as upstream's clusterrole-aggregation controller would."""
    by_name = {r["metadata"]["name"]: r for r in roles}

    def rules_of(name: str, seen: frozenset[str]) -> list[dict[str, Any]]:
        role = by_name[name]
        collected = list(role["rules"])
        for selector in (role.get("aggregationRule") or {}).get("clusterRoleSelectors", []):
            for other in roles:
                other_name = other["metadata"]["name"]
                labels = other["metadata"].get("labels", {})
                if other_name in seen or other_name == name:
                    continue
                if label_selector_from_meta(selector).matches(labels):
                    collected += [r for r in rules_of(other_name, seen | {name}) if r not in collected]
        return collected

    filled = {name: rules_of(name, frozenset()) for name, r in by_name.items() if r.get("aggregationRule")}
    for name, rules in filled.items():
        by_name[name]["rules"] = rules


def bootstrap_cluster_roles() -> list[dict[str, Any]]:
    """Fresh copies of the default ClusterRoles (callers may mutate them)."""
    roles = _base_roles() + controller_roles()
    _fill_aggregated(roles)
    return roles


def bootstrap_cluster_role_bindings() -> list[dict[str, Any]]:
    """Fresh copies of the default ClusterRoleBindings."""
    authenticated = subject("Group", ALL_AUTHENTICATED)
    return [
        cluster_role_binding("cluster-admin", [subject("Group", SYSTEM_MASTERS)]),
        cluster_role_binding("system:discovery", [authenticated]),
        cluster_role_binding("system:basic-user", [authenticated]),
        cluster_role_binding("system:public-info-viewer", [authenticated,
                                                           subject("Group", ALL_UNAUTHENTICATED)]),
        cluster_role_binding("system:node-proxier", [subject("User", "system:kube-proxy")]),
        cluster_role_binding("system:kube-controller-manager",
                             [subject("User", KUBE_CONTROLLER_MANAGER_USER)]),
        cluster_role_binding("system:kube-scheduler", [subject("User", KUBE_SCHEDULER_USER)]),
        cluster_role_binding("system:volume-scheduler", [subject("User", KUBE_SCHEDULER_USER)]),
        # The API server's client identity towards kubelets, which authorize every request with a
        # SubjectAccessReview on nodes/proxy etc. (the binding clusters made by hand upstream,
        # e.g. `kubectl create clusterrolebinding kube-apiserver:kubelet-apis
        # --clusterrole=system:kubelet-api-admin`; kubeadm puts that client in system:masters).
        cluster_role_binding(KUBELET_API_BINDING, [subject("User", APISERVER_KUBELET_CLIENT_USER)],
                             role="system:kubelet-api-admin"),
        # Upstream keeps this binding without subjects: the node authorizer grants kubelets instead.
        cluster_role_binding("system:node", []),
        cluster_role_binding("system:service-account-issuer-discovery",
                             [subject("Group", "system:serviceaccounts")]),
        *controller_role_bindings(),
    ]
