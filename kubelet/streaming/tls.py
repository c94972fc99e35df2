"""The streaming server's TLS: its serving certificate and, when configured, client-certificate checking.

Why this exists: upstream's kubelet serves port 10250 with ``--tls-cert-file``/``--tls-private-key-file``,
and without them makes its own certificate under ``--cert-dir`` (``<root-dir>/pki``): a private CA
``<hostname>-ca`` and a serving certificate for the node's names, reused across restarts.
``--client-ca-file`` makes it ask for client certificates (verified against that CA); whether a
verified identity may stream is `access`'s decision.
"""

from __future__ import annotations

import ssl
from dataclasses import dataclass
from pathlib import Path

from pki.atomic_file import read_optional, write_public, write_secret
from pki.certificates import (
    certificate_hosts,
    ensure_ca,
    host_names,
    is_current,
    issue_serving_cert,
    parse_pair,
    signed_by,
)

SERVING_CERT_FILE = "kubelet.crt"
SERVING_KEY_FILE = "kubelet.key"


@dataclass(frozen=True, slots=True)
class ServingFiles:
    cert_file: Path
    key_file: Path


def self_signed_serving_files(pki_dir: Path, *, hostname: str, hosts: list[str]) -> ServingFiles:
    """``pki_dir/kubelet.crt|key`` signed by the kubelet's own CA, reissued unless current and covering
    ``hosts`` (upstream's GenerateSelfSignedCertKey keeps its files the same way)."""
    ca = ensure_ca(pki_dir, common_name=f"{hostname}-ca")
    cert_path, key_path = pki_dir / SERVING_CERT_FILE, pki_dir / SERVING_KEY_FILE
    names = list(dict.fromkeys([hostname, *hosts, "localhost", "127.0.0.1"]))
    pair = parse_pair(read_optional(cert_path), read_optional(key_path))
    if (pair is None or not signed_by(pair.certificate, ca) or not is_current(pair.certificate)
            or not set(host_names(names)) <= certificate_hosts(pair.certificate)):
        issued = issue_serving_cert(ca, hosts=names, common_name=hostname)
        write_secret(key_path, issued.private_key_pem())
        write_public(cert_path, issued.certificate_pem())
    return ServingFiles(cert_path, key_path)


def serving_files(*, cert_file: str, key_file: str, root_dir: str, hostname: str,
                  hosts: list[str]) -> ServingFiles:
    if cert_file or key_file:
        if not (cert_file and key_file):
            raise ValueError("--tls-cert-file and --tls-private-key-file must be given together")
        return ServingFiles(Path(cert_file), Path(key_file))
    return self_signed_serving_files(Path(root_dir) / "pki", hostname=hostname, hosts=hosts)


def server_ssl_context(files: ServingFiles, *, client_ca_file: str = "") -> ssl.SSLContext:
    """TLS 1.2+; with a client CA, a presented client certificate must chain to it (none is allowed at the
    TLS layer so that a missing one gets an HTTP 401 rather than a handshake failure)."""
    context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    context.minimum_version = ssl.TLSVersion.TLSv1_2
    context.load_cert_chain(files.cert_file, files.key_file)
    if client_ca_file:
        context.load_verify_locations(cafile=client_ca_file)
        context.verify_mode = ssl.CERT_OPTIONAL
    return context
