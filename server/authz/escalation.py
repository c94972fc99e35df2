"""Whether one set of PolicyRules covers another: the heart of RBAC escalation prevention.

Upstream (k8s.io/component-helpers/auth/rbac/validation ``Covers`` and
k8s.io/kubernetes/pkg/registry/rbac/validation ``ConfirmNoEscalation``, ``CompactRules``): every
rule to be granted is broken down into single (group, resource, verb[, name]) and (URL, verb)
rules; each must be covered by one rule the requester holds. The uncovered ones are compacted
(simple rules differing only by verb merge) and listed in upstream's message::

    user "alice" (groups=["system:authenticated"]) is attempting to grant RBAC permissions not
    currently held:
    {APIGroups:[""], Resources:["secrets"], Verbs:["get" "list"]}

Rules are raw ``rbac.authorization.k8s.io/v1`` PolicyRule JSON.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Sequence
from typing import Any

from server.auth.user import UserInfo

Rule = dict[str, Any]
ALL = "*"


def _strings(rule: Rule, field: str) -> list[str]:
    values = rule.get(field)
    return [str(v) for v in values] if isinstance(values, list) else []


def breakdown(rule: Rule) -> list[Rule]:
    """The rule as rules of one verb and one resource (and one name) or one URL each."""
    verbs = _strings(rule, "verbs")
    names = _strings(rule, "resourceNames")
    parts: list[Rule] = []
    for group in _strings(rule, "apiGroups"):
        for resource in _strings(rule, "resources"):
            for verb in verbs:
                base = {"apiGroups": [group], "resources": [resource], "verbs": [verb]}
                parts.extend([{**base, "resourceNames": [name]} for name in names] if names else [base])
    for url in _strings(rule, "nonResourceURLs"):
        parts.extend({"nonResourceURLs": [url], "verbs": [verb]} for verb in verbs)
    return parts


def _url_covers(owner: str, path: str) -> bool:
    return owner == path or (owner.endswith("*") and path.startswith(owner.rstrip("*")))


def _all_of(owner: list[str], wanted: list[str]) -> bool:
    return ALL in owner or set(wanted) <= set(owner)


def rule_covers(owner: Rule, part: Rule) -> bool:
    """Whether ``owner`` allows everything the broken-down rule ``part`` does (upstream ruleCovers)."""
    owner_names, part_names = _strings(owner, "resourceNames"), _strings(part, "resourceNames")
    names_ok = not owner_names or (bool(part_names) and set(part_names) <= set(owner_names))
    return (_all_of(_strings(owner, "verbs"), _strings(part, "verbs"))
            and _all_of(_strings(owner, "apiGroups"), _strings(part, "apiGroups"))
            and _all_of(_strings(owner, "resources"), _strings(part, "resources"))
            and all(any(_url_covers(o, p) for o in _strings(owner, "nonResourceURLs"))
                    for p in _strings(part, "nonResourceURLs"))
            and names_ok)


def uncovered(owner_rules: Sequence[Rule], rules: Iterable[Rule]) -> list[Rule]:
    """The broken-down parts of ``rules`` that no rule of ``owner_rules`` covers."""
    return [part for rule in rules for part in breakdown(rule)
            if not any(rule_covers(owner, part) for owner in owner_rules)]


def compact(rules: Sequence[Rule]) -> list[Rule]:
    """Merge rules of one group and one resource (nothing else) that differ only by verb."""
    merged: dict[tuple[str, str], Rule] = {}
    others: list[Rule] = []
    for rule in rules:
        groups, resources = _strings(rule, "apiGroups"), _strings(rule, "resources")
        simple = (len(groups) == 1 and len(resources) == 1 and not rule.get("resourceNames")
                  and not rule.get("nonResourceURLs"))
        if not simple:
            others.append(rule)
        elif (groups[0], resources[0]) in merged:
            merged[(groups[0], resources[0])]["verbs"].extend(_strings(rule, "verbs"))
        else:
            merged[(groups[0], resources[0])] = {"apiGroups": groups, "resources": resources,
                                                 "verbs": _strings(rule, "verbs")}
    return others + list(merged.values())


def go_quoted_list(values: Iterable[str]) -> str:
    """A string list as Go's ``%q`` prints it: ``["a" "b"]``."""
    return "[" + " ".join(json.dumps(v, ensure_ascii=False) for v in values) + "]"


def compact_string(rule: Rule) -> str:
    """upstream rbacv1helpers.CompactString: ``{APIGroups:[""], Resources:["pods"], Verbs:["get"]}``."""
    fields = (("APIGroups", "apiGroups"), ("Resources", "resources"), ("NonResourceURLs", "nonResourceURLs"),
              ("ResourceNames", "resourceNames"), ("Verbs", "verbs"))
    parts = [f"{label}:{go_quoted_list(_strings(rule, key))}" for label, key in fields if _strings(rule, key)]
    return "{" + ", ".join(parts) + "}"


def escalation_error(user: UserInfo, owner_rules: Sequence[Rule], rules: Iterable[Rule], *,
                     resolution_error: str = "") -> str | None:
    """Upstream ConfirmNoEscalation: None when ``owner_rules`` cover ``rules``, else the message."""
    missing = uncovered(owner_rules, rules)
    if not missing:
        return None
    described = sorted({compact_string(rule) for rule in compact(missing)})
    message = (f"user {json.dumps(user.name, ensure_ascii=False)} (groups={go_quoted_list(user.groups)}) "
               "is attempting to grant RBAC permissions not currently held:\n" + "\n".join(described))
    if resolution_error:
        message += f"; resolution errors: [{resolution_error}]"
    return message


FULL_AUTHORITY: tuple[Rule, ...] = (
    {"apiGroups": [ALL], "resources": [ALL], "verbs": [ALL]},
    {"nonResourceURLs": [ALL], "verbs": [ALL]},
)
