"""The identity every authenticator produces and every authorizer consumes.

Mirrors k8s.io/apiserver's ``user.Info`` with Arktos's addition: the tenant the identity belongs
to (ARKTOS.md §3). A user of tenant ``system`` is a cluster operator; every other tenant's users
are confined to their tenant by the RBAC authorizer.
"""

from __future__ import annotations

from dataclasses import dataclass

SYSTEM_TENANT = "system"

# Well-known groups (k8s.io/apiserver/pkg/authentication/user and .../serviceaccount).
ALL_AUTHENTICATED = "system:authenticated"
ALL_UNAUTHENTICATED = "system:unauthenticated"
SYSTEM_MASTERS = "system:masters"
SERVICE_ACCOUNTS = "system:serviceaccounts"
NODES = "system:nodes"

SERVICE_ACCOUNT_PREFIX = "system:serviceaccount:"
NODE_PREFIX = "system:node:"


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
