"""tools/kubeconfig.py: kubeconfig documents, their atomic writing, and client-cert reuse.

Covers: the upstream `v1` Config shape (clusters, users, contexts, current-context) with
embedded data and with file references, the `/tenants/{t}` prefix context, mode 0600 and no
temporary files left behind, "unchanged" detection, that the official Python client loads what we
write (both contexts), and that `ensure_client_kubeconfig` keeps a good embedded certificate and
reissues it for a changed subject or a new CA. Leaves out: talking to a server (e2e).
"""

from __future__ import annotations

import base64
import stat
from pathlib import Path

import pytest
import yaml
from cryptography import x509
from cryptography.x509.oid import NameOID
from kubernetes import config as k8s_config

from pki.certificates import CertificateAuthority, ensure_ca
from tools.kubeconfig import (
    ClientCredentials,
    ClientIdentity,
    ClusterAuthority,
    ContextSpec,
    embedded_client_pair,
    ensure_client_kubeconfig,
    kubeconfig_document,
    read_kubeconfig,
    standard_contexts,
    tenant_prefix_server,
    write_kubeconfig,
)

SERVER = "https://127.0.0.1:6443"


@pytest.fixture
def ca(tmp_path: Path) -> CertificateAuthority:
    return ensure_ca(tmp_path / "certs")


def test_document_with_embedded_credentials() -> None:
    doc = kubeconfig_document(
        user="admin",
        credentials=ClientCredentials(certificate_pem=b"CERT", key_pem=b"KEY"),
        authority=ClusterAuthority(ca_pem=b"CA"),
        contexts=[ContextSpec("default", "local-up-cluster", SERVER)],
    )
    assert doc["apiVersion"] == "v1" and doc["kind"] == "Config"
    assert doc["current-context"] == "default"
    cluster = doc["clusters"][0]["cluster"]
    assert cluster == {"server": SERVER, "certificate-authority-data": base64.b64encode(b"CA").decode()}
    assert doc["users"][0] == {
        "name": "admin",
        "user": {
            "client-certificate-data": base64.b64encode(b"CERT").decode(),
            "client-key-data": base64.b64encode(b"KEY").decode(),
        },
    }
    assert doc["contexts"] == [
        {"name": "default", "context": {"cluster": "local-up-cluster", "user": "admin"}}
    ]


def test_document_with_file_references_and_token(tmp_path: Path) -> None:
    doc = kubeconfig_document(
        user="u",
        credentials=ClientCredentials(
            certificate_file=tmp_path / "c.crt", key_file=tmp_path / "c.key", token="t0k"
        ),
        authority=ClusterAuthority(ca_file=tmp_path / "ca.crt"),
        contexts=standard_contexts(SERVER),
    )
    assert doc["clusters"][0]["cluster"]["certificate-authority"] == str(tmp_path / "ca.crt")
    assert doc["users"][0]["user"] == {
        "client-certificate": str(tmp_path / "c.crt"),
        "client-key": str(tmp_path / "c.key"),
        "token": "t0k",
    }


def test_prefix_context_targets_the_tenant() -> None:
    assert tenant_prefix_server(SERVER + "/", "acme") == f"{SERVER}/tenants/acme"
    contexts = standard_contexts(SERVER, prefix_tenant="acme")
    assert [(c.name, c.server) for c in contexts] == [
        ("default", SERVER),
        ("prefix", f"{SERVER}/tenants/acme"),
    ]
    assert standard_contexts(SERVER) == contexts[:1]


def test_write_is_private_atomic_and_idempotent(tmp_path: Path) -> None:
    path = tmp_path / "sub" / "x.kubeconfig"
    doc = kubeconfig_document(
        user="u",
        credentials=ClientCredentials(token="t"),
        authority=ClusterAuthority(),
        contexts=standard_contexts(SERVER),
    )
    assert write_kubeconfig(path, doc) is True
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    assert yaml.safe_load(path.read_text()) == doc
    assert read_kubeconfig(path) == doc
    assert write_kubeconfig(path, doc) is False
    assert [p.name for p in path.parent.iterdir()] == ["x.kubeconfig"]  # no temporary leftovers


