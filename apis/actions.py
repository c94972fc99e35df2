"""VM pod actions (ARKTOS.md §4): the vocabulary the API server and the kubelet share.

A client asks for an operation on a VM pod with ``POST pods/{name}/action`` and a ``CustomAction``
body; the server checks the request (`custom_action_errors`, `target_errors`) and stores an
``Action`` (`new_action`) named ``{operation}-{unixtime}`` as Arktos's ActionREST does, addressed
to the pod's node. The node's kubelet watches Actions with ``spec.nodeName=<node>``, carries out
those not yet ``status.complete`` and writes the outcome to their ``/status`` (`completed_status`).
What ``kubectl get actions`` prints is the server's (`server.printing.tables`).
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any, Literal

from apis.field_errors import FieldError, forbidden, invalid, required

Operation = Literal["reboot", "snapshot", "restore"]
OPERATIONS: tuple[Operation, ...] = ("reboot", "snapshot", "restore")
# operation -> (CustomAction parameters field, Action spec field, status field of its outcome)
_FIELDS: dict[str, tuple[str, str, str]] = {
    "reboot": ("rebootParams", "rebootAction", "rebootStatus"),
    "snapshot": ("snapshotParams", "snapshotAction", "snapshotStatus"),
    "restore": ("restoreParams", "restoreAction", "restoreStatus"),
}
# The parameter each operation cannot do without.
_REQUIRED_PARAMETER = {"snapshot": "snapshotName", "restore": "snapshotID"}


class UnsupportedOperation(ValueError):
    """The request names no operation Arktos knows (upstream answers 400 BadRequest)."""


def _params(body: Mapping[str, Any], operation: str) -> Any:
    return body.get(_FIELDS[operation][0]) or {}


def custom_action_errors(body: Mapping[str, Any]) -> list[FieldError]:
    """What is wrong with a CustomAction's parameters; raises `UnsupportedOperation` first when
    the operation itself is unknown (Arktos: ``Unsupported operation 'x' for Pod 'p'``)."""
    operation = body.get("operation")
    if operation not in _FIELDS:
        raise UnsupportedOperation(str(operation or ""))
    params_field = _FIELDS[operation][0]
    params = _params(body, operation)
    if not isinstance(params, dict):
        return [invalid(params_field, params, "must be an object")]
    errors: list[FieldError] = []
    needed = _REQUIRED_PARAMETER.get(operation)
    if needed is not None:
        value = params.get(needed)
        if value is None or value == "":
            errors.append(required(f"{params_field}.{needed}", f"a {operation} action needs {needed}"))
        elif not isinstance(value, str):
            errors.append(invalid(f"{params_field}.{needed}", value, "must be a string"))
    if operation == "reboot":
        delay = params.get("delayInSeconds", 0)
        if not isinstance(delay, int) or isinstance(delay, bool) or delay < 0:
            errors.append(invalid("rebootParams.delayInSeconds", delay,
                                  "must be a non-negative integer"))
    return errors


def target_errors(pod: Mapping[str, Any]) -> str | None:
    """Why ``pod`` cannot take an action (not a VM pod), or None."""
    if not isinstance((pod.get("spec") or {}).get("virtualMachine"), dict):
        name = (pod.get("metadata") or {}).get("name", "")
        return f'pod "{name}" is not a VM pod: actions apply only to pods with spec.virtualMachine'
    return None


def action_name(operation: str, unix_time: int, attempt: int = 0) -> str:
    """``{operation}-{unixtime}`` as Arktos names it; later attempts in the same second get a
    ``-{attempt}`` suffix so two requests in one second do not collide."""
    base = f"{operation}-{unix_time}"
    return base if attempt == 0 else f"{base}-{attempt}"


def new_action(pod: Mapping[str, Any], body: Mapping[str, Any], *, name: str) -> dict[str, Any]:
    """The Action a valid CustomAction on ``pod`` stores (tenant and namespace come from the
    request's scope). It is owned by the pod, so the garbage collector removes it with the pod."""
    operation = str(body["operation"])
    metadata, spec = pod.get("metadata") or {}, pod.get("spec") or {}
    params = dict(_params(body, operation))
    if operation == "reboot":
        params = {"delayInSeconds": int(params.get("delayInSeconds", 0))}
    owner: dict[str, Any] = {"apiVersion": "v1", "kind": "Pod", "name": metadata.get("name", ""),
                             "uid": metadata.get("uid", "")}
    return {
        "apiVersion": "v1",
        "kind": "Action",
        "metadata": {"name": name, "ownerReferences": [owner]},
        "spec": {
            "nodeName": spec.get("nodeName", ""),
            "podName": metadata.get("name", ""),
            "podID": metadata.get("uid", ""),
            _FIELDS[operation][1]: params,
        },
    }


def operation_of(action: Mapping[str, Any]) -> Operation | None:
    """Which operation an Action asks for (the one spec field of the three that is set)."""
    spec = action.get("spec") or {}
    for operation in OPERATIONS:
        if isinstance(spec.get(_FIELDS[operation][1]), dict):
            return operation
    return None


def action_spec_errors(action: Mapping[str, Any]) -> list[FieldError]:
    """An Action names its pod and exactly one operation (for Actions created directly)."""
    spec = action.get("spec") or {}
    errors: list[FieldError] = []
    if not spec.get("podName"):
        errors.append(required("spec.podName"))
    present = [op for op in OPERATIONS if spec.get(_FIELDS[op][1]) is not None]
    if not present:
        errors.append(required("spec", "one of rebootAction, snapshotAction, restoreAction"))
    elif len(present) > 1:
        errors.append(forbidden(f"spec.{_FIELDS[present[1]][1]}",
                                "may not be set together with spec." + _FIELDS[present[0]][1]))
    return errors


def completed_status(operation: str, *, error: str = "", snapshot_id: str = "",
                     completion_time: str = "") -> dict[str, Any]:
    """The ``status`` a kubelet writes when it has finished with an action."""
    status: dict[str, Any] = {"complete": True, "error": error}
    if completion_time:
        status["completionTime"] = completion_time
    outcome_field = _FIELDS[operation][2]
    if operation == "snapshot":
        status[outcome_field] = {"snapshotID": snapshot_id} if not error else {}
    else:
        flag = "rebootSuccessful" if operation == "reboot" else "restoreSuccessful"
        status[outcome_field] = {flag: not error}
    return status

