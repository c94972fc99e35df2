"""server.authz.rules: matching one PolicyRule against a request, as upstream's RuleAllows.

Covers verbs, apiGroups, resources (``*``, ``resource/subresource``, ``*/subresource``),
resourceNames and nonResourceURLs (exact, ``*``, trailing ``*`` prefixes), and that resource and
non-resource rules never match the other kind of request. Leaves out bindings (test_rbac_authorizer).
"""

from __future__ import annotations

from typing import Any

import pytest

from server.authz.rules import compile_rule, first_allowing_path, first_allowing_resource


def _rule(
    verbs: list[str], groups: list[str], resources: list[str], names: list[str] | None = None
) -> dict[str, Any]:
    rule: dict[str, Any] = {"verbs": verbs, "apiGroups": groups, "resources": resources}
    if names:
        rule["resourceNames"] = names
    return rule


# (rule, verb, group, resource, subresource, name, allowed)
RESOURCE_CASES = [
    (_rule(["get"], [""], ["pods"]), "get", "", "pods", "", "p", True),
    (_rule(["get"], [""], ["pods"]), "list", "", "pods", "", "", False),
    (_rule(["*"], [""], ["pods"]), "deletecollection", "", "pods", "", "", True),
    (_rule(["get"], [""], ["pods"]), "get", "apps", "pods", "", "", False),
    (_rule(["get"], ["*"], ["pods"]), "get", "apps", "pods", "", "", True),
    (_rule(["get"], ["apps", ""], ["deployments"]), "get", "apps", "deployments", "", "", True),
    (_rule(["get"], [""], ["*"]), "get", "", "secrets", "", "", True),
    (_rule(["get"], [""], ["*"]), "get", "", "pods", "log", "", True),
    (_rule(["get"], [""], ["pods"]), "get", "", "pods", "log", "", False),
    (_rule(["get"], [""], ["pods/log"]), "get", "", "pods", "log", "", True),
    (_rule(["get"], [""], ["pods/log"]), "get", "", "pods", "", "", False),
    (_rule(["update"], ["*"], ["*/scale"]), "update", "apps", "deployments", "scale", "", True),
    (_rule(["update"], ["*"], ["*/scale"]), "update", "apps", "deployments", "status", "", False),
    (_rule(["update"], ["*"], ["*/scale"]), "update", "apps", "deployments", "", "", False),
    (_rule(["get"], [""], ["pods/*"]), "get", "", "pods", "log", "", False),  # not a form upstream knows
    (_rule(["get"], [""], ["configmaps"], ["a", "b"]), "get", "", "configmaps", "", "b", True),
    (_rule(["get"], [""], ["configmaps"], ["a"]), "get", "", "configmaps", "", "c", False),
    (_rule(["list"], [""], ["configmaps"], ["a"]), "list", "", "configmaps", "", "", False),
    (_rule(["create"], [""], ["configmaps"], ["a"]), "create", "", "configmaps", "", "", False),
    ({"verbs": ["*"], "nonResourceURLs": ["*"]}, "get", "", "pods", "", "", False),
    ({"verbs": ["get"], "apiGroups": ["*"], "resources": []}, "get", "", "pods", "", "", False),
]


@pytest.mark.parametrize(
    ("rule", "verb", "group", "resource", "subresource", "name", "allowed"), RESOURCE_CASES
)
def test_resource_rule(
    rule: dict[str, Any], verb: str, group: str, resource: str, subresource: str, name: str, allowed: bool
) -> None:
    compiled = compile_rule(rule)
    assert compiled.allows_resource(verb, group, resource, subresource, name) is allowed


PATH_CASES = [
    (["/healthz"], ["get"], "get", "/healthz", True),
    (["/healthz"], ["get"], "get", "/healthz/etcd", False),
    (["/healthz/*"], ["get"], "get", "/healthz/etcd", True),
    (["/healthz/*"], ["get"], "get", "/healthz", False),
    (["/apis*"], ["get"], "get", "/apis/apps/v1", True),
    (["/apis*"], ["get"], "get", "/apisx", True),  # a trailing * is a plain prefix, as upstream
    (["*"], ["get"], "get", "/anything", True),
    (["/version"], ["get"], "post", "/version", False),
    (["/version"], ["*"], "post", "/version", True),
]


@pytest.mark.parametrize(("urls", "verbs", "verb", "path", "allowed"), PATH_CASES)
def test_non_resource_rule(urls: list[str], verbs: list[str], verb: str, path: str, allowed: bool) -> None:
    assert compile_rule({"verbs": verbs, "nonResourceURLs": urls}).allows_path(verb, path) is allowed


def test_resource_rule_never_allows_paths() -> None:
    assert not compile_rule(_rule(["*"], ["*"], ["*"])).allows_path("get", "/api")


def test_first_allowing_returns_the_granting_rule() -> None:
    rules = [
        compile_rule(_rule(["get"], [""], ["pods"]), granted_by="one"),
        compile_rule(_rule(["list"], [""], ["pods"]), granted_by="two"),
        compile_rule({"verbs": ["get"], "nonResourceURLs": ["/api"]}, granted_by="three"),
    ]
    found = first_allowing_resource(rules, "list", "", "pods", "", "")
    assert found is not None and found.granted_by == "two"
    assert first_allowing_resource(rules, "watch", "", "pods", "", "") is None
    path_rule = first_allowing_path(rules, "get", "/api")
    assert path_rule is not None and path_rule.granted_by == "three"
