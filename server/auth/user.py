"""The identity every authenticator produces and every authorizer consumes.

Mirrors k8s.io/apiserver's ``user.Info`` with Arktos's addition: the tenant the identity belongs
to (ARKTOS.md §3). A user of tenant ``system`` is a cluster operator; every other tenant's users
are confined to their tenant by the RBAC authorizer.
"""

from __future__ import annotations

from dataclasses import dataclass

# The well-known names are the shared vocabulary's (apis.identity); the server's modules import them
# from here under their server-side names.
from apis.identity import (
    ALL_AUTHENTICATED,
    ALL_UNAUTHENTICATED,
    SYSTEM_MASTERS,
    SYSTEM_TENANT,
)
from apis.identity import NODE_USER_PREFIX as NODE_PREFIX
from apis.identity import NODES_GROUP as NODES
from apis.identity import SERVICE_ACCOUNT_USER_PREFIX as SERVICE_ACCOUNT_PREFIX
from apis.identity import SERVICE_ACCOUNTS_GROUP as SERVICE_ACCOUNTS

__all__ = ["ALL_AUTHENTICATED", "ALL_UNAUTHENTICATED", "ANONYMOUS", "NODES", "NODE_PREFIX",
           "SERVICE_ACCOUNTS", "SERVICE_ACCOUNT_PREFIX", "SYSTEM_MASTERS", "SYSTEM_TENANT", "UserInfo",
           "service_account_username", "service_accounts_in"]


def service_accounts_in(namespace: str) -> str:
    """The group every service account of ``namespace`` belongs to (``system:serviceaccounts:{ns}``)."""
    return f"{SERVICE_ACCOUNTS}:{namespace}"


def service_account_username(namespace: str, name: str) -> str:
    """``system:serviceaccount:{ns}:{name}``, as upstream's serviceaccount.MakeUsername."""
    return f"{SERVICE_ACCOUNT_PREFIX}{namespace}:{name}"


@dataclass(frozen=True, slots=True)
class UserInfo:
    """An authenticated (or anonymous) identity. Hashable: authorizers key their caches on it."""

    name: str
    uid: str = ""
    groups: tuple[str, ...] = ()
    tenant: str = SYSTEM_TENANT
    extra: tuple[tuple[str, tuple[str, ...]], ...] = ()

    @property
    def is_system(self) -> bool:
        """True for operators of the whole cluster (tenant ``system``)."""
        return self.tenant == SYSTEM_TENANT

    def with_group(self, group: str) -> UserInfo:
        """This identity with ``group`` added (once), as upstream's group adder does."""
        if group in self.groups:
            return self
        return UserInfo(self.name, self.uid, (*self.groups, group), self.tenant, self.extra)


ANONYMOUS = UserInfo("system:anonymous", groups=(ALL_UNAUTHENTICATED,))
