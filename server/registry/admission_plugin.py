"""The interface between the generic store's admission step and its plugins.

Upstream's admission.Attributes and ValidationInterface, reduced to what our plugins read: the
operation, the resource and scope, the new (and old) object, the subresource and the requesting
user. A plugin refuses a write by raising an `ApiError`; an admitted write may carry warnings
(sent as ``Warning`` headers) and audit annotations (written to the audit log).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Literal, Protocol

from apis.catalogue import Resource
from server.auth.user import UserInfo
from server.registry.keys import Scope


@dataclass(frozen=True, slots=True)
class AdmissionRequest:
    """One write as admission plugins see it (upstream admission.Attributes)."""

    operation: Literal["CREATE", "UPDATE"]
    resource: Resource
    scope: Scope
    obj: dict[str, Any]
    old: dict[str, Any] | None = None
    subresource: str = ""
    # None for the server's own writes (bootstrap): upstream's "no user on the context".
    user: UserInfo | None = None

    @property
    def name(self) -> str:
        return str((self.obj.get("metadata") or {}).get("name", ""))


@dataclass(slots=True)
class AdmissionResult:
    """What an admitted write carries back to the client and the audit log."""

    warnings: list[str] = field(default_factory=list)
    audit_annotations: dict[str, str] = field(default_factory=dict)

    def add(self, other: AdmissionResult | None) -> None:
        if other is not None:
            self.warnings.extend(other.warnings)
            self.audit_annotations.update(other.audit_annotations)


class AdmissionPlugin(Protocol):
    """A validating admission plugin: raises an ApiError to refuse, else may add warnings."""

    def handles(self, resource: Resource) -> bool: ...

    def validate(self, request: AdmissionRequest) -> AdmissionResult | None: ...
