"""The RBAC authorizer, with Arktos's tenant rule, on the request hot path.

Upstream (k8s.io/kubernetes/plugin/pkg/auth/authorizer/rbac) allows a request when any rule
reachable from the user's bindings allows it, and otherwise has "no opinion", with a reason
listing bindings whose roles were missing. Arktos (ARKTOS.md §3) adds tenants:

* RBAC objects live per tenant, and a tenant's bindings only ever grant to that tenant's users;
  for a system-tenant user the system tenant's ClusterRoleBindings hold everywhere (every tenant
  and the cluster scope), its RoleBindings only in the system tenant's namespaces.
* A user of any other tenant is refused anything outside its own tenant — another tenant, the
  ``all`` tenant, cluster-scoped resources, non-resource paths — except discovery, health and
  version paths and self-subject reviews, which the system tenant's bootstrap bindings to groups
  (system:discovery, system:basic-user, system:public-info-viewer) grant to everyone.
* ``system:masters`` is always allowed (upstream's privileged-group authorizer) — within the
  user's own tenant for non-system users.

Rule sets are precomputed per (user, groups, tenant, namespace) and dropped when the policy
source's ``generation`` changes, so a request costs one dict lookup plus rule matching.
"""

from __future__ import annotations

from typing import Any

import orjson

from server.auth.user import SYSTEM_MASTERS, SYSTEM_TENANT, UserInfo
from server.authz.attributes import DENY, Attributes, Decision, UserRules
from server.authz.policy_source import PolicySource
from server.authz.resolver import RuleResolver, RuleSet
from server.authz.reviews import rules_review_status
from server.authz.rules import RuleIndex, first_allowing_path, first_allowing_resource

# Non-resource paths every tenant's users may reach (what system:discovery and
# system:public-info-viewer name), exact or as prefixes.
PUBLIC_PATHS = frozenset({"/api", "/apis", "/openapi", "/version", "/version/", "/healthz", "/livez",
                          "/readyz"})
# The health checks' subpaths (/healthz/ping, /livez/etcd, ...) too: upstream grants those only
# through system:monitoring, but they say nothing about any tenant (issue 10).
PUBLIC_PATH_PREFIXES = ("/api/", "/apis/", "/openapi/", "/healthz/", "/livez/", "/readyz/")
# Resources a user may always ask about itself (system:basic-user): access and rules reviews
# (`kubectl auth can-i`) and, since upstream 1.28, SelfSubjectReview (`kubectl auth whoami`).
SELF_REVIEWS = frozenset({("authorization.k8s.io", "selfsubjectaccessreviews"),
                          ("authorization.k8s.io", "selfsubjectrulesreviews"),
                          ("authentication.k8s.io", "selfsubjectreviews")})
RULE_SET_CACHE_LIMIT = 16384

_CacheKey = tuple[str, tuple[str, ...], str, str, bool]
_CacheValue = tuple[RuleSet, RuleIndex]


def is_public_path(path: str) -> bool:
    return path in PUBLIC_PATHS or path.startswith(PUBLIC_PATH_PREFIXES)


def is_self_review(attrs: Attributes) -> bool:
    return (attrs.resource_request and attrs.verb == "create"
            and (attrs.api_group, attrs.resource) in SELF_REVIEWS and not attrs.subresource)


def _tenant_exempt(attrs: Attributes) -> bool:
    """Requests a non-system user may make outside its tenant (still subject to the roles)."""
    if attrs.resource_request:
        return is_self_review(attrs)
    return is_public_path(attrs.path)


def _reason_from(errors: tuple[str, ...]) -> str:
    """upstream: ``RBAC: `` + the aggregate of binding errors (deduplicated; bracketed when several)."""
    unique = list(dict.fromkeys(errors))
    if not unique:
        return ""
    return "RBAC: " + (unique[0] if len(unique) == 1 else "[" + ", ".join(unique) + "]")


