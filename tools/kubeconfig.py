"""Kubeconfig files for the cluster's users: admin, components, and tenant users.

A kubeconfig is what lets stock kubectl (and the official client) reach the server unmodified,
so the documents written here use only upstream's `clientcmd/api/v1` fields: clusters with
`server` and `certificate-authority(-data)`, users with `client-certificate(-data)`,
`client-key(-data)` or `token`, and named contexts. Credentials are embedded by default, so a
kubeconfig can be copied elsewhere on its own; file references are available for tools that
prefer them. A context may point at Arktos's prefix form `https://host:port/tenants/{t}`, which
sends every request of a stock client into one tenant (ARKTOS.md §1).

`ensure_client_kubeconfig` keeps an existing file's client certificate when it is still good,
so re-running arktos-up.sh does not invalidate kubeconfigs handed out before.
"""

from __future__ import annotations

import base64
import binascii
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml

from pki.atomic_file import read_optional, write_secret
from pki.certificates import (
    CertificateAuthority,
    IssuedCertificate,
    issue_client_cert,
    parse_pair,
    reusable_client_cert,
)

DEFAULT_CLUSTER = "local-up-cluster"
DEFAULT_CONTEXT = "default"
PREFIX_CONTEXT = "prefix"


@dataclass(frozen=True, slots=True)
class ClusterAuthority:
    """How a client trusts the server: the CA's PEM embedded, or the path of ca.crt."""

    ca_pem: bytes | None = None
    ca_file: Path | None = None


@dataclass(frozen=True, slots=True)
class ClientCredentials:
    """How a client proves who it is: certificate + key (embedded or files) and/or a bearer token."""

    certificate_pem: bytes | None = None
    key_pem: bytes | None = None
    certificate_file: Path | None = None
    key_file: Path | None = None
    token: str | None = None


@dataclass(frozen=True, slots=True)
class ContextSpec:
    """One named context: its cluster entry (same name) pointing at ``server``."""

    name: str
    cluster: str
    server: str


def tenant_prefix_server(server: str, tenant: str) -> str:
    """The server URL that confines a stock client to ``tenant`` through our `/tenants/{t}` prefix."""
    return f"{server.rstrip('/')}/tenants/{tenant}"


def standard_contexts(server: str, *, prefix_tenant: str | None = None) -> list[ContextSpec]:
    """Context `default` at ``server``; with ``prefix_tenant``, also context `prefix` at its prefix URL."""
    contexts = [ContextSpec(DEFAULT_CONTEXT, DEFAULT_CLUSTER, server)]
    if prefix_tenant:
        contexts.append(
            ContextSpec(PREFIX_CONTEXT, PREFIX_CONTEXT, tenant_prefix_server(server, prefix_tenant))
        )
    return contexts


def _b64(data: bytes) -> str:
    return base64.b64encode(data).decode("ascii")


def _cluster_entry(context: ContextSpec, authority: ClusterAuthority) -> dict[str, Any]:
    cluster: dict[str, Any] = {"server": context.server}
    if authority.ca_pem is not None:
        cluster["certificate-authority-data"] = _b64(authority.ca_pem)
    elif authority.ca_file is not None:
        cluster["certificate-authority"] = str(authority.ca_file)
    return {"name": context.cluster, "cluster": cluster}


def _user_entry(user: str, credentials: ClientCredentials) -> dict[str, Any]:
    fields: dict[str, Any] = {}
    if credentials.certificate_pem is not None:
        fields["client-certificate-data"] = _b64(credentials.certificate_pem)
    elif credentials.certificate_file is not None:
        fields["client-certificate"] = str(credentials.certificate_file)
    if credentials.key_pem is not None:
        fields["client-key-data"] = _b64(credentials.key_pem)
    elif credentials.key_file is not None:
        fields["client-key"] = str(credentials.key_file)
    if credentials.token is not None:
        fields["token"] = credentials.token
    return {"name": user, "user": fields}


def kubeconfig_document(
    *,
    user: str,
    credentials: ClientCredentials,
    authority: ClusterAuthority,
    contexts: Sequence[ContextSpec],
    current_context: str | None = None,
) -> dict[str, Any]:
    """A `v1` Config with one user shared by every context; current context defaults to the first."""
    if not contexts:
        raise ValueError("a kubeconfig needs at least one context")
    return {
        "apiVersion": "v1",
        "kind": "Config",
        "clusters": [_cluster_entry(c, authority) for c in contexts],
        "users": [_user_entry(user, credentials)],
        "contexts": [{"name": c.name, "context": {"cluster": c.cluster, "user": user}} for c in contexts],
        "current-context": current_context or contexts[0].name,
        "preferences": {},
    }


def render(document: dict[str, Any]) -> bytes:
    return yaml.safe_dump(document, sort_keys=False, default_flow_style=False).encode()


def write_kubeconfig(path: Path, document: dict[str, Any]) -> bool:
    """Writes atomically with mode 0600 (it may hold keys); False when the file already says the same."""
    data = render(document)
    if read_optional(path) == data:
        return False
    write_secret(path, data)
    return True


def read_kubeconfig(path: Path) -> dict[str, Any] | None:
    raw = read_optional(path)
    if raw is None:
        return None
    try:
        document = yaml.safe_load(raw)
    except yaml.YAMLError:
        return None
    return document if isinstance(document, dict) else None


def embedded_client_pair(document: dict[str, Any] | None, user: str) -> IssuedCertificate | None:
    """The certificate and key embedded for ``user`` in a kubeconfig, if both are there and match."""
    if document is None:
        return None
    for entry in document.get("users") or []:
        if not isinstance(entry, dict) or entry.get("name") != user:
            continue
        fields = entry.get("user") or {}
        try:
            cert = base64.b64decode(fields.get("client-certificate-data", ""), validate=True)
            key = base64.b64decode(fields.get("client-key-data", ""), validate=True)
        except (binascii.Error, TypeError, ValueError):
            return None
        return parse_pair(cert or None, key or None)
    return None


@dataclass(frozen=True, slots=True)
class ClientIdentity:
    """The subject a client certificate must carry: CN is the user, O and OU the groups/tenant."""

    common_name: str
    organizations: tuple[str, ...] = ()
    organizational_units: tuple[str, ...] = ()


def ensure_client_kubeconfig(
    path: Path,
    ca: CertificateAuthority,
    *,
    identity: ClientIdentity,
    server: str,
    user: str,
    prefix_tenant: str | None = None,
) -> bool:
    """Writes a kubeconfig with an embedded client certificate for ``identity``.

    The certificate already embedded in ``path`` is kept when it is current, from ``ca`` and for
    exactly this subject; otherwise a new one is issued. Returns whether a new one was issued.
    """
    existing = embedded_client_pair(read_kubeconfig(path), user)
    pair = reusable_client_cert(
        existing,
        ca,
        common_name=identity.common_name,
        organizations=identity.organizations,
        organizational_units=identity.organizational_units,
    )
    issued = pair is None
    if pair is None:
        pair = issue_client_cert(
            ca,
            common_name=identity.common_name,
            organizations=identity.organizations,
            organizational_units=identity.organizational_units,
        )
    document = kubeconfig_document(
        user=user,
        credentials=ClientCredentials(certificate_pem=pair.certificate_pem(), key_pem=pair.private_key_pem()),
        authority=ClusterAuthority(ca_pem=ca.certificate_pem()),
        contexts=standard_contexts(server, prefix_tenant=prefix_tenant),
    )
    write_kubeconfig(path, document)
    return issued
