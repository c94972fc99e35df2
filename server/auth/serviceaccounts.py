"""Service-account tokens: RS256 JWTs the API server issues (TokenRequest) and accepts as bearer tokens.

The claims follow upstream's bound service-account tokens (k8s.io/kubernetes/pkg/serviceaccount
claims.go): ``iss``, ``sub`` = ``system:serviceaccount:{ns}:{name}``, ``aud``, ``exp``/``iat``/``nbf``,
``jti`` and the private ``kubernetes.io`` claim {namespace, serviceaccount{name, uid}, pod|secret|node
{name, uid}}. Arktos adds ``kubernetes.io/serviceaccount/tenant`` (ARKTOS.md §3). The ``kid``
header is derived from the public key as upstream does, so several verification keys (rotation)
can be configured. That the service account still exists is the caller's check (the
authenticator asks the watch cache), as upstream's token getter does.
"""

from __future__ import annotations

import base64
import hashlib
import time
import uuid
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

import jwt
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric.rsa import RSAPrivateKey, RSAPublicKey

from server.auth.user import (
    ALL_AUTHENTICATED,
    SERVICE_ACCOUNTS,
    UserInfo,
    service_account_username,
    service_accounts_in,
)

TENANT_CLAIM = "kubernetes.io/serviceaccount/tenant"
PRIVATE_CLAIM = "kubernetes.io"
# Upstream validates exp/nbf with jwt.DefaultLeeway (one minute) to tolerate clock skew.
CLOCK_SKEW_LEEWAY_SECONDS = 60
# Extra keys upstream attaches to a service account user bound to a pod.
POD_NAME_EXTRA = "authentication.kubernetes.io/pod-name"
POD_UID_EXTRA = "authentication.kubernetes.io/pod-uid"
_BOUND_KINDS = {"Pod": "pod", "Secret": "secret", "Node": "node"}

PemInput = bytes | str


class InvalidToken(Exception):
    """A token we issued (our issuer) that must be refused: expired, tampered, wrong audience, malformed."""


@dataclass(frozen=True, slots=True)
class ServiceAccountClaims:
    """What a verified token says about its service account."""

    tenant: str
    namespace: str
    name: str
    uid: str
    audiences: tuple[str, ...]
    expires_at: float
    pod_name: str = ""
    pod_uid: str = ""

    def user(self) -> UserInfo:
        """The identity upstream derives from a service-account token (plus its tenant)."""
        extra: tuple[tuple[str, tuple[str, ...]], ...] = ()
        if self.pod_name:
            extra = ((POD_NAME_EXTRA, (self.pod_name,)), (POD_UID_EXTRA, (self.pod_uid,)))
        return UserInfo(
            name=service_account_username(self.namespace, self.name),
            uid=self.uid,
            groups=(SERVICE_ACCOUNTS, service_accounts_in(self.namespace), ALL_AUTHENTICATED),
            tenant=self.tenant,
            extra=extra,
        )


def _as_bytes(pem: PemInput) -> bytes:
    return pem.encode() if isinstance(pem, str) else pem


def key_id(public_key: RSAPublicKey) -> str:
    """Upstream's keyIDFromPublicKey: unpadded base64url of the SHA-256 of the DER public key."""
    der = public_key.public_bytes(serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo)
    return base64.urlsafe_b64encode(hashlib.sha256(der).digest()).rstrip(b"=").decode()


