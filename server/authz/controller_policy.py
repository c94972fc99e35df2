"""Roles of the individual controllers (``system:controller:*``) and their bindings.

Upstream's controller_policy.go gives every controller a ClusterRole bound to a service account
of the same name in ``kube-system``; with ``--use-service-account-credentials`` (what arktos-up
runs) each controller acts as that account, so these rules are all it may do. The names and rules
are upstream's for the controllers this system runs (the shared informers list and watch as the
controller manager itself, so a role needs only what its controller writes or gets directly),
plus Arktos's tenant controller (our name: ``system:controller:tenant-controller``). The bindings
live in tenant ``system``, whose ClusterRoleBindings hold in every tenant for system-tenant
subjects (`server.authz.rbac`), so each controller acts across all tenants — within its role.
Where our controller writes differently from upstream's the rule says why.
"""

from __future__ import annotations

from typing import Any

from apis.identity import CONTROLLER_SERVICE_ACCOUNT_NAMESPACE
from server.authz.policy_rules import (
    APPS,
    ARKTOS,
    BATCH,
    COORDINATION,
    CORE,
    DISCOVERY,
    EXTENSIONS,
    RBAC,
    READ,
    cluster_role,
    cluster_role_binding,
    events_rule,
    rule,
    subject,
)

CONTROLLER_ROLE_PREFIX = "system:controller:"
CONTROLLER_NAMESPACE = CONTROLLER_SERVICE_ACCOUNT_NAMESPACE


def _workload_rules(group: tuple[str, ...], kind: str, *, pod_verbs: tuple[str, ...]) -> list[dict[str, Any]]:
    """The common shape of replicaset/replication/job/daemonset controllers."""
    return [
        rule(("get", "list", "watch", "update"), group, (kind,)),
        rule(("update",), group, (f"{kind}/status", f"{kind}/finalizers")),
        rule(pod_verbs, CORE, ("pods",)),
        events_rule(),
    ]


