"""Access reviews: the status of SubjectAccessReview, SelfSubjectAccessReview,
LocalSubjectAccessReview and SelfSubjectRulesReview (``authorization.k8s.io/v1``).

Upstream's registry/authorization REST handlers: the request's spec becomes authorizer
attributes, the answer is written to ``status`` (``allowed``, and ``reason`` / ``denied`` /
``evaluationError`` when set); rules reviews list ``resourceRules`` / ``nonResourceRules`` with
``incomplete``. ``kubectl auth can-i`` sends the self-subject kinds.

Tenants (ARKTOS.md §3): the target tenant is ``resourceAttributes.tenant`` when given, "" for a
cluster-scoped resource, else the requester's tenant (as for short paths). A SubjectAccessReview
asks about a user of the requester's tenant; only system-tenant requesters may name another
tenant, through the extra key ``arktos.futurewei.com/tenant``.
"""

from __future__ import annotations

import copy
from collections.abc import Callable
from typing import Any, Protocol

from apis.field_errors import FieldError
from apis.identity import TENANT_EXTRA
from server.auth.user import UserInfo
from server.authz.attributes import Attributes, Decision, UserRules
from server.errors import BadRequest, Invalid

GROUP = "authorization.k8s.io"

# (api group, resource) -> True when the resource is cluster-scoped (no tenant).
ClusterScoped = Callable[[str, str], bool]


class Authorizer(Protocol):
    def authorize(self, attrs: Attributes) -> Decision: ...


class RulesSource(Protocol):
    def rules_for(self, user: UserInfo, tenant: str, namespace: str) -> UserRules: ...


def _never_cluster_scoped(group: str, resource: str) -> bool:
    return False


def _invalid(kind: str, field: str, message: str) -> Invalid:
    return Invalid.fields(kind, "", [FieldError("FieldValueInvalid", field, message)], GROUP)


def _check_spec(kind: str, spec: dict[str, Any], *, needs_subject: bool) -> None:
    """upstream ValidateSubjectAccessReviewSpec / ValidateSelfSubjectAccessReviewSpec."""
    has_resource = spec.get("resourceAttributes") is not None
    has_path = spec.get("nonResourceAttributes") is not None
    if has_resource and has_path:
        raise _invalid(kind, "spec.nonResourceAttributes",
                       'Invalid value: "": cannot be specified in combination with resourceAttributes')
    if not has_resource and not has_path:
        raise _invalid(kind, "spec.resourceAttributes",
                       'Invalid value: "null": exactly one of nonResourceAttributes or resourceAttributes '
                       "must be specified")
    if needs_subject and not spec.get("user") and not spec.get("groups"):
        raise _invalid(kind, "spec.user",
                       'Invalid value: "": at least one of user or group must be specified')


def attributes_from_spec(spec: dict[str, Any], user: UserInfo, *,
                         cluster_scoped: ClusterScoped = _never_cluster_scoped) -> Attributes:
    """The authorizer attributes a review spec describes, on behalf of ``user``."""
    resource = spec.get("resourceAttributes")
    if resource is None:
        path = spec.get("nonResourceAttributes") or {}
        return Attributes(user=user, verb=str(path.get("verb", "")), resource_request=False,
                          path=str(path.get("path", "")))
    group, plural = str(resource.get("group", "")), str(resource.get("resource", ""))
    tenant = str(resource.get("tenant") or "")
    if not tenant and not cluster_scoped(group, plural):
        tenant = user.tenant
    return Attributes(
        user=user, verb=str(resource.get("verb", "")), resource_request=True, api_group=group,
        api_version=str(resource.get("version", "")), resource=plural,
        subresource=str(resource.get("subresource", "")), name=str(resource.get("name", "")),
        namespace=str(resource.get("namespace", "")), tenant=tenant)


def _status(decision: Decision) -> dict[str, Any]:
    status: dict[str, Any] = {"allowed": decision.allowed}
    if decision.reason:
        status["reason"] = decision.reason
    return status


def _answer(review: dict[str, Any], kind: str, status: dict[str, Any]) -> dict[str, Any]:
    answered = copy.deepcopy(review)
    answered["apiVersion"] = answered.get("apiVersion") or f"{GROUP}/v1"
    answered["kind"] = kind
    answered.setdefault("metadata", {}).setdefault("creationTimestamp", None)
    answered["status"] = status
    return answered


