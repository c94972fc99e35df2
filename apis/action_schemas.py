"""Arktos's VM pod actions in the served schemas: the stored ``Action`` and the ``CustomAction``
request body of ``pods/{name}/action`` (ARKTOS.md §4).

Arktos keeps both in core/v1 (its ``pkg/apis/core`` Action, ActionSpec, CustomAction): a client
POSTs a CustomAction naming an operation and its parameters; the server turns it into an Action
addressed to the pod's node, which that node's kubelet carries out and reports on through the
Action's ``/status``. The status fields past ``complete`` and ``error`` are ours (Arktos left them
to each operation): ``rebootStatus``, ``snapshotStatus.snapshotID`` (what a later restore names),
``restoreStatus`` and ``completionTime``.
"""

from __future__ import annotations

from typing import Any

Schema = dict[str, Any]

ACTION = "io.k8s.api.core.v1.Action"
ACTION_SPEC = "io.k8s.api.core.v1.ActionSpec"
ACTION_STATUS = "io.k8s.api.core.v1.ActionStatus"
ACTION_LIST = "io.k8s.api.core.v1.ActionList"
CUSTOM_ACTION = "io.k8s.api.core.v1.CustomAction"
REBOOT_ACTION = "io.k8s.api.core.v1.RebootAction"
SNAPSHOT_ACTION = "io.k8s.api.core.v1.SnapshotAction"
RESTORE_ACTION = "io.k8s.api.core.v1.RestoreAction"
REBOOT_STATUS = "io.k8s.api.core.v1.RebootStatus"
SNAPSHOT_STATUS = "io.k8s.api.core.v1.SnapshotStatus"
RESTORE_STATUS = "io.k8s.api.core.v1.RestoreStatus"
_OBJECT_META = "io.k8s.apimachinery.pkg.apis.meta.v1.ObjectMeta"
_LIST_META = "io.k8s.apimachinery.pkg.apis.meta.v1.ListMeta"


def _text(description: str) -> Schema:
    return {"description": description, "type": ["string", "null"]}


def _flag(description: str) -> Schema:
    return {"description": description, "type": ["boolean", "null"]}


def _ref(name: str, description: str) -> Schema:
    return {"$ref": f"#/$defs/{name}", "description": description}


def _object(description: str, properties: dict[str, Schema]) -> Schema:
    return {"description": description, "properties": properties, "type": ["object", "null"]}


def core_type_meta(kind: str) -> dict[str, Schema]:
    """apiVersion and kind of a core/v1 Arktos kind (also used by its ControllerInstance)."""
    return {
        "apiVersion": {"description": "APIVersion defines the versioned schema of this representation "
                       "of an object.", "type": ["string", "null"]},
        "kind": {"description": "Kind is a string value representing the REST resource this object "
                 "represents.", "type": ["string", "null"], "enum": [kind]},
    }


def core_gvk(kind: str) -> list[dict[str, str]]:
    """``x-kubernetes-group-version-kind`` of a core/v1 kind."""
    return [{"group": "", "version": "v1", "kind": kind}]


def _delay() -> Schema:
    return {"description": "Seconds to wait before rebooting.", "type": ["integer", "null"],
            "format": "int32"}


def _parameter_definitions() -> dict[str, Schema]:
    return {
        REBOOT_ACTION: _object("Reboot the pod's VM.", {"delayInSeconds": _delay()}),
        SNAPSHOT_ACTION: _object("Take a snapshot of the pod's VM.",
                                 {"snapshotName": _text("Name of the snapshot to take.")}),
        RESTORE_ACTION: _object("Restore the pod's VM to a snapshot.",
                                {"snapshotID": _text("Id of the snapshot to restore "
                                                     "(status.snapshotStatus.snapshotID of a snapshot "
                                                     "action).")}),
        REBOOT_STATUS: _object("Outcome of a reboot.", {"rebootSuccessful": _flag("The VM was rebooted.")}),
        SNAPSHOT_STATUS: _object("Outcome of a snapshot.",
                                 {"snapshotID": _text("The runtime's id of the snapshot taken.")}),
        RESTORE_STATUS: _object("Outcome of a restore.",
                                {"restoreSuccessful": _flag("The VM was restored.")}),
    }


def _action_definitions() -> dict[str, Schema]:
    spec = _object("ActionSpec: what to do to which pod, and the node that does it.", {
        "nodeName": _text("The node whose kubelet carries the action out."),
        "podName": _text("Name of the pod acted on."),
        "podID": _text("Uid of the pod acted on."),
        "rebootAction": _ref(REBOOT_ACTION, "Set for a reboot."),
        "snapshotAction": _ref(SNAPSHOT_ACTION, "Set for a snapshot."),
        "restoreAction": _ref(RESTORE_ACTION, "Set for a restore."),
    })
    status = _object("ActionStatus: what the node's kubelet reports.", {
        "complete": _flag("The kubelet has finished with the action (successfully or not)."),
        "error": _text("Why the action failed; empty when it succeeded."),
        "completionTime": {"description": "When the action completed.", "type": ["string", "null"],
                           "format": "date-time"},
        "rebootStatus": _ref(REBOOT_STATUS, "Outcome of a reboot."),
        "snapshotStatus": _ref(SNAPSHOT_STATUS, "Outcome of a snapshot."),
        "restoreStatus": _ref(RESTORE_STATUS, "Outcome of a restore."),
    })
    return {
        ACTION: {
            **_object("Action is an operation on a VM pod (reboot, snapshot, restore) for its node's "
                      "kubelet to carry out (Arktos).", {
                          **core_type_meta("Action"),
                          "metadata": _ref(_OBJECT_META, "Standard object's metadata."),
                          "spec": _ref(ACTION_SPEC, "The requested action."),
                          "status": _ref(ACTION_STATUS, "Progress reported by the kubelet."),
                      }),
            "x-kubernetes-group-version-kind": core_gvk("Action"),
        },
        ACTION_SPEC: spec,
        ACTION_STATUS: status,
        ACTION_LIST: {
            "description": "ActionList is a list of Actions.",
            "properties": {
                **core_type_meta("ActionList"),
                "items": {"description": "The actions.", "items": {"$ref": f"#/$defs/{ACTION}"},
                          "type": "array"},
                "metadata": _ref(_LIST_META, "Standard list metadata."),
            },
            "required": ["items"],
            "type": ["object", "null"],
            "x-kubernetes-group-version-kind": core_gvk("ActionList"),
        },
    }


def _custom_action_definition() -> dict[str, Schema]:
    return {
        CUSTOM_ACTION: {
            **_object("CustomAction is the body of POST pods/{name}/action: an operation and its "
                      "parameters (Arktos).", {
                          **core_type_meta("CustomAction"),
                          "metadata": _ref(_OBJECT_META, "Ignored."),
                          "operation": _text("reboot, snapshot or restore."),
                          "rebootParams": _ref(REBOOT_ACTION, "Parameters of a reboot."),
                          "snapshotParams": _ref(SNAPSHOT_ACTION, "Parameters of a snapshot."),
                          "restoreParams": _ref(RESTORE_ACTION, "Parameters of a restore."),
                      }),
            "x-kubernetes-group-version-kind": core_gvk("CustomAction"),
        },
    }


def add_action_definitions(defs: dict[str, Schema]) -> None:
    """Patch the Action and CustomAction kinds into the definitions (mutates ``defs``)."""
    defs.update(_parameter_definitions())
    defs.update(_action_definitions())
    defs.update(_custom_action_definition())
