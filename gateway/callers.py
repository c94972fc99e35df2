"""Who is calling, as far as the gateway needs it: how to forward the identity, and its tenant.

The gateway authenticates only to route and to forward. A client certificate verified against
``--client-ca-file`` is read as the API server reads it (``apis.identity.certificate_subject``) and
forwarded as front-proxy headers. A bearer token is forwarded untouched for the partition to
authenticate; the gateway only looks up its tenant to pick the partition: a row of
``--token-auth-file`` (Arktos's tenant column) or the ``kubernetes.io/serviceaccount/tenant`` claim
of a service-account JWT whose signature one of ``--service-account-key-file`` verifies. A token
the gateway does not know routes as tenant ``system`` (tp0), which answers 401 for a bad one. A
system-tenant caller impersonating another tenant's identity (``Impersonate-Extra-
arktos.futurewei.com/tenant``) is routed to that tenant, where the partition checks the impersonation.
"""

from __future__ import annotations

import csv
import functools
import io
import logging
from collections import OrderedDict
from dataclasses import dataclass
from pathlib import Path
from typing import Literal

import jwt
from aiohttp import web
from cryptography import x509
from cryptography.hazmat.primitives import serialization

from apis.identity import SYSTEM_TENANT, TENANT_EXTRA, CertificateSubject, bearer_token, certificate_subject

log = logging.getLogger(__name__)

SERVICE_ACCOUNT_TENANT_CLAIM = "kubernetes.io/serviceaccount/tenant"
IMPERSONATE_TENANT_HEADER = f"Impersonate-Extra-{TENANT_EXTRA}"
_TOKEN_TENANTS_KEPT = 4096


@dataclass(frozen=True, slots=True)
class Caller:
    """How a request's identity travels on, and the tenant it routes by."""

    kind: Literal["certificate", "token", "anonymous"]
    tenant: str
    subject: CertificateSubject | None = None


@functools.lru_cache(maxsize=1024)
def _subject_of(der: bytes) -> CertificateSubject | None:
    return certificate_subject(x509.load_der_x509_certificate(der))


def peer_subject(request: web.BaseRequest) -> CertificateSubject | None:
    """The verified client certificate's identity (the TLS layer checked the chain), or None."""
    transport = request.transport
    ssl_object = transport.get_extra_info("ssl_object") if transport is not None else None
    der = ssl_object.getpeercert(binary_form=True) if ssl_object is not None else None
    return _subject_of(der) if der else None


def token_file_tenants(path: str) -> dict[str, str]:
    """token -> tenant of ``--token-auth-file`` (column 6, default ``system``); rows too short skipped
    (the partitions, which read the same file, refuse a malformed one at start-up)."""
    tenants: dict[str, str] = {}
    for row in csv.reader(io.StringIO(Path(path).read_text(encoding="utf-8")), skipinitialspace=True):
        if len(row) >= 3 and row[0].strip():
            tenants[row[0].strip()] = (row[5].strip() if len(row) > 5 else "") or SYSTEM_TENANT
    return tenants


def _public_key(path: str) -> object:
    data = Path(path).read_bytes()
    try:
        return serialization.load_pem_public_key(data)
    except ValueError:
        return serialization.load_pem_private_key(data, password=None).public_key()


class TokenTenants:
    """Maps bearer tokens to the tenant they route to."""

    def __init__(self, *, file_tenants: dict[str, str], service_account_keys: list[object]) -> None:
        self._file = file_tenants
        self._keys = service_account_keys
        self._jwt_tenants: OrderedDict[str, str] = OrderedDict()

    @classmethod
    def load(cls, *, token_auth_file: str, service_account_key_files: tuple[str, ...]) -> TokenTenants:
        return cls(file_tenants=token_file_tenants(token_auth_file) if token_auth_file else {},
                   service_account_keys=[_public_key(p) for p in service_account_key_files])

    def tenant(self, token: str) -> str:
        found = self._file.get(token)
        if found is not None:
            return found
        cached = self._jwt_tenants.get(token)
        if cached is None:
            cached = self._jwt_tenant(token)
            self._jwt_tenants[token] = cached
            if len(self._jwt_tenants) > _TOKEN_TENANTS_KEPT:
                self._jwt_tenants.popitem(last=False)
        return cached

    def _jwt_tenant(self, token: str) -> str:
        """The tenant claim of a JWT one of our keys signed; expiry and audience are the partition's
        checks (it authenticates the token again), so they are not checked here."""
        for key in self._keys:
            try:
                claims = jwt.decode(token, key, algorithms=["RS256"],  # type: ignore[arg-type]
                                    options={"verify_exp": False, "verify_aud": False, "verify_nbf": False,
                                             "verify_iat": False})
            except jwt.PyJWTError:
                continue
            return str(claims.get(SERVICE_ACCOUNT_TENANT_CLAIM) or SYSTEM_TENANT)
        return SYSTEM_TENANT


def identify(request: web.BaseRequest, tokens: TokenTenants) -> Caller:
    """The caller of ``request``: a certificate wins over a token (upstream's authenticator order)."""
    subject = peer_subject(request)
    if subject is not None:
        caller = Caller("certificate", subject.tenant, subject)
    else:
        token = bearer_token(request.headers.get("Authorization"))
        caller = Caller("token", tokens.tenant(token)) if token else Caller("anonymous", SYSTEM_TENANT)
    named = request.headers.get(IMPERSONATE_TENANT_HEADER)
    if named and caller.tenant == SYSTEM_TENANT:
        return Caller(caller.kind, named.strip(), caller.subject)
    return caller
