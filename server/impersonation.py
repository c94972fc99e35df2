"""Impersonation: a request that acts as another identity (``Impersonate-*`` headers, ``kubectl --as``).

Mirrors upstream's impersonation filter (k8s.io/apiserver pkg/endpoints/filters/impersonation.go):
``Impersonate-User`` (a ``system:serviceaccount:ns:name`` user is a service account),
``Impersonate-Group`` (repeatable), ``Impersonate-Uid`` and ``Impersonate-Extra-<key>`` (the key
lower-cased and %-unescaped, each value its own header line). Every part is authorized for the
*requester* with verb ``impersonate`` on users / groups / serviceaccounts (namespaced) in group
"", or uids / userextras (the key as subresource) in ``authentication.k8s.io``; the first refusal
is a 403 with upstream's text. The identity acted as gains ``system:authenticated`` (or
``system:unauthenticated`` for ``system:anonymous``) and a service account its groups when no
group was named. Groups, extras or a uid without a user are refused; upstream answers that with
a 500, we with a 400 (bad input is never a server error here).

Arktos's tenants (docs/design/tenancy-and-security.md, "Impersonation"): the identity acted as
lives in the requester's tenant, and the ``impersonate`` check runs in that tenant, so a tenant's
user needs RBAC granted inside its tenant and can never leave it. Only a system-tenant requester
may act as an identity of another tenant, by naming it with the extra
``Impersonate-Extra-arktos.futurewei.com/tenant: T`` (authorized as impersonating that userextra);
a service account acted as is the one of that tenant's namespace, as its tokens would say. The
tenant extra only chooses the tenant: it is not kept among the identity's extras.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from urllib.parse import unquote

from multidict import CIMultiDict, CIMultiDictProxy

from apis.identity import TENANT_EXTRA
from server.auth.user import (
    ALL_AUTHENTICATED,
    ALL_UNAUTHENTICATED,
    ANONYMOUS,
    SERVICE_ACCOUNT_PREFIX,
    SERVICE_ACCOUNTS,
    UserInfo,
    service_account_username,
    service_accounts_in,
)
from server.authz.attributes import Attributes, forbidden_message
from server.errors import BadRequest, Forbidden
from server.schema.name_rules import dns1123_label_errors, dns1123_subdomain_errors

# k8s.io/api/authentication/v1 header names.
USER_HEADER = "Impersonate-User"
GROUP_HEADER = "Impersonate-Group"
UID_HEADER = "Impersonate-Uid"
EXTRA_HEADER_PREFIX = "Impersonate-Extra-"
_PREFIX = "impersonate-"
AUTHENTICATION_GROUP = "authentication.k8s.io"
VERB = "impersonate"
_MALFORMED_ESCAPE = re.compile(r"%(?![0-9A-Fa-f]{2})")

Allowed = Callable[[Attributes], bool]


@dataclass(frozen=True, slots=True)
class ImpersonationRequest:
    """One part of the identity asked for, as upstream's ObjectReference: what must be authorized."""

    resource: str  # users, groups, serviceaccounts, uids or userextras
    name: str
    namespace: str = ""
    extra_key: str = ""  # userextras: the key, authorized as the subresource

    @property
    def api_group(self) -> str:
        return AUTHENTICATION_GROUP if self.resource in ("uids", "userextras") else ""

    def attributes(self, requester: UserInfo, tenant: str) -> Attributes:
        return Attributes(user=requester, verb=VERB, resource_request=True, api_group=self.api_group,
                          api_version="v1", resource=self.resource, subresource=self.extra_key,
                          name=self.name, namespace=self.namespace, tenant=tenant)


def asks_to_impersonate(headers: Iterable[str]) -> bool:
    """Cheap test for the hot path: does any header name start with ``Impersonate-``?"""
    for name in headers:  # a loop, not any(): this runs for every request
        if len(name) >= 12 and name[0] in "Ii" and name[:12].lower() == _PREFIX:
            return True
    return False


def _extra_key(header: str) -> str:
    """Upstream's unescapeExtraKey: lower-cased, %-decoded; kept as sent when malformed."""
    key = header[len(EXTRA_HEADER_PREFIX):].lower()
    return key if _MALFORMED_ESCAPE.search(key) else unquote(key)


def split_service_account(username: str) -> tuple[str, str] | None:
    """(namespace, name) of ``system:serviceaccount:ns:name`` (upstream serviceaccount.SplitUsername)."""
    if not username.startswith(SERVICE_ACCOUNT_PREFIX):
        return None
    parts = username[len(SERVICE_ACCOUNT_PREFIX):].split(":")
    if len(parts) != 2 or dns1123_label_errors(parts[0]) or dns1123_subdomain_errors(parts[1]):
        return None
    return parts[0], parts[1]


