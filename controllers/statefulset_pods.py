"""StatefulSet identities and revisions: ordinal pods, their claims, their template versions.

Upstream ``pkg/controller/statefulset`` (stateful_set_utils.go, history): pod ``i`` of StatefulSet
``web`` is named ``web-i`` and labelled ``statefulset.kubernetes.io/pod-name``,
``apps.kubernetes.io/pod-index`` and ``controller-revision-hash`` (the revision it was made
from); its hostname is its name and its subdomain the governing ``serviceName``. Each
``volumeClaimTemplates`` entry becomes a PVC ``<template>-<sts>-<i>`` that the pod mounts under
the template's name. Every template the StatefulSet has had is a ControllerRevision
``<sts>-<hash>`` holding the template (as upstream, a ``$patch: replace`` of ``spec.template``),
so a pod below the partition can be recreated at the *current* revision while others move on.
"""

from __future__ import annotations

import copy
import re
from typing import Any

from apis.wire_types import Pod
from controllers.pod_template import pod_from_template, template_hash, without_nulls
from controllers.workload_objects import owner_reference

REVISION_LABEL = "controller-revision-hash"
POD_NAME_LABEL = "statefulset.kubernetes.io/pod-name"
POD_INDEX_LABEL = "apps.kubernetes.io/pod-index"
HASH_LABEL = "controller.kubernetes.io/hash"


def ordinal_of(sts_name: str, pod: dict[str, Any]) -> int | None:
    """The ordinal of a pod named ``<sts>-<n>`` (upstream ``getOrdinal``), else None."""
    name = str((pod.get("metadata") or {}).get("name") or "")
    match = re.fullmatch(rf"{re.escape(sts_name)}-(\d+)", name)
    return int(match.group(1)) if match else None


def claim_name(template_name: str, sts_name: str, ordinal: int) -> str:
    return f"{template_name}-{sts_name}-{ordinal}"


def revision_name(sts: dict[str, Any]) -> str:
    """``<sts>-<hash of the template>``: the name of the revision the spec describes now."""
    spec, status = sts.get("spec") or {}, sts.get("status") or {}
    pod_hash = template_hash(spec.get("template") or {}, status.get("collisionCount"))
    return f"{sts['metadata']['name']}-{pod_hash}"


def controller_revision_body(sts: dict[str, Any], name: str, number: int) -> dict[str, Any]:
    spec = sts.get("spec") or {}
    labels = dict((spec.get("selector") or {}).get("matchLabels") or {})
    labels[HASH_LABEL] = name.rsplit("-", 1)[-1]
    template = without_nulls(copy.deepcopy(spec.get("template") or {}))
    return {
        "apiVersion": "apps/v1", "kind": "ControllerRevision",
        "metadata": {"name": name, "labels": labels,
                     "ownerReferences": [owner_reference(sts, api_version="apps/v1", kind="StatefulSet")]},
        "data": {"spec": {"template": {**template, "$patch": "replace"}}},
        "revision": number,
    }


def template_of_revision(revision: dict[str, Any]) -> dict[str, Any] | None:
    template = (((revision.get("data") or {}).get("spec") or {}).get("template"))
    if not isinstance(template, dict):
        return None
    return {k: v for k, v in template.items() if k != "$patch"}


def stateful_pod(sts: dict[str, Any], ordinal: int, *, template: dict[str, Any],
                 revision: str) -> Pod:
    """Pod ``<sts>-<ordinal>`` from ``template``, labelled with its identity and revision."""
    sts_name = sts["metadata"]["name"]
    name = f"{sts_name}-{ordinal}"
    pod = pod_from_template(sts, api_version="apps/v1", kind="StatefulSet", template=template, name=name,
                            extra_labels={POD_NAME_LABEL: name, POD_INDEX_LABEL: str(ordinal),
                                          REVISION_LABEL: revision})
    spec = pod["spec"]
    spec["hostname"] = name
    service = (sts.get("spec") or {}).get("serviceName")
    if service:
        spec["subdomain"] = service
    claims = [c for c in (sts.get("spec") or {}).get("volumeClaimTemplates") or [] if isinstance(c, dict)]
    if claims:
        claimed = {c["metadata"]["name"] for c in claims}
        volumes = [v for v in spec.get("volumes") or [] if v.get("name") not in claimed]
        for claim in claims:
            template_name = claim["metadata"]["name"]
            volumes.append({"name": template_name, "persistentVolumeClaim": {
                "claimName": claim_name(template_name, sts_name, ordinal)}})
        spec["volumes"] = volumes
    return pod


def claims_for(sts: dict[str, Any], ordinal: int) -> list[dict[str, Any]]:
    """The PVCs pod ``ordinal`` needs (upstream ``getPersistentVolumeClaims``)."""
    spec = sts.get("spec") or {}
    selector_labels = (spec.get("selector") or {}).get("matchLabels") or {}
    claims = []
    for template in spec.get("volumeClaimTemplates") or []:
        metadata = template.get("metadata") or {}
        claims.append({
            "apiVersion": "v1", "kind": "PersistentVolumeClaim",
            "metadata": {"name": claim_name(metadata.get("name", ""), sts["metadata"]["name"], ordinal),
                         "labels": {**(metadata.get("labels") or {}), **selector_labels},
                         **({"annotations": metadata["annotations"]} if metadata.get("annotations") else {})},
            "spec": copy.deepcopy(template.get("spec") or {}),
        })
    return claims


def revision_of_pod(pod: dict[str, Any]) -> str:
    return str(((pod.get("metadata") or {}).get("labels") or {}).get(REVISION_LABEL) or "")


def partition_of(sts: dict[str, Any]) -> int:
    strategy = (sts.get("spec") or {}).get("updateStrategy") or {}
    return int((strategy.get("rollingUpdate") or {}).get("partition") or 0)


def is_rolling_update(sts: dict[str, Any]) -> bool:
    strategy = (sts.get("spec") or {}).get("updateStrategy") or {}
    return strategy.get("type", "RollingUpdate") == "RollingUpdate"


def uses_current_revision(sts: dict[str, Any], ordinal: int) -> bool:
    """A pod (re)created now keeps the current revision below the partition (upstream
    ``newVersionedStatefulSetPod``); OnDelete and pods at or above it get the update revision."""
    if not is_rolling_update(sts):
        return False
    rolling = ((sts.get("spec") or {}).get("updateStrategy") or {}).get("rollingUpdate")
    if rolling is None:
        return ordinal < int((sts.get("status") or {}).get("currentReplicas") or 0)
    return ordinal < partition_of(sts)
