"""The cluster's certificate authority, the certificates it signs, and the service-account keys.

arktos-up.sh needs, on first start, what upstream's hack/local-up-cluster.sh makes with openssl
and cfssl: a CA, a serving certificate for the API server, client certificates whose subject
*is* the identity (CN = user, O = groups, and in Arktos `O=tenant:T` and OU = groups too), and a
key pair that signs service-account tokens. On later starts everything still valid is reused, so
kubeconfigs handed out earlier keep working; whatever is missing, expiring, signed by another CA
or no longer matching what is asked for is issued again.

Certificates use ECDSA P-256 keys (quick to make, accepted by Go's and Python's TLS); the
service-account key is RSA 2048 because tokens are signed RS256, as upstream's are.
The kubelet uses this at run time (its serving certificate); `python -m tools.pki --help` is the
command-line front end the hack/ scripts use (tools/pki.py).
"""

from __future__ import annotations

import datetime as dt
import ipaddress
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path

from cryptography import x509
from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec, rsa
from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID

from pki.atomic_file import read_optional, write_public, write_secret

CA_CERT_FILE = "ca.crt"
CA_KEY_FILE = "ca.key"
SA_KEY_FILE = "sa.key"
SA_PUBLIC_KEY_FILE = "sa.pub"
CA_COMMON_NAME = "arktos-ca"
CA_DAYS = 3650
LEAF_DAYS = 365
# Reissue a certificate this long before it expires rather than hand out one about to die.
RENEW_BEFORE = dt.timedelta(days=7)
# Backdate notBefore so a peer whose clock is slightly behind still accepts a fresh certificate.
CLOCK_SKEW = dt.timedelta(hours=1)

PrivateKey = ec.EllipticCurvePrivateKey | rsa.RSAPrivateKey


class PKIError(Exception):
    """The CA (or another file) is missing or unusable where it must already exist."""


@dataclass(frozen=True, slots=True)
class IssuedCertificate:
    """A certificate and its private key."""

    certificate: x509.Certificate
    private_key: PrivateKey

    def certificate_pem(self) -> bytes:
        return self.certificate.public_bytes(serialization.Encoding.PEM)

    def private_key_pem(self) -> bytes:
        return private_key_pem(self.private_key)


@dataclass(frozen=True, slots=True)
class CertificateAuthority:
    """The cluster CA as loaded from (or written to) ``cert_path`` and ``key_path``."""

    certificate: x509.Certificate
    private_key: PrivateKey
    cert_path: Path
    key_path: Path

    def certificate_pem(self) -> bytes:
        return self.certificate.public_bytes(serialization.Encoding.PEM)


def private_key_pem(key: PrivateKey) -> bytes:
    return key.private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
    )


def parse_pair(cert_pem: bytes | None, key_pem: bytes | None) -> IssuedCertificate | None:
    """Certificate and key from PEM, or None if either is absent, unparsable or they do not match."""
    if cert_pem is None or key_pem is None:
        return None
    try:
        certificate = x509.load_pem_x509_certificate(cert_pem)
        key = serialization.load_pem_private_key(key_pem, password=None)
    except (ValueError, TypeError):
        return None
    if not isinstance(key, ec.EllipticCurvePrivateKey | rsa.RSAPrivateKey):
        return None
    if _public_der(certificate.public_key()) != _public_der(key.public_key()):
        return None
    return IssuedCertificate(certificate, key)


def _public_der(public_key: object) -> bytes:
    assert isinstance(public_key, ec.EllipticCurvePublicKey | rsa.RSAPublicKey)
    return public_key.public_bytes(
        serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo
    )


def _now() -> dt.datetime:
    return dt.datetime.now(dt.UTC)


def is_current(certificate: x509.Certificate, *, now: dt.datetime | None = None) -> bool:
    """Valid now and for longer than RENEW_BEFORE."""
    now = now or _now()
    return certificate.not_valid_before_utc <= now < certificate.not_valid_after_utc - RENEW_BEFORE


def signed_by(certificate: x509.Certificate, ca: CertificateAuthority) -> bool:
    """Issuer name and signature both point at this CA."""
    try:
        certificate.verify_directly_issued_by(ca.certificate)
    except (ValueError, TypeError, InvalidSignature):
        return False
    return True


def _is_ca(certificate: x509.Certificate) -> bool:
    try:
        return bool(certificate.extensions.get_extension_for_class(x509.BasicConstraints).value.ca)
    except x509.ExtensionNotFound:
        return False