def _table() -> dict[str, list[dict[str, Any]]]:
    pods_managed = ("list", "watch", "create", "delete", "patch")
    return {
        "clusterrole-aggregation-controller": [
            rule(("escalate", "get", "list", "watch", "update", "patch"), RBAC, ("clusterroles",)),
        ],
        "cronjob-controller": [
            rule(("get", "list", "watch", "update"), BATCH, ("cronjobs",)),
            rule(("get", "list", "watch", "create", "update", "delete", "patch"), BATCH, ("jobs",)),
            rule(("update",), BATCH, ("cronjobs/status", "cronjobs/finalizers")),
            rule(("list", "watch", "delete"), CORE, ("pods",)),
            events_rule(),
        ],
        "daemon-set-controller": [
            *_workload_rules((APPS, EXTENSIONS), "daemonsets", pod_verbs=pods_managed),
            rule(("list", "watch"), CORE, ("nodes",)),
            rule(("create",), CORE, ("pods/binding",)),
            rule(("get", "list", "watch", "create", "delete", "update", "patch"), APPS,
                 ("controllerrevisions",)),
        ],
        "deployment-controller": [
            # patch: our controller writes the revision annotation with a merge patch (upstream: update).
            rule(("get", "list", "watch", "update", "patch"), (APPS, EXTENSIONS), ("deployments",)),
            rule(("update",), (APPS, EXTENSIONS), ("deployments/status", "deployments/finalizers")),
            rule(("get", "list", "watch", "create", "update", "patch", "delete"), (APPS, EXTENSIONS),
                 ("replicasets",)),
            rule(("get", "list", "update", "watch"), CORE, ("pods",)),
            events_rule(),
        ],
        "endpoint-controller": [
            rule(READ, CORE, ("services", "pods")),
            rule(("get", "list", "watch", "create", "update", "delete"), CORE, ("endpoints",)),
            rule(("create",), CORE, ("endpoints/restricted",)),
            events_rule(),
        ],
        "endpointslice-controller": [
            rule(READ, CORE, ("services", "pods", "nodes")),
            rule(("update",), CORE, ("services/finalizers",)),
            rule(("get", "list", "watch", "create", "update", "delete"), DISCOVERY, ("endpointslices",)),
            events_rule(),
        ],
        # Arktos: per Network, the selectorless Services kube-dns-N and kubernetes-N with the
        # EndpointSlices it mirrors from system's, and the Network's status.
        "network-controller": [
            rule(READ, ARKTOS, ("networks",)),
            rule(("update",), ARKTOS, ("networks/status",)),
            rule(("get", "list", "watch", "create", "update", "delete"), CORE, ("services",)),
            rule(("get", "list", "watch", "create", "update", "delete"), DISCOVERY, ("endpointslices",)),
            events_rule(),
        ],
        "generic-garbage-collector": [
            # list/watches, selective gets and updates against any resource, as upstream's.
            rule(("get", "list", "watch", "patch", "update", "delete"), "*", ("*",)),
            events_rule(),  # OwnerRefInvalidNamespace
        ],
        "job-controller": [
            rule(("patch",), BATCH, ("jobs",)),
            *_workload_rules((BATCH,), "jobs", pod_verbs=pods_managed),
        ],
        "namespace-controller": [
            rule(("get", "list", "watch", "delete"), CORE, ("namespaces",)),
            rule(("update",), CORE, ("namespaces/finalize", "namespaces/status")),
            rule(("get", "list", "watch", "delete", "deletecollection"), "*", ("*",)),
        ],
        "node-controller": [
            rule(("get", "list", "watch", "update", "delete", "patch"), CORE, ("nodes",)),
            rule(("patch", "update"), CORE, ("nodes/status", "pods/status")),
            rule(("list", "watch", "get", "delete"), CORE, ("pods",)),
            rule(READ, COORDINATION, ("leases",)),
            events_rule(),
        ],
        "pod-garbage-collector": [
            rule(("list", "watch", "delete"), CORE, ("pods",)),
            rule(READ, CORE, ("nodes",)),
            rule(("patch",), CORE, ("pods/status",)),
        ],
        "replicaset-controller": [
            *_workload_rules((APPS, EXTENSIONS), "replicasets", pod_verbs=pods_managed),
        ],
        "replication-controller": [
            *_workload_rules((CORE,), "replicationcontrollers", pod_verbs=pods_managed),
        ],
        "resourcequota-controller": [
            rule(("list", "watch"), "*", ("*",)),
            rule(("update",), CORE, ("resourcequotas/status",)),
            events_rule(),
        ],
        "root-ca-cert-publisher": [
            rule(("create", "update"), CORE, ("configmaps",)),
            events_rule(),
        ],
        "service-account-controller": [
            rule(("create",), CORE, ("serviceaccounts",)),
            events_rule(),
        ],
        "statefulset-controller": [
            rule(("list", "watch"), CORE, ("pods",)),
            rule(("list", "watch", "get"), APPS, ("statefulsets",)),
            rule(("update",), APPS, ("statefulsets/status", "statefulsets/finalizers")),
            rule(("get", "create", "delete", "update", "patch"), CORE, ("pods",)),
            rule(("get", "create", "delete", "update", "patch", "list", "watch"), APPS,
                 ("controllerrevisions",)),
            rule(("get", "create", "list", "watch"), CORE, ("persistentvolumeclaims",)),
            rule(("update", "delete"), CORE, ("persistentvolumeclaims",)),
            rule(("update",), CORE, ("pods/finalizers",)),
            events_rule(),
        ],
        "ttl-after-finished-controller": [
            rule(("get", "list", "watch", "delete"), BATCH, ("jobs",)),
            events_rule(),
        ],
        "ttl-controller": [
            rule(("update", "patch", "list", "watch"), CORE, ("nodes",)),
            events_rule(),
        ],
        # Arktos: initialises and tears down tenants — creates tenant system if missing, each
        # tenant's namespaces, its admin-role (everything in the tenant: hence bind and escalate,
        # which upstream's escalation check asks of whoever writes a role granting more than it
        # holds) with its binding, and its default network; empties a deleted tenant of every
        # resource (as the namespace controller empties a namespace) and finalizes it.
        "tenant-controller": [
            rule(("create", "get", "list", "watch", "update"), CORE, ("tenants",)),
            rule(("update",), CORE, ("tenants/status", "tenants/finalize")),
            rule(("create", "get", "list", "watch", "delete"), CORE, ("namespaces",)),
            rule(("create", "get", "delete", "bind", "escalate"), RBAC,
                 ("clusterroles", "clusterrolebindings")),
            rule(("create", "get", "delete"), ARKTOS, ("networks",)),
            rule(("get", "list", "watch", "delete", "deletecollection"), "*", ("*",)),
            events_rule(),
        ],
    }


def controller_roles() -> list[dict[str, Any]]:
    return [cluster_role(CONTROLLER_ROLE_PREFIX + name, rules) for name, rules in _table().items()]


def controller_role_bindings() -> list[dict[str, Any]]:
    return [
        cluster_role_binding(CONTROLLER_ROLE_PREFIX + name,
                             [subject("ServiceAccount", name, CONTROLLER_NAMESPACE)])
        for name in _table()
    ]
