"""Table rows for configuration and bookkeeping objects: events, config maps, secrets, service
accounts, pod templates, resource quotas, component statuses, controller revisions, leases,
priority and runtime classes, and Arktos's VM actions and controller instances.

Columns and cells as upstream's ``pkg/printers/internalversion/printers.go`` declares and fills
them (always the wide form, as the server-side table convertor asks for); Arktos's Action has
its own columns.
"""

from __future__ import annotations

from typing import Any

from apis.actions import operation_of
from server.printing.cells import controller_of, quantity_text
from server.printing.durations import age
from server.printing.printers import (
    AGE,
    NAME,
    Obj,
    Printer,
    column,
    container_cells,
    created_age,
    format_labels,
    name_of,
)


def _event_cells(event: Obj, now: float) -> list[Any]:
    # events.k8s.io/v1 names the core fields differently (regarding, note, deprecated*); upstream
    # prints both through the core type, so read either spelling.
    first_seen = event.get("firstTimestamp") or event.get("deprecatedFirstTimestamp")
    last_seen = event.get("lastTimestamp") or event.get("deprecatedLastTimestamp")
    first = age(first_seen or event.get("eventTime"), now)
    last = age(last_seen, now) if last_seen else first
    count = event.get("count") or event.get("deprecatedCount") or 0
    series = event.get("series")
    if series:
        last, count = age(series.get("lastObservedTime"), now), series.get("count") or 0
    elif count == 0:
        count = 1  # singleton events of the events.k8s.io API carry no count
    involved = event.get("involvedObject") or event.get("regarding") or {}
    target = involved.get("kind", "").lower()
    if involved.get("name"):
        target = f"{target}/{involved['name']}"
    source = event.get("source") or event.get("deprecatedSource") or {}
    component = source.get("component") or event.get("reportingController") or ""
    host = source.get("host") or event.get("reportingInstance") or ""
    message = (event.get("message") or event.get("note") or "").strip()
    return [
        last, event.get("type", ""), event.get("reason", ""), target, involved.get("fieldPath", ""),
        f"{component}, {host}" if host else component, message, first, count, name_of(event),
    ]


EVENT = Printer(
    columns=(
        column("Last Seen", "The time at which the most recent occurrence of this event was recorded."),
        column("Type", "Type of this event (Normal, Warning)."),
        column("Reason", "A short, machine understandable string for the transition."),
        column("Object", "The object that this event is about."),
        column("Subobject", "The field of the object the event is about.", priority=1),
        column("Source", "The component reporting this event.", priority=1),
        column("Message", "A human-readable description of the status of this operation."),
        column("First Seen", "The time at which the event was first recorded.", priority=1),
        column("Count", "The number of times this event has occurred.", priority=1),
        {**NAME, "priority": 1},
    ),
    cells=_event_cells,
)

CONFIG_MAP = Printer(
    columns=(NAME, column("Data", "Data contains the configuration data."), AGE),
    cells=lambda obj, now: [name_of(obj), len(obj.get("data") or ()) + len(obj.get("binaryData") or ()),
                            created_age(obj, now)])

SECRET = Printer(
    columns=(NAME, column("Type", "Used to facilitate programmatic handling of secret data."),
             column("Data", "Data contains the secret data."), AGE),
    cells=lambda obj, now: [name_of(obj), obj.get("type", ""), len(obj.get("data") or ()),
                            created_age(obj, now)])

SERVICE_ACCOUNT = Printer(
    columns=(NAME, column("Secrets", "Secrets is a list of the secrets in the same namespace that pods "
                          "running using this ServiceAccount are allowed to use."), AGE),
    cells=lambda obj, now: [name_of(obj), len(obj.get("secrets") or ()), created_age(obj, now)])


def _pod_template_cells(obj: Obj, now: float) -> list[Any]:
    template = obj.get("template") or {}
    names, images = container_cells(template.get("spec") or {})
    return [name_of(obj), names, images, format_labels((template.get("metadata") or {}).get("labels"))]


# Upstream's pod template table has no AGE.
POD_TEMPLATE = Printer(
    columns=(NAME, column("Containers", "Names of each container in the template."),
             column("Images", "Images referenced by each container in the template."),
             column("Pod Labels", "The labels for the pod template.")),
    cells=_pod_template_cells)


