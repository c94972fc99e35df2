"""May this caller do this to this node: a SubjectAccessReview per request, with upstream's cache.

Why this exists: upstream's kubelet in ``--authorization-mode=Webhook`` authorizes every request on
its HTTPS port by asking the API server, so who may exec into a node's pods is decided by RBAC
(``nodes/proxy`` and friends; `request_attributes`) and not by the kubelet. Answers are cached as
upstream's delegating authorizer caches them: allowed for
``--authorization-webhook-cache-authorized-ttl`` (5 minutes), denied for
``--authorization-webhook-cache-unauthorized-ttl`` (30 seconds); a review that could not be made is
not cached. The review names nodes without a tenant (they are cluster-scoped), so Arktos's tenant
rule refuses every non-system tenant's user whatever its roles say.
"""

from __future__ import annotations

from typing import Any

from kubelet.streaming.authn import Requester
from kubelet.streaming.expiring_cache import ExpiringCache
from kubelet.streaming.request_attributes import NodeRequest
from kubelet.streaming.reviews import Reviews

DEFAULT_AUTHORIZED_TTL_S = 300.0
DEFAULT_UNAUTHORIZED_TTL_S = 30.0


def review_spec(requester: Requester, request: NodeRequest) -> dict[str, Any]:
    """The SubjectAccessReview spec upstream's kubelet sends (``version`` v1, group core)."""
    return {
        **requester.review_subject(),
        "resourceAttributes": {"verb": request.verb, "group": "", "version": "v1", "resource": "nodes",
                               "subresource": request.subresource, "name": request.node},
    }


class WebhookAuthorizer:
    """Decides `NodeRequest`s through the API server."""

    def __init__(self, reviews: Reviews, *, authorized_ttl_s: float = DEFAULT_AUTHORIZED_TTL_S,
                 unauthorized_ttl_s: float = DEFAULT_UNAUTHORIZED_TTL_S) -> None:
        self._reviews = reviews
        self._authorized_ttl_s = authorized_ttl_s
        self._unauthorized_ttl_s = unauthorized_ttl_s
        self._cache: ExpiringCache[tuple[Requester, NodeRequest], bool] = ExpiringCache()

    async def allowed(self, requester: Requester, request: NodeRequest) -> bool:
        """Whether RBAC allows it; `ReviewFailed` when the API server gave no answer."""
        key = (requester, request)
        cached = self._cache.get(key)
        if cached is not None:
            return cached
        status = await self._reviews.subject_access_review(review_spec(requester, request))
        allowed = status.get("allowed") is True and status.get("denied") is not True
        self._cache.put(key, allowed, ttl_s=self._authorized_ttl_s if allowed else self._unauthorized_ttl_s)
        return allowed
