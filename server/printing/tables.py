"""Server-side tables: the ``meta.k8s.io/v1`` Table that ``kubectl get`` asks for.

kubectl requests ``Accept: application/json;as=Table;v=v1;g=meta.k8s.io`` and prints the cells it gets
back, so the server decides what NAME/READY/STATUS/AGE look like. `table_for` uses the printer the
resource's record names (`server.printing.printers`, `server.printing.workload_printers`, and the
small config-object and Action printers below) or, for kinds upstream has none for, upstream's
DefaultTableConvertor (Name, Created At). The row
``object`` follows ``includeObject``: PartialObjectMetadata (the default), the whole object, or none.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from datetime import UTC, datetime
from typing import Any, Protocol

from apis.actions import operation_of
from server.printing.durations import age, epoch_seconds, rfc3339, timestamp_or_zero
from server.printing.printers import AGE, NAME, Obj, Printer, column, created_age, meta_of

# --- small printers: config and policy objects -------------------------------------------------


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
        f"{component}, {host}" if host else component, message, first, count, meta_of(event).get("name", ""),
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


def _config_map_cells(obj: Obj, now: float) -> list[Any]:
    size = len(obj.get("data") or ()) + len(obj.get("binaryData") or ())
    return [meta_of(obj).get("name", ""), size, created_age(obj, now)]


def _secret_cells(obj: Obj, now: float) -> list[Any]:
    data = obj.get("data") or ()
    return [meta_of(obj).get("name", ""), obj.get("type", ""), len(data), created_age(obj, now)]


def _lease_cells(obj: Obj, now: float) -> list[Any]:
    holder = (obj.get("spec") or {}).get("holderIdentity") or ""
    return [meta_of(obj).get("name", ""), holder, created_age(obj, now)]


def _service_account_cells(obj: Obj, now: float) -> list[Any]:
    return [meta_of(obj).get("name", ""), len(obj.get("secrets") or ()), created_age(obj, now)]


def _binding_cells(obj: Obj, now: float) -> list[Any]:
    ref = obj.get("roleRef") or {}
    users, groups, accounts = [], [], []
    for subject in obj.get("subjects") or ():
        kind, name = subject.get("kind"), subject.get("name", "")
        if kind == "User":
            users.append(name)
        elif kind == "Group":
            groups.append(name)
        elif kind == "ServiceAccount":
            accounts.append(f"{subject.get('namespace', '')}/{name}")
    return [
        meta_of(obj).get("name", ""), f"{ref.get('kind', '')}/{ref.get('name', '')}", created_age(obj, now),
        ", ".join(users), ", ".join(groups), ", ".join(accounts),
    ]


def _priority_class_cells(obj: Obj, now: float) -> list[Any]:
    return [
        meta_of(obj).get("name", ""), obj.get("value", 0), bool(obj.get("globalDefault")),
        created_age(obj, now), obj.get("preemptionPolicy") or "PreemptLowerPriority",
    ]


def _storage_class_cells(obj: Obj, now: float) -> list[Any]:
    name = meta_of(obj).get("name", "")
    annotations = meta_of(obj).get("annotations") or {}
    if "true" in (annotations.get("storageclass.kubernetes.io/is-default-class"),
                  annotations.get("storageclass.beta.kubernetes.io/is-default-class")):
        name += " (default)"
    return [
        name, obj.get("provisioner", ""), obj.get("reclaimPolicy") or "Delete",
        obj.get("volumeBindingMode") or "Immediate", bool(obj.get("allowVolumeExpansion")),
        created_age(obj, now),
    ]


def _action_cells(action: Obj, now: float) -> list[Any]:
    spec, status = action.get("spec") or {}, action.get("status") or {}
    operation = operation_of(action) or "<unknown>"
    result = "<none>"
    if status.get("error"):
        result = str(status["error"])
    elif operation == "snapshot" and (status.get("snapshotStatus") or {}).get("snapshotID"):
        result = f"snapshotID={status['snapshotStatus']['snapshotID']}"
    return [
        meta_of(action).get("name", ""), operation, spec.get("podName") or "<none>",
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


ROLE_BINDING = Printer(
    columns=(
        NAME, column("Role", "RoleRef can reference a Role or a ClusterRole."), AGE,
        column("Users", "Users in the binding", priority=1),
        column("Groups", "Groups in the binding", priority=1),
        column("ServiceAccounts", "ServiceAccounts in the binding", priority=1),
    ),
    cells=_binding_cells,
)

CONFIG_MAP = Printer(
    columns=(NAME, column("Data", "The number of data entries.", type_="integer"), AGE),
    cells=_config_map_cells)
SECRET = Printer(
    columns=(NAME, column("Type", "Used to facilitate programmatic handling of secret data."),
             column("Data", "The number of data entries.", type_="integer"), AGE),
    cells=_secret_cells)
SERVICE_ACCOUNT = Printer(
    columns=(NAME, column("Secrets", "The number of secrets of the service account.", type_="integer"), AGE),
    cells=_service_account_cells)
LEASE = Printer(
    columns=(NAME, column("Holder", "The identity of the holder of the lease."), AGE),
    cells=_lease_cells)
PRIORITY_CLASS = Printer(
    columns=(NAME, column("Value", "The priority value.", type_="integer"),
             column("Global-Default", "Whether this is the default priority class.", type_="boolean"),
             AGE, column("PreemptionPolicy", "The policy for preempting lower-priority pods.")),
    cells=_priority_class_cells)
STORAGE_CLASS = Printer(
    columns=(NAME, column("Provisioner", "The volume plugin that provisions volumes."),
             column("ReclaimPolicy", "What happens to released volumes."),
             column("VolumeBindingMode", "When volumes are bound and provisioned."),
             column("AllowVolumeExpansion", "Whether volumes may be expanded."), AGE),
    cells=_storage_class_cells)

# --- the table ---------------------------------------------------------------------------------

# Upstream's DefaultTableConvertor (k8s.io/apiserver registry/rest/table.go) for kinds without a printer.
_DEFAULT_COLUMNS: tuple[dict[str, Any], ...] = (
    NAME,
    column("Created At", AGE["description"], type_="date"),
)


def _default_cells(obj: Obj, now: float) -> list[Any]:
    created = timestamp_or_zero(meta_of(obj).get("creationTimestamp"))
    # Go formats the zero time too; keep the same text rather than an empty cell.
    text = rfc3339(datetime.fromtimestamp(created, UTC)) if created else "0001-01-01T00:00:00Z"
    return [meta_of(obj).get("name", ""), text]


_DEFAULT = Printer(columns=_DEFAULT_COLUMNS, cells=_default_cells)


class Printed(Protocol):
    """What a table is made for: a resource whose record names its printer (None: the default)."""

    @property
    def printer(self) -> Printer | None: ...


def partial_object_metadata(obj: Mapping[str, Any]) -> dict[str, Any]:
    """The object reduced to its metadata, as ``includeObject=Metadata`` returns it.

    The metadata mapping is shared with `obj`, not copied: tables are serialised right away.
    """
    metadata = obj.get("metadata", {})
    return {"kind": "PartialObjectMetadata", "apiVersion": "meta.k8s.io/v1", "metadata": metadata}


def table_for(
    resource: Printed,
    objects: Sequence[Mapping[str, Any]],
    *,
    include_object: str = "Metadata",
    now: datetime | None = None,
    no_headers: bool = False,
) -> dict[str, Any]:
    """A ``meta.k8s.io/v1`` Table of `objects` (all of `resource`).

    `include_object` is the request's ``includeObject``: "Metadata", "Object" or "None". `no_headers`
    drops columnDefinitions, as upstream does for ``TableOptions.noHeaders`` (watch events after the
    first). The caller fills ``metadata.resourceVersion`` / ``continue``.
    """
    printer = resource.printer or _DEFAULT
    clock = epoch_seconds(now)
    cells, conditions = printer.cells, printer.conditions
    rows: list[dict[str, Any]] = []
    append = rows.append
    for obj in objects:
        row: dict[str, Any] = {"cells": cells(obj, clock)}
        if conditions is not None:
            row_conditions = conditions(obj)
            if row_conditions:
                row["conditions"] = row_conditions
        if include_object == "Object":
            row["object"] = obj
        elif include_object != "None":
            row["object"] = partial_object_metadata(obj)
        append(row)
    table: dict[str, Any] = {"kind": "Table", "apiVersion": "meta.k8s.io/v1", "metadata": {}}
    table["columnDefinitions"] = [] if no_headers else [dict(c) for c in printer.columns]
    table["rows"] = rows
    return table