def _resource_quota_cells(obj: Obj, now: float) -> list[Any]:
    status = obj.get("status") or {}
    hard, used = status.get("hard") or {}, status.get("used") or {}
    requests: list[str] = []
    limits: list[str] = []
    for resource in sorted(hard):
        entry = f"{resource}: {quantity_text(used.get(resource))}/{quantity_text(hard[resource])}"
        (limits if resource.split(".")[0] == "limits" and "." in resource else requests).append(entry)
    return [name_of(obj), ", ".join(requests), ", ".join(limits), created_age(obj, now)]


RESOURCE_QUOTA = Printer(
    columns=(NAME, column("Request", "Request represents a minimum amount of cpu/memory that a container "
                          "may consume."),
             column("Limit", "Limits control the maximum amount of cpu/memory that a container may use "
                    "independent of contention on the node."), AGE),
    cells=_resource_quota_cells)


def _component_status_cells(obj: Obj, now: float) -> list[Any]:
    status, message, error = "Unknown", "", ""
    for condition in obj.get("conditions") or ():
        if condition.get("type") == "Healthy":
            status = "Healthy" if condition.get("status") == "True" else "Unhealthy"
            message, error = condition.get("message", ""), condition.get("error", "")
            break
    return [name_of(obj), status, message, error]


COMPONENT_STATUS = Printer(
    columns=(NAME, column("Status", "Status of the component conditions"),
             column("Message", "Message of the component conditions"),
             column("Error", "Error of the component conditions")),
    cells=_component_status_cells)

CONTROLLER_REVISION = Printer(
    columns=(NAME, column("Controller", "Controller of the object"),
             column("Revision", "Revision indicates the revision of the state represented by Data."), AGE),
    cells=lambda obj, now: [name_of(obj), controller_of(obj), obj.get("revision", 0), created_age(obj, now)])

LEASE = Printer(
    columns=(NAME, column("Holder", "holderIdentity contains the identity of the holder of a current lease."),
             AGE),
    cells=lambda obj, now: [name_of(obj), (obj.get("spec") or {}).get("holderIdentity") or "",
                            created_age(obj, now)])

# Arktos's columns for its controller framework's instances (printers.go,
# controllerInstanceColumnDefinitions): no age, the uid and the range's upper bound instead.
CONTROLLER_INSTANCE = Printer(
    columns=(NAME, column("ControllerType", "The controller type of the controller instance."),
             column("UID", "The UUID of the controller instance."),
             column("ControllerKey", "The key of the controller instance.", type_="integer"),
             column("WorkloadNum", "The number of workload instances assigned to this controller instance.",
                    type_="integer"),
             column("IsLocked", "The controller is locked or not.", type_="boolean")),
    cells=lambda obj, now: [name_of(obj), obj.get("controllerType") or "",
                            (obj.get("metadata") or {}).get("uid") or "", obj.get("controllerKey") or 0,
                            obj.get("workloadNum") or 0, bool(obj.get("isLocked"))])

PRIORITY_CLASS = Printer(
    columns=(NAME, column("Value", "The value of this priority class.", type_="integer"),
             column("Global-Default", "Whether this is the default priority class.", type_="boolean"),
             AGE, column("PreemptionPolicy", "The policy for preempting pods with lower priority.")),
    cells=lambda obj, now: [name_of(obj), obj.get("value", 0), bool(obj.get("globalDefault")),
                            created_age(obj, now), obj.get("preemptionPolicy") or ""])

RUNTIME_CLASS = Printer(
    columns=(NAME, column("Handler", "Handler specifies the underlying runtime and configuration."), AGE),
    cells=lambda obj, now: [name_of(obj), obj.get("handler", ""), created_age(obj, now)])


def _action_cells(action: Obj, now: float) -> list[Any]:
    spec, status = action.get("spec") or {}, action.get("status") or {}
    operation = operation_of(action) or "<unknown>"
    result = "<none>"
    if status.get("error"):
        result = str(status["error"])
    elif operation == "snapshot" and (status.get("snapshotStatus") or {}).get("snapshotID"):
        result = f"snapshotID={status['snapshotStatus']['snapshotID']}"
    return [
        name_of(action), operation, spec.get("podName") or "<none>",
        spec.get("nodeName") or "<none>", bool(status.get("complete")), created_age(action, now), result,
    ]


ACTION_PRINTER = Printer(
    columns=(
        NAME,
        column("Operation", "The operation: reboot, snapshot or restore."),
        column("Pod", "The pod acted on."),
        column("Node", "The node whose kubelet carries the action out."),
        column("Complete", "Whether the kubelet has finished with the action.", type_="boolean"),
        AGE,
        column("Result", "The error, or the snapshot id a snapshot produced.", priority=1),
    ),
    cells=_action_cells,
)
