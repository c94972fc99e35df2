"""pki/certificates.py: the cluster CA, client and serving certificates, service-account keys.

Covers: what each certificate says (subject CN/O/OU, SANs, CA and key-usage extensions), that
leaves verify against the CA with `cryptography`, that a real TLS handshake (in memory, Python's
ssl module) accepts the serving cert and the client cert both ways, file modes (keys 0600,
certificates 0644), reuse on a second call, and reissue when a file is missing, corrupt, from
another CA, expiring, or no longer covers what is asked for. Leaves out: the shell scripts that
call this (test/e2e/test_arktos_up.py) and kubeconfigs (test_kubeconfig.py).
"""

from __future__ import annotations

import datetime as dt
import ipaddress
import ssl
import stat
from pathlib import Path

import pytest
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import padding, rsa
from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID

from pki.certificates import (
    CertificateAuthority,
    PKIError,
    ensure_ca,
    ensure_client_cert,
    ensure_sa_keypair,
    ensure_serving_cert,
    issue_client_cert,
    issue_serving_cert,
    load_ca,
    signed_by,
)


def mode(path: Path) -> int:
    return stat.S_IMODE(path.stat().st_mode)


def attributes(cert: x509.Certificate, oid: x509.ObjectIdentifier) -> list[str]:
    return [str(a.value) for a in cert.subject.get_attributes_for_oid(oid)]


@pytest.fixture
def ca(tmp_path: Path) -> CertificateAuthority:
    return ensure_ca(tmp_path / "certs")


def test_ca_is_a_self_signed_ca_with_private_key_file(ca: CertificateAuthority) -> None:
    cert = ca.certificate
    assert cert.extensions.get_extension_for_class(x509.BasicConstraints).value.ca
    assert cert.extensions.get_extension_for_class(x509.KeyUsage).value.key_cert_sign
    cert.verify_directly_issued_by(cert)
    assert ca.cert_path.name == "ca.crt" and ca.key_path.name == "ca.key"
    assert mode(ca.key_path) == 0o600
    assert mode(ca.cert_path) == 0o644
    assert x509.load_pem_x509_certificate(ca.cert_path.read_bytes()) == cert


def test_ca_is_reused_not_regenerated(ca: CertificateAuthority) -> None:
    key_before = ca.key_path.read_bytes()
    again = ensure_ca(ca.cert_path.parent)
    assert again.certificate.serial_number == ca.certificate.serial_number
    assert ca.key_path.read_bytes() == key_before


def test_corrupt_ca_key_is_replaced_with_a_new_ca(ca: CertificateAuthority) -> None:
    ca.key_path.write_bytes(b"not a key")
    fresh = ensure_ca(ca.cert_path.parent)
    assert fresh.certificate.serial_number != ca.certificate.serial_number
    assert load_ca(ca.cert_path.parent).certificate == fresh.certificate


def test_load_ca_refuses_a_missing_ca(tmp_path: Path) -> None:
    with pytest.raises(PKIError):
        load_ca(tmp_path)
    assert not (tmp_path / "ca.crt").exists()


def test_client_cert_subject_chain_and_usage(ca: CertificateAuthority) -> None:
    issued = issue_client_cert(
        ca, common_name="alice", organizations=["tenant:acme"], organizational_units=["devs", "ops"]
    )
    cert = issued.certificate
    assert attributes(cert, NameOID.COMMON_NAME) == ["alice"]
    assert attributes(cert, NameOID.ORGANIZATION_NAME) == ["tenant:acme"]
    assert attributes(cert, NameOID.ORGANIZATIONAL_UNIT_NAME) == ["devs", "ops"]
    cert.verify_directly_issued_by(ca.certificate)
    assert cert.extensions.get_extension_for_class(x509.ExtendedKeyUsage).value == x509.ExtendedKeyUsage(
        [ExtendedKeyUsageOID.CLIENT_AUTH]
    )
    assert not cert.extensions.get_extension_for_class(x509.BasicConstraints).value.ca
    assert cert.not_valid_after_utc - cert.not_valid_before_utc > dt.timedelta(days=300)


def test_serving_cert_names_every_host(ca: CertificateAuthority) -> None:
    issued = issue_serving_cert(ca, hosts=["10.0.0.5", "127.0.0.1", "localhost", "::1"])
    san = issued.certificate.extensions.get_extension_for_class(x509.SubjectAlternativeName).value
    assert san.get_values_for_type(x509.IPAddress) == [
        ipaddress.ip_address("10.0.0.5"),
        ipaddress.ip_address("127.0.0.1"),
        ipaddress.ip_address("::1"),
    ]
    assert san.get_values_for_type(x509.DNSName) == ["localhost"]
    issued.certificate.verify_directly_issued_by(ca.certificate)
    assert (
        ExtendedKeyUsageOID.SERVER_AUTH
        in issued.certificate.extensions.get_extension_for_class(x509.ExtendedKeyUsage).value
    )


def test_another_ca_does_not_verify(ca: CertificateAuthority, tmp_path: Path) -> None:
    other = ensure_ca(tmp_path / "other")
    cert = issue_client_cert(other, common_name="mallory").certificate
    assert not signed_by(cert, ca)
    assert signed_by(cert, other)


