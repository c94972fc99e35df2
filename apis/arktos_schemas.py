"""Arktos's additions to the upstream Kubernetes OpenAPI definitions, in one place.

Arktos is a Kubernetes fork: every object's metadata carries ``tenant`` and ``hashKey``, owner
references carry ``hashKey``, and the core group serves a cluster-scoped ``Tenant`` kind
(ARKTOS.md §2). The upstream definitions we load from ``kubernetes-validate`` know none of this,
so the additions are patched in here, programmatically, in the same JSON-Schema flavour as the
upstream file (nullable optional fields as ``["string", "null"]``, refs as ``#/$defs/<name>``).
Later Arktos extensions (the VM fields on PodSpec) belong here too.
"""

from __future__ import annotations

from typing import Any

from apis.action_schemas import add_action_definitions
from apis.controller_instance_schemas import add_controller_instance_definitions
from apis.vm_schemas import add_vm_definitions

Schema = dict[str, Any]

OBJECT_META = "io.k8s.apimachinery.pkg.apis.meta.v1.ObjectMeta"
OWNER_REFERENCE = "io.k8s.apimachinery.pkg.apis.meta.v1.OwnerReference"
LIST_META = "io.k8s.apimachinery.pkg.apis.meta.v1.ListMeta"
TENANT = "io.k8s.api.core.v1.Tenant"
TENANT_SPEC = "io.k8s.api.core.v1.TenantSpec"
TENANT_STATUS = "io.k8s.api.core.v1.TenantStatus"
TENANT_CONDITION = "io.k8s.api.core.v1.TenantCondition"
TENANT_LIST = "io.k8s.api.core.v1.TenantList"
NETWORK = "com.futurewei.arktos.v1.Network"
NETWORK_SPEC = "com.futurewei.arktos.v1.NetworkSpec"
NETWORK_SERVICE = "com.futurewei.arktos.v1.NetworkService"
NETWORK_STATUS = "com.futurewei.arktos.v1.NetworkStatus"
NETWORK_LIST = "com.futurewei.arktos.v1.NetworkList"

_API_VERSION_DESCRIPTION = "APIVersion defines the versioned schema of this representation of an object."
_KIND_DESCRIPTION = "Kind is a string value representing the REST resource this object represents."


def _ref(name: str, description: str) -> Schema:
    return {"$ref": f"#/$defs/{name}", "description": description}


def _hash_key_property(what: str) -> Schema:
    return {
        "description": f"HashKey of the {what}: FNV-1a 64 of its uid mapped into [0, 2^63-1]. "
        "Populated by the system. Read-only.",
        "format": "int64",
        "type": ["integer", "null"],
    }


def _type_meta(kind: str, api_version: str = "v1") -> dict[str, Schema]:
    return {
        "apiVersion": {"description": _API_VERSION_DESCRIPTION, "type": ["string", "null"],
                       "enum": [api_version]},
        "kind": {"description": _KIND_DESCRIPTION, "type": ["string", "null"], "enum": [kind]},
    }


def _condition_definition(description: str, type_description: str) -> Schema:
    """A condition shaped as upstream's NamespaceCondition (type, status, reason, message, time)."""
    return {
        "description": description,
        "properties": {
            "lastTransitionTime": _ref("io.k8s.apimachinery.pkg.apis.meta.v1.Time",
                                       "Last time the condition transitioned from one status to another."),
            "message": {"description": "Human-readable message indicating details about last transition.",
                        "type": ["string", "null"]},
            "reason": {"description": "Unique, one-word, CamelCase reason for the condition's last "
                                      "transition.", "type": ["string", "null"]},
            "status": {"description": "Status of the condition, one of True, False, Unknown.",
                       "type": "string"},
            "type": {"description": type_description, "type": "string"},
        },
        "required": ["type", "status"],
        "type": ["object", "null"],
    }


