"""Virtual, create-only resources that answer questions instead of storing objects.

Access reviews (``kubectl auth can-i``), rules reviews (``can-i --list``), token and self-subject
reviews (``kubectl auth whoami``), and the TokenRequest subresource
(``serviceaccounts/{name}/token``, ``kubectl create token``). Nothing here is stored, as upstream.
"""

from __future__ import annotations

from typing import Any

from aiohttp import web

from apis.catalogue import Catalogue, Resource
from apis.identity import TENANT_EXTRA
from server.access import AccessControl
from server.auth.user import UserInfo
from server.authz import reviews
from server.errors import BadRequest, MethodNotAllowed
from server.handlers import codec
from server.handlers.typed_bodies import TOKEN_REQUEST, decoded_as
from server.registry.keys import Scope
from server.request_info import RequestInfo
from server.schema import validation

_REVIEWS = frozenset({"subjectaccessreviews", "selfsubjectaccessreviews", "localsubjectaccessreviews",
                      "selfsubjectrulesreviews", "tokenreviews", "selfsubjectreviews"})
_DEFAULT_TOKEN_SECONDS = 3600


class ReviewHandler:
    def __init__(self, *, access: AccessControl, catalogue: Catalogue) -> None:
        self._access = access
        scopes = {(r.group, r.plural): r.scope for r in catalogue}
        self._cluster_scoped = lambda group, plural: scopes.get((group, plural)) == "Cluster"

    @staticmethod
    def handles(resource: Resource, info: RequestInfo) -> bool:
        if resource.plural in _REVIEWS and resource.group in ("authorization.k8s.io",
                                                              "authentication.k8s.io"):
            return True
        return resource.plural == "serviceaccounts" and info.subresource == "token"

    async def handle(self, request: web.BaseRequest, info: RequestInfo, resource: Resource,
                     scope: Scope, user: UserInfo) -> web.Response:
        if info.verb != "create":
            raise MethodNotAllowed()
        media = codec.negotiate(request)
        body = codec.decode_body(await codec.read_body(request), codec.content_type_of(request))
        if resource.plural == "serviceaccounts":
            body = decoded_as(body, *TOKEN_REQUEST)
        else:
            body = decoded_as(body, resource.kind, resource.version, validation.definition_for(resource))
        return codec.respond(self._answer(resource, scope, user, info, body), media, status=201)

    def _answer(self, resource: Resource, scope: Scope, user: UserInfo, info: RequestInfo,
                body: dict[str, Any]) -> dict[str, Any]:
        authorizer, plural = self._access.authorizer, resource.plural
        if plural == "subjectaccessreviews":
            return reviews.subject_access_review(body, authorizer=authorizer, requester=user,
                                                 cluster_scoped=self._cluster_scoped)
        if plural == "selfsubjectaccessreviews":
            return reviews.self_subject_access_review(body, authorizer=authorizer, requester=user,
                                                      cluster_scoped=self._cluster_scoped)
        if plural == "localsubjectaccessreviews":
            return reviews.local_subject_access_review(body, namespace=scope.namespace,
                                                       authorizer=authorizer, requester=user)
        if plural == "selfsubjectrulesreviews":
            return reviews.self_subject_rules_review(body, rules_source=self._access.rbac,
                                                     requester=user, tenant=scope.tenant)
        spec = body.get("spec") or {}
        if plural == "serviceaccounts":
            status = self._token_request(scope, info.name, spec)
            kind, api_version = "TokenRequest", "authentication.k8s.io/v1"
        elif plural == "tokenreviews":
            status, kind, api_version = self._token_review(spec), resource.kind, resource.api_version
        else:  # selfsubjectreviews: kubectl auth whoami
            status, kind, api_version = {"userInfo": _user_info(user)}, resource.kind, resource.api_version
        return {"kind": kind, "apiVersion": api_version,
                "metadata": {**(body.get("metadata") or {}), "creationTimestamp": None},
                "spec": spec, "status": status}

    def _token_review(self, spec: dict[str, Any]) -> dict[str, Any]:
        token = str(spec.get("token", ""))
        user = self._access.user_for_token(token)
        if user is None:
            return {"authenticated": False, "user": {}, "error": "invalid bearer token"}
        return {"authenticated": True, "user": _user_info(user),
                "audiences": list(spec.get("audiences") or ())}

    def _token_request(self, scope: Scope, name: str, spec: dict[str, Any]) -> dict[str, Any]:
        tokens = self._access.tokens
        if tokens is None:
            raise BadRequest("service-account token signing is not configured on this server")
        account = self._access.service_account(scope.tenant, scope.namespace, name)
        seconds = int(spec.get("expirationSeconds") or _DEFAULT_TOKEN_SECONDS)
        if seconds < 600:
            raise BadRequest("spec.expirationSeconds: Invalid value: may not specify a duration "
                             "less than 10 minutes")
        try:
            token, expiry = tokens.issue(
                tenant=scope.tenant, namespace=scope.namespace, name=name,
                uid=account["metadata"].get("uid", ""), audiences=list(spec.get("audiences") or ()),
                expiration_seconds=seconds, bound_object=spec.get("boundObjectRef"))
        except ValueError as e:
            raise BadRequest(str(e)) from e
        return {"token": token, "expirationTimestamp": expiry.strftime("%Y-%m-%dT%H:%M:%SZ")}


def _user_info(user: UserInfo) -> dict[str, Any]:
    """upstream's UserInfo, with the tenant as an extra (``kubectl auth whoami`` prints extras)."""
    info: dict[str, Any] = {"username": user.name, "groups": list(user.groups)}
    if user.uid:
        info["uid"] = user.uid
    info["extra"] = {**{k: list(v) for k, v in user.extra}, TENANT_EXTRA: [user.tenant]}
    return info