def load_ca(directory: Path, *, stem: str = "ca") -> CertificateAuthority:
    """The CA already in ``directory`` (``{stem}.crt``, ``{stem}.key``); PKIError if it is missing
    or unusable (never creates one)."""
    cert_path, key_path = directory / f"{stem}.crt", directory / f"{stem}.key"
    pair = parse_pair(read_optional(cert_path), read_optional(key_path))
    if pair is None or not _is_ca(pair.certificate) or not is_current(pair.certificate):
        raise PKIError(f"no usable CA in {directory} ({cert_path.name}, {key_path.name})")
    return CertificateAuthority(pair.certificate, pair.private_key, cert_path, key_path)


def ensure_ca(
    directory: Path, *, common_name: str = CA_COMMON_NAME, days: int = CA_DAYS, stem: str = "ca"
) -> CertificateAuthority:
    """The CA in ``directory``, created (``{stem}.crt`` 0644, ``{stem}.key`` 0600) when missing or
    unusable. ``stem`` names another CA beside the cluster's (the front proxy's, upstream's
    front-proxy-ca)."""
    try:
        return load_ca(directory, stem=stem)
    except PKIError:
        pass
    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, common_name)])
    now = _now()
    certificate = (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - CLOCK_SKEW)
        .not_valid_after(now + dt.timedelta(days=days))
        .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
        .add_extension(_key_usage(cert_sign=True), critical=True)
        .add_extension(x509.SubjectKeyIdentifier.from_public_key(key.public_key()), critical=False)
        .sign(key, hashes.SHA256())
    )
    ca = CertificateAuthority(certificate, key, directory / f"{stem}.crt", directory / f"{stem}.key")
    # Key first: a reader that finds the new ca.crt always finds its key beside it.
    write_secret(ca.key_path, private_key_pem(key))
    write_public(ca.cert_path, ca.certificate_pem())
    return ca


def _key_usage(*, cert_sign: bool) -> x509.KeyUsage:
    return x509.KeyUsage(
        digital_signature=True,
        content_commitment=False,
        key_encipherment=not cert_sign,
        data_encipherment=False,
        key_agreement=False,
        key_cert_sign=cert_sign,
        crl_sign=cert_sign,
        encipher_only=False,
        decipher_only=False,
    )


def _issue(
    ca: CertificateAuthority,
    subject: x509.Name,
    *,
    usage: x509.ObjectIdentifier,
    days: int,
    alt_names: Sequence[x509.GeneralName] = (),
) -> IssuedCertificate:
    key = ec.generate_private_key(ec.SECP256R1())
    now = _now()
    builder = (
        x509.CertificateBuilder()
        .subject_name(subject)
        .issuer_name(ca.certificate.subject)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - CLOCK_SKEW)
        .not_valid_after(min(now + dt.timedelta(days=days), ca.certificate.not_valid_after_utc))
        .add_extension(x509.BasicConstraints(ca=False, path_length=None), critical=True)
        .add_extension(_key_usage(cert_sign=False), critical=True)
        .add_extension(x509.ExtendedKeyUsage([usage]), critical=False)
        .add_extension(
            x509.AuthorityKeyIdentifier.from_issuer_public_key(ca.private_key.public_key()), critical=False
        )
    )
    if alt_names:
        builder = builder.add_extension(x509.SubjectAlternativeName(list(alt_names)), critical=False)
    return IssuedCertificate(builder.sign(ca.private_key, hashes.SHA256()), key)


def client_subject(
    common_name: str, organizations: Iterable[str] = (), organizational_units: Iterable[str] = ()
) -> x509.Name:
    """Upstream's x509 authenticator reads CN as the user and each O as a group; Arktos adds OU."""
    attributes = [x509.NameAttribute(NameOID.ORGANIZATION_NAME, o) for o in organizations]
    attributes += [x509.NameAttribute(NameOID.ORGANIZATIONAL_UNIT_NAME, ou) for ou in organizational_units]
    attributes.append(x509.NameAttribute(NameOID.COMMON_NAME, common_name))
    return x509.Name(attributes)


def issue_client_cert(
    ca: CertificateAuthority,
    *,
    common_name: str,
    organizations: Sequence[str] = (),
    organizational_units: Sequence[str] = (),
    days: int = LEAF_DAYS,
) -> IssuedCertificate:
    """A TLS client certificate (extended key usage clientAuth) naming one identity."""
    subject = client_subject(common_name, organizations, organizational_units)
    return _issue(ca, subject, usage=ExtendedKeyUsageOID.CLIENT_AUTH, days=days)


