"""Reviews and TokenRequests: create-only answers, never stored.

The ``authorization.k8s.io`` access reviews and ``authentication.k8s.io`` TokenReview and
SelfSubjectReview are resources whose create answers a question (upstream's registry/authorization
and registry/authentication REST storages); ``serviceaccounts/{name}/token`` issues a token
(upstream's TokenREST). The body is checked as upstream's typed decoding checks it; the answers
come from the server's access control (`AccessReviews`), which sits above the registry.
"""

from __future__ import annotations

from typing import Any

from server.errors import BadRequest
from server.registry.record import ResourceRecord
from server.registry.rest.interface import AccessReviews, RestContext, RestRequest
from server.registry.rest.typed_bodies import TOKEN_REQUEST, decoded_as
from server.registry.store import WriteOptions, WriteResult


def _access(context: RestContext) -> AccessReviews:
    if context.access is None:
        raise BadRequest("this server answers no reviews")
    return context.access


class ReviewREST:
    """create of a review resource: the review with its status."""

    def __init__(self, record: ResourceRecord, context: RestContext) -> None:
        self._access = _access(context)

    async def create(self, request: RestRequest, body: Any, options: WriteOptions) -> WriteResult:
        resource, user = request.resource, request.user
        review = decoded_as(body, resource.kind, resource.version, resource.definition or None)
        if user is None:
            raise BadRequest("a review needs a requesting user")
        return WriteResult(self._access.answer(resource, request.scope, user, review), 201)


class TokenREST:
    """create of ``serviceaccounts/{name}/token``: a TokenRequest with its token."""

    def __init__(self, record: ResourceRecord, context: RestContext) -> None:
        self._access = _access(context)

    async def create(self, request: RestRequest, body: Any, options: WriteOptions) -> WriteResult:
        token_request = decoded_as(body, *TOKEN_REQUEST)
        spec = token_request.get("spec") or {}
        status = self._access.token(request.scope, request.name, spec)
        return WriteResult({"kind": "TokenRequest", "apiVersion": "authentication.k8s.io/v1",
                            "metadata": {**(token_request.get("metadata") or {}), "creationTimestamp": None},
                            "spec": spec, "status": status}, 201)
