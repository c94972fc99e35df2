"""server.auth.x509: client certificate subject → user, groups and Arktos tenant.

Covers CN/O/OU combinations incl. ``O=tenant:T``, the CN-prefix tenant fallback and an empty CN.
Leaves out chain verification and expiry, which the TLS layer does before this mapping.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from cryptography import x509
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID

from server.auth.x509 import CertificateIdentityError, tenant_from_common_name, user_from_certificate

_KEY = ec.generate_private_key(ec.SECP256R1())


def certificate(*, cn: str | None, o: tuple[str, ...] = (), ou: tuple[str, ...] = ()) -> x509.Certificate:
    attributes = [x509.NameAttribute(NameOID.COMMON_NAME, cn)] if cn is not None else []
    attributes += [x509.NameAttribute(NameOID.ORGANIZATION_NAME, v) for v in o]
    attributes += [x509.NameAttribute(NameOID.ORGANIZATIONAL_UNIT_NAME, v) for v in ou]
    name = x509.Name(attributes)
    now = datetime.now(UTC)
    return (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name)
        .public_key(_KEY.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - timedelta(minutes=1))
        .not_valid_after(now + timedelta(days=1))
        .sign(_KEY, hashes.SHA256())
    )


@pytest.mark.parametrize(
    ("cn", "o", "ou", "name", "groups", "tenant"),
    [
        ("system:admin", ("system:masters",), (), "system:admin", ("system:masters",), "system"),
        ("alice", ("tenant:acme",), (), "alice", (), "acme"),
        ("alice", ("tenant:acme", "devs"), ("ops", "qa"), "alice", ("devs", "ops", "qa"), "acme"),
        ("bob", ("devs",), ("ops",), "bob", ("devs", "ops"), "system"),
        ("system:node:n1", ("system:nodes",), (), "system:node:n1", ("system:nodes",), "system"),
        ("acme:carol", (), (), "acme:carol", (), "acme"),
        ("acme:carol", ("tenant:globex",), (), "acme:carol", (), "globex"),
        ("dave", ("tenant:",), (), "dave", (), "system"),
        ("erin", ("tenant:acme", "tenant:globex"), (), "erin", (), "acme"),
        ("frank", ("g", "g"), ("g",), "frank", ("g",), "system"),
    ],
)
def test_subject_maps_to_identity(
    cn: str, o: tuple[str, ...], ou: tuple[str, ...], name: str, groups: tuple[str, ...], tenant: str
) -> None:
    user = user_from_certificate(certificate(cn=cn, o=o, ou=ou))
    assert (user.name, user.groups, user.tenant) == (name, groups, tenant)


def test_empty_common_name_is_no_identity() -> None:
    with pytest.raises(CertificateIdentityError):
        user_from_certificate(certificate(cn=None, o=("system:masters",)))


@pytest.mark.parametrize(
    ("cn", "tenant"),
    [
        ("system:kube-scheduler", "system"),
        ("plain", "system"),
        (":odd", "system"),
        ("t1:u", "t1"),
    ],
)
def test_tenant_from_common_name(cn: str, tenant: str) -> None:
    assert tenant_from_common_name(cn) == tenant