def _subject(spec: dict[str, Any], requester: UserInfo) -> UserInfo:
    extra = {str(k): tuple(str(v) for v in values or ()) for k, values in (spec.get("extra") or {}).items()}
    tenant = requester.tenant
    if requester.is_system and extra.get(TENANT_EXTRA):
        tenant = extra[TENANT_EXTRA][0]
    return UserInfo(name=str(spec.get("user", "")), uid=str(spec.get("uid", "")),
                    groups=tuple(str(g) for g in spec.get("groups") or ()), tenant=tenant,
                    extra=tuple(sorted(extra.items())))


def subject_access_review(review: dict[str, Any], *, authorizer: Authorizer, requester: UserInfo,
                          cluster_scoped: ClusterScoped = _never_cluster_scoped) -> dict[str, Any]:
    """A SubjectAccessReview answered: may ``spec.user``/``spec.groups`` do what the spec says?"""
    kind = "SubjectAccessReview"
    spec = review.get("spec") or {}
    _check_spec(kind, spec, needs_subject=True)
    attrs = attributes_from_spec(spec, _subject(spec, requester), cluster_scoped=cluster_scoped)
    return _answer(review, kind, _status(authorizer.authorize(attrs)))


def self_subject_access_review(review: dict[str, Any], *, authorizer: Authorizer, requester: UserInfo,
                               cluster_scoped: ClusterScoped = _never_cluster_scoped) -> dict[str, Any]:
    """A SelfSubjectAccessReview answered for the requester (``kubectl auth can-i``)."""
    kind = "SelfSubjectAccessReview"
    spec = review.get("spec") or {}
    _check_spec(kind, spec, needs_subject=False)
    attrs = attributes_from_spec(spec, requester, cluster_scoped=cluster_scoped)
    return _answer(review, kind, _status(authorizer.authorize(attrs)))


def local_subject_access_review(review: dict[str, Any], *, namespace: str, authorizer: Authorizer,
                                requester: UserInfo) -> dict[str, Any]:
    """A LocalSubjectAccessReview answered: a SubjectAccessReview confined to ``namespace``."""
    kind = "LocalSubjectAccessReview"
    if not namespace:
        raise BadRequest("namespace is required on this type: ")
    review = copy.deepcopy(review)
    meta_namespace = (review.get("metadata") or {}).get("namespace") or namespace
    if meta_namespace != namespace:
        raise BadRequest(f"spec.resourceAttributes.namespace must match namespace: {namespace}")
    spec = review.setdefault("spec", {})
    if spec.get("nonResourceAttributes") is not None:
        raise _invalid(kind, "spec.nonResourceAttributes",
                       'Invalid value: "": disallowed on this kind of request')
    resource = spec.get("resourceAttributes")
    if isinstance(resource, dict):
        resource["namespace"] = resource.get("namespace") or namespace
        if resource["namespace"] != namespace:
            raise _invalid(kind, "spec.resourceAttributes.namespace",
                           f'Invalid value: "{resource["namespace"]}": must match metadata.namespace')
    review.setdefault("metadata", {})["namespace"] = namespace
    _check_spec(kind, spec, needs_subject=True)
    attrs = attributes_from_spec(spec, _subject(spec, requester))
    return _answer(review, kind, _status(authorizer.authorize(attrs)))


def rules_review_status(rules: UserRules) -> dict[str, Any]:
    """``SubjectRulesReviewStatus``: resource and non-resource rules, ``incomplete``, ``evaluationError``."""
    resource_rules: list[dict[str, Any]] = []
    non_resource_rules: list[dict[str, Any]] = []
    for rule in rules.rules:
        if rule.get("nonResourceURLs"):
            non_resource_rules.append({"verbs": list(rule.get("verbs") or []),
                                       "nonResourceURLs": list(rule["nonResourceURLs"])})
            continue
        shown: dict[str, Any] = {"verbs": list(rule.get("verbs") or [])}
        for field in ("apiGroups", "resources", "resourceNames"):
            if rule.get(field):
                shown[field] = list(rule[field])
        resource_rules.append(shown)
    status: dict[str, Any] = {"resourceRules": resource_rules, "nonResourceRules": non_resource_rules,
                              "incomplete": rules.incomplete}
    if rules.evaluation_error:
        status["evaluationError"] = rules.evaluation_error
    return status


def self_subject_rules_review(review: dict[str, Any], *, rules_source: RulesSource, requester: UserInfo,
                              tenant: str = "") -> dict[str, Any]:
    """A SelfSubjectRulesReview answered with the requester's rules in ``spec.namespace``."""
    spec = review.get("spec") or {}
    namespace = str(spec.get("namespace") or "")
    rules = rules_source.rules_for(requester, tenant or requester.tenant, namespace)
    return _answer(review, "SelfSubjectRulesReview", rules_review_status(rules))