class RBACAuthorizer:
    """Decides resource and non-resource requests from the roles and bindings of a `PolicySource`."""

    def __init__(self, source: PolicySource) -> None:
        self._source = source
        self._resolver = RuleResolver(source)
        self._generation = source.generation
        self._cache: dict[_CacheKey, _CacheValue] = {}

    # -- the hot path -----------------------------------------------------------------------------
    def authorize(self, attrs: Attributes) -> Decision:
        user = attrs.user
        own_tenant = user.tenant or SYSTEM_TENANT
        if own_tenant == SYSTEM_TENANT:
            if SYSTEM_MASTERS in user.groups:
                return Decision(True, "")
            target = attrs.tenant or SYSTEM_TENANT
            namespace = attrs.namespace if target == SYSTEM_TENANT else ""
            return self._decide(attrs, [self._rule_set(user, own_tenant, namespace, public=False)])
        within = attrs.tenant == own_tenant
        if not attrs.resource_request and not within and attrs.tenant:
            return DENY  # another tenant's discovery would show its custom resources
        exempt = _tenant_exempt(attrs)
        if not exempt and not (within and attrs.resource_request):
            return DENY  # Arktos's tenant rule: nothing outside the user's own tenant
        if SYSTEM_MASTERS in user.groups:
            return Decision(True, "")
        sets = [self._rule_set(user, own_tenant, attrs.namespace, public=False)] if within else []
        if exempt:
            sets.append(self._rule_set(user, own_tenant, "", public=True))
        return self._decide(attrs, sets)

    def _decide(self, attrs: Attributes, sets: list[_CacheValue]) -> Decision:
        for _, index in sets:
            candidates = index.candidates(attrs.resource_request, attrs.verb)
            if attrs.resource_request:
                rule = first_allowing_resource(candidates, attrs.verb, attrs.api_group, attrs.resource,
                                               attrs.subresource, attrs.name)
            else:
                rule = first_allowing_path(candidates, attrs.verb, attrs.path)
            if rule is not None:
                return Decision(True, f"RBAC: allowed by {rule.granted_by}")
        return Decision(False, _reason_from(tuple(e for rule_set, _ in sets for e in rule_set.errors)))

    def _refresh(self) -> None:
        """Forget precomputed rules once any role or binding changed."""
        generation = self._source.generation
        if generation != self._generation:
            self._generation = generation
            self._cache.clear()
            self._resolver.reset()

    def _rule_set(self, user: UserInfo, tenant: str, namespace: str, *, public: bool) -> _CacheValue:
        self._refresh()
        key = (user.name, user.groups, tenant, namespace, public)
        cached = self._cache.get(key)
        if cached is None:
            rule_set = self._compute(user, tenant, namespace, public=public)
            cached = (rule_set, RuleIndex(rule_set.rules))
            if len(self._cache) >= RULE_SET_CACHE_LIMIT:
                self._cache.clear()
            self._cache[key] = cached
        return cached

    def _compute(self, user: UserInfo, tenant: str, namespace: str, *, public: bool) -> RuleSet:
        if public:
            # The system tenant's bindings to groups, for the tenant-exempt requests of other tenants.
            return self._resolver.rules_from_cluster_bindings(user, SYSTEM_TENANT, groups_only=True)
        rules = self._resolver.rules_from_cluster_bindings(user, tenant)
        if namespace:
            rules = rules + self._resolver.rules_from_role_bindings(user, tenant, namespace)
        return rules

    def role_ref_rules(self, tenant: str, namespace: str,
                       ref: dict[str, Any]) -> tuple[list[dict[str, Any]], str | None]:
        """The rules a binding in (``tenant``, ``namespace``) to ``ref`` would grant, or an error
        (a tenant's bindings may name the system tenant's ClusterRoles, as at evaluation)."""
        self._refresh()
        return self._resolver.role_ref_rules(tenant, namespace, ref)

    # -- SelfSubjectRulesReview -------------------------------------------------------------------
    def rules_for(self, user: UserInfo, tenant: str, namespace: str) -> UserRules:
        """The rules ``user`` holds in (``tenant``, ``namespace``): upstream's RBAC RulesFor."""
        own_tenant = user.tenant or SYSTEM_TENANT
        target = tenant or own_tenant
        if own_tenant == SYSTEM_TENANT:
            rule_set, _ = self._rule_set(user, own_tenant, namespace if target == SYSTEM_TENANT else "",
                                         public=False)
        else:
            rule_set, _ = self._rule_set(user, own_tenant, "", public=True)
            if target == own_tenant:
                rule_set = self._rule_set(user, own_tenant, namespace, public=False)[0] + rule_set
        unique = list({orjson.dumps(r.rule, option=orjson.OPT_SORT_KEYS): r.rule
                       for r in rule_set.rules}.values())
        error = _reason_from(rule_set.errors).removeprefix("RBAC: ")
        return UserRules(rules=tuple(unique), incomplete=False, evaluation_error=error)

    def rules_review_status(self, user: UserInfo, tenant: str, namespace: str) -> dict[str, Any]:
        """``SubjectRulesReviewStatus`` for ``user`` in (``tenant``, ``namespace``)."""
        return rules_review_status(self.rules_for(user, tenant, namespace))
