"""PolicyRule matching, compiled once so the per-request check is a few set lookups.

Semantics of k8s.io/kubernetes/plugin/pkg/auth/authorizer/rbac (rule.go ``RuleAllows``):
verbs and apiGroups match exactly or by ``*``; resources match ``*``, the exact
``resource/subresource`` string, or ``*/subresource``; an empty resourceNames list matches every
name while a non-empty one never matches a request without a name (list, create);
nonResourceURLs match ``*``, exactly, or by prefix when the rule URL ends in ``*``. A rule with no
resources matches no resource request, one with no URLs no non-resource request.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any

ALL = "*"


def _members(values: Iterable[Any] | None) -> frozenset[str] | None:
    """The listed values, or None when ``*`` is among them (everything matches)."""
    items = frozenset(str(v) for v in values or ())
    return None if ALL in items else items


@dataclass(frozen=True, slots=True)
class CompiledRule:
    """One PolicyRule, ready for matching; ``granted_by`` says which binding and role it came from."""

    verbs: frozenset[str] | None
    api_groups: frozenset[str] | None
    resources: frozenset[str] | None
    any_resource_with_subresource: frozenset[str]
    resource_names: frozenset[str] | None
    urls: frozenset[str] | None
    url_prefixes: tuple[str, ...]
    granted_by: str = ""
    rule: dict[str, Any] = field(default_factory=dict, compare=False, hash=False)

    def allows_resource(self, verb: str, api_group: str, resource: str, subresource: str,
                        name: str) -> bool:
        if self.verbs is not None and verb not in self.verbs:
            return False
        if self.api_groups is not None and api_group not in self.api_groups:
            return False
        if self.resources is not None:
            combined = f"{resource}/{subresource}" if subresource else resource
            if combined not in self.resources and not (
                    subresource and subresource in self.any_resource_with_subresource):
                return False
        if self.resource_names is not None and name not in self.resource_names:
            return False
        return True

    def allows_path(self, verb: str, path: str) -> bool:
        if self.verbs is not None and verb not in self.verbs:
            return False
        if self.urls is None or path in self.urls:
            return True
        return any(path.startswith(prefix) for prefix in self.url_prefixes)


def compile_rule(rule: dict[str, Any], *, granted_by: str = "") -> CompiledRule:
    """Compile a PolicyRule (verbs, apiGroups, resources, resourceNames, nonResourceURLs)."""
    resources = _members(rule.get("resources"))
    wildcard_subresources = frozenset(r[2:] for r in resources or () if r.startswith("*/") and len(r) > 2)
    raw_urls = [str(u) for u in rule.get("nonResourceURLs") or ()]
    urls = None if ALL in raw_urls else frozenset(raw_urls)
    prefixes = tuple(u.rstrip("*") for u in raw_urls if u.endswith("*") and u != ALL)
    names = frozenset(str(n) for n in rule.get("resourceNames") or ())
    has_resources = bool(rule.get("resources"))
    return CompiledRule(
        verbs=_members(rule.get("verbs")),
        # A rule without resources must never match a resource request: give it an empty resource set.
        api_groups=_members(rule.get("apiGroups")) if has_resources else frozenset(),
        resources=resources if has_resources else frozenset(),
        any_resource_with_subresource=wildcard_subresources,
        resource_names=names or None,
        urls=urls if raw_urls else frozenset(),
        url_prefixes=prefixes,
        granted_by=granted_by,
        rule=rule,
    )


def first_allowing_resource(rules: Iterable[CompiledRule], verb: str, api_group: str, resource: str,
                            subresource: str, name: str) -> CompiledRule | None:
    for rule in rules:
        if rule.allows_resource(verb, api_group, resource, subresource, name):
            return rule
    return None


def first_allowing_path(rules: Iterable[CompiledRule], verb: str, path: str) -> CompiledRule | None:
    for rule in rules:
        if rule.allows_path(verb, path):
            return rule
    return None


class RuleIndex:
    """Rules grouped by (resource request?, verb), filled lazily: the hot path only scans candidates."""

    __slots__ = ("_by_verb", "rules")

    def __init__(self, rules: tuple[CompiledRule, ...]) -> None:
        self.rules = rules
        self._by_verb: dict[tuple[bool, str], tuple[CompiledRule, ...]] = {}

    def candidates(self, resource_request: bool, verb: str) -> tuple[CompiledRule, ...]:
        key = (resource_request, verb)
        found = self._by_verb.get(key)
        if found is None:
            found = tuple(r for r in self.rules if (r.verbs is None or verb in r.verbs) and (
                (r.resources is None or bool(r.resources)) if resource_request
                else (r.urls is None or bool(r.urls) or bool(r.url_prefixes))))
            self._by_verb[key] = found
        return found
