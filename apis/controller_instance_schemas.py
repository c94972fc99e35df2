"""Arktos's ``ControllerInstance`` in the served schemas, and the range vocabulary it records.

Arktos's controller framework (``pkg/controller/controllerframework``) lets several
controller-manager processes run the same controller at once: each process registers, per
controller type, a cluster-wide, non-tenanted core/v1 ``ControllerInstance`` (Arktos's
``staging/src/k8s.io/api/core/v1/types.go``) whose fields sit at the top level, beside metadata,
with no spec/status: ``controllerType`` (e.g. ``deployment``), ``controllerKey`` (the inclusive
upper bound of the ``metadata.hashKey`` range the instance owns; the lower bound is the key of the
instance sorted before it), ``workloadNum`` (how many objects it owned at its last renewal) and
``isLocked`` (a joining instance is locked until the instance it split has stopped working on the
half it gave away). kubernetes-validate has no such kind, so its definition is written here, in
the upstream file's JSON-Schema flavour, as `apis.arktos_schemas` does for Tenant.
"""

from __future__ import annotations

from typing import Any

from apis.action_schemas import core_gvk, core_type_meta

Schema = dict[str, Any]

CONTROLLER_INSTANCE = "io.k8s.api.core.v1.ControllerInstance"
CONTROLLER_INSTANCE_LIST = "io.k8s.api.core.v1.ControllerInstanceList"
_OBJECT_META = "io.k8s.apimachinery.pkg.apis.meta.v1.ObjectMeta"
_LIST_META = "io.k8s.apimachinery.pkg.apis.meta.v1.ListMeta"

# The hashKey space (ARKTOS.md §2): FNV-1a 64 of the uid folded into [0, 2^63-1].
MAX_HASH_KEY = 2**63 - 1


def _definitions() -> dict[str, Schema]:
    return {
        CONTROLLER_INSTANCE: {
            "description": "ControllerInstance records one controller-manager process's share of one "
            "controller type's work: the metadata.hashKey range it reconciles.",
            "properties": {
                **core_type_meta("ControllerInstance"),
                "metadata": {"$ref": f"#/$defs/{_OBJECT_META}", "description": "Standard object's metadata."},
                "controllerType": {"description": "The controller this instance runs (e.g. deployment).",
                                   "type": "string"},
                "controllerKey": {"description": "The inclusive upper bound of the hashKey range this "
                                  "instance owns; the lower bound is the key of the instance before it.",
                                  "format": "int64", "type": ["integer", "null"]},
                "workloadNum": {"description": "How many objects the instance owned at its last renewal.",
                                "format": "int32", "type": ["integer", "null"]},
                "isLocked": {"description": "True while the instance waits for the instance whose range "
                             "it split to stop working on it.", "type": ["boolean", "null"]},
            },
            "required": ["controllerType"],
            "type": ["object", "null"],
            "x-kubernetes-group-version-kind": core_gvk("ControllerInstance"),
        },
        CONTROLLER_INSTANCE_LIST: {
            "description": "ControllerInstanceList is a list of controller instances.",
            "properties": {
                **core_type_meta("ControllerInstanceList"),
                "items": {"description": "The controller instances.", "type": "array",
                          "items": {"$ref": f"#/$defs/{CONTROLLER_INSTANCE}"}},
                "metadata": {"$ref": f"#/$defs/{_LIST_META}", "description": "Standard list metadata."},
            },
            "required": ["items"],
            "type": ["object", "null"],
            "x-kubernetes-group-version-kind": core_gvk("ControllerInstanceList"),
        },
    }


def add_controller_instance_definitions(defs: dict[str, Schema]) -> None:
    """Adds ControllerInstance and its list to freshly loaded upstream definitions."""
    defs.update(_definitions())
