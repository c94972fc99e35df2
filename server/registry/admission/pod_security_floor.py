"""Arktos's tenant floor for Pod Security: the least strict level a tenant's pods may run at.

Upstream lets whoever may label a namespace choose its Pod Security level. In a multi-tenant
cluster the tenant admin owns its namespaces, so that alone would let any tenant run privileged
pods on shared nodes. Arktos adds a floor per tenant:

* Tenant ``system`` has floor ``privileged`` and namespaces default to ``privileged`` (upstream's
  default policy). Every other tenant has floor ``baseline`` and namespaces default to it (enforce,
  audit and warn), or to the floor when that is stricter.
* The system admin — only a system-tenant identity may write Tenant objects — changes a tenant's
  floor with the label ``pod-security.arktos.futurewei.com/enforce-floor`` on the Tenant
  (``privileged`` is the explicit grant that lets the tenant label namespaces privileged;
  ``restricted`` tightens it).
* A namespace label setting enforce below the floor is refused, and every pod is also checked
  against ``<floor>:latest`` whatever its namespace says (a label left from an earlier grant, or a
  pinned old policy version, cannot weaken it); audit and warn below the floor are raised to it.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field

from apis.field_errors import FieldError, not_supported
from server.podsecurity.policy import (
    BASELINE,
    LATEST,
    LEVELS,
    PRIVILEGED,
    Level,
    LevelVersion,
    Policy,
    compare_levels,
    parse_level,
    policy_to_evaluate,
    uniform,
)
from server.registry.keys import SYSTEM_TENANT

FLOOR_LABEL = "pod-security.arktos.futurewei.com/enforce-floor"


def tenant_floor(tenant: str, labels: Mapping[str, str] | None) -> Level:
    """The floor the Tenant object's label sets, else the default for ``tenant``."""
    chosen = parse_level((labels or {}).get(FLOOR_LABEL, ""))
    if chosen is not None:
        return chosen
    return PRIVILEGED if tenant == SYSTEM_TENANT else BASELINE


def floor_label_errors(labels: Mapping[str, str] | None) -> list[FieldError]:
    value = (labels or {}).get(FLOOR_LABEL)
    if value is None or parse_level(value) is not None:
        return []
    return [not_supported(f"metadata.labels[{FLOOR_LABEL}]", value, LEVELS)]


def stricter(a: Level, b: Level) -> Level:
    return a if compare_levels(a, b) >= 0 else b


@dataclass(frozen=True, slots=True)
class NamespacePolicy:
    """The policy one namespace's pods are held to, with its tenant's floor."""

    policy: Policy
    floor: Level
    errors: list[FieldError] = field(default_factory=list)

    def enforced(self) -> list[LevelVersion]:
        """What a pod must pass: the namespace's enforce level, and the floor at latest unless the
        namespace's level already covers it."""
        enforce = self.policy.enforce
        covered = enforce.version == LATEST and compare_levels(enforce.level, self.floor) >= 0
        return [enforce] if covered or self.floor == PRIVILEGED else [enforce, LevelVersion(self.floor)]

    def below_floor(self) -> bool:
        return compare_levels(self.policy.enforce.level, self.floor) < 0


def namespace_policy(tenant: str, tenant_labels: Mapping[str, str] | None,
                     namespace_labels: Mapping[str, str] | None) -> NamespacePolicy:
    floor = tenant_floor(tenant, tenant_labels)
    default = floor if tenant == SYSTEM_TENANT else stricter(floor, BASELINE)
    policy, errors = policy_to_evaluate(namespace_labels, uniform(default))
    # Audit and warn never drop below the floor: pods below it are refused anyway.
    raised = Policy(policy.enforce, _at_least(policy.audit, floor), _at_least(policy.warn, floor))
    return NamespacePolicy(raised, floor, errors)


def _at_least(mode: LevelVersion, floor: Level) -> LevelVersion:
    return mode if compare_levels(mode.level, floor) >= 0 else LevelVersion(floor)


def below_floor_message(namespace_labels: Mapping[str, str] | None, policy: NamespacePolicy,
                        tenant: str) -> str:
    shown = (namespace_labels or {}).get("pod-security.kubernetes.io/enforce", policy.policy.enforce.level)
    return (f'pod-security.kubernetes.io/enforce={shown} is below the Pod Security floor "{policy.floor}" '
            f'of tenant "{tenant}"; only a system administrator may lower the floor, with the label '
            f"{FLOOR_LABEL} on the tenant")
