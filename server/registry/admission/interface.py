"""The interfaces between the generic store's admission chain and its plugins.

Upstream's k8s.io/apiserver ``admission`` package, reduced to what our plugins read: `AdmissionRequest`
is admission.Attributes (the operation, the resource and scope, the new — and old — object, the
subresource, the requesting user, dry run); a plugin says which requests it `handles` (upstream's
Handles(operation), plus the resource, which upstream plugins test first thing); a
`MutatingPlugin` may change the object in `admit` (MutationInterface.Admit), a `ValidatingPlugin`
only judges it in `validate` (ValidationInterface.Validate). A plugin refuses a request by raising
an `ApiError`; an admitted write may carry warnings (``Warning`` headers) and audit annotations.
One plugin may be both, as upstream's.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Literal, Protocol, runtime_checkable

from server.auth.user import UserInfo
from server.registry.keys import Scope
from server.registry.record import ResourceRecord

Operation = Literal["CREATE", "UPDATE", "DELETE"]


@dataclass(frozen=True, slots=True)
class AdmissionRequest:
    """One request as admission plugins see it (upstream admission.Attributes).

    ``obj`` is the object being written (for DELETE: the object being deleted); mutating plugins
    change it in place. ``old`` is the stored object of an UPDATE.
    """

    operation: Operation
    resource: ResourceRecord
    scope: Scope
    obj: dict[str, Any]
    old: dict[str, Any] | None = None
    subresource: str = ""
    # None for the server's own writes (bootstrap): upstream's "no user on the context".
    user: UserInfo | None = None
    dry_run: bool = False

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
    """A named plugin that says which requests it wants to see."""

    name: str

    def handles(self, operation: Operation, resource: ResourceRecord) -> bool: ...


@runtime_checkable
class MutatingPlugin(AdmissionPlugin, Protocol):
    async def admit(self, request: AdmissionRequest) -> AdmissionResult | None: ...


@runtime_checkable
class ValidatingPlugin(AdmissionPlugin, Protocol):
    async def validate(self, request: AdmissionRequest) -> AdmissionResult | None: ...
