"""Server-side tables: the ``meta.k8s.io/v1`` Table that ``kubectl get`` asks for.

kubectl requests ``Accept: application/json;as=Table;v=v1;g=meta.k8s.io`` and prints the cells it gets
back, so the server decides what NAME/READY/STATUS/AGE look like. `printer_for` gives each resource
its one printer (``server/printing/*_printers.py``, upstream's printers.go resource by resource) or,
where upstream's registry has none, upstream's DefaultTableConvertor (Name, Created At). The row
``object`` follows ``includeObject``: PartialObjectMetadata (the default), the whole object, or none.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from datetime import UTC, datetime
from typing import Any

from apis.catalogue import Resource
from server.printing import (
    config_printers,
    network_printers,
    policy_printers,
    printers,
    storage_printers,
    workload_printers,
)
from server.printing.durations import epoch_seconds, rfc3339, timestamp_or_zero
from server.printing.printers import AGE, NAME, Obj, Printer, column, meta_of

# Every built-in resource with a printer upstream, by (group, plural): the printer serves all
# versions of the resource. The rest (limit ranges, roles, cluster roles, CRDs, CSI storage
# capacities, ...) get upstream's default table below, as their registries do.
_ADMISSION = "admissionregistration.k8s.io"
_PRINTERS: dict[tuple[str, str], Printer] = {
    ("", "componentstatuses"): config_printers.COMPONENT_STATUS,
    ("", "configmaps"): config_printers.CONFIG_MAP,
    ("", "endpoints"): network_printers.ENDPOINTS,
    ("", "events"): config_printers.EVENT,
    ("", "namespaces"): printers.NAMESPACE,
    ("", "nodes"): printers.NODE,
    ("", "persistentvolumeclaims"): storage_printers.PERSISTENT_VOLUME_CLAIM,
    ("", "persistentvolumes"): storage_printers.PERSISTENT_VOLUME,
    ("", "pods"): printers.POD,
    ("", "podtemplates"): config_printers.POD_TEMPLATE,
    ("", "replicationcontrollers"): workload_printers.REPLICATION_CONTROLLER,
    ("", "resourcequotas"): config_printers.RESOURCE_QUOTA,
    ("", "secrets"): config_printers.SECRET,
    ("", "serviceaccounts"): config_printers.SERVICE_ACCOUNT,
    ("", "services"): printers.SERVICE,
    ("", "tenants"): printers.TENANT,
    ("", "actions"): config_printers.ACTION_PRINTER,
    ("apiregistration.k8s.io", "apiservices"): policy_printers.API_SERVICE,
    ("apps", "controllerrevisions"): config_printers.CONTROLLER_REVISION,
    ("apps", "daemonsets"): workload_printers.DAEMON_SET,
    ("apps", "deployments"): workload_printers.DEPLOYMENT,
    ("apps", "replicasets"): workload_printers.REPLICA_SET,
    ("apps", "statefulsets"): workload_printers.STATEFUL_SET,
    ("events.k8s.io", "events"): config_printers.EVENT,
    ("autoscaling", "horizontalpodautoscalers"): policy_printers.HORIZONTAL_POD_AUTOSCALER,
    ("batch", "cronjobs"): workload_printers.CRON_JOB,
    ("batch", "jobs"): workload_printers.JOB,
    ("certificates.k8s.io", "certificatesigningrequests"): policy_printers.CERTIFICATE_SIGNING_REQUEST,
    ("networking.k8s.io", "ingressclasses"): network_printers.INGRESS_CLASS,
    ("networking.k8s.io", "ingresses"): network_printers.INGRESS,
    ("networking.k8s.io", "networkpolicies"): network_printers.NETWORK_POLICY,
    ("policy", "poddisruptionbudgets"): policy_printers.POD_DISRUPTION_BUDGET,
    ("rbac.authorization.k8s.io", "clusterrolebindings"): policy_printers.CLUSTER_ROLE_BINDING,
    ("rbac.authorization.k8s.io", "rolebindings"): policy_printers.ROLE_BINDING,
    ("storage.k8s.io", "csidrivers"): storage_printers.CSI_DRIVER,
    ("storage.k8s.io", "csinodes"): storage_printers.CSI_NODE,
    ("storage.k8s.io", "storageclasses"): storage_printers.STORAGE_CLASS,
    ("storage.k8s.io", "volumeattachments"): storage_printers.VOLUME_ATTACHMENT,
    (_ADMISSION, "mutatingwebhookconfigurations"): policy_printers.WEBHOOK_CONFIGURATION,
    (_ADMISSION, "validatingadmissionpolicies"): policy_printers.VALIDATING_ADMISSION_POLICY,
    (_ADMISSION, "validatingadmissionpolicybindings"): policy_printers.VALIDATING_ADMISSION_POLICY_BINDING,
    (_ADMISSION, "validatingwebhookconfigurations"): policy_printers.WEBHOOK_CONFIGURATION,
    ("scheduling.k8s.io", "priorityclasses"): config_printers.PRIORITY_CLASS,
    ("coordination.k8s.io", "leases"): config_printers.LEASE,
    ("node.k8s.io", "runtimeclasses"): config_printers.RUNTIME_CLASS,
    ("discovery.k8s.io", "endpointslices"): network_printers.ENDPOINT_SLICE,
    ("arktos.futurewei.com", "networks"): network_printers.NETWORK,
}

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


def printer_for(resource: Resource) -> Printer:
    """The printer of `resource` (any version of its group), or the default Name/Created At one."""
    return _PRINTERS.get((resource.group, resource.plural), _DEFAULT)


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
    resource: Resource,
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
