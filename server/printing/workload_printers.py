"""Table rows for workload controllers: deployments, replica sets, stateful sets, daemon sets, jobs,
cron jobs and replication controllers.

Same source and rules as `server.printing.printers` (upstream
``pkg/printers/internalversion/printers.go``): the ready/desired pairs, job
STATUS/COMPLETIONS/DURATION, and the wide CONTAINERS/IMAGES/SELECTOR columns.
"""

from __future__ import annotations

from typing import Any

from server.printing.durations import human_duration, timestamp_or_zero
from server.printing.printers import (
    AGE,
    CONTAINERS,
    IMAGES,
    NAME,
    SELECTOR,
    Obj,
    Printer,
    column,
    container_cells,
    created_age,
    format_labels,
    format_selector,
    meta_of,
    selector_or_none,
    template_spec_of,
)


def _replicas(obj: Obj) -> int:
    # Upstream reads defaulted objects, where an unset spec.replicas has become 1.
    replicas = (obj.get("spec") or {}).get("replicas")
    return 1 if replicas is None else int(replicas)


def _deployment_cells(obj: Obj, now: float) -> list[Any]:
    status = obj.get("status") or {}
    # Deployments print their selector without the <none> placeholder, as upstream does.
    return [
        meta_of(obj).get("name", ""), f"{status.get('readyReplicas', 0)}/{_replicas(obj)}",
        status.get("updatedReplicas", 0), status.get("availableReplicas", 0), created_age(obj, now),
        *container_cells(template_spec_of(obj)), format_selector((obj.get("spec") or {}).get("selector")),
    ]


DEPLOYMENT = Printer(
    columns=(
        NAME, column("Ready", "Number of the pod with ready state"),
        column("Up-to-date", "Total number of non-terminated pods targeted by this deployment that have "
               "the desired template spec."),
        column("Available", "Total number of available pods (ready for at least minReadySeconds) "
               "targeted by this deployment."),
        AGE, CONTAINERS, IMAGES, SELECTOR,
    ),
    cells=_deployment_cells,
)


def _replica_set_cells(obj: Obj, now: float) -> list[Any]:
    status = obj.get("status") or {}
    return [
        meta_of(obj).get("name", ""), _replicas(obj), status.get("replicas", 0),
        status.get("readyReplicas", 0), created_age(obj, now), *container_cells(template_spec_of(obj)),
        selector_or_none((obj.get("spec") or {}).get("selector")),
    ]


_REPLICA_COLUMNS = (
    NAME,
    column("Desired", "Replicas is the number of desired replicas.", type_="integer"),
    column("Current", "Replicas is the most recently observed number of replicas.", type_="integer"),
    column("Ready", "The number of ready replicas.", type_="integer"),
    AGE, CONTAINERS, IMAGES, SELECTOR,
)

REPLICA_SET = Printer(columns=_REPLICA_COLUMNS, cells=_replica_set_cells)


def _replication_controller_cells(obj: Obj, now: float) -> list[Any]:
    cells = _replica_set_cells(obj, now)
    # A replication controller's selector is a plain label map.
    cells[-1] = format_labels((obj.get("spec") or {}).get("selector"))
    return cells


REPLICATION_CONTROLLER = Printer(columns=_REPLICA_COLUMNS, cells=_replication_controller_cells)


def _stateful_set_cells(obj: Obj, now: float) -> list[Any]:
    ready = (obj.get("status") or {}).get("readyReplicas", 0)
    return [
        meta_of(obj).get("name", ""), f"{ready}/{_replicas(obj)}", created_age(obj, now),
        *container_cells(template_spec_of(obj)),
    ]


STATEFUL_SET = Printer(
    columns=(NAME, column("Ready", "Number of the pod with ready state"), AGE, CONTAINERS, IMAGES),
    cells=_stateful_set_cells,
)


def _daemon_set_cells(obj: Obj, now: float) -> list[Any]:
    status, template_spec = obj.get("status") or {}, template_spec_of(obj)
    return [
        meta_of(obj).get("name", ""), status.get("desiredNumberScheduled", 0),
        status.get("currentNumberScheduled", 0), status.get("numberReady", 0),
        status.get("updatedNumberScheduled", 0), status.get("numberAvailable", 0),
        format_labels(template_spec.get("nodeSelector")), created_age(obj, now),
        *container_cells(template_spec),
        selector_or_none((obj.get("spec") or {}).get("selector")),
    ]