class ServiceAccountTokens:
    """Issues and verifies service-account JWTs for one issuer."""

    def __init__(self, signing_key_pem: PemInput | None, public_keys_pem: PemInput | Sequence[PemInput],
                 issuer: str, *, api_audiences: Sequence[str] = ()) -> None:
        self.issuer = issuer
        self.api_audiences: tuple[str, ...] = tuple(api_audiences) or (issuer,)
        self._signing_key: RSAPrivateKey | None = None
        self._public_keys: dict[str, RSAPublicKey] = {}
        if signing_key_pem is not None:
            private = serialization.load_pem_private_key(_as_bytes(signing_key_pem), password=None)
            if not isinstance(private, RSAPrivateKey):
                raise ValueError("the service-account signing key must be an RSA private key")
            self._signing_key = private
            self._public_keys[key_id(private.public_key())] = private.public_key()
        pems = [public_keys_pem] if isinstance(public_keys_pem, bytes | str) else list(public_keys_pem)
        for pem in pems:
            public = serialization.load_pem_public_key(_as_bytes(pem))
            if not isinstance(public, RSAPublicKey):
                raise ValueError("service-account verification keys must be RSA public keys")
            self._public_keys[key_id(public)] = public
        if not self._public_keys:
            raise ValueError("service-account tokens need a signing key or at least one public key")

    @property
    def can_issue(self) -> bool:
        return self._signing_key is not None

    def issue(self, *, tenant: str, namespace: str, name: str, uid: str, audiences: Sequence[str],
              expiration_seconds: int, bound_object: dict[str, Any] | None) -> tuple[str, datetime]:
        """Sign a token for the service account; returns it with its expiry (UTC)."""
        if self._signing_key is None:
            raise RuntimeError("no service-account signing key is configured")
        now = int(time.time())
        expiry = now + int(expiration_seconds)
        private: dict[str, Any] = {"namespace": namespace, "serviceaccount": {"name": name, "uid": uid}}
        if bound_object:
            claim = _BOUND_KINDS.get(str(bound_object.get("kind", "")))
            if claim is None:
                raise ValueError(f"cannot bind a token to a {bound_object.get('kind')!r}")
            private[claim] = {"name": bound_object.get("name", ""), "uid": bound_object.get("uid", "")}
        claims = {
            "iss": self.issuer,
            "sub": service_account_username(namespace, name),
            "aud": list(audiences) or list(self.api_audiences),
            "exp": expiry,
            "iat": now,
            "nbf": now,
            "jti": str(uuid.uuid4()),
            PRIVATE_CLAIM: private,
            TENANT_CLAIM: tenant,
        }
        kid = key_id(self._signing_key.public_key())
        token = jwt.encode(claims, self._signing_key, algorithm="RS256", headers={"kid": kid})
        return token, datetime.fromtimestamp(expiry, tz=UTC)

    def verify(self, token: str) -> ServiceAccountClaims | None:
        """Claims of a valid token; None when the token is not ours; `InvalidToken` when it is but fails."""
        try:
            header = jwt.get_unverified_header(token)
            unverified = jwt.decode(token, options={"verify_signature": False})
        except jwt.PyJWTError:
            return None  # not a JWT: another authenticator may know it
        if unverified.get("iss") != self.issuer:
            return None
        keys = [self._public_keys[header["kid"]]] if header.get("kid") in self._public_keys \
            else list(self._public_keys.values())
        claims = self._verified_claims(token, keys)
        return _claims_from(claims)

    def _verified_claims(self, token: str, keys: list[RSAPublicKey]) -> dict[str, Any]:
        last: jwt.PyJWTError | None = None
        for key in keys:
            try:
                claims: dict[str, Any] = jwt.decode(
                    token, key, algorithms=["RS256"], audience=list(self.api_audiences), issuer=self.issuer,
                    leeway=CLOCK_SKEW_LEEWAY_SECONDS, options={"require": ["exp", "iat", "sub"]})
                return claims
            except jwt.InvalidSignatureError as e:
                last = e  # maybe signed by another of our keys
            except jwt.ExpiredSignatureError as e:
                raise InvalidToken("Token has expired.") from e
            except jwt.InvalidAudienceError as e:
                raise InvalidToken("token audiences are invalid for the target audiences") from e
            except jwt.PyJWTError as e:
                raise InvalidToken(f"invalid service-account token: {e}") from e
        raise InvalidToken("invalid signature") from last


def _claims_from(claims: dict[str, Any]) -> ServiceAccountClaims:
    private = claims.get(PRIVATE_CLAIM)
    if not isinstance(private, dict):
        raise InvalidToken("service-account token lacks the kubernetes.io claim")
    namespace = str(private.get("namespace") or "")
    account = private.get("serviceaccount") or {}
    name, uid = str(account.get("name") or ""), str(account.get("uid") or "")
    if not namespace or not name or claims.get("sub") != service_account_username(namespace, name):
        raise InvalidToken("service-account token names no service account consistently")
    pod = private.get("pod") or {}
    audiences = claims.get("aud") or []
    return ServiceAccountClaims(
        tenant=str(claims.get(TENANT_CLAIM) or "system"),
        namespace=namespace,
        name=name,
        uid=uid,
        audiences=(audiences,) if isinstance(audiences, str) else tuple(audiences),
        expires_at=float(claims["exp"]),
        pod_name=str(pod.get("name") or ""),
        pod_uid=str(pod.get("uid") or ""),
    )
