"""TLS serving and the security settings of one API server process.

The secure port asks every client for a certificate but does not require one (tokens work too),
as upstream's ``tls.RequestClientCert``. One difference is forced on us: Python's ``ssl`` cannot
request a client certificate without verifying it, so a certificate from another CA fails the
TLS handshake here, where upstream would finish it and answer 401. With request-header
authentication the handshake accepts certificates of both the client CA and the request-header CA;
the authenticators then check which one issued a certificate (server.auth.x509).
"""

from __future__ import annotations

import ipaddress
import socket
import ssl
from collections.abc import Sequence
from dataclasses import dataclass

from server.auth.requestheader import RequestHeaderConfig


@dataclass(frozen=True, slots=True)
class SecurityConfig:
    client_ca_file: str = ""
    token_auth_file: str = ""
    service_account_key_files: tuple[str, ...] = ()
    service_account_signing_key_file: str = ""
    service_account_issuer: str = "https://kubernetes.default.svc"
    audit_log_path: str = ""
    request_header: RequestHeaderConfig | None = None


def serving_context(*, cert_file: str, key_file: str, client_ca_files: Sequence[str]) -> ssl.SSLContext:
    """The secure port's TLS: asks for (does not require) a certificate of any of ``client_ca_files``."""
    context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    context.minimum_version = ssl.TLSVersion.TLSv1_2
    context.load_cert_chain(cert_file, key_file or None)
    context.set_alpn_protocols(["http/1.1"])
    for ca_file in dict.fromkeys(f for f in client_ca_files if f):
        context.load_verify_locations(cafile=ca_file)
        context.verify_mode = ssl.CERT_OPTIONAL
    return context


def is_loopback(address: str) -> bool:
    if address == "localhost":
        return True
    try:
        return ipaddress.ip_address(address).is_loopback
    except ValueError:
        return False


def default_advertise_address(bind_address: str) -> str:
    """Upstream's --advertise-address default: the bind address, unless it is loopback or
    unspecified (0.0.0.0); then the address of the default route's interface (the one a UDP
    socket connected to an outside address would send from; nothing is sent)."""
    if bind_address and not is_loopback(bind_address) and bind_address not in ("0.0.0.0", "::"):
        return bind_address
    probe = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    try:
        probe.connect(("198.51.100.1", 9))  # TEST-NET-2: any address beyond the host will do
        return str(probe.getsockname()[0])
    except OSError:
        return "127.0.0.1"  # no default route: only this host can reach the server anyway
    finally:
        probe.close()
