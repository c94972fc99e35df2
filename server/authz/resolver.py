"""From bindings to rules: which PolicyRules a user holds in one tenant (and namespace).

Mirrors upstream's DefaultRuleResolver (k8s.io/kubernetes/pkg/registry/rbac/validation/rule.go):
ClusterRoleBindings first, then RoleBindings of the namespace; a RoleBinding may reference a
ClusterRole, whose rules then apply only inside the binding's namespace; subjects are User, Group
or ServiceAccount (``system:serviceaccount:{ns}:{name}``, the namespace defaulting to the
binding's). A binding whose role is missing contributes an error such as
``clusterrole.rbac.authorization.k8s.io "view" not found`` (the lister's NotFound text).

ClusterRole aggregation (upstream's clusterrole-aggregation controller writes the union of the
selected roles' rules into the aggregated role) is resolved here, at evaluation, recursively and
within the role's tenant. Results are memoised per source generation by the caller.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

from apis.selectors import SelectorError, label_selector_from_meta
from server.auth.user import SYSTEM_TENANT, UserInfo, service_account_username
from server.authz.policy_source import PolicySource
from server.authz.rules import CompiledRule, compile_rule


@dataclass(frozen=True, slots=True)
class RuleSet:
    """The rules a user holds somewhere, with the errors met while collecting them."""

    rules: tuple[CompiledRule, ...] = ()
    errors: tuple[str, ...] = ()

    def __add__(self, other: RuleSet) -> RuleSet:
        return RuleSet(self.rules + other.rules, self.errors + other.errors)


def subject_applies(subject: dict[str, Any], user: UserInfo, binding_namespace: str) -> bool:
    """upstream ``appliesToUser``."""
    kind = subject.get("kind")
    name = subject.get("name", "")
    if kind == "User":
        return bool(name == user.name)
    if kind == "Group":
        return name in user.groups
    if kind == "ServiceAccount":
        namespace = subject.get("namespace") or binding_namespace
        return bool(namespace) and user.name == service_account_username(namespace, name)
    return False


def _describe_subject(subject: dict[str, Any], binding_namespace: str) -> str:
    kind, name = subject.get("kind", ""), subject.get("name", "")
    if kind == "ServiceAccount":
        return f'{kind} "{name}/{subject.get("namespace") or binding_namespace}"'
    return f'{kind} "{name}"'


class RuleResolver:
    """Collects rules for users from one `PolicySource`; aggregation results are cached until `reset`."""

    def __init__(self, source: PolicySource) -> None:
        self._source = source
        self._aggregated: dict[tuple[str, str], list[dict[str, Any]] | None] = {}

    def reset(self) -> None:
        self._aggregated.clear()

    # -- roles ------------------------------------------------------------------------------------
    def cluster_role_rules(self, tenant: str, name: str) -> list[dict[str, Any]] | None:
        """Rules of ClusterRole ``name`` in ``tenant`` incl. aggregated ones; None if it does not exist."""
        key = (tenant, name)
        if key not in self._aggregated:
            self._aggregated[key] = self._resolve_cluster_role(tenant, name, visiting=set())
        return self._aggregated[key]

    def _resolve_cluster_role(self, tenant: str, name: str, *,
                              visiting: set[str]) -> list[dict[str, Any]] | None:
        role = self._source.cluster_role(tenant, name)
        if role is None and tenant != SYSTEM_TENANT:
            # A tenant's bindings may name the system tenant's bootstrap ClusterRoles (view, edit,
            # admin, ...): the binding still lives in, and only grants within, that tenant.
            tenant = SYSTEM_TENANT
            role = self._source.cluster_role(tenant, name)
        if role is None:
            return None
        rules = list(role.get("rules") or [])
        selectors = (role.get("aggregationRule") or {}).get("clusterRoleSelectors") or []
        if not selectors or name in visiting:
            return rules
        visiting = visiting | {name}
        matchers = []
        for selector in selectors:
            try:
                matchers.append(label_selector_from_meta(selector))
            except SelectorError:
                continue  # upstream's aggregation controller skips selectors it cannot parse
        for candidate in sorted(self._source.cluster_roles(tenant), key=_name):
            candidate_name = _name(candidate)
            labels = (candidate.get("metadata") or {}).get("labels") or {}
            if candidate_name == name or not any(m.matches(labels) for m in matchers):
                continue
            for rule in self._resolve_cluster_role(tenant, candidate_name, visiting=visiting) or []:
                if rule not in rules:
                    rules.append(rule)
        return rules

    def role_ref_rules(self, tenant: str, namespace: str,
                        ref: dict[str, Any]) -> tuple[list[dict[str, Any]], str | None]:
        """The rules a binding's ``roleRef`` grants (upstream GetRoleReferenceRules), or an error."""
        kind, name = ref.get("kind"), str(ref.get("name", ""))
        if kind == "ClusterRole":
            rules = self.cluster_role_rules(tenant, name)
            return (rules, None) if rules is not None else \
                ([], f'clusterrole.rbac.authorization.k8s.io "{name}" not found')
        if kind == "Role" and namespace:
            role = self._source.role(tenant, namespace, name)
            return (list(role.get("rules") or []), None) if role is not None else \
                ([], f'role.rbac.authorization.k8s.io "{name}" not found')
        return [], f'unsupported role reference kind: "{kind}"'

    # -- bindings ---------------------------------------------------------------------------------
    def rules_from_cluster_bindings(self, user: UserInfo, tenant: str, *,
                                    groups_only: bool = False) -> RuleSet:
        """Rules granted by ``tenant``'s ClusterRoleBindings (only Group subjects if ``groups_only``)."""
        return self._collect(user, tenant, "", self._source.cluster_role_bindings(tenant),
                             kind="ClusterRoleBinding", groups_only=groups_only)

    def rules_from_role_bindings(self, user: UserInfo, tenant: str, namespace: str) -> RuleSet:
        return self._collect(user, tenant, namespace, self._source.role_bindings(tenant, namespace),
                             kind="RoleBinding", groups_only=False)

    def _collect(self, user: UserInfo, tenant: str, namespace: str, bindings: Iterable[dict[str, Any]],
                 *, kind: str, groups_only: bool) -> RuleSet:
        compiled: list[CompiledRule] = []
        errors: list[str] = []
        for binding in sorted(bindings, key=_name):
            subject = next((s for s in binding.get("subjects") or []
                            if (not groups_only or s.get("kind") == "Group")
                            and subject_applies(s, user, namespace)), None)
            if subject is None:
                continue
            ref = binding.get("roleRef") or {}
            rules, error = self.role_ref_rules(tenant, namespace, ref)
            if error is not None:
                errors.append(error)
                continue
            shown = f"{_name(binding)}/{namespace}" if namespace else _name(binding)
            source = (f'{kind} "{shown}" of {ref.get("kind")} "{ref.get("name")}" to '
                      f"{_describe_subject(subject, namespace)}")
            compiled.extend(compile_rule(rule, granted_by=source) for rule in rules)
        return RuleSet(tuple(compiled), tuple(errors))


def _name(obj: dict[str, Any]) -> str:
    return str((obj.get("metadata") or {}).get("name", ""))
