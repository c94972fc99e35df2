"""RBAC escalation prevention on Role, ClusterRole, RoleBinding and ClusterRoleBinding writes.

Upstream's policy-based RBAC storage (pkg/registry/rbac/{role,clusterrole,rolebinding,
clusterrolebinding}/policybased and escalation_check.go), as an admission plugin of our generic
store:

* ``system:masters`` and the server's own writes (no user) may write anything.
* A Role or ClusterRole may be created or changed only with the ``escalate`` verb on
  roles/clusterroles, or when the requester already holds every rule it grants, where it is
  written (its namespace; the cluster scope for ClusterRoles). An aggregationRule needs full
  authority (``must have cluster-admin privileges to use the aggregationRule``).
* A RoleBinding or ClusterRoleBinding only with the ``bind`` verb on the role it names, or when
  the requester holds every rule of that role where the binding grants it; a role that does not
  exist is then 404.
* An update that only changes ownerReferences or finalizers (the garbage collector's business)
  is not checked.

Arktos's tenants: "holds" is computed exactly as the authorizer computes it (`RBACAuthorizer.
rules_for`): a tenant user's rules come from its own tenant's bindings, a system user's from the
system tenant's. A tenant's binding to the system tenant's ``cluster-admin`` grants its rules only
inside that tenant, so a tenant admin holding everything there may bind it, and a tenant user
holding less may not.
"""

from __future__ import annotations

from typing import Any, Protocol

from server.auth.user import SYSTEM_MASTERS, UserInfo
from server.authz.attributes import Attributes, Decision
from server.authz.escalation import FULL_AUTHORITY, escalation_error
from server.authz.rbac import RBACAuthorizer
from server.errors import Forbidden, NotFound
from server.registry.admission.interface import AdmissionRequest, AdmissionResult, Operation
from server.registry.catalogue import Catalogue
from server.registry.record import ResourceRecord

RBAC_GROUP = "rbac.authorization.k8s.io"
_AGGREGATION_REFUSAL = "must have cluster-admin privileges to use the aggregationRule"
# Metadata that differs between any two versions of an object without changing what it grants.
_VOLATILE_METADATA = ("resourceVersion", "managedFields", "ownerReferences", "finalizers", "generation")


class Authorizer(Protocol):
    def authorize(self, attrs: Attributes) -> Decision: ...


class RBACEscalationCheck:
    """A validating admission plugin (upstream does these checks in the RBAC storages)."""

    name = "RBACEscalation"

    def __init__(self, authorizer: Authorizer, rbac: RBACAuthorizer, *, catalogue: Catalogue) -> None:
        self._authorizer = authorizer
        self._rbac = rbac
        lookup = {plural: catalogue.lookup(RBAC_GROUP, "v1", plural)
                  for plural in ("roles", "clusterroles", "rolebindings", "clusterrolebindings")}
        self._roles = {r for p, r in lookup.items() if r is not None and p in ("roles", "clusterroles")}
        self._bindings = {r for p, r in lookup.items() if r is not None and p.endswith("bindings")}

    def handles(self, operation: Operation, resource: ResourceRecord) -> bool:
        return operation in ("CREATE", "UPDATE") and (resource in self._roles or resource in self._bindings)

    async def validate(self, request: AdmissionRequest) -> AdmissionResult | None:
        user = request.user
        if user is None or SYSTEM_MASTERS in user.groups or request.subresource:
            return None  # upstream EscalationAllowed
        if request.old is not None and only_gc_fields_changed(request.obj, request.old):
            return None
        if request.resource in self._roles:
            self._check_role(request, user)
        else:
            self._check_binding(request, user)
        return None

    def _check_role(self, request: AdmissionRequest, user: UserInfo) -> None:
        resource = request.resource
        # Upstream asks with the request's name: none on create.
        name = request.name if request.operation == "UPDATE" else ""
        if self._allowed(user, "escalate", request, resource=resource.plural, name=name):
            return
        self._confirm(request, user, list(_rules(request.obj)))
        aggregated = [o for o in (request.obj, request.old) if o is not None and _has_aggregation(o)]
        if resource.plural == "clusterroles" and aggregated:
            self._confirm(request, user, list(FULL_AUTHORITY), refusal=_AGGREGATION_REFUSAL)

    def _check_binding(self, request: AdmissionRequest, user: UserInfo) -> None:
        ref = request.obj.get("roleRef")
        ref = ref if isinstance(ref, dict) else {}
        kind, role = str(ref.get("kind", "")), str(ref.get("name", ""))
        plural = {"ClusterRole": "clusterroles", "Role": "roles"}.get(kind)
        if plural is not None and self._allowed(user, "bind", request, resource=plural, name=role,
                                                group=str(ref.get("apiGroup", RBAC_GROUP))):
            return
        rules, error = self._rbac.role_ref_rules(request.scope.tenant, request.scope.namespace, ref)
        if error is not None:
            if plural is None:
                raise Forbidden(f'{request.resource.group_resource} "{request.name}" is forbidden: {error}',
                                details=_details(request))
            raise NotFound.object(plural, role, RBAC_GROUP)
        self._confirm(request, user, rules)

    def _confirm(self, request: AdmissionRequest, user: UserInfo, rules: list[dict[str, Any]], *,
                 refusal: str = "") -> None:
        """Upstream ConfirmNoEscalation, with the rules ``user`` holds where the object grants."""
        held = self._rbac.rules_for(user, request.scope.tenant, request.scope.namespace)
        message = escalation_error(user, held.rules, rules, resolution_error=held.evaluation_error)
        if message is not None:
            raise Forbidden(f'{request.resource.group_resource} "{request.name}" is forbidden: '
                            f"{refusal or message}", details=_details(request))

    def _allowed(self, user: UserInfo, verb: str, request: AdmissionRequest, *, resource: str, name: str,
                 group: str = RBAC_GROUP) -> bool:
        attrs = Attributes(user=user, verb=verb, resource_request=True, api_group=group, api_version="*",
                           resource=resource, name=name, namespace=request.scope.namespace,
                           tenant=request.scope.tenant)
        return self._authorizer.authorize(attrs).allowed


def only_gc_fields_changed(new: dict[str, Any], old: dict[str, Any]) -> bool:
    """upstream IsOnlyMutatingGCFields: nothing but ownerReferences and finalizers differ."""
    return _without_volatile(new) == _without_volatile(old)


def _without_volatile(obj: dict[str, Any]) -> dict[str, Any]:
    metadata = {k: v for k, v in (obj.get("metadata") or {}).items() if k not in _VOLATILE_METADATA}
    return {**obj, "metadata": metadata}


def _rules(obj: dict[str, Any]) -> list[dict[str, Any]]:
    rules = obj.get("rules")
    return [r for r in rules if isinstance(r, dict)] if isinstance(rules, list) else []


def _has_aggregation(obj: dict[str, Any]) -> bool:
    aggregation = obj.get("aggregationRule")
    return isinstance(aggregation, dict) and bool(aggregation.get("clusterRoleSelectors"))


def _details(request: AdmissionRequest) -> dict[str, Any]:
    return {"name": request.name, "group": request.resource.group, "kind": request.resource.plural}
