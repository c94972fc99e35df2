"""Server-side tables: the ``meta.k8s.io/v1`` Table that ``kubectl get`` asks for.

kubectl requests ``Accept: application/json;as=Table;v=v1;g=meta.k8s.io`` and prints the cells it gets
back, so the server decides what NAME/READY/STATUS/AGE look like. Each resource's record names its
one printer (``server/printing/*_printers.py``, upstream's printers.go resource by resource: every
version of a resource shares it) or, where upstream's registry has none (limit ranges, roles,
cluster roles, CRDs, CSI storage capacities, ...), none: upstream's DefaultTableConvertor (Name,
Created At). The row ``object`` follows ``includeObject``: PartialObjectMetadata (the default), the
whole object, or none.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from datetime import UTC, datetime
from typing import Any, Protocol

from server.printing.durations import epoch_seconds, rfc3339, timestamp_or_zero
from server.printing.printers import AGE, NAME, Obj, Printer, column, meta_of

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

    @property
    def tenanted(self) -> bool: ...


def printer_for(resource: Printed) -> Printer:
    """The printer the resource's record names, or upstream's default Name/Created At one."""
    return resource.printer or _DEFAULT


# Arktos: a list across tenants shows each row's tenant (same-named namespaces of two tenants would
# otherwise look like duplicates). Stock kubectl puts its NAMESPACE column first, so TENANT follows.
_TENANT = column("Tenant", "The tenant the object belongs to.")


def _with_tenant(printer: Printer) -> Printer:
    cells = printer.cells

    def tenant_cells(obj: Obj, now: float) -> list[Any]:
        return [meta_of(obj).get("tenant", ""), *cells(obj, now)]

    return Printer(columns=(_TENANT, *printer.columns), cells=tenant_cells, conditions=printer.conditions)


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
    across_tenants: bool = False,
) -> dict[str, Any]:
    """A ``meta.k8s.io/v1`` Table of `objects` (all of `resource`).

    `include_object` is the request's ``includeObject``: "Metadata", "Object" or "None". `no_headers`
    drops columnDefinitions, as upstream does for ``TableOptions.noHeaders`` (watch events after the
    first). `across_tenants` (a list or watch of every tenant's objects) adds the TENANT column.
    The caller fills ``metadata.resourceVersion`` / ``continue``.
    """
    printer = printer_for(resource)
    if across_tenants and resource.tenanted:
        printer = _with_tenant(printer)
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