def _tenant_definitions() -> dict[str, Schema]:
    return {
        TENANT: {
            "description": "Tenant is the unit of isolation in Arktos: a separate space of namespaces, "
            "tenant-scoped resources, users and quotas.",
            "properties": {
                **_type_meta("Tenant"),
                "metadata": _ref(OBJECT_META, "Standard object's metadata."),
                "spec": _ref(TENANT_SPEC, "Spec defines the behavior of the Tenant."),
                "status": _ref(TENANT_STATUS, "Status describes the current status of a Tenant."),
            },
            "type": ["object", "null"],
            "x-kubernetes-group-version-kind": [{"group": "", "kind": "Tenant", "version": "v1"}],
        },
        TENANT_SPEC: {
            "description": "TenantSpec describes the attributes of a Tenant.",
            "properties": {
                "storageClusterId": {
                    "description": "The id of the storage cluster that holds the tenant's objects "
                    "(\"0\"..\"63\"; \"0\" is the system store). Immutable.",
                    "type": ["string", "null"],
                },
                "finalizers": {
                    "description": "Finalizers is an opaque list of values that must be empty to "
                    "permanently remove the object from storage.",
                    "items": {"type": ["string", "null"]},
                    "type": ["array", "null"],
                    "x-kubernetes-list-type": "atomic",
                },
            },
            "type": ["object", "null"],
        },
        TENANT_STATUS: {
            "description": "TenantStatus is information about the current status of a Tenant.",
            "properties": {
                "phase": {
                    "description": "The current lifecycle phase of the tenant: Active or Terminating.",
                    "type": ["string", "null"],
                },
                "conditions": {
                    "description": "The latest observations of the tenant's state. Initialized is True "
                    "once the tenant's default namespaces, admin role and binding and default network "
                    "exist.",
                    "items": {"$ref": f"#/$defs/{TENANT_CONDITION}"},
                    "type": ["array", "null"],
                    "x-kubernetes-list-map-keys": ["type"],
                    "x-kubernetes-list-type": "map",
                    "x-kubernetes-patch-merge-key": "type",
                    "x-kubernetes-patch-strategy": "merge",
                },
            },
            "type": ["object", "null"],
        },
        TENANT_CONDITION: _condition_definition(
            "TenantCondition contains details about the state of a tenant.", "Type of tenant condition."),
        TENANT_LIST: {
            "description": "TenantList is a list of Tenants.",
            "properties": {
                **_type_meta("TenantList"),
                "items": {
                    "description": "Items is the list of Tenant objects in the list.",
                    "items": {"$ref": f"#/$defs/{TENANT}"},
                    "type": "array",
                },
                "metadata": _ref(LIST_META, "Standard list metadata."),
            },
            "required": ["items"],
            "type": ["object", "null"],
            "x-kubernetes-group-version-kind": [{"group": "", "kind": "TenantList", "version": "v1"}],
        },
    }


def _string(description: str, enum: list[str] | None = None) -> Schema:
    schema: Schema = {"description": description, "type": ["string", "null"]}
    if enum:
        schema["enum"] = enum
    return schema


def _network_definitions() -> dict[str, Schema]:
    """Arktos's built-in ``Network`` (``networks.arktos.futurewei.com``, tenant scope)."""
    gvk = {"group": "arktos.futurewei.com", "version": "v1"}
    return {
        NETWORK: {
            "description": "Network is a tenant's network: flat (the host network fabric) or a VPC.",
            "properties": {
                **_type_meta("Network", "arktos.futurewei.com/v1"),
                "metadata": _ref(OBJECT_META, "Standard object's metadata."),
                "spec": _ref(NETWORK_SPEC, "Spec defines the network."),
                "status": _ref(NETWORK_STATUS, "Status is the observed state of the network."),
            },
            "type": ["object", "null"],
            "x-kubernetes-group-version-kind": [{**gvk, "kind": "Network"}],
        },
        NETWORK_SPEC: {
            "description": "NetworkSpec describes a tenant network.",
            "properties": {
                "type": _string("The network type: flat or vpc.", ["flat", "vpc"]),
                "vpcID": _string("The id of the VPC (type vpc)."),
                "service": _ref(NETWORK_SERVICE, "How service IPs are allocated in this network."),
            },
            "required": ["type"],
            "type": ["object", "null"],
        },
        NETWORK_SERVICE: {
            "description": "NetworkService: the IPAM and CIDRs of the network's services.",
            "properties": {
                "ipam": _string("The IP address manager: Arktos (the default), Kubernetes or External."),
                "cidrs": {"description": "Service CIDRs.", "type": ["array", "null"],
                          "items": {"type": ["string", "null"]}},
            },
            "type": ["object", "null"],
        },
        NETWORK_STATUS: {
            "description": "NetworkStatus is the observed state of a network.",
            "properties": {
                "phase": _string("Pending, Ready, Failed, Terminating or Unknown."),
                "message": _string("A human readable message about the phase."),
                "dnsServiceIP": _string("The cluster IP of the network's DNS service."),
            },
            "type": ["object", "null"],
        },
        NETWORK_LIST: {
            "description": "NetworkList is a list of Networks.",
            "properties": {
                **_type_meta("NetworkList", "arktos.futurewei.com/v1"),
                "items": {"description": "The networks.", "items": {"$ref": f"#/$defs/{NETWORK}"},
                          "type": "array"},
                "metadata": _ref(LIST_META, "Standard list metadata."),
            },
            "required": ["items"],
            "type": ["object", "null"],
            "x-kubernetes-group-version-kind": [{**gvk, "kind": "NetworkList"}],
        },
    }


def add_arktos_definitions(defs: dict[str, Schema]) -> None:
    """Patch Arktos's fields and kinds into freshly loaded upstream definitions (mutates ``defs``)."""
    meta_properties = defs[OBJECT_META]["properties"]
    meta_properties["tenant"] = {
        "description": "Tenant defines the space within which each name must be unique. "
        "Populated by the system from the request; empty means the system tenant.",
        "type": ["string", "null"],
    }
    meta_properties["hashKey"] = _hash_key_property("object")
    defs[OWNER_REFERENCE]["properties"]["hashKey"] = _hash_key_property("referent")
    defs.update(_tenant_definitions())
    defs.update(_network_definitions())
    add_vm_definitions(defs)
    add_action_definitions(defs)
    add_controller_instance_definitions(defs)
