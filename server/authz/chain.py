"""The authorizers in the order the API server consults them, as one authorizer.

Upstream's union authorizer (k8s.io/apiserver/pkg/authorization/union) asks each authorizer in
turn, stops at the first "allow", and otherwise joins the reasons of those without an opinion.
The order mirrors ``--authorization-mode=Node,RBAC`` with the privileged-group authorizer for
``system:masters`` in front (for system-tenant users; RBAC handles tenant users' masters group
within their tenant).
"""

from __future__ import annotations

from server.auth.user import SYSTEM_MASTERS, SYSTEM_TENANT, UserInfo
from server.authz.attributes import Attributes, Decision
from server.authz.node import NodeAuthorizer
from server.authz.rbac import RBACAuthorizer


class AuthorizerChain:
    """Node authorizer, then RBAC; the first allow wins."""

    def __init__(self, rbac: RBACAuthorizer, node: NodeAuthorizer | None = None) -> None:
        self.rbac = rbac
        self.node = node

    @staticmethod
    def allows_everything(user: UserInfo) -> bool:
        """Upstream's privileged-group authorizer: ``system:masters`` of tenant system may do
        anything, whatever the request's attributes (so callers need not build them)."""
        return SYSTEM_MASTERS in user.groups and user.tenant == SYSTEM_TENANT

    def authorize(self, attrs: Attributes) -> Decision:
        if self.allows_everything(attrs.user):
            return Decision(True, "")
        reasons: list[str] = []
        if self.node is not None:
            node = self.node.authorize(attrs)
            if node is not None:
                if node.allowed:
                    return node
                if node.reason:
                    reasons.append(node.reason)
        decision = self.rbac.authorize(attrs)
        if decision.allowed:
            return decision
        if decision.reason:
            reasons.append(decision.reason)
        return Decision(False, "\n".join(reasons))