def _handshake(server: ssl.SSLContext, client: ssl.SSLContext, hostname: str) -> dict[str, object]:
    """A TLS handshake between two in-memory endpoints; returns the client cert the server saw."""
    c_in, c_out, s_in, s_out = ssl.MemoryBIO(), ssl.MemoryBIO(), ssl.MemoryBIO(), ssl.MemoryBIO()
    client_end = client.wrap_bio(c_in, c_out, server_hostname=hostname)
    server_end = server.wrap_bio(s_in, s_out, server_side=True)
    done = {"client": False, "server": False}
    for _ in range(10):
        for name, end in (("client", client_end), ("server", server_end)):
            if not done[name]:
                try:
                    end.do_handshake()
                    done[name] = True
                except ssl.SSLWantReadError:
                    pass
        s_in.write(c_out.read())
        c_in.write(s_out.read())
        if all(done.values()):
            break
    assert all(done.values()), done
    peer = server_end.getpeercert()
    assert peer is not None
    return dict(peer)


def test_real_tls_handshake_accepts_the_issued_pairs(ca: CertificateAuthority, tmp_path: Path) -> None:
    certs = ca.cert_path.parent
    ensure_serving_cert(ca, certs / "s.crt", certs / "s.key", hosts=["127.0.0.1", "localhost"])
    ensure_client_cert(
        ca, certs / "c.crt", certs / "c.key", common_name="system:admin", organizations=["system:masters"]
    )
    server = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    server.load_cert_chain(certs / "s.crt", certs / "s.key")
    server.load_verify_locations(ca.cert_path)
    server.verify_mode = ssl.CERT_REQUIRED
    client = ssl.create_default_context(cafile=str(ca.cert_path))
    client.verify_flags |= ssl.VERIFY_X509_STRICT  # as Python 3.13's default context does
    client.load_cert_chain(certs / "c.crt", certs / "c.key")
    peer = _handshake(server, client, "localhost")
    assert (("commonName", "system:admin"),) in peer["subject"]  # type: ignore[operator]


def test_serving_cert_reused_then_reissued_for_a_new_host(ca: CertificateAuthority) -> None:
    d = ca.cert_path.parent
    first = ensure_serving_cert(ca, d / "s.crt", d / "s.key", hosts=["127.0.0.1"])
    assert mode(d / "s.key") == 0o600 and mode(d / "s.crt") == 0o644
    again = ensure_serving_cert(ca, d / "s.crt", d / "s.key", hosts=["127.0.0.1"])
    assert again.certificate.serial_number == first.certificate.serial_number
    wider = ensure_serving_cert(ca, d / "s.crt", d / "s.key", hosts=["127.0.0.1", "10.1.2.3"])
    assert wider.certificate.serial_number != first.certificate.serial_number
    assert x509.load_pem_x509_certificate((d / "s.crt").read_bytes()) == wider.certificate


def test_expiring_or_foreign_certs_are_reissued(ca: CertificateAuthority, tmp_path: Path) -> None:
    d = ca.cert_path.parent
    expiring = issue_serving_cert(ca, hosts=["127.0.0.1"], days=1)
    (d / "s.key").write_bytes(expiring.private_key_pem())
    (d / "s.crt").write_bytes(expiring.certificate_pem())
    renewed = ensure_serving_cert(ca, d / "s.crt", d / "s.key", hosts=["127.0.0.1"])
    assert renewed.certificate.serial_number != expiring.certificate.serial_number

    foreign = issue_serving_cert(ensure_ca(tmp_path / "other"), hosts=["127.0.0.1"])
    (d / "s.key").write_bytes(foreign.private_key_pem())
    (d / "s.crt").write_bytes(foreign.certificate_pem())
    ours = ensure_serving_cert(ca, d / "s.crt", d / "s.key", hosts=["127.0.0.1"])
    assert signed_by(ours.certificate, ca)


def test_mismatched_key_is_reissued(ca: CertificateAuthority) -> None:
    d = ca.cert_path.parent
    ensure_client_cert(ca, d / "c.crt", d / "c.key", common_name="bob")
    (d / "c.key").write_bytes(issue_client_cert(ca, common_name="bob").private_key_pem())
    fixed = ensure_client_cert(ca, d / "c.crt", d / "c.key", common_name="bob")
    fixed_key = serialization.load_pem_private_key((d / "c.key").read_bytes(), password=None)
    assert fixed.certificate.public_key() == fixed_key.public_key()


def test_client_cert_reused_unless_the_subject_changes(ca: CertificateAuthority) -> None:
    d = ca.cert_path.parent
    first = ensure_client_cert(ca, d / "c.crt", d / "c.key", common_name="bob", organizational_units=["a"])
    same = ensure_client_cert(ca, d / "c.crt", d / "c.key", common_name="bob", organizational_units=["a"])
    assert same.certificate.serial_number == first.certificate.serial_number
    changed = ensure_client_cert(ca, d / "c.crt", d / "c.key", common_name="bob", organizational_units=["b"])
    assert attributes(changed.certificate, NameOID.ORGANIZATIONAL_UNIT_NAME) == ["b"]


def test_sa_keypair_signs_and_verifies_and_is_reused(tmp_path: Path) -> None:
    key_path, pub_path = ensure_sa_keypair(tmp_path)
    assert (key_path.name, pub_path.name) == ("sa.key", "sa.pub")
    assert mode(key_path) == 0o600 and mode(pub_path) == 0o644
    key = serialization.load_pem_private_key(key_path.read_bytes(), password=None)
    public = serialization.load_pem_public_key(pub_path.read_bytes())
    assert isinstance(key, rsa.RSAPrivateKey) and isinstance(public, rsa.RSAPublicKey)
    assert key.key_size == 2048
    signature = key.sign(b"claims", padding.PKCS1v15(), hashes.SHA256())  # what RS256 does
    public.verify(signature, b"claims", padding.PKCS1v15(), hashes.SHA256())

    before = key_path.read_bytes()
    ensure_sa_keypair(tmp_path)
    assert key_path.read_bytes() == before
    pub_path.unlink()
    ensure_sa_keypair(tmp_path)
    assert serialization.load_pem_public_key(pub_path.read_bytes()) == public
