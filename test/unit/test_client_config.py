"""Kubeconfig loading and TLS settings (client/config.py).

Covers: current-context and explicit context resolution, a server URL with a tenant path prefix,
file paths relative to the kubeconfig, inline ``*-data`` certificates spilled to private files,
token and tokenFile, insecure-skip-tls-verify, the SSLContext built from a real CA and client
certificate (made here with ``cryptography``), and errors for missing pieces. Leaves out a TLS
handshake against a server (the e2e suite does that once the server serves TLS).
"""

from __future__ import annotations

import base64
import datetime
import os
import ssl
from pathlib import Path

import pytest
import yaml
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID

from client.config import ClientConfig, KubeconfigError, config_for_url, load_kubeconfig


def _certificate(common_name: str) -> tuple[bytes, bytes]:
    """A self-signed certificate and its key, both PEM."""
    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, common_name)])
    now = datetime.datetime.now(datetime.UTC)
    cert = (x509.CertificateBuilder().subject_name(name).issuer_name(name).public_key(key.public_key())
            .serial_number(x509.random_serial_number()).not_valid_before(now)
            .not_valid_after(now + datetime.timedelta(days=1))
            .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
            .sign(key, hashes.SHA256()))
    key_pem = key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                                serialization.NoEncryption())
    return cert.public_bytes(serialization.Encoding.PEM), key_pem


def _write(path: Path, document: dict[str, object]) -> Path:
    path.write_text(yaml.safe_dump(document))
    return path


def _kubeconfig(cluster: dict[str, object], user: dict[str, object]) -> dict[str, object]:
    return {
        "apiVersion": "v1", "kind": "Config", "current-context": "main",
        "clusters": [{"name": "c", "cluster": cluster},
                     {"name": "other", "cluster": {"server": "http://127.0.0.1:1"}}],
        "users": [{"name": "u", "user": user}],
        "contexts": [{"name": "main", "context": {"cluster": "c", "user": "u"}},
                     {"name": "second", "context": {"cluster": "other"}}],
    }


def test_file_references_resolve_relative_to_the_kubeconfig(tmp_path: Path) -> None:
    ca, _ = _certificate("ca")
    cert, key = _certificate("system:admin")
    (tmp_path / "ca.crt").write_bytes(ca)
    (tmp_path / "admin.crt").write_bytes(cert)
    (tmp_path / "admin.key").write_bytes(key)
    path = _write(tmp_path / "admin.kubeconfig", _kubeconfig(
        {"server": "https://127.0.0.1:6443/tenants/acme/", "certificate-authority": "ca.crt"},
        {"client-certificate": "admin.crt", "client-key": str(tmp_path / "admin.key")}))
    config = load_kubeconfig(path)
    assert config.server == "https://127.0.0.1:6443/tenants/acme"
    assert config.ca_file == str(tmp_path / "ca.crt")
    assert config.client_cert_file == str(tmp_path / "admin.crt")
    context = config.ssl_context()
    assert isinstance(context, ssl.SSLContext)
    assert context.verify_mode == ssl.CERT_REQUIRED and context.check_hostname


def test_inline_data_goes_to_private_files(tmp_path: Path) -> None:
    ca, _ = _certificate("ca")
    cert, key = _certificate("alice")
    path = _write(tmp_path / "k", _kubeconfig(
        {"server": "https://h:6443", "certificate-authority-data": base64.b64encode(ca).decode()},
        {"client-certificate-data": base64.b64encode(cert).decode(),
         "client-key-data": base64.b64encode(key).decode()}))
    config = load_kubeconfig(path)
    assert config.ca_data == ca
    assert config.client_key_file is not None
    assert Path(config.client_key_file).read_bytes() == key
    assert os.stat(config.client_key_file).st_mode & 0o077 == 0
    assert config.ssl_context() is not None


def test_token_and_token_file(tmp_path: Path) -> None:
    (tmp_path / "token").write_text("s3cret\n")
    path = _write(tmp_path / "k", _kubeconfig({"server": "http://h"}, {"tokenFile": "token"}))
    assert load_kubeconfig(path).auth_headers()["Authorization"] == "Bearer s3cret"
    path = _write(tmp_path / "k2", _kubeconfig({"server": "http://h"}, {"token": "abc"}))
    assert load_kubeconfig(path).token == "abc"


def test_explicit_context_and_plain_http(tmp_path: Path) -> None:
    path = _write(tmp_path / "k", _kubeconfig({"server": "http://h"}, {}))
    config = load_kubeconfig(path, context="second")
    assert config.server == "http://127.0.0.1:1"
    assert config.token is None and config.ssl_context() is None


def test_insecure_skip_tls_verify_turns_verification_off() -> None:
    context = ClientConfig(server="https://h", insecure_skip_tls_verify=True).ssl_context()
    assert context is not None and context.verify_mode == ssl.CERT_NONE


def test_config_for_url_strips_trailing_slash() -> None:
    assert config_for_url("http://127.0.0.1:8080/").server == "http://127.0.0.1:8080"


@pytest.mark.parametrize("mutate, message", [
    (lambda d: d.pop("current-context"), "no current-context"),
    (lambda d: d.update({"current-context": "nope"}), "no context named 'nope'"),
    (lambda d: d["clusters"][0]["cluster"].pop("server"), "has no server"),
    (lambda d: d["users"][0]["user"].update({"client-certificate": "x.crt"}), "together"),
])
def test_broken_kubeconfigs_are_refused(tmp_path: Path, mutate: object, message: str) -> None:
    document = _kubeconfig({"server": "http://h"}, {})
    mutate(document)  # type: ignore[operator]
    with pytest.raises(KubeconfigError, match=message):
        load_kubeconfig(_write(tmp_path / "k", document))


def test_missing_file_is_a_kubeconfig_error(tmp_path: Path) -> None:
    with pytest.raises(KubeconfigError):
        load_kubeconfig(tmp_path / "absent")
