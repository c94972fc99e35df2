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


def forbidden_message(attrs: Attributes, reason: str = "") -> str:
    """Upstream's refusal text for ``attrs`` (k8s.io/apiserver responsewriters.Forbidden):
    ``{resource}.{group} "{name}" is forbidden: User "u" cannot VERB resource "R[/S]" in API group
    "G" (in the namespace "N" | at the cluster scope)``, then ``: reason`` when there is one."""
    what = f"{attrs.resource}/{attrs.subresource}" if attrs.subresource else attrs.resource
    qualified = f"{attrs.resource}.{attrs.api_group}" if attrs.api_group else attrs.resource
    subject = f'{qualified} "{attrs.name}"' if attrs.name else qualified
    where = f'in the namespace "{attrs.namespace}"' if attrs.namespace else "at the cluster scope"
    message = (f'{subject} is forbidden: User "{attrs.user.name}" cannot {attrs.verb} resource "{what}" '
               f'in API group "{attrs.api_group}" {where}')
    return f"{message}: {reason}" if reason else message


@dataclass(frozen=True, slots=True)
class UserRules:
    """The merged PolicyRules a user holds in one (tenant, namespace), for SelfSubjectRulesReview."""

    rules: tuple[dict[str, Any], ...]
    incomplete: bool = False
    evaluation_error: str = ""