def impersonation_requests(headers: CIMultiDictProxy[str]) -> list[ImpersonationRequest]:
    """What the headers ask to act as, in upstream's order (user, groups, extras, uid)."""
    found: list[ImpersonationRequest] = []
    user = headers.get(USER_HEADER, "")
    if user:
        account = split_service_account(user)
        found.append(ImpersonationRequest("serviceaccounts", account[1], account[0]) if account
                     else ImpersonationRequest("users", user))
    found += [ImpersonationRequest("groups", group) for group in headers.getall(GROUP_HEADER, ())]
    for header, value in headers.items():
        if header.lower().startswith(EXTRA_HEADER_PREFIX.lower()):
            found.append(ImpersonationRequest("userextras", value, extra_key=_extra_key(header)))
    uid = headers.get(UID_HEADER, "")
    if uid:
        found.append(ImpersonationRequest("uids", uid))
    if found and not user:
        named = ", ".join(f'{r.resource} "{r.name}"' for r in found)
        raise BadRequest(f"requested {named} without impersonating a user")
    return found


def _tenant_of(requests: list[ImpersonationRequest], requester: UserInfo) -> str:
    """The tenant of the identity acted as: the requester's, or what a system requester names."""
    named = {r.name for r in requests if r.resource == "userextras" and r.extra_key == TENANT_EXTRA}
    if not requester.is_system or not named:
        return requester.tenant
    if len(named) > 1:
        raise BadRequest(f"impersonation names more than one tenant in the extra {TENANT_EXTRA}: "
                         + ", ".join(sorted(named)))
    tenant = named.pop()
    if dns1123_label_errors(tenant):
        raise BadRequest(f'invalid tenant "{tenant}" in the impersonation extra {TENANT_EXTRA}: '
                         + "; ".join(dns1123_label_errors(tenant)))
    return tenant


def _authorize(request: ImpersonationRequest, requester: UserInfo, tenant: str, allowed: Allowed) -> None:
    attrs = request.attributes(requester, tenant)
    reason = ""
    if (request.resource == "userextras" and request.extra_key == TENANT_EXTRA
            and request.name != requester.tenant and not requester.is_system):
        # Arktos: a tenant's user may act only within its own tenant, whatever its roles say.
        reason = f'a user of tenant "{requester.tenant}" can only impersonate identities of its own tenant'
    elif allowed(attrs):
        return
    raise Forbidden(forbidden_message(attrs, reason),
                    details={"name": request.name, "group": request.api_group, "kind": request.resource})


def _groups(requests: list[ImpersonationRequest], username: str) -> tuple[str, ...]:
    named = [r.name for r in requests if r.resource == "groups"]
    account = next((r for r in requests if r.resource == "serviceaccounts"), None)
    groups = named if named or account is None else [SERVICE_ACCOUNTS, service_accounts_in(account.namespace)]
    # upstream: system:authenticated joins unless either well-known group was named; an
    # impersonated system:anonymous gets system:unauthenticated instead.
    if username == ANONYMOUS.name:
        if ALL_UNAUTHENTICATED not in groups:
            groups.append(ALL_UNAUTHENTICATED)
    elif ALL_AUTHENTICATED not in groups and ALL_UNAUTHENTICATED not in groups:
        groups.append(ALL_AUTHENTICATED)
    return tuple(dict.fromkeys(groups))


def impersonated_user(headers: CIMultiDictProxy[str], requester: UserInfo, *,
                      allowed: Allowed) -> UserInfo | None:
    """The identity the request acts as, once every part is authorized; None without headers.

    Raises `Forbidden` for the first part the requester may not impersonate, `BadRequest` for
    headers that do not name one identity.
    """
    requests = impersonation_requests(headers)
    if not requests:
        return None
    tenant = _tenant_of(requests, requester)
    for request in requests:
        _authorize(request, requester, tenant, allowed)
    target = requests[0]
    username = (service_account_username(target.namespace, target.name)
                if target.resource == "serviceaccounts" else target.name)
    extra: dict[str, list[str]] = {}
    for request in requests:
        if request.resource == "userextras" and request.extra_key != TENANT_EXTRA:
            extra.setdefault(request.extra_key, []).append(request.name)
    uid = next((r.name for r in requests if r.resource == "uids"), "")
    return UserInfo(username, uid, _groups(requests, username), tenant,
                    tuple((k, tuple(v)) for k, v in sorted(extra.items())))


def without_impersonation(headers: Mapping[str, str]) -> CIMultiDict[str]:
    """The headers less every ``Impersonate-*`` one: what the rest of the request sees (upstream
    deletes them once used, so nothing downstream, a proxied kubelet included, acts on them)."""
    used = {USER_HEADER.lower(), GROUP_HEADER.lower(), UID_HEADER.lower()}
    kept: CIMultiDict[str] = CIMultiDict()
    for name, value in headers.items():
        lowered = name.lower()
        if lowered not in used and not lowered.startswith(EXTRA_HEADER_PREFIX.lower()):
            kept.add(name, value)
    return kept
