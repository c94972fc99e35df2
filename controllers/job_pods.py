"""A Job's pods: building them from the template, and sorting the ones that exist.

Upstream's job controller (``pkg/controller/job``) labels every pod with the Job's uid and name
(``batch.kubernetes.io/controller-uid``/``job-name`` and the legacy unprefixed pair), makes the Job
its controller, and for ``completionMode: Indexed`` gives each pod a completion index (annotation
and label ``batch.kubernetes.io/job-completion-index``) and the hostname ``<job>-<index>``; the
kubelet turns the annotation into ``JOB_COMPLETION_INDEX``. Indexed progress is written as
interval lists (``"0-2,5"``) in ``status.completedIndexes``/``failedIndexes``.
"""

from __future__ import annotations

import copy
from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any

from controllers.pod_state import is_ready, phase
from controllers.workload_objects import owner_reference

COMPLETION_INDEX = "batch.kubernetes.io/job-completion-index"
CONTROLLER_UID = "batch.kubernetes.io/controller-uid"
JOB_NAME = "batch.kubernetes.io/job-name"
LEGACY_CONTROLLER_UID = "controller-uid"
LEGACY_JOB_NAME = "job-name"


def build_pod(job: dict[str, Any], *, index: int | None) -> dict[str, Any]:
    """A pod for ``job`` from its template; ``index`` for Indexed Jobs."""
    spec = job.get("spec") or {}
    metadata = job.get("metadata") or {}
    name, uid = str(metadata.get("name") or ""), str(metadata.get("uid") or "")
    template = copy.deepcopy(spec.get("template") or {})
    pod_meta = dict(template.get("metadata") or {})
    labels = dict(pod_meta.get("labels") or {})
    # Labels the server's defaulting may have added already; a pod must carry them regardless.
    labels.setdefault(CONTROLLER_UID, uid)
    labels.setdefault(LEGACY_CONTROLLER_UID, uid)
    labels.setdefault(JOB_NAME, name)
    labels.setdefault(LEGACY_JOB_NAME, name)
    annotations = dict(pod_meta.get("annotations") or {})
    pod_spec = dict(template.get("spec") or {})
    if index is None:
        generate_name = f"{name}-"
    else:
        generate_name = f"{name}-{index}-"
        annotations[COMPLETION_INDEX] = str(index)
        labels[COMPLETION_INDEX] = str(index)
        # Upstream gives indexed pods a stable hostname so a headless Service can address them.
        pod_spec.setdefault("hostname", f"{name}-{index}")
    pod_meta.pop("name", None)
    pod_meta.update({
        "generateName": generate_name, "namespace": metadata.get("namespace"),
        "labels": labels, "ownerReferences": [owner_reference(job, api_version="batch/v1", kind="Job")],
    })
    if annotations:
        pod_meta["annotations"] = annotations
    return {"apiVersion": "v1", "kind": "Pod", "metadata": pod_meta, "spec": pod_spec}


def completion_index(pod: dict[str, Any]) -> int | None:
    """The pod's completion index from its annotation (falling back to the label)."""
    metadata = pod.get("metadata") or {}
    raw = (metadata.get("annotations") or {}).get(COMPLETION_INDEX)
    if raw is None:
        raw = (metadata.get("labels") or {}).get(COMPLETION_INDEX)
    try:
        return int(raw) if raw is not None else None
    except ValueError:
        return None


@dataclass
class PodCensus:
    """The Job's pods sorted by state, as upstream's ``syncJob`` counts them."""

    active: list[dict[str, Any]] = field(default_factory=list)
    terminating: list[dict[str, Any]] = field(default_factory=list)
    succeeded: list[dict[str, Any]] = field(default_factory=list)
    failed: list[dict[str, Any]] = field(default_factory=list)

    @property
    def ready(self) -> int:
        return sum(1 for pod in self.active if is_ready(pod))

    @property
    def restarts(self) -> int:
        """Container restarts of active pods: they count toward backoffLimit with OnFailure."""
        return sum(int(status.get("restartCount") or 0) for pod in self.active
                   for status in (pod.get("status") or {}).get("containerStatuses") or ()
                   if isinstance(status, dict))


def census(pods: Iterable[dict[str, Any]]) -> PodCensus:
    result = PodCensus()
    for pod in pods:
        pod_phase = phase(pod)
        if pod_phase == "Succeeded":
            result.succeeded.append(pod)
        elif pod_phase == "Failed":
            result.failed.append(pod)
        elif (pod.get("metadata") or {}).get("deletionTimestamp"):
            result.terminating.append(pod)
        else:
            result.active.append(pod)
    return result


def format_intervals(indexes: Iterable[int]) -> str:
    """``[0, 1, 2, 5]`` → ``"0-2,5"`` (upstream's completedIndexes encoding)."""
    ordered = sorted(set(indexes))
    parts: list[str] = []
    start = previous = None
    for value in ordered:
        if previous is not None and value == previous + 1:
            previous = value
            continue
        if start is not None:
            parts.append(_interval(start, previous))
        start = previous = value
    if start is not None:
        parts.append(_interval(start, previous))
    return ",".join(parts)


def _interval(start: int, end: int | None) -> str:
    return str(start) if end is None or end == start else f"{start}-{end}"


def parse_intervals(text: str | None) -> set[int]:
    """``"0-2,5"`` → ``{0, 1, 2, 5}``; malformed parts are ignored."""
    values: set[int] = set()
    for part in (text or "").split(","):
        first, dash, last = part.strip().partition("-")
        try:
            if dash:
                values.update(range(int(first), int(last) + 1))
            elif first:
                values.add(int(first))
        except ValueError:
            continue
    return values