DAEMON_SET = Printer(
    columns=(
        NAME,
        column("Desired", "The total number of nodes that should be running the daemon pod.",
               type_="integer"),
        column("Current", "The number of nodes running at least one daemon pod that should.",
               type_="integer"),
        column("Ready", "The number of nodes with a ready daemon pod.", type_="integer"),
        column("Up-to-date", "The number of nodes running the updated daemon pod.", type_="integer"),
        column("Available", "The number of nodes with an available daemon pod.", type_="integer"),
        column("Node Selector", "NodeSelector of the pod template."),
        AGE, CONTAINERS, IMAGES, SELECTOR,
    ),
    cells=_daemon_set_cells,
)


def _job_condition(status: Obj, type_: str) -> bool:
    for condition in status.get("conditions") or ():
        if condition.get("type") == type_:
            return bool(condition.get("status") == "True")
    return False


def _job_status(obj: Obj, status: Obj) -> str:
    if _job_condition(status, "Complete"):
        return "Complete"
    if _job_condition(status, "Failed"):
        return "Failed"
    if meta_of(obj).get("deletionTimestamp"):
        return "Terminating"
    if _job_condition(status, "Suspended"):
        return "Suspended"
    if _job_condition(status, "FailureTarget"):
        return "FailureTarget"
    return "Running"


def _job_cells(obj: Obj, now: float) -> list[Any]:
    spec, status = obj.get("spec") or {}, obj.get("status") or {}
    succeeded = status.get("succeeded", 0)
    if spec.get("completions") is not None:
        completions = f"{succeeded}/{spec['completions']}"
    elif (spec.get("parallelism") or 0) > 1:
        completions = f"{succeeded}/1 of {spec['parallelism']}"
    else:
        completions = f"{succeeded}/1"
    started = timestamp_or_zero(status.get("startTime"))
    finished = timestamp_or_zero(status.get("completionTime"))
    duration = "" if not started else human_duration((finished or now) - started)
    return [
        meta_of(obj).get("name", ""), _job_status(obj, status), completions, duration, created_age(obj, now),
        *container_cells(template_spec_of(obj)), selector_or_none(spec.get("selector")),
    ]


JOB = Printer(
    columns=(
        NAME, column("Status", "Status of the job."),
        column("Completions", "The number of pods which reached phase Succeeded."),
        column("Duration", "Time required to complete the job."),
        AGE, CONTAINERS, IMAGES, SELECTOR,
    ),
    cells=_job_cells,
)


def _bool_text(value: object) -> str:
    """upstream printBoolPtr: True/False, <unset> when the field is absent (the column is still typed
    boolean)."""
    return "<unset>" if value is None else "True" if value else "False"


def _cron_job_cells(obj: Obj, now: float) -> list[Any]:
    spec, status = obj.get("spec") or {}, obj.get("status") or {}
    job_spec = (spec.get("jobTemplate") or {}).get("spec") or {}
    last = status.get("lastScheduleTime")
    return [
        meta_of(obj).get("name", ""), spec.get("schedule", ""), spec.get("timeZone") or "<none>",
        _bool_text(spec.get("suspend")), len(status.get("active") or ()),
        created_age({"metadata": {"creationTimestamp": last}}, now) if last else "<none>",
        created_age(obj, now), *container_cells(((job_spec.get("template") or {}).get("spec")) or {}),
        selector_or_none(job_spec.get("selector")),
    ]


CRON_JOB = Printer(
    columns=(
        NAME, column("Schedule", "The schedule in Cron format."),
        column("Timezone", "The time zone name for the given schedule."),
        column("Suspend", "Whether subsequent executions are suspended.", type_="boolean"),
        column("Active", "The number of currently running jobs.", type_="integer"),
        column("Last Schedule", "When the job was last successfully scheduled."),
        AGE, CONTAINERS, IMAGES, SELECTOR,
    ),
    cells=_cron_job_cells,
)
