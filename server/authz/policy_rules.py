"""A tiny vocabulary for writing PolicyRules as declarative tables (bootstrap and controller roles).

Plays the part of upstream's ``rbacv1helpers.NewRule(...).Groups(...).Resources(...)`` builder:
each helper returns the raw ``rbac.authorization.k8s.io/v1`` PolicyRule JSON.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

READ = ("get", "list", "watch")
WRITE = ("create", "update", "patch", "delete", "deletecollection")
READ_WRITE = READ + WRITE
READ_UPDATE = (*READ, "update", "patch")

CORE = ""
APPS = "apps"
AUTHENTICATION = "authentication.k8s.io"
AUTHORIZATION = "authorization.k8s.io"
AUTOSCALING = "autoscaling"
BATCH = "batch"
CERTIFICATES = "certificates.k8s.io"
COORDINATION = "coordination.k8s.io"
DISCOVERY = "discovery.k8s.io"
EVENTS = "events.k8s.io"
EXTENSIONS = "extensions"
NETWORKING = "networking.k8s.io"
NODE = "node.k8s.io"
POLICY = "policy"
RBAC = "rbac.authorization.k8s.io"
STORAGE = "storage.k8s.io"
ARKTOS = "arktos.futurewei.com"

BOOTSTRAP_LABELS = {"kubernetes.io/bootstrapping": "rbac-defaults"}
AUTOUPDATE_ANNOTATIONS = {"rbac.authorization.kubernetes.io/autoupdate": "true"}


def rule(verbs: Sequence[str], groups: Sequence[str] | str, resources: Sequence[str],
         names: Sequence[str] = ()) -> dict[str, Any]:
    """A resource rule."""
    built: dict[str, Any] = {
        "verbs": list(verbs),
        "apiGroups": [groups] if isinstance(groups, str) else list(groups),
        "resources": list(resources),
    }
    if names:
        built["resourceNames"] = list(names)
    return built


def urls(verbs: Sequence[str], paths: Sequence[str]) -> dict[str, Any]:
    """A non-resource rule."""
    return {"verbs": list(verbs), "nonResourceURLs": list(paths)}


def events_rule() -> dict[str, Any]:
    """upstream ``eventsRule()``: record events through either API group."""
    return rule(("create", "update", "patch"), (CORE, EVENTS), ("events",))


def cluster_role(name: str, rules: Sequence[dict[str, Any]], *, labels: dict[str, str] | None = None,
                 aggregate_from: Sequence[str] = ()) -> dict[str, Any]:
    """A bootstrap ClusterRole object; ``aggregate_from`` are aggregation label keys (value "true")."""
    role: dict[str, Any] = {
        "apiVersion": "rbac.authorization.k8s.io/v1",
        "kind": "ClusterRole",
        "metadata": {"name": name, "labels": {**(labels or {}), **BOOTSTRAP_LABELS},
                     "annotations": dict(AUTOUPDATE_ANNOTATIONS)},
        "rules": [dict(r) for r in rules],
    }
    if aggregate_from:
        role["aggregationRule"] = {"clusterRoleSelectors": [{"matchLabels": {key: "true"}}
                                                            for key in aggregate_from]}
    return role


def subject(kind: str, name: str, namespace: str = "") -> dict[str, Any]:
    if kind == "ServiceAccount":
        return {"kind": kind, "name": name, "namespace": namespace}
    return {"kind": kind, "apiGroup": RBAC, "name": name}


def cluster_role_binding(name: str, subjects: Sequence[dict[str, Any]], *,
                         role: str | None = None) -> dict[str, Any]:
    """A bootstrap ClusterRoleBinding named like its ClusterRole (as upstream's NewClusterBinding)."""
    return {
        "apiVersion": "rbac.authorization.k8s.io/v1",
        "kind": "ClusterRoleBinding",
        "metadata": {"name": name, "labels": dict(BOOTSTRAP_LABELS),
                     "annotations": dict(AUTOUPDATE_ANNOTATIONS)},
        "roleRef": {"apiGroup": RBAC, "kind": "ClusterRole", "name": role or name},
        "subjects": [dict(s) for s in subjects],
    }
