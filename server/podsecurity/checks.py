"""What a Pod Security check is, what it answers, and the small vocabulary the checks share.

Upstream's policy/checks.go and helpers.go: a check has an ID, a level and versions (the first
policy version each revision applies to); it looks at a pod's metadata and spec and answers
allowed, or a short forbidden reason plus an optional detail naming the offending values. Results
join into upstream's message, ``reason (detail), reason, ...``.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass
from typing import Any

from server.podsecurity.policy import Level, Version

Obj = dict[str, Any]
CheckFn = Callable[[Obj, Obj], "CheckResult"]


@dataclass(frozen=True, slots=True)
class CheckResult:
    allowed: bool = True
    reason: str = ""
    detail: str = ""


ALLOWED = CheckResult()


def forbidden(reason: str, detail: str = "") -> CheckResult:
    return CheckResult(False, reason, detail)


@dataclass(frozen=True, slots=True)
class VersionedCheck:
    """One revision of a check, from ``minimum_version`` on; it may replace baseline checks."""

    minimum_version: Version
    check: CheckFn
    overrides: tuple[str, ...] = ()


@dataclass(frozen=True, slots=True)
class Check:
    id: str
    level: Level
    versions: tuple[VersionedCheck, ...]


@dataclass(frozen=True, slots=True)
class AggregateResult:
    """The forbidden results of one evaluation, in check order."""

    reasons: tuple[str, ...] = ()
    details: tuple[str, ...] = ()

    @property
    def allowed(self) -> bool:
        return not self.reasons

    def forbidden_reason(self) -> str:
        """``host ports, privileged`` (what a namespace-wide evaluation reports)."""
        return ", ".join(self.reasons)

    def forbidden_detail(self) -> str:
        """``hostPort (container "b" uses hostPort 20), privileged (...)``."""
        return ", ".join(f"{reason} ({detail})" if detail else reason
                         for reason, detail in zip(self.reasons, self.details, strict=True))


def aggregate(results: Sequence[CheckResult]) -> AggregateResult:
    failed = [r for r in results if not r.allowed]
    return AggregateResult(tuple(r.reason or "unknown forbidden reason" for r in failed),
                           tuple(r.detail for r in failed))


# -- the shared vocabulary ------------------------------------------------------------------------


def join_quote(items: Sequence[str]) -> str:
    """``"a", "b"`` (upstream joinQuote)."""
    return ", ".join(f'"{item}"' for item in items)


def pluralize(singular: str, plural: str, count: int) -> str:
    return singular if count == 1 else plural


def containers(spec: Obj) -> Iterator[Obj]:
    """Init containers, containers, then ephemeral containers (upstream visitContainers)."""
    for field in ("initContainers", "containers", "ephemeralContainers"):
        yield from _dicts(spec.get(field))


def names_phrase(names: Sequence[str]) -> str:
    """``container "a"`` / ``containers "a", "b"``."""
    return f'{pluralize("container", "containers", len(names))} {join_quote(names)}'


def security_context(obj: Obj) -> Obj:
    """A pod's or a container's securityContext ({} when absent or malformed)."""
    context = obj.get("securityContext")
    return context if isinstance(context, dict) else {}


def sub(obj: Obj, field: str) -> Obj:
    """``obj[field]`` when it is an object, else {}."""
    value = obj.get(field)
    return value if isinstance(value, dict) else {}


def _dicts(value: Any) -> list[Obj]:
    return [item for item in value if isinstance(item, dict)] if isinstance(value, list) else []


def dicts(value: Any) -> list[Obj]:
    """The objects of a JSON list (nothing when it is not one)."""
    return _dicts(value)


def name_of(container: Obj) -> str:
    return str(container.get("name", ""))


def host_users_disabled(spec: Obj) -> bool:
    """``hostUsers: false``: the pod runs in a user namespace (upstream relaxPolicyForUserNamespacePod)."""
    return spec.get("hostUsers") is False


def windows(spec: Obj) -> bool:
    return sub(spec, "os").get("name") == "windows"


def go_quote(value: object) -> str:
    """A string as Go's ``%q`` prints it (quoted, with escapes)."""
    return json.dumps(str(value), ensure_ascii=False)
