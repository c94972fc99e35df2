"""The answers of virtual, create-only resources, which the registry's review storages ask for.

Access reviews (``kubectl auth can-i``), rules reviews (``can-i --list``), token and self-subject
reviews (``kubectl auth whoami``), and the TokenRequest subresource
(``serviceaccounts/{name}/token``, ``kubectl create token``): answered from the server's access
control (authorizer, RBAC rules, token authenticator and issuer). Nothing is stored, as upstream;
the records of these resources name `server.registry.rest.review`'s storages, which call this.
"""

from __future__ import annotations

from typing import Any

from apis.catalogue import Resource
from apis.identity import TENANT_EXTRA
from server.access import AccessControl
from server.auth.user import UserInfo
from server.authz import reviews
from server.errors import BadRequest
from server.registry.catalogue import Catalogue
from server.registry.keys import Scope

_DEFAULT_TOKEN_SECONDS = 3600


class AccessAnswers:
    """What reviews and TokenRequests answer, from the server's access control (the registry's
    `AccessReviews`)."""

    def __init__(self, access: AccessControl, catalogue: Catalogue) -> None:
        self._access = access
        self._catalogue = catalogue

    def _cluster_scoped(self, group: str, plural: str) -> bool:
        """Whether ``plural.group`` is a cluster-scoped resource served now (any version)."""
        return any(r.group == group and r.plural == plural and r.scope == "Cluster" for r in self._catalogue)

    def answer(self, resource: Resource, scope: Scope, user: UserInfo,
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
        if plural == "tokenreviews":
            status = self._token_review(spec)
        else:  # selfsubjectreviews: kubectl auth whoami
            status = {"userInfo": _user_info(user)}
        return {"kind": resource.kind, "apiVersion": resource.api_version,
                "metadata": {**(body.get("metadata") or {}), "creationTimestamp": None},
                "spec": spec, "status": status}

    def _token_review(self, spec: dict[str, Any]) -> dict[str, Any]:
        token = str(spec.get("token", ""))
        user = self._access.user_for_token(token)
        if user is None:
            return {"authenticated": False, "user": {}, "error": "invalid bearer token"}
        return {"authenticated": True, "user": _user_info(user),
                "audiences": list(spec.get("audiences") or ())}

    def token(self, scope: Scope, name: str, spec: dict[str, Any]) -> dict[str, Any]:
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
