"""The vocabulary the workload controllers share: which resources, which views, who owns what.

ReplicaSet, ReplicationController, Deployment, StatefulSet and DaemonSet controllers all watch pods
(or ReplicaSets) of every tenant and find the children of one owner through its controller
reference (upstream ``metav1.GetControllerOf``). Keeping the resource references, the all-tenant
informer views, the index functions and the ownerReference builder in one place means the five
controllers share one pod informer and file pods under the same index names.
Arktos adds ``hashKey`` to an OwnerReference: it is the owner's ``metadata.hashKey``.
"""

from __future__ import annotations

from collections.abc import Hashable, Mapping
from typing import Any

from apis.wire_types import OwnerReference, meta_of
from client.cache import ObjectKey
from client.informer_factory import InformerView
from client.resources import ALL_TENANTS, ResourceRef

PODS = ResourceRef("", "v1", "pods", "Pod")
NODES = ResourceRef("", "v1", "nodes", "Node")
PERSISTENT_VOLUME_CLAIMS = ResourceRef("", "v1", "persistentvolumeclaims", "PersistentVolumeClaim")
REPLICATION_CONTROLLERS = ResourceRef("", "v1", "replicationcontrollers", "ReplicationController")
REPLICA_SETS = ResourceRef("apps", "v1", "replicasets", "ReplicaSet")
DEPLOYMENTS = ResourceRef("apps", "v1", "deployments", "Deployment")
STATEFUL_SETS = ResourceRef("apps", "v1", "statefulsets", "StatefulSet")
DAEMON_SETS = ResourceRef("apps", "v1", "daemonsets", "DaemonSet")
CONTROLLER_REVISIONS = ResourceRef("apps", "v1", "controllerrevisions", "ControllerRevision")

PODS_VIEW = InformerView(PODS, tenant=ALL_TENANTS)
REPLICA_SETS_VIEW = InformerView(REPLICA_SETS, tenant=ALL_TENANTS)
REPLICATION_CONTROLLERS_VIEW = InformerView(REPLICATION_CONTROLLERS, tenant=ALL_TENANTS)
DEPLOYMENTS_VIEW = InformerView(DEPLOYMENTS, tenant=ALL_TENANTS)
STATEFUL_SETS_VIEW = InformerView(STATEFUL_SETS, tenant=ALL_TENANTS)
DAEMON_SETS_VIEW = InformerView(DAEMON_SETS, tenant=ALL_TENANTS)
CONTROLLER_REVISIONS_VIEW = InformerView(CONTROLLER_REVISIONS, tenant=ALL_TENANTS)
NODES_VIEW = InformerView(NODES)

# Index names are prefixed: another controller may file the same informer under its own indexes.
BY_NAMESPACE = "workloads/namespace"
BY_CONTROLLER_UID = "workloads/controller-uid"


def namespace_of(obj: Mapping[str, Any]) -> list[str]:
    """Index value ``tenant/namespace``: a namespace name alone is ambiguous across tenants."""
    metadata = meta_of(obj)
    return [f"{metadata.get('tenant') or ''}/{metadata.get('namespace') or ''}"]


def controller_uid_of(obj: Mapping[str, Any]) -> list[str]:
    """Index value: the uid of the object's controller (none for orphans)."""
    ref = controller_ref(obj)
    return [str(ref["uid"])] if ref and ref.get("uid") else []


CHILD_INDEXERS = {BY_NAMESPACE: namespace_of, BY_CONTROLLER_UID: controller_uid_of}


def controller_ref(obj: Mapping[str, Any]) -> OwnerReference | None:
    """The ownerReference with ``controller: true``, as upstream's ``GetControllerOf``."""
    for ref in meta_of(obj).get("ownerReferences") or ():
        if isinstance(ref, dict) and ref.get("controller"):
            return ref
    return None


def owner_key_of_kind(kind: str, obj: Mapping[str, Any]) -> list[Hashable]:
    """The key of ``obj``'s controller when it is a ``kind`` (same tenant and namespace)."""
    ref = controller_ref(obj)
    if ref is None or ref.get("kind") != kind:
        return []
    metadata = meta_of(obj)
    return [ObjectKey(str(metadata.get("tenant") or ""), str(metadata.get("namespace") or ""),
                      str(ref.get("name") or ""))]


def owner_reference(owner: Mapping[str, Any], *, api_version: str, kind: str) -> OwnerReference:
    """The controller reference a child gets: blocks its owner's foreground deletion, carries
    Arktos's ``hashKey`` (the owner's ``metadata.hashKey``)."""
    metadata = meta_of(owner)
    ref: OwnerReference = {"apiVersion": api_version, "kind": kind, "name": metadata.get("name", ""),
                           "uid": metadata.get("uid", ""), "controller": True,
                           "blockOwnerDeletion": True}
    if metadata.get("hashKey") is not None:
        ref["hashKey"] = metadata["hashKey"]
    return ref


def object_location(obj: Mapping[str, Any]) -> tuple[str, str]:
    """``(tenant, namespace)`` of a namespaced object, for long-path writes."""
    metadata = meta_of(obj)
    return str(metadata.get("tenant") or "system"), str(metadata.get("namespace") or "default")


def is_being_deleted(obj: Mapping[str, Any]) -> bool:
    return bool(meta_of(obj).get("deletionTimestamp"))