def host_names(hosts: Iterable[str]) -> list[x509.GeneralName]:
    """IP literals become IPAddress entries, everything else DNSName (lower-cased)."""
    names: list[x509.GeneralName] = []
    for host in hosts:
        try:
            names.append(x509.IPAddress(ipaddress.ip_address(host.strip("[]"))))
        except ValueError:
            names.append(x509.DNSName(host.lower()))
    return list(dict.fromkeys(names))


def issue_serving_cert(
    ca: CertificateAuthority,
    *,
    hosts: Sequence[str],
    common_name: str = "kube-apiserver",
    days: int = LEAF_DAYS,
) -> IssuedCertificate:
    """A TLS server certificate (serverAuth) whose subjectAltNames are ``hosts``."""
    if not hosts:
        raise ValueError("a serving certificate needs at least one host")
    subject = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, common_name)])
    return _issue(ca, subject, usage=ExtendedKeyUsageOID.SERVER_AUTH, days=days, alt_names=host_names(hosts))


def certificate_hosts(certificate: x509.Certificate) -> set[x509.GeneralName]:
    try:
        return set(certificate.extensions.get_extension_for_class(x509.SubjectAlternativeName).value)
    except x509.ExtensionNotFound:
        return set()


def subject_matches(certificate: x509.Certificate, expected: x509.Name) -> bool:
    """Same attributes regardless of their order (order carries no meaning to the authenticator)."""
    return sorted(certificate.subject, key=repr) == sorted(expected, key=repr)


def _reusable(pair: IssuedCertificate | None, ca: CertificateAuthority) -> IssuedCertificate | None:
    if pair is None or not signed_by(pair.certificate, ca) or not is_current(pair.certificate):
        return None
    return pair


def ensure_serving_cert(
    ca: CertificateAuthority, cert_path: Path, key_path: Path, *, hosts: Sequence[str]
) -> IssuedCertificate:
    """The serving pair at the paths, reissued unless signed by ``ca``, current and covering ``hosts``."""
    pair = _reusable(parse_pair(read_optional(cert_path), read_optional(key_path)), ca)
    if pair is not None and set(host_names(hosts)) <= certificate_hosts(pair.certificate):
        return pair
    issued = issue_serving_cert(ca, hosts=hosts)
    write_secret(key_path, issued.private_key_pem())
    write_public(cert_path, issued.certificate_pem())
    return issued


def reusable_client_cert(
    pair: IssuedCertificate | None,
    ca: CertificateAuthority,
    *,
    common_name: str,
    organizations: Sequence[str] = (),
    organizational_units: Sequence[str] = (),
) -> IssuedCertificate | None:
    """``pair`` if it is a current client certificate from ``ca`` for exactly this subject."""
    pair = _reusable(pair, ca)
    expected = client_subject(common_name, organizations, organizational_units)
    if pair is None or not subject_matches(pair.certificate, expected):
        return None
    return pair


def ensure_client_cert(
    ca: CertificateAuthority,
    cert_path: Path,
    key_path: Path,
    *,
    common_name: str,
    organizations: Sequence[str] = (),
    organizational_units: Sequence[str] = (),
) -> IssuedCertificate:
    """A client pair kept in files (for tests and tools that want files rather than a kubeconfig)."""
    existing = parse_pair(read_optional(cert_path), read_optional(key_path))
    pair = reusable_client_cert(
        existing,
        ca,
        common_name=common_name,
        organizations=organizations,
        organizational_units=organizational_units,
    )
    if pair is not None:
        return pair
    issued = issue_client_cert(
        ca, common_name=common_name, organizations=organizations, organizational_units=organizational_units
    )
    write_secret(key_path, issued.private_key_pem())
    write_public(cert_path, issued.certificate_pem())
    return issued


def ensure_sa_keypair(directory: Path) -> tuple[Path, Path]:
    """(sa.key, sa.pub) in ``directory``: the RSA key that signs service-account tokens and its
    public half that verifies them (upstream's --service-account-signing-key-file / -key-file)."""
    key_path, pub_path = directory / SA_KEY_FILE, directory / SA_PUBLIC_KEY_FILE
    key = _load_rsa_key(read_optional(key_path))
    if key is None:
        key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
        write_secret(key_path, private_key_pem(key))
    public_pem = key.public_key().public_bytes(
        serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo
    )
    if read_optional(pub_path) != public_pem:
        write_public(pub_path, public_pem)
    return key_path, pub_path


def _load_rsa_key(pem: bytes | None) -> rsa.RSAPrivateKey | None:
    if pem is None:
        return None
    try:
        key = serialization.load_pem_private_key(pem, password=None)
    except (ValueError, TypeError):
        return None
    return key if isinstance(key, rsa.RSAPrivateKey) and key.key_size >= 2048 else None
