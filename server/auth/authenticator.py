"""The authentication chain every request passes: front proxy headers, client certificate, then
bearer token, else anonymous.

Mirrors upstream's union authenticator (k8s.io/apiserver/pkg/authentication/request/union): the
first authenticator that recognises the request wins (request headers, then x509, then tokens); a
bearer token that no token authenticator accepts is an error (401), and so is a client certificate
no authenticator accepts when no token follows (upstream's union returns the aggregated errors, and
its anonymous fallback fails on them); a request without credentials is anonymous.
Every authenticated identity gains ``system:authenticated`` (upstream's group adder).

Verifying an RS256 signature costs far more than the rest of a request's authentication, so
verified service-account tokens are cached briefly (upstream caches token results too); the
service account's existence is still checked on every request, so deleting it revokes its tokens
at once.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable
from dataclasses import dataclass

from cryptography import x509

from apis.identity import bearer_token
from server.auth.requestheader import Headers, ProxyNotAllowed, RequestHeaderAuthenticator
from server.auth.serviceaccounts import InvalidToken, ServiceAccountClaims, ServiceAccountTokens
from server.auth.tokens import TokenFile
from server.auth.user import ALL_AUTHENTICATED, ANONYMOUS, UserInfo
from server.auth.x509 import CertificateAuthorities, CertificateIdentityError, user_from_certificate
from server.errors import Unauthorized

log = logging.getLogger(__name__)

# (tenant, namespace, name) -> uid of the service account, or None when it does not exist.
ServiceAccountLookup = Callable[[str, str, str], str | None]

TOKEN_CACHE_TTL_SECONDS = 10.0
TOKEN_CACHE_MAX_ENTRIES = 4096
CERT_CACHE_MAX_ENTRIES = 1024


@dataclass(frozen=True, slots=True)
class _CachedToken:
    user: UserInfo
    claims: ServiceAccountClaims
    valid_until: float


class Authenticator:
    """Turns a request's credentials into a `UserInfo`."""

    def __init__(self, token_file: TokenFile | None = None, sa_tokens: ServiceAccountTokens | None = None,
                 sa_lookup: ServiceAccountLookup | None = None, *,
                 request_header: RequestHeaderAuthenticator | None = None,
                 client_authorities: CertificateAuthorities | None = None) -> None:
        """``client_authorities``: when the TLS layer also trusts another CA (the request-header
        CA), the client CA's certificates, which alone vouch for an x509 identity."""
        self._token_file = token_file
        self._sa_tokens = sa_tokens
        self._sa_lookup = sa_lookup
        self._request_header = request_header
        self._client_authorities = client_authorities
        self._token_cache: dict[str, _CachedToken] = {}
        self._cert_cache: dict[x509.Certificate, tuple[UserInfo | None, bool]] = {}

    def authenticate(self, *, peer_cert: x509.Certificate | None, authorization_header: str | None,
                     headers: Headers | None = None) -> UserInfo:
        """The requester; `ANONYMOUS` without credentials; `Unauthorized` for a refused bearer token
        or a refused client certificate without a token."""
        refused = False
        if peer_cert is not None:
            proxied, refused = self._proxied_user(peer_cert, headers)
            if proxied is not None:
                return proxied
            user, not_client = self._certificate_user(peer_cert)
            if user is not None:
                return user
            refused = refused or not_client
        token = bearer_token(authorization_header)
        if token is None:
            if refused:
                raise Unauthorized("Unauthorized")
            return ANONYMOUS
        return self._token_user(token)

    def _proxied_user(self, cert: x509.Certificate,
                      headers: Headers | None) -> tuple[UserInfo | None, bool]:
        """(the user a trusted front proxy names, whether the proxy's certificate was refused)."""
        if self._request_header is None or headers is None:
            return None, False
        try:
            if not self._request_header.proxy_trusted(cert):
                return None, False
        except ProxyNotAllowed as e:
            log.debug("request headers ignored: %s", e)
            return None, True
        user = self._request_header.user(headers)
        return (user.with_group(ALL_AUTHENTICATED) if user is not None else None), False

    def _certificate_user(self, cert: x509.Certificate) -> tuple[UserInfo | None, bool]:
        """(the certificate's user, whether x509 refused it: not issued by the client CA)."""
        # A connection presents the same certificate for all its requests: map it once.
        cached = self._cert_cache.get(cert)
        if cached is not None:
            return cached
        user: UserInfo | None = None
        refused = self._client_authorities is not None and not self._client_authorities.issued(cert)
        if not refused:
            try:
                user = user_from_certificate(cert).with_group(ALL_AUTHENTICATED)
            except CertificateIdentityError:
                user = None  # upstream: an empty CN is no x509 credential, not an error
        if len(self._cert_cache) >= CERT_CACHE_MAX_ENTRIES:
            self._cert_cache.clear()
        self._cert_cache[cert] = (user, refused)
        return user, refused

    def _token_user(self, token: str) -> UserInfo:
        if self._token_file is not None:
            listed = self._token_file.lookup(token)
            if listed is not None:
                return listed.with_group(ALL_AUTHENTICATED)
        now = time.time()
        cached = self._token_cache.get(token)
        if cached is not None and cached.valid_until > now:
            self._require_service_account(cached.claims)
            return cached.user
        if self._sa_tokens is not None:
            try:
                claims = self._sa_tokens.verify(token)
            except InvalidToken as e:
                log.debug("refused a service-account token: %s", e)
                raise Unauthorized("Unauthorized") from e
            if claims is not None:
                self._require_service_account(claims)
                user = claims.user()
                self._remember(token, _CachedToken(user, claims, min(now + TOKEN_CACHE_TTL_SECONDS,
                                                                      claims.expires_at)))
                return user
        raise Unauthorized("Unauthorized")

    def _require_service_account(self, claims: ServiceAccountClaims) -> None:
        """Upstream's legacy/bound token validator: the account must exist with the token's uid."""
        if self._sa_lookup is None:
            return
        uid = self._sa_lookup(claims.tenant, claims.namespace, claims.name)
        if uid is None or (claims.uid and uid != claims.uid):
            log.debug("service account %s/%s/%s is gone or replaced", claims.tenant, claims.namespace,
                      claims.name)
            raise Unauthorized("Unauthorized")

    def _remember(self, token: str, entry: _CachedToken) -> None:
        if len(self._token_cache) >= TOKEN_CACHE_MAX_ENTRIES:
            now = time.time()
            self._token_cache = {t: e for t, e in self._token_cache.items() if e.valid_until > now}
            if len(self._token_cache) >= TOKEN_CACHE_MAX_ENTRIES:
                self._token_cache.clear()
        self._token_cache[token] = entry
