"""Who is calling the kubelet's HTTPS port: a client certificate, else a bearer token.

Why this exists: upstream's kubelet authenticates in the order of its delegating authenticator — an
x509 client certificate verified against ``--client-ca-file`` (the subject read exactly as the API
server reads it: `apis.identity.certificate_subject`), then a bearer token sent to the API server
in a ``TokenReview`` (``--authentication-token-webhook``), whose answers are cached
(``--authentication-token-webhook-cache-ttl``, 2 minutes, for accepted and refused tokens alike;
failures to ask are not cached). Every identity gains ``system:authenticated``, as upstream's group
adder gives it. The tenant travels as the extra ``arktos.futurewei.com/tenant`` — the one Arktos's
TokenReview reports and its SubjectAccessReview reads — so a tenant's user stays that tenant's user
when the kubelet asks about it.
"""

from __future__ import annotations

import functools
import hashlib
import logging
from dataclasses import dataclass
from typing import Any

from cryptography import x509

from apis.identity import ALL_AUTHENTICATED, TENANT_EXTRA, certificate_subject
from kubelet.streaming.expiring_cache import ExpiringCache
from kubelet.streaming.reviews import Reviews

log = logging.getLogger(__name__)

DEFAULT_TOKEN_CACHE_TTL_S = 120.0
Extra = tuple[tuple[str, tuple[str, ...]], ...]


@dataclass(frozen=True, slots=True)
class Requester:
    """An authenticated caller, as a SubjectAccessReview names its subject. Hashable (cache keys)."""

    user: str
    groups: tuple[str, ...] = ()
    uid: str = ""
    extra: Extra = ()

    def review_subject(self) -> dict[str, Any]:
        """The ``user``/``uid``/``groups``/``extra`` fields of a SubjectAccessReview spec."""
        subject: dict[str, Any] = {"user": self.user, "groups": list(self.groups)}
        if self.uid:
            subject["uid"] = self.uid
        if self.extra:
            subject["extra"] = {key: list(values) for key, values in self.extra}
        return subject


@functools.lru_cache(maxsize=1024)
def requester_from_certificate(der: bytes) -> Requester | None:
    """The caller a verified client certificate names; None for a certificate without a CN."""
    subject = certificate_subject(x509.load_der_x509_certificate(der))
    if subject is None:
        return None
    groups = tuple(dict.fromkeys([*subject.groups, ALL_AUTHENTICATED]))
    return Requester(subject.user, groups, extra=((TENANT_EXTRA, (subject.tenant,)),))


def requester_from_review(status: dict[str, Any]) -> Requester | None:
    """The user of an answered TokenReview, or None when the token was not accepted."""
    user = status.get("user") if status.get("authenticated") is True else None
    if not isinstance(user, dict) or not user.get("username"):
        return None
    groups = [str(g) for g in user.get("groups") or ()]
    extra = tuple(sorted((str(key), tuple(str(v) for v in values or ()))
                         for key, values in (user.get("extra") or {}).items()))
    return Requester(str(user["username"]), tuple(dict.fromkeys([*groups, ALL_AUTHENTICATED])),
                     str(user.get("uid") or ""), extra)


class TokenAuthenticator:
    """Bearer tokens through TokenReview, with upstream's cache."""

    def __init__(self, reviews: Reviews, *, ttl_s: float = DEFAULT_TOKEN_CACHE_TTL_S) -> None:
        self._reviews = reviews
        self._ttl_s = ttl_s
        # Keyed by the token's digest, never the token: the cache must not hold credentials.
        self._cache: ExpiringCache[bytes, tuple[Requester | None]] = ExpiringCache()

    async def authenticate(self, token: str) -> Requester | None:
        """The token's user; None when the API server does not accept it. `ReviewFailed` propagates."""
        key = hashlib.sha256(token.encode()).digest()
        cached = self._cache.get(key)
        if cached is not None:
            return cached[0]
        requester = requester_from_review(await self._reviews.token_review(token))
        self._cache.put(key, (requester,), ttl_s=self._ttl_s)
        return requester
