"""server.auth.authenticator: the chain certificate → bearer token → anonymous.

Covers certificate precedence, token-file users, service-account tokens (incl. deleted and
recreated accounts while the token is cached), refused and malformed bearer headers, and the
``system:authenticated`` group. Leaves out TLS handshakes (component tests).
"""

from __future__ import annotations

import functools
from datetime import UTC, datetime, timedelta

import pytest
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec, rsa
from cryptography.x509.oid import NameOID

from server.auth.authenticator import Authenticator, bearer_token
from server.auth.serviceaccounts import ServiceAccountTokens
from server.auth.tokens import TokenFile
from server.auth.user import ANONYMOUS
from server.errors import Unauthorized

ISSUER = "https://arktos.local"


@functools.cache
def _sa_tokens() -> ServiceAccountTokens:
    key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    pem = key.private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
    )
    return ServiceAccountTokens(pem, [], ISSUER)


def _certificate(cn: str, *orgs: str) -> x509.Certificate:
    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name(
        [x509.NameAttribute(NameOID.COMMON_NAME, cn)]
        + [x509.NameAttribute(NameOID.ORGANIZATION_NAME, o) for o in orgs]
    )
    now = datetime.now(UTC)
    return (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name)
        .public_key(key.public_key())
        .serial_number(1)
        .not_valid_before(now)
        .not_valid_after(now + timedelta(days=1))
        .sign(key, hashes.SHA256())
    )


class Accounts:
    """A stand-in for the watch cache: (tenant, namespace, name) → uid."""

    def __init__(self) -> None:
        self.uids: dict[tuple[str, str, str], str] = {("acme", "default", "builder"): "uid-1"}

    def __call__(self, tenant: str, namespace: str, name: str) -> str | None:
        return self.uids.get((tenant, namespace, name))


def _authenticator(accounts: Accounts | None = None) -> Authenticator:
    return Authenticator(
        token_file=TokenFile.parse('static-tok,alice,u1,"devs",,acme\n'),
        sa_tokens=_sa_tokens(),
        sa_lookup=accounts or Accounts(),
    )


def _sa_token(uid: str = "uid-1") -> str:
    token, _ = _sa_tokens().issue(
        tenant="acme",
        namespace="default",
        name="builder",
        uid=uid,
        audiences=[],
        expiration_seconds=600,
        bound_object=None,
    )
    return token


def test_no_credentials_is_anonymous() -> None:
    assert _authenticator().authenticate(peer_cert=None, authorization_header=None) is ANONYMOUS
    assert (
        _authenticator().authenticate(peer_cert=None, authorization_header="Basic Zm9vOmJhcg==") is ANONYMOUS
    )


def test_certificate_user_gains_authenticated_group_and_wins_over_token() -> None:
    user = _authenticator().authenticate(
        peer_cert=_certificate("system:admin", "system:masters"), authorization_header="Bearer garbage"
    )
    assert user.name == "system:admin"
    assert user.groups == ("system:masters", "system:authenticated")


def test_certificate_without_cn_falls_through_to_token() -> None:
    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(NameOID.ORGANIZATION_NAME, "x")])
    now = datetime.now(UTC)
    cert = (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name)
        .public_key(key.public_key())
        .serial_number(2)
        .not_valid_before(now)
        .not_valid_after(now + timedelta(days=1))
        .sign(key, hashes.SHA256())
    )
    user = _authenticator().authenticate(peer_cert=cert, authorization_header="Bearer static-tok")
    assert user.name == "alice"


def test_static_token_user() -> None:
    user = _authenticator().authenticate(peer_cert=None, authorization_header="Bearer static-tok")
    assert (user.name, user.tenant, user.groups) == ("alice", "acme", ("devs", "system:authenticated"))


@pytest.mark.parametrize("header", ["Bearer unknown", "bearer unknown", "Bearer a.b.c"])
def test_unknown_bearer_token_is_unauthorized(header: str) -> None:
    with pytest.raises(Unauthorized):
        _authenticator().authenticate(peer_cert=None, authorization_header=header)


def test_service_account_token_and_revocation_by_deletion() -> None:
    accounts = Accounts()
    authenticator = _authenticator(accounts)
    token = _sa_token()
    user = authenticator.authenticate(peer_cert=None, authorization_header=f"Bearer {token}")
    assert (user.name, user.tenant) == ("system:serviceaccount:default:builder", "acme")
    # Cached now; deleting the account must still revoke at once.
    del accounts.uids[("acme", "default", "builder")]
    with pytest.raises(Unauthorized):
        authenticator.authenticate(peer_cert=None, authorization_header=f"Bearer {token}")
    # A new account of the same name has another uid: the old token stays refused.
    accounts.uids[("acme", "default", "builder")] = "uid-2"
    with pytest.raises(Unauthorized):
        authenticator.authenticate(peer_cert=None, authorization_header=f"Bearer {token}")


def test_expired_service_account_token_is_unauthorized() -> None:
    token, _ = _sa_tokens().issue(
        tenant="acme",
        namespace="default",
        name="builder",
        uid="uid-1",
        audiences=[],
        expiration_seconds=-300,
        bound_object=None,
    )
    with pytest.raises(Unauthorized):
        _authenticator().authenticate(peer_cert=None, authorization_header=f"Bearer {token}")


@pytest.mark.parametrize(
    ("header", "token"),
    [
        (None, None),
        ("", None),
        ("Bearer", None),
        ("Bearer ", None),
        ("Token abc", None),
        ("Bearer abc", "abc"),
        ("  BEARER abc  ", "abc"),
        ("Bearer abc def", "abc"),
    ],
)
def test_bearer_header_parsing(header: str | None, token: str | None) -> None:
    assert bearer_token(header) == token
