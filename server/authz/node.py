"""The node authorizer: a kubelet may touch its own Node, its pods and what they reference.

Mirrors upstream's Node authorization mode (plugin/pkg/auth/authorizer/node) together with the
object checks of the NodeRestriction admission plugin, which our attributes let us make here:
a kubelet (``system:node:<name>`` in group ``system:nodes``, tenant ``system``) may

* register, read and update its own Node (and its status) and its Lease in ``kube-node-lease``;
  list/watch nodes, and pods only with the field selector ``spec.nodeName=<node>`` (upstream
  1.32's AuthorizeNodeWithSelectors);
* get, delete and update the status of pods bound to it, evict them;
* read secrets, config maps, PVCs and service accounts those pods reference, and request tokens
  for those service accounts — in the pod's own tenant and namespace;
* record events, read services, runtime classes and (Arktos) networks — a pod's nameserver is its
  network's DNS Service (``status.dnsServiceIP``) — create certificate signing requests and
  token/access reviews;
* work the VM Actions addressed to it (Arktos): list/watch them only with a field selector
  ``spec.nodeName=<node>`` (as upstream 1.32's node authorizer, with AuthorizeNodeWithSelectors,
  demands for pods), get them and update their status only when their ``spec.nodeName`` is it.

Everything else gets no opinion from this authorizer (None for non-node users; a refusal with
upstream's reason for nodes), so RBAC decides — and binds nothing to nodes.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any, Protocol

from server.auth.user import NODE_PREFIX, NODES, SYSTEM_TENANT, UserInfo
from server.authz.attributes import Attributes, Decision
from server.authz.pod_references import pod_references

NODE_LEASE_NAMESPACE = "kube-node-lease"
_READ = frozenset({"get", "list", "watch"})
_COLLECTION_READ = frozenset({"list", "watch"})
_REFERENCED = frozenset({"secrets", "configmaps", "persistentvolumeclaims", "serviceaccounts"})
# (group, resource-or-resource/subresource) -> verbs any node may use, whatever the object.
_ANY_NODE: dict[tuple[str, str], frozenset[str]] = {
    ("", "events"): frozenset({"create", "update", "patch"}),
    ("events.k8s.io", "events"): frozenset({"create", "update", "patch"}),
    ("", "services"): _READ,
    ("arktos.futurewei.com", "networks"): _READ,
    ("", "endpoints"): frozenset({"get"}),
    ("node.k8s.io", "runtimeclasses"): _READ,
    ("storage.k8s.io", "csidrivers"): _READ,
    ("certificates.k8s.io", "certificatesigningrequests"): frozenset({"create", "get", "list", "watch"}),
    ("authentication.k8s.io", "tokenreviews"): frozenset({"create"}),
    ("authorization.k8s.io", "subjectaccessreviews"): frozenset({"create"}),
    ("authorization.k8s.io", "localsubjectaccessreviews"): frozenset({"create"}),
}


class NodeGraph(Protocol):
    """Which pods are bound to a node (an index on ``spec.nodeName``)."""

    def pods_on_node(self, node: str) -> Iterable[dict[str, Any]]: ...


class ActionNodes(Protocol):
    """The node an Arktos Action is addressed to (its ``spec.nodeName``), None when absent."""

    def action_node(self, tenant: str, namespace: str, name: str) -> str | None: ...


def node_name(user: UserInfo) -> str | None:
    """The node a kubelet identity speaks for (upstream NodeIdentifier), else None."""
    if NODES not in user.groups or not user.name.startswith(NODE_PREFIX) or user.tenant != SYSTEM_TENANT:
        return None
    return user.name[len(NODE_PREFIX):] or None


def _pod_tenant(pod: dict[str, Any]) -> str:
    return str((pod.get("metadata") or {}).get("tenant") or SYSTEM_TENANT)


class NodeAuthorizer:
    """Decides requests of kubelets from the pods bound to their node."""

    def __init__(self, graph: NodeGraph, *, actions: ActionNodes | None = None) -> None:
        self._graph = graph
        self._actions = actions

    def authorize(self, attrs: Attributes) -> Decision | None:
        node = node_name(attrs.user)
        if node is None or not attrs.resource_request:
            return None
        resource = f"{attrs.resource}/{attrs.subresource}" if attrs.subresource else attrs.resource
        if attrs.verb in _ANY_NODE.get((attrs.api_group, resource), frozenset()):
            return Decision(True, "")
        if attrs.api_group == "" and attrs.resource == "nodes":
            return self._own_object(attrs, node, "node")
        if attrs.api_group == "coordination.k8s.io" and attrs.resource == "leases" and not attrs.subresource:
            if attrs.namespace != NODE_LEASE_NAMESPACE:
                return _refused("lease outside namespace kube-node-lease")
            return self._own_object(attrs, node, "lease")
        if attrs.api_group == "storage.k8s.io" and attrs.resource == "csinodes":
            return self._own_object(attrs, node, "csinode")
        if attrs.api_group == "" and attrs.resource == "pods":
            return self._pod(attrs, node)
        if attrs.api_group == "" and attrs.resource in _REFERENCED:
            return self._referenced(attrs, node)
        if attrs.api_group == "" and attrs.resource == "actions":
            return self._action(attrs, node)
        return _refused(f"node '{node}' may not {attrs.verb} {resource}")

    def _own_object(self, attrs: Attributes, node: str, what: str) -> Decision:
        if attrs.verb in _COLLECTION_READ and not attrs.subresource and what == "node":
            return Decision(True, "")
        if attrs.verb == "create" and attrs.name in ("", node) and not attrs.subresource:
            return Decision(True, "")
        if attrs.name == node and (not attrs.subresource or attrs.subresource == "status") and \
                attrs.verb in ("get", "update", "patch", "delete"):
            return Decision(True, "")
        return _refused(f"node '{node}' may only access its own {what}")

    def _bound_pod(self, attrs: Attributes, node: str) -> bool:
        return any((p.get("metadata") or {}).get("name") == attrs.name
                   and (p.get("metadata") or {}).get("namespace") == attrs.namespace
                   and _pod_tenant(p) == (attrs.tenant or SYSTEM_TENANT)
                   for p in self._graph.pods_on_node(node))

    def _pod(self, attrs: Attributes, node: str) -> Decision:
        # Upstream's AuthorizeNodeWithSelectors (on by default since 1.32): a kubelet lists and
        # watches only the pods bound to it, named by the field selector spec.nodeName=<node>.
        if not attrs.subresource and attrs.verb in _COLLECTION_READ and not attrs.name:
            if _pinned_node(attrs.field_selector) == node:
                return Decision(True, "")
            return _refused(f"node '{node}' may only list or watch pods with the field selector "
                            f"spec.nodeName={node}")
        allowed = {"": ("get", "delete"), "status": ("get", "update", "patch"), "eviction": ("create",)}
        if attrs.verb in allowed.get(attrs.subresource, ()) and attrs.name and self._bound_pod(attrs, node):
            return Decision(True, "")
        return _refused(f"no relationship found between node '{node}' and this object")

    def _referenced(self, attrs: Attributes, node: str) -> Decision:
        verbs: tuple[str, ...] = ("get", "list", "watch")
        if attrs.resource == "persistentvolumeclaims":
            verbs = ("get",) if not attrs.subresource else ("get", "update", "patch")
            if attrs.subresource not in ("", "status"):
                verbs = ()
        elif attrs.resource == "serviceaccounts":
            verbs = {"": ("get",), "token": ("create",)}.get(attrs.subresource, ())
        elif attrs.subresource:
            verbs = ()
        # list/watch count only when narrowed to one name (fieldSelector metadata.name), as upstream.
        if attrs.verb in verbs and attrs.name:
            wanted = (attrs.resource, attrs.tenant or SYSTEM_TENANT, attrs.namespace, attrs.name)
            for pod in self._graph.pods_on_node(node):
                if any(reference == wanted for reference in pod_references(pod)):
                    return Decision(True, "")
        return _refused(f"no relationship found between node '{node}' and this object")


    def _action(self, attrs: Attributes, node: str) -> Decision:
        if not attrs.subresource and attrs.verb in _COLLECTION_READ and not attrs.name:
            if _pinned_node(attrs.field_selector) == node:
                return Decision(True, "")
            return _refused(f"node '{node}' may only list or watch actions with the field selector "
                            f"spec.nodeName={node}")
        allowed = {"": ("get",), "status": ("get", "update", "patch")}
        if attrs.verb in allowed.get(attrs.subresource, ()) and attrs.name and self._actions is not None:
            addressed = self._actions.action_node(attrs.tenant, attrs.namespace, attrs.name)
            if addressed == node:
                return Decision(True, "")
        return _refused(f"no relationship found between node '{node}' and this object")


def _pinned_node(field_selector: str) -> str | None:
    """The node a field selector pins with ``spec.nodeName=`` / ``==`` (in its only alternative)."""
    if not field_selector or ";" in field_selector:
        return None
    for term in field_selector.split(","):
        for operator in ("==", "="):
            field, found, value = term.partition(operator)
            if found and field.strip() == "spec.nodeName" and not field.endswith("!"):
                return value.strip()
    return None


def _refused(reason: str) -> Decision:
    return Decision(False, reason)