def test_ensure_writes_a_cert_for_the_identity(ca: CertificateAuthority, tmp_path: Path) -> None:
    path = tmp_path / "acme-alice.kubeconfig"
    identity = ClientIdentity("alice", ("tenant:acme",), ("devs",))
    assert (
        ensure_client_kubeconfig(
            path, ca, identity=identity, server=SERVER, user="acme-alice", prefix_tenant="acme"
        )
        is True
    )
    doc = read_kubeconfig(path)
    assert doc is not None
    pair = embedded_client_pair(doc, "acme-alice")
    assert pair is not None
    pair.certificate.verify_directly_issued_by(ca.certificate)
    subject = pair.certificate.subject
    assert [a.value for a in subject.get_attributes_for_oid(NameOID.COMMON_NAME)] == ["alice"]
    assert [a.value for a in subject.get_attributes_for_oid(NameOID.ORGANIZATION_NAME)] == ["tenant:acme"]
    assert [a.value for a in subject.get_attributes_for_oid(NameOID.ORGANIZATIONAL_UNIT_NAME)] == ["devs"]
    ca_data = base64.b64decode(doc["clusters"][0]["cluster"]["certificate-authority-data"])
    assert x509.load_pem_x509_certificate(ca_data) == ca.certificate
    assert {c["name"] for c in doc["contexts"]} == {"default", "prefix"}


def test_ensure_reuses_then_reissues_on_change(ca: CertificateAuthority, tmp_path: Path) -> None:
    path = tmp_path / "k"
    identity = ClientIdentity("bob", ("tenant:acme",))
    ensure_client_kubeconfig(path, ca, identity=identity, server=SERVER, user="bob")
    first = embedded_client_pair(read_kubeconfig(path), "bob")
    assert ensure_client_kubeconfig(path, ca, identity=identity, server=SERVER, user="bob") is False
    again = embedded_client_pair(read_kubeconfig(path), "bob")
    assert first is not None and again is not None
    assert again.certificate.serial_number == first.certificate.serial_number

    moved = "https://10.0.0.9:6443"  # a new server URL keeps the certificate, rewrites the URL
    assert ensure_client_kubeconfig(path, ca, identity=identity, server=moved, user="bob") is False
    doc = read_kubeconfig(path)
    assert doc is not None and doc["clusters"][0]["cluster"]["server"] == moved

    regrouped = ClientIdentity("bob", ("tenant:acme",), ("admins",))
    assert ensure_client_kubeconfig(path, ca, identity=regrouped, server=moved, user="bob") is True

    new_ca = ensure_ca(tmp_path / "new-ca")
    assert ensure_client_kubeconfig(path, new_ca, identity=regrouped, server=moved, user="bob") is True
    latest = embedded_client_pair(read_kubeconfig(path), "bob")
    assert latest is not None and latest.certificate.issuer == new_ca.certificate.subject


def test_official_client_loads_both_contexts(ca: CertificateAuthority, tmp_path: Path) -> None:
    path = tmp_path / "k"
    ensure_client_kubeconfig(
        path,
        ca,
        identity=ClientIdentity("alice", ("tenant:acme",)),
        server=SERVER,
        user="acme-alice",
        prefix_tenant="acme",
    )
    default = k8s_config.new_client_from_config(str(path)).configuration
    prefix = k8s_config.new_client_from_config(str(path), context="prefix").configuration
    assert default.host == SERVER
    assert prefix.host == f"{SERVER}/tenants/acme"
    assert Path(prefix.ssl_ca_cert).read_bytes() == ca.certificate_pem()
    assert (
        x509.load_pem_x509_certificate(Path(prefix.cert_file).read_bytes()).subject.rfc4514_string()
        == "CN=alice,O=tenant:acme"
    )


def test_embedded_pair_absent_or_garbled_is_none() -> None:
    assert embedded_client_pair(None, "u") is None
    assert embedded_client_pair({"users": [{"name": "u", "user": {"token": "x"}}]}, "u") is None
    garbled = {"users": [{"name": "u", "user": {"client-certificate-data": "!!", "client-key-data": "??"}}]}
    assert embedded_client_pair(garbled, "u") is None
