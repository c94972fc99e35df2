"""Warnings about existing pods when a namespace's enforce level is tightened.

Upstream's EvaluatePodsInNamespace: the new level does not evict anything, but the client is told
which running pods would be refused now. Pods are checked one per controller first (replicas of
one template fail alike), at most 3000 of them; pods failing for the same reasons share one
warning naming the lexically first pod and how many others, e.g. ``web-1 (and 2 other pods):
host namespaces, privileged``, after ``existing pods in namespace "dev" violate the new
PodSecurity enforce level "baseline:latest"``.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from server.podsecurity.checks import sub
from server.podsecurity.evaluator import Evaluator
from server.podsecurity.policy import LevelVersion

MAX_PODS_TO_CHECK = 3000


def _controller_uid(pod: dict[str, Any]) -> str | None:
    for reference in sub(pod, "metadata").get("ownerReferences") or []:
        if isinstance(reference, dict) and reference.get("controller") is True:
            return str(reference.get("uid", ""))
    return None


def prioritized(pods: Sequence[dict[str, Any]]) -> list[dict[str, Any]]:
    """One pod per controller first, then the other replicas (upstream prioritizePods)."""
    first: list[dict[str, Any]] = []
    replicas: list[dict[str, Any]] = []
    seen: set[str] = set()
    for pod in pods:
        uid = _controller_uid(pod)
        if uid is not None and uid in seen:
            replicas.append(pod)
            continue
        if uid is not None:
            seen.add(uid)
        first.append(pod)
    return first + replicas


def existing_pod_warnings(evaluator: Evaluator, namespace: str, enforce: LevelVersion,
                          pods: Sequence[dict[str, Any]]) -> list[str]:
    ordered = prioritized(pods)
    checked = ordered[:MAX_PODS_TO_CHECK]
    # reason -> (lexically first pod name, number of pods)
    failing: dict[str, tuple[str, int]] = {}
    for pod in checked:
        verdict = evaluator.aggregate(enforce, sub(pod, "metadata"), sub(pod, "spec"))
        if verdict.allowed:
            continue
        reason = verdict.forbidden_reason()
        name = str(sub(pod, "metadata").get("name", ""))
        first, count = failing.get(reason, (name, 0))
        failing[reason] = (min(first, name), count + 1)
    warnings = []
    if len(checked) < len(ordered):
        warnings.append(f"new PodSecurity enforce level only checked against the first {len(checked)} "
                        f"of {len(ordered)} existing pods")
    if failing:
        warnings.append(f'existing pods in namespace "{namespace}" violate the new PodSecurity enforce '
                        f'level "{enforce}"')
    return warnings + sorted(_decorated(reason, *failing[reason]) for reason in failing)


def _decorated(reason: str, first: str, count: int) -> str:
    if count == 1:
        return f"{first}: {reason}"
    if count == 2:
        return f"{first} (and 1 other pod): {reason}"
    return f"{first} (and {count - 1} other pods): {reason}"
