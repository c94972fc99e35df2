"""Request-header authentication: a trusted front proxy names the user in headers.

Mirrors k8s.io/apiserver's ``authentication/request/headerrequest`` wrapped in the x509
``Verifier``: only a connection whose client certificate was issued by the request-header CA
(``--requestheader-client-ca-file``, a CA of its own, not the client CA) and whose CN is in
``--requestheader-allowed-names`` (empty: any CN from that CA) may say who the user is. Then the
first non-empty username header is the user, every value of every group header a group, and each
header under an extra prefix an ``extra`` entry (its key lower-cased, then %-decoded). Arktos adds
``X-Remote-Tenant``: the identity's tenant (absent: derived from the user name as for a client
certificate's CN). A trusted connection without a username header authenticates nobody here (the
next authenticator is asked); an allowed CA with a CN not allowed is an error, as upstream's
``x509: subject with cn=... is not in the allowed list``.

The headers are removed from the request once read, as upstream's ``ClearAuthenticationHeaders``
does, and removed unread from every other request, so nothing below (handlers, the kubelet proxy)
ever sees a forged one.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from urllib.parse import unquote

from cryptography import x509
from cryptography.x509.oid import NameOID
from multidict import CIMultiDict, CIMultiDictProxy

from apis.identity import tenant_from_common_name
from server.auth.user import UserInfo
from server.auth.x509 import CertificateAuthorities

DEFAULT_USERNAME_HEADERS = ("X-Remote-User",)
DEFAULT_GROUP_HEADERS = ("X-Remote-Group",)
DEFAULT_EXTRA_HEADER_PREFIXES = ("X-Remote-Extra-",)
# Arktos's extension (docs/design/partition-server.md): the tenant of the identity a proxy names.
TENANT_HEADER = "X-Remote-Tenant"

Headers = CIMultiDictProxy[str] | CIMultiDict[str]


class ProxyNotAllowed(Exception):
    """A certificate of the request-header CA whose CN is not in the allowed names."""


@dataclass(frozen=True, slots=True)
class RequestHeaderConfig:
    """The ``--requestheader-*`` flags (upstream's RequestHeaderConfig plus Arktos's tenant header)."""

    client_ca_file: str
    allowed_names: tuple[str, ...] = ()
    username_headers: tuple[str, ...] = DEFAULT_USERNAME_HEADERS
    group_headers: tuple[str, ...] = DEFAULT_GROUP_HEADERS
    extra_header_prefixes: tuple[str, ...] = DEFAULT_EXTRA_HEADER_PREFIXES
    tenant_header: str = TENANT_HEADER


class RequestHeaderAuthenticator:
    """Reads a front proxy's identity headers, and strips them from every request."""

    def __init__(self, config: RequestHeaderConfig) -> None:
        self._config = config
        self._authorities = CertificateAuthorities.load(Path(config.client_ca_file))
        self._allowed = frozenset(config.allowed_names)
        self._named = frozenset(name.lower() for name in (
            *config.username_headers, *config.group_headers, config.tenant_header))
        self._prefixes = tuple(prefix.lower() for prefix in config.extra_header_prefixes)
        # Per certificate (a connection presents one for all its requests): is it a proxy, and may it
        # speak (True), must it be refused (its CN), or is it no proxy at all (False)?
        self._verdicts: dict[x509.Certificate, bool | str] = {}

    def proxy_trusted(self, cert: x509.Certificate) -> bool:
        """True for a certificate of the request-header CA with an allowed CN; `ProxyNotAllowed`
        for one of that CA whose CN is not allowed; False for any other certificate."""
        verdict = self._verdicts.get(cert)
        if verdict is None:
            verdict = self._verdict(cert)
            if len(self._verdicts) >= 1024:
                self._verdicts.clear()
            self._verdicts[cert] = verdict
        if isinstance(verdict, str):
            raise ProxyNotAllowed(f"x509: subject with cn={verdict} is not in the allowed list")
        return verdict

    def _verdict(self, cert: x509.Certificate) -> bool | str:
        if not self._authorities.issued(cert):
            return False
        common_name = _common_name(cert)
        return True if not self._allowed or common_name in self._allowed else common_name

    def user(self, headers: Headers) -> UserInfo | None:
        """The identity the headers name; None without a username header."""
        name = next((v for h in self._config.username_headers for v in headers.getall(h, ()) if v), "")
        if not name:
            return None
        groups = tuple(v for h in self._config.group_headers for v in headers.getall(h, ()) if v)
        tenant = next((v for v in headers.getall(self._config.tenant_header, ()) if v), "")
        return UserInfo(name=name, groups=groups, tenant=tenant or tenant_from_common_name(name),
                        extra=self._extra(headers))

    def _extra(self, headers: Headers) -> tuple[tuple[str, tuple[str, ...]], ...]:
        prefixes = self._prefixes
        candidates = [(lowered, value) for header, value in headers.items()
                      if (lowered := header.lower()).startswith(prefixes)]
        if not candidates:
            return ()
        extra: dict[str, list[str]] = {}
        # Prefixes first, so each key's values keep the order upstream's newExtra gives them.
        for prefix in prefixes:
            for lowered, value in candidates:
                if lowered.startswith(prefix):
                    extra.setdefault(_extra_key(lowered[len(prefix):]), []).append(value)
        return tuple((key, tuple(values)) for key, values in extra.items())

    def without_headers(self, headers: Headers) -> CIMultiDict[str] | None:
        """A copy of ``headers`` without any identity header; None when there is none to remove."""
        if not any(self._identity_header(name) for name in headers):
            return None
        return CIMultiDict((k, v) for k, v in headers.items() if not self._identity_header(k))

    def _identity_header(self, name: str) -> bool:
        lowered = name.lower()
        return lowered in self._named or lowered.startswith(self._prefixes)


def _extra_key(lowered: str) -> str:
    """Upstream's unescapeExtraKey of the lower-cased name: %-decoded, kept as is when malformed."""
    if "%" not in lowered:
        return lowered
    try:
        return unquote(lowered, errors="strict")
    except UnicodeDecodeError:
        return lowered


def _common_name(cert: x509.Certificate) -> str:
    names = cert.subject.get_attributes_for_oid(NameOID.COMMON_NAME)
    return str(names[0].value) if names else ""
