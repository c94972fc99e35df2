"""Who a client certificate names, and the well-known identities the components run as.

Why this exists: two servers authenticate x509 client certificates from the cluster CA — the API
server and every kubelet's HTTPS port — and they must read a certificate the same way, or a
subject could be one user to the API server and another to a kubelet. Upstream's x509 authenticator
(k8s.io/apiserver ``request/x509``, CommonNameUserConversion) takes the user from the subject's CN
and groups from its O entries; Arktos also reads OU entries as groups and carries the tenant in an
``O=tenant:T`` entry; without one, the tenant is the CN's part before its first ':'
(``system:admin`` and ``system:node:n1`` belong to tenant ``system``), and a CN without ':' belongs
to ``system`` (ARKTOS.md §3). Chain and validity checks belong to the TLS layer; this module only
maps an already-trusted certificate.

The component names are the subjects of upstream's bootstrap RBAC policy, shared by the PKI tooling
that issues the certificates and by the server that binds roles to them.
"""

from __future__ import annotations

from dataclasses import dataclass

from cryptography import x509
from cryptography.x509.oid import NameOID

SYSTEM_TENANT = "system"
TENANT_ORGANIZATION_PREFIX = "tenant:"
# The extra a TokenReview/SelfSubjectReview reports the tenant under, and a SubjectAccessReview
# from a system-tenant requester may name the subject's tenant with.
TENANT_EXTRA = "arktos.futurewei.com/tenant"

# Well-known groups and name prefixes (k8s.io/apiserver/pkg/authentication/user and .../serviceaccount).
ALL_AUTHENTICATED = "system:authenticated"
ALL_UNAUTHENTICATED = "system:unauthenticated"
SYSTEM_MASTERS = "system:masters"
SERVICE_ACCOUNTS_GROUP = "system:serviceaccounts"
NODES_GROUP = "system:nodes"
SERVICE_ACCOUNT_USER_PREFIX = "system:serviceaccount:"

# The components' own identities (upstream's bootstrap policy subjects).
KUBE_CONTROLLER_MANAGER_USER = "system:kube-controller-manager"
KUBE_SCHEDULER_USER = "system:kube-scheduler"
# kube-proxy, bound to system:node-proxier by the bootstrap policy.
KUBE_PROXY_USER = "system:kube-proxy"
# The API server's client certificate towards kubelets (--kubelet-client-certificate).
APISERVER_KUBELET_CLIENT_USER = "kube-apiserver-kubelet-client"
NODE_USER_PREFIX = "system:node:"
# Where the controller manager keeps one service account per controller
# (--use-service-account-credentials), in tenant system.
CONTROLLER_SERVICE_ACCOUNT_NAMESPACE = "kube-system"


def node_user(node_name: str) -> str:
    """``system:node:<name>``: the user a kubelet's credential names (upstream's node identifier)."""
    return f"{NODE_USER_PREFIX}{node_name}"


@dataclass(frozen=True, slots=True)
class CertificateSubject:
    """The identity a client certificate names: user, groups (O and OU), tenant."""

    user: str
    groups: tuple[str, ...]
    tenant: str


def tenant_from_common_name(common_name: str) -> str:
    """Arktos's fallback: the CN's part before the first ':', or ``system`` when there is none."""
    head, sep, _ = common_name.partition(":")
    return head if sep and head else SYSTEM_TENANT


def _values(name: x509.Name, oid: x509.ObjectIdentifier) -> list[str]:
    return [str(attribute.value) for attribute in name.get_attributes_for_oid(oid)]


def certificate_subject(cert: x509.Certificate) -> CertificateSubject | None:
    """The identity of ``cert``; None when its CN is empty (upstream: no x509 credential at all)."""
    subject = cert.subject
    common_names = _values(subject, NameOID.COMMON_NAME)
    if not common_names or not common_names[0]:
        return None
    name = common_names[0]
    tenant = ""
    groups: list[str] = []
    for organization in _values(subject, NameOID.ORGANIZATION_NAME):
        if organization.startswith(TENANT_ORGANIZATION_PREFIX):
            # The first tenant entry wins; an empty one ("tenant:") is no tenant at all.
            tenant = tenant or organization[len(TENANT_ORGANIZATION_PREFIX):]
            continue
        groups.append(organization)
    groups.extend(_values(subject, NameOID.ORGANIZATIONAL_UNIT_NAME))
    return CertificateSubject(name, tuple(dict.fromkeys(groups)), tenant or tenant_from_common_name(name))


def bearer_token(authorization_header: str | None) -> str | None:
    """The token of an ``Authorization: Bearer <token>`` header; None for absent or other schemes."""
    if not authorization_header:
        return None
    parts = authorization_header.strip().split(" ", 2)
    if len(parts) < 2 or parts[0].lower() != "bearer" or not parts[1]:
        return None
    return parts[1]
