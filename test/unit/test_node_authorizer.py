"""server.authz.node: kubelets limited to their node, its pods and what those pods reference.

Covers node identity detection (group, name prefix, system tenant), the node's own Node/Lease,
pods bound to the node (get, status, delete, eviction), references derived from pod specs
(service account, image-pull secrets, env/envFrom, secret/configMap/projected/PVC/ephemeral
volumes and plugin secretRefs) across tenants, and refusals with upstream's reason.
Leaves out RBAC (nodes get nothing there) and the graph's maintenance (the watch cache's index).
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

import pytest

from server.auth.user import UserInfo
from server.authz.attributes import Attributes
from server.authz.node import NodeAuthorizer, node_name
from server.authz.pod_references import pod_references

KUBELET = UserInfo("system:node:n1", groups=("system:nodes", "system:authenticated"))


def pod(
    name: str,
    *,
    tenant: str = "system",
    namespace: str = "default",
    spec: dict[str, Any] | None = None,
) -> dict[str, Any]:
    return {
        "metadata": {"name": name, "namespace": namespace, "tenant": tenant},
        "spec": {"nodeName": "n1", "containers": [{"name": "c"}], **(spec or {})},
    }


WEB = pod(
    "web",
    spec={
        "serviceAccountName": "web-sa",
        "imagePullSecrets": [{"name": "pull"}],
        "containers": [
            {
                "name": "c",
                "env": [
                    {"name": "A", "valueFrom": {"secretKeyRef": {"name": "env-secret", "key": "k"}}},
                    {"name": "B", "valueFrom": {"configMapKeyRef": {"name": "env-cm", "key": "k"}}},
                ],
                "envFrom": [{"secretRef": {"name": "from-secret"}}, {"configMapRef": {"name": "from-cm"}}],
            }
        ],
        "initContainers": [{"name": "i", "envFrom": [{"configMapRef": {"name": "init-cm"}}]}],
        "volumes": [
            {"name": "s", "secret": {"secretName": "vol-secret"}},
            {"name": "m", "configMap": {"name": "vol-cm"}},
            {"name": "p", "persistentVolumeClaim": {"claimName": "data"}},
            {"name": "scratch", "ephemeral": {"volumeClaimTemplate": {"spec": {}}}},
            {
                "name": "proj",
                "projected": {
                    "sources": [{"secret": {"name": "proj-secret"}}, {"configMap": {"name": "proj-cm"}}]
                },
            },
            {"name": "ceph", "cephfs": {"monitors": ["m"], "secretRef": {"name": "ceph-secret"}}},
            {"name": "csi", "csi": {"driver": "d", "nodePublishSecretRef": {"name": "csi-secret"}}},
        ],
    },
)
ACME_POD = pod(
    "api", tenant="acme", spec={"volumes": [{"name": "s", "secret": {"secretName": "acme-secret"}}]}
)


class Graph:
    def __init__(self, pods: dict[str, list[dict[str, Any]]]) -> None:
        self.pods = pods

    def pods_on_node(self, node: str) -> Iterable[dict[str, Any]]:
        return self.pods.get(node, [])


AUTHORIZER = NodeAuthorizer(Graph({"n1": [WEB, ACME_POD], "n2": [pod("elsewhere")]}))


def attrs(
    verb: str,
    resource: str,
    *,
    name: str = "",
    namespace: str = "",
    tenant: str = "system",
    group: str = "",
    sub: str = "",
    who: UserInfo = KUBELET,
    field_selector: str = "",
) -> Attributes:
    return Attributes(
        user=who,
        verb=verb,
        resource_request=True,
        api_group=group,
        resource=resource,
        subresource=sub,
        name=name,
        namespace=namespace,
        tenant=tenant,
        field_selector=field_selector,
    )


def test_node_identity() -> None:
    assert node_name(KUBELET) == "n1"
    assert node_name(UserInfo("system:node:n1")) is None  # not in system:nodes
    assert node_name(UserInfo("bob", groups=("system:nodes",))) is None
    assert node_name(UserInfo("system:node:n1", groups=("system:nodes",), tenant="acme")) is None
    assert node_name(UserInfo("system:node:", groups=("system:nodes",))) is None


def test_non_nodes_and_non_resource_requests_get_no_opinion() -> None:
    assert AUTHORIZER.authorize(attrs("get", "secrets", who=UserInfo("alice"))) is None
    path = Attributes(user=KUBELET, verb="get", resource_request=False, path="/api")
    assert AUTHORIZER.authorize(path) is None


ALLOWED = (
    [
        attrs("create", "nodes"),
        attrs("create", "nodes", name="n1"),
        attrs("get", "nodes", name="n1"),
        attrs("list", "nodes"),
        attrs("watch", "nodes"),
        attrs("patch", "nodes", name="n1", sub="status"),
        attrs("update", "nodes", name="n1"),
        attrs("get", "leases", name="n1", namespace="kube-node-lease", group="coordination.k8s.io"),
        attrs("update", "leases", name="n1", namespace="kube-node-lease", group="coordination.k8s.io"),
        attrs("create", "leases", namespace="kube-node-lease", group="coordination.k8s.io"),
        attrs("list", "pods", field_selector="spec.nodeName=n1"),
        attrs("watch", "pods", tenant="all", field_selector="spec.nodeName==n1"),
        attrs("get", "pods", name="web", namespace="default"),
        attrs("patch", "pods", name="web", namespace="default", sub="status"),
        attrs("delete", "pods", name="api", namespace="default", tenant="acme"),
        attrs("create", "pods", name="web", namespace="default", sub="eviction"),
        attrs("create", "events", namespace="default"),
        attrs("patch", "events", namespace="x", group="events.k8s.io"),
        attrs("list", "services"),
        attrs("watch", "networks", tenant="all", group="arktos.futurewei.com"),
        attrs("get", "runtimeclasses", name="vm", group="node.k8s.io"),
        attrs("create", "subjectaccessreviews", group="authorization.k8s.io"),
    ]
    + [
        attrs("get", "secrets", name=n, namespace="default")
        for n in (
            "pull",
            "env-secret",
            "from-secret",
            "vol-secret",
            "proj-secret",
            "ceph-secret",
            "csi-secret",
        )
    ]
    + [
        attrs("get", "configmaps", name=n, namespace="default")
        for n in ("env-cm", "from-cm", "init-cm", "vol-cm", "proj-cm")
    ]
    + [
        attrs("watch", "secrets", name="vol-secret", namespace="default"),
        attrs("get", "persistentvolumeclaims", name="data", namespace="default"),
        attrs("get", "persistentvolumeclaims", name="web-scratch", namespace="default"),
        attrs("get", "serviceaccounts", name="web-sa", namespace="default"),
        attrs("create", "serviceaccounts", name="web-sa", namespace="default", sub="token"),
        attrs("create", "serviceaccounts", name="default", namespace="default", tenant="acme", sub="token"),
        attrs("get", "secrets", name="acme-secret", namespace="default", tenant="acme"),
    ]
)

DENIED = [
    attrs("get", "nodes", name="n2"),
    attrs("update", "nodes", name="n2", sub="status"),
    attrs("delete", "nodes", name="n2"),
    attrs("create", "nodes", name="n2"),
    attrs("get", "leases", name="n2", namespace="kube-node-lease", group="coordination.k8s.io"),
    attrs("get", "leases", name="n1", namespace="default", group="coordination.k8s.io"),
    attrs("get", "pods", name="elsewhere", namespace="default"),
    attrs("update", "pods", name="elsewhere", namespace="default", sub="status"),
    attrs("update", "pods", name="web", namespace="default"),
    attrs("create", "pods", namespace="default"),
    attrs("get", "pods", name="api", namespace="default"),  # it is acme's pod, not system's
    attrs("get", "secrets", name="unrelated", namespace="default"),
    attrs("list", "secrets", namespace="default"),
    attrs("get", "secrets", name="vol-secret", namespace="other"),
    attrs("get", "secrets", name="vol-secret", namespace="default", tenant="acme"),
    attrs("get", "secrets", name="acme-secret", namespace="default"),
    attrs("update", "secrets", name="vol-secret", namespace="default"),
    attrs("get", "configmaps", name="vol-secret", namespace="default"),
    attrs("create", "serviceaccounts", name="other-sa", namespace="default", sub="token"),
    attrs("list", "persistentvolumeclaims", name="data", namespace="default"),
    attrs("delete", "services", name="x", namespace="default"),
    attrs("update", "networks", name="default", sub="status", group="arktos.futurewei.com"),
    attrs("create", "deployments", namespace="default", group="apps"),
    attrs("list", "namespaces"),
    # AuthorizeNodeWithSelectors: pods only with the node's own field selector.
    attrs("list", "pods"),
    attrs("watch", "pods", tenant="all", field_selector="spec.nodeName=n2"),
    attrs("list", "pods", field_selector="spec.nodeName!=n1"),
]


@pytest.mark.parametrize(
    "request_attrs", ALLOWED, ids=lambda a: f"{a.verb}-{a.resource}-{a.subresource}-{a.name}"
)
def test_allowed(request_attrs: Attributes) -> None:
    decision = AUTHORIZER.authorize(request_attrs)
    assert decision is not None and decision.allowed


@pytest.mark.parametrize(
    "request_attrs", DENIED, ids=lambda a: f"{a.verb}-{a.resource}-{a.subresource}-{a.name}"
)
def test_denied(request_attrs: Attributes) -> None:
    decision = AUTHORIZER.authorize(request_attrs)
    assert decision is not None and not decision.allowed and decision.reason


def test_unrelated_object_reason_matches_upstream() -> None:
    decision = AUTHORIZER.authorize(attrs("get", "secrets", name="unrelated", namespace="default"))
    assert decision is not None
    assert decision.reason == "no relationship found between node 'n1' and this object"


def test_pod_references_default_service_account() -> None:
    refs = set(pod_references(pod("bare")))
    assert refs == {("serviceaccounts", "system", "default", "default")}


def test_cache_graph_sees_pods_loaded_after_it_was_built() -> None:
    """The API server builds the graph before the watch cache's first load; the load replaces the
    cache's indexes, and the graph must read the new one (a kubelet was refused its own pods)."""
    from server.access import CacheNodeGraph
    from server.resources.builtin import builtin_catalogue
    from server.storage.memory import MemoryBackend
    from server.watchcache import CachedObject, WatchCache

    catalogue = builtin_catalogue()
    cache = WatchCache(MemoryBackend())
    graph = CacheNodeGraph(cache, catalogue)
    segment = catalogue.lookup("", "v1", "pods").key_segment  # type: ignore[union-attr]
    key = f"/registry/{segment}/system/default/web"
    cache.resource(segment).reset({key: CachedObject(key, WEB, b"{}", 2)}, 2)
    assert list(graph.pods_on_node("n1")) == [WEB]
    bound = NodeAuthorizer(graph).authorize(
        Attributes(user=KUBELET, verb="patch", resource_request=True, resource="pods",
                   subresource="status", name="web", namespace="default", tenant="system"))
    assert bound is not None and bound.allowed
