"""Identity from a verified x509 client certificate, as a `UserInfo`.

The mapping itself (CN → user; O/OU → groups; ``O=tenant:T`` → tenant, else the CN's part before
its first ':') is `apis.identity.certificate_subject`, shared with the kubelet's HTTPS port so
both read a certificate the same way. Chain and validity checks are the TLS layer's job (the ssl
context verifies against the client CA); this module only converts an already-trusted certificate.
"""

from __future__ import annotations

from cryptography import x509

from apis.identity import certificate_subject, tenant_from_common_name
from server.auth.user import UserInfo

__all__ = ["CertificateIdentityError", "tenant_from_common_name", "user_from_certificate"]


class CertificateIdentityError(ValueError):
    """The certificate names no user (empty CN): upstream treats it as no x509 credential at all."""


def user_from_certificate(cert: x509.Certificate) -> UserInfo:
    """Map a client certificate's subject to a user (CN → name; O/OU → groups; ``O=tenant:T`` → tenant)."""
    subject = certificate_subject(cert)
    if subject is None:
        raise CertificateIdentityError("the client certificate has an empty CommonName")
    return UserInfo(name=subject.user, groups=subject.groups, tenant=subject.tenant)
