"""What an authorizer decides about (the request's attributes) and what it answers.

Mirrors k8s.io/apiserver's ``authorizer.Attributes`` (resource requests carry group, resource,
subresource, name, namespace; non-resource requests a path) with Arktos's target tenant. For a
cluster-scoped resource the tenant is "" and for an all-tenant request it is ``all``.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from server.auth.user import UserInfo


@dataclass(frozen=True, slots=True)
class Attributes:
    """One request as the authorizers see it."""

    user: UserInfo
    verb: str
    resource_request: bool
    api_group: str = ""
    api_version: str = ""
    resource: str = ""
    subresource: str = ""
    name: str = ""
    namespace: str = ""
    tenant: str = ""
    path: str = ""
    # The request's ?fieldSelector= text (upstream 1.31+ hands authorizers the parsed selector,
    # AuthorizeWithSelectors): the node authorizer lets a kubelet list only what names its node.
    field_selector: str = ""


@dataclass(frozen=True, slots=True)
class Decision:
    """``allowed`` False means "no opinion" as in upstream's RBAC; ``reason`` explains either outcome."""

    allowed: bool
    reason: str = ""


DENY = Decision(False, "")


@dataclass(frozen=True, slots=True)
class UserRules:
    """The merged PolicyRules a user holds in one (tenant, namespace), for SelfSubjectRulesReview."""

    rules: tuple[dict[str, Any], ...]
    incomplete: bool = False
    evaluation_error: str = ""
