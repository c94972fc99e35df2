"""server.auth.serviceaccounts: issuing and verifying service-account JWTs (RS256).

Covers the claims (sub, aud, kubernetes.io, Arktos tenant), round trip to a UserInfo, bound pods,
expiry (beyond the one-minute leeway), tampering, foreign keys and issuers, audiences, key
rotation with several verification keys and verify-only instances.
Leaves out whether the service account still exists (the authenticator's check).
"""

from __future__ import annotations

import base64
import functools
import json
import time

import jwt
import pytest
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import rsa

from server.auth.serviceaccounts import TENANT_CLAIM, InvalidToken, ServiceAccountTokens, key_id

ISSUER = "https://arktos.local"


@functools.cache
def _private_pem(index: int) -> bytes:
    key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    return key.private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
    )


def _private_key(index: int) -> rsa.RSAPrivateKey:
    key = serialization.load_pem_private_key(_private_pem(index), password=None)
    assert isinstance(key, rsa.RSAPrivateKey)
    return key


def _public_pem(index: int) -> bytes:
    return (
        _private_key(index)
        .public_key()
        .public_bytes(serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo)
    )


def _tokens(index: int = 0, **kwargs: object) -> ServiceAccountTokens:
    return ServiceAccountTokens(_private_pem(index), [], ISSUER, **kwargs)  # type: ignore[arg-type]


def _issue(tokens: ServiceAccountTokens, **overrides: object) -> str:
    arguments: dict[str, object] = dict(
        tenant="acme",
        namespace="default",
        name="builder",
        uid="sa-uid",
        audiences=[],
        expiration_seconds=3600,
        bound_object=None,
    )
    arguments.update(overrides)
    token, _ = tokens.issue(**arguments)  # type: ignore[arg-type]
    return token


def test_issue_and_verify_round_trip() -> None:
    tokens = _tokens()
    token, expiry = tokens.issue(
        tenant="acme",
        namespace="default",
        name="builder",
        uid="sa-uid",
        audiences=[],
        expiration_seconds=600,
        bound_object=None,
    )
    assert abs(expiry.timestamp() - (time.time() + 600)) < 5
    raw = jwt.decode(token, options={"verify_signature": False})
    assert raw["sub"] == "system:serviceaccount:default:builder"
    assert raw["aud"] == [ISSUER]
    assert raw[TENANT_CLAIM] == "acme"
    assert raw["kubernetes.io"] == {
        "namespace": "default",
        "serviceaccount": {"name": "builder", "uid": "sa-uid"},
    }
    assert jwt.get_unverified_header(token)["kid"] == key_id(_private_key(0).public_key())
    claims = tokens.verify(token)
    assert claims is not None
    user = claims.user()
    assert (user.name, user.uid, user.tenant) == ("system:serviceaccount:default:builder", "sa-uid", "acme")
    assert user.groups == ("system:serviceaccounts", "system:serviceaccounts:default", "system:authenticated")


def test_bound_pod_appears_in_claims_and_user_extra() -> None:
    tokens = _tokens()
    token = _issue(tokens, bound_object={"kind": "Pod", "name": "web-1", "uid": "pod-uid"})
    claims = tokens.verify(token)
    assert claims is not None and (claims.pod_name, claims.pod_uid) == ("web-1", "pod-uid")
    assert dict(claims.user().extra)["authentication.kubernetes.io/pod-name"] == ("web-1",)
    with pytest.raises(ValueError, match="cannot bind"):
        _issue(tokens, bound_object={"kind": "ConfigMap", "name": "x"})


def test_expired_token_is_refused_after_leeway() -> None:
    tokens = _tokens()
    with pytest.raises(InvalidToken, match="expired"):
        tokens.verify(_issue(tokens, expiration_seconds=-120))
    # Within upstream's one-minute leeway the token still counts.
    assert tokens.verify(_issue(tokens, expiration_seconds=-30)) is not None


def test_tampered_payload_is_refused() -> None:
    tokens = _tokens()
    header, payload, signature = _issue(tokens).split(".")
    claims = json.loads(base64.urlsafe_b64decode(payload + "=" * (-len(payload) % 4)))
    claims[TENANT_CLAIM] = "system"
    forged = base64.urlsafe_b64encode(json.dumps(claims).encode()).rstrip(b"=").decode()
    with pytest.raises(InvalidToken, match="signature"):
        tokens.verify(f"{header}.{forged}.{signature}")


def test_token_signed_by_another_key_is_refused() -> None:
    with pytest.raises(InvalidToken):
        _tokens(0).verify(_issue(_tokens(1)))


def test_foreign_issuer_and_non_jwt_are_not_ours() -> None:
    tokens = _tokens()
    other = ServiceAccountTokens(_private_pem(0), [], "https://elsewhere")
    assert tokens.verify(_issue(other)) is None
    assert tokens.verify("not-a-jwt") is None
    assert tokens.verify("abc,def") is None


def test_audience_must_match_the_api_audiences() -> None:
    tokens = _tokens(api_audiences=["api"])
    assert tokens.verify(_issue(tokens)) is not None  # default audiences are the API's
    with pytest.raises(InvalidToken, match="audiences"):
        tokens.verify(_issue(tokens, audiences=["vault"]))


def test_rotation_verifies_with_any_configured_public_key() -> None:
    old = _tokens(1)
    verifier = ServiceAccountTokens(None, [_public_pem(0), _public_pem(1)], ISSUER)
    assert not verifier.can_issue
    assert verifier.verify(_issue(old)) is not None
    assert verifier.verify(_issue(_tokens(0))) is not None
    with pytest.raises(RuntimeError):
        _issue(verifier)


def test_missing_tenant_claim_means_system() -> None:
    key = _private_key(0)
    now = int(time.time())
    token = jwt.encode(
        {
            "iss": ISSUER,
            "sub": "system:serviceaccount:kube-system:ctl",
            "aud": [ISSUER],
            "exp": now + 60,
            "iat": now,
            "kubernetes.io": {"namespace": "kube-system", "serviceaccount": {"name": "ctl", "uid": "u"}},
        },
        key,
        algorithm="RS256",
    )
    claims = _tokens().verify(token)
    assert claims is not None and claims.tenant == "system"


def test_inconsistent_subject_is_refused() -> None:
    key = _private_key(0)
    now = int(time.time())
    token = jwt.encode(
        {
            "iss": ISSUER,
            "sub": "system:serviceaccount:other:ctl",
            "aud": [ISSUER],
            "exp": now + 60,
            "iat": now,
            "kubernetes.io": {"namespace": "kube-system", "serviceaccount": {"name": "ctl", "uid": "u"}},
        },
        key,
        algorithm="RS256",
    )
    with pytest.raises(InvalidToken):
        _tokens().verify(token)
