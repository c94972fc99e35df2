"""The options of writes, checked as upstream's meta/v1 validation checks them.

``dryRun`` (ValidateDryRun: only "All") and DeleteOptions (ValidateDeleteOptions:
``orphanDependents`` and ``propagationPolicy`` are exclusive, the policy is one of
Foreground/Background/Orphan). The handlers check the options of every request with these; the
eviction subresource checks the DeleteOptions its body carries with the same.
"""

from __future__ import annotations

from typing import Any

from apis.field_errors import FieldError, invalid, not_supported

_POLICIES = ("Foreground", "Background", "Orphan")


def dry_run_errors(dry_run: list[Any]) -> list[FieldError]:
    """upstream ValidateDryRun: every value must be "All"."""
    if all(value == "All" for value in dry_run):
        return []
    return [not_supported("dryRun", dry_run, ["All"])]


def delete_options_errors(options: dict[str, Any]) -> list[FieldError]:
    """upstream ValidateDeleteOptions."""
    errors: list[FieldError] = []
    policy = options.get("propagationPolicy")
    if options.get("orphanDependents") is not None and policy is not None:
        errors.append(invalid("propagationPolicy", policy,
                              "orphanDependents and deletionPropagation cannot be both set"))
    if policy is not None and policy not in _POLICIES:
        errors.append(not_supported("propagationPolicy", policy, [*_POLICIES, "nil"]))
    errors.extend(dry_run_errors(list(options.get("dryRun") or [])))
    return errors
