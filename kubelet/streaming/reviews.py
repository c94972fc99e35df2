"""The two questions the kubelet's HTTPS port asks the API server: who is this token, may they do this.

Why this exists: upstream's kubelet in webhook mode delegates both decisions to the API server —
``TokenReview`` (``authentication.k8s.io/v1``) for bearer tokens and ``SubjectAccessReview``
(``authorization.k8s.io/v1``) for every request — with its own node credentials, which upstream's
node authorizer (and ours) lets create both. This module is only the transport: one call each,
bounded in time, with every failure turned into `ReviewFailed` so callers answer 401/500 instead
of hanging a stream on an unreachable API server.
"""

from __future__ import annotations

import asyncio
from typing import Any, Protocol

from client.errors import ApiError
from client.resources import ResourceRef
from client.rest import ApiClient

TOKEN_REVIEWS = ResourceRef("authentication.k8s.io", "v1", "tokenreviews", "TokenReview")
SUBJECT_ACCESS_REVIEWS = ResourceRef("authorization.k8s.io", "v1", "subjectaccessreviews",
                                     "SubjectAccessReview")
# Upstream's delegating authenticator/authorizer give a review about this long (with retries).
REVIEW_TIMEOUT_S = 10.0


class ReviewFailed(Exception):
    """The API server gave no usable answer (unreachable, refused the review, timed out)."""


class Reviews(Protocol):
    """What the authenticator and authorizer need from the API server (a fake in unit tests)."""

    async def token_review(self, token: str) -> dict[str, Any]: ...

    async def subject_access_review(self, spec: dict[str, Any]) -> dict[str, Any]: ...


class ApiReviews:
    """`Reviews` over the kubelet's own API client."""

    def __init__(self, client: ApiClient, *, timeout_s: float = REVIEW_TIMEOUT_S) -> None:
        self._client = client
        self._timeout_s = timeout_s

    async def token_review(self, token: str) -> dict[str, Any]:
        """The review's ``status`` (``authenticated``, ``user``)."""
        return await self._create(TOKEN_REVIEWS, {"token": token})

    async def subject_access_review(self, spec: dict[str, Any]) -> dict[str, Any]:
        """The review's ``status`` (``allowed``, ``reason``)."""
        return await self._create(SUBJECT_ACCESS_REVIEWS, spec)

    async def _create(self, ref: ResourceRef, spec: dict[str, Any]) -> dict[str, Any]:
        body = {"apiVersion": ref.api_version, "kind": ref.kind, "spec": spec}
        try:
            async with asyncio.timeout(self._timeout_s):
                answer = await self._client.create(ref, body)
        except (ApiError, TimeoutError) as e:
            raise ReviewFailed(f"{ref.kind}: {e or type(e).__name__}") from e
        status = answer.get("status") if isinstance(answer, dict) else None
        if not isinstance(status, dict):
            raise ReviewFailed(f"{ref.kind}: the answer has no status")
        return status
