"""Identity from a verified x509 client certificate, as a `UserInfo`.

The mapping itself (CN → user; O/OU → groups; ``O=tenant:T`` → tenant, else the CN's part before
its first ':') is `apis.identity.certificate_subject`, shared with the kubelet's HTTPS port so
both read a certificate the same way. Chain and validity checks are the TLS layer's job (the ssl
context verifies against the client CA); this module converts an already-trusted certificate.

When the TLS layer trusts more than one CA (the client CA and the request-header CA,
server.auth.requestheader), it can no longer say which one a certificate chains to, so
`CertificateAuthorities` answers that: the certificate must be issued directly by one of a bundle's
certificates (upstream verifies whole chains against each CA pool; intermediates are not supported
here, as Python's ssl hands over only the peer's own certificate).
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from cryptography import x509
from cryptography.exceptions import InvalidSignature

from apis.identity import certificate_subject, tenant_from_common_name
from server.auth.user import UserInfo

__all__ = ["CertificateAuthorities", "CertificateIdentityError", "tenant_from_common_name",
           "user_from_certificate"]


class CertificateIdentityError(ValueError):
    """The certificate names no user (empty CN): upstream treats it as no x509 credential at all."""


def user_from_certificate(cert: x509.Certificate) -> UserInfo:
    """Map a client certificate's subject to a user (CN → name; O/OU → groups; ``O=tenant:T`` → tenant)."""
    subject = certificate_subject(cert)
    if subject is None:
        raise CertificateIdentityError("the client certificate has an empty CommonName")
    return UserInfo(name=subject.user, groups=subject.groups, tenant=subject.tenant)


@dataclass(frozen=True, slots=True)
class CertificateAuthorities:
    """The certificates of one CA bundle file (``--client-ca-file``, ``--requestheader-client-ca-file``)."""

    certificates: tuple[x509.Certificate, ...]

    @classmethod
    def load(cls, path: Path) -> CertificateAuthorities:
        """The bundle at ``path``; ValueError when it holds no certificate."""
        certificates = tuple(x509.load_pem_x509_certificates(path.read_bytes()))
        if not certificates:
            raise ValueError(f"{path}: no certificate")
        return cls(certificates)

    def issued(self, cert: x509.Certificate) -> bool:
        """True when one of the bundle's certificates signed ``cert`` directly."""
        for authority in self.certificates:
            try:
                cert.verify_directly_issued_by(authority)
            except (ValueError, TypeError, InvalidSignature):
                continue
            return True
        return False
