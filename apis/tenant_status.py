"""A Tenant's ``Initialized`` condition: what the server starts it as and the controller sets.

Creating a tenant returns before its tenant controller has made the tenant's default namespaces,
``admin-role``/``admin-role-binding`` and ``default`` Network, so its admin is Forbidden for a
moment. Rather than make the create wait on another component, the Tenant says when it is ready,
the way upstream objects do: ``status.conditions`` holds ``type: Initialized``, ``False``
(reason ``Initializing``) from the create on, ``True`` (reason ``DefaultsCreated``) once the
controller has made everything, so ``kubectl wait --for=condition=Initialized tenant/NAME`` works
with stock kubectl. Shared by the server (initial status) and the tenant controller.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from apis.wire_types import Condition

INITIALIZED = "Initialized"
INITIALIZING = "Initializing"
DEFAULTS_CREATED = "DefaultsCreated"
CREATE_FAILED = "CreateFailed"


def initialized_condition(status: bool, *, reason: str, message: str, now: str) -> Condition:
    return {"type": INITIALIZED, "status": "True" if status else "False", "reason": reason,
            "message": message, "lastTransitionTime": now}


def initializing(now: str) -> Condition:
    """The condition a new tenant is created with."""
    return initialized_condition(False, reason=INITIALIZING, now=now,
                                 message="waiting for the tenant controller to create the tenant's "
                                         "namespaces, admin role and binding and default network")


def condition_of(tenant: Mapping[str, Any], kind: str = INITIALIZED) -> Condition | None:
    conditions: list[Condition] = (tenant.get("status") or {}).get("conditions") or []
    return next((c for c in conditions if isinstance(c, dict) and c.get("type") == kind), None)


def with_condition(conditions: list[Condition] | None, condition: Condition) -> list[Condition] | None:
    """``conditions`` with ``condition`` set in place of its type's entry (upstream
    meta.SetStatusCondition: ``lastTransitionTime`` moves only when ``status`` changes), or None
    when nothing would change."""
    current = list(conditions or [])
    for index, existing in enumerate(current):
        if existing.get("type") != condition["type"]:
            continue
        merged = condition.copy()
        if existing.get("status") == condition["status"]:
            merged["lastTransitionTime"] = existing.get("lastTransitionTime", condition["lastTransitionTime"])
        if merged == existing:
            return None
        current[index] = merged
        return current
    return [*current, condition]
