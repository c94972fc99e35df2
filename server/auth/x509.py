"""Identity from a verified x509 client certificate.

Upstream (k8s.io/apiserver/pkg/authentication/request/x509, CommonNameUserConversion) takes the
user name from the subject's CN and groups from its O entries. Arktos reads OU entries as groups
too, and carries the tenant in an ``O=tenant:T`` entry; without one, the tenant is the part of the
CN before its first ':' (``system:admin`` and ``system:node:n1`` belong to tenant ``system``), and
a CN without ':' belongs to ``system`` (ARKTOS.md §3).

Chain and validity checks are the TLS layer's job (the ssl context verifies against the client
CA); this module only maps an already-trusted certificate to a `UserInfo`.
"""

from __future__ import annotations

from cryptography import x509
from cryptography.x509.oid import NameOID

from server.auth.user import SYSTEM_TENANT, UserInfo

TENANT_ORGANIZATION_PREFIX = "tenant:"


class CertificateIdentityError(ValueError):
    """The certificate names no user (empty CN): upstream treats it as no x509 credential at all."""


def _values(name: x509.Name, oid: x509.ObjectIdentifier) -> list[str]:
    return [str(attribute.value) for attribute in name.get_attributes_for_oid(oid)]


def tenant_from_common_name(common_name: str) -> str:
    """Arktos's fallback: the CN's part before the first ':', or ``system`` when there is none."""
    head, sep, _ = common_name.partition(":")
    return head if sep and head else SYSTEM_TENANT


def user_from_certificate(cert: x509.Certificate) -> UserInfo:
    """Map a client certificate's subject to a user (CN → name; O/OU → groups; ``O=tenant:T`` → tenant)."""
    subject = cert.subject
    common_names = _values(subject, NameOID.COMMON_NAME)
    if not common_names or not common_names[0]:
        raise CertificateIdentityError("the client certificate has an empty CommonName")
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
    return UserInfo(
        name=name,
        groups=tuple(dict.fromkeys(groups)),
        tenant=tenant or tenant_from_common_name(name),
    )
