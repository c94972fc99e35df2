"""Request-header authentication on a real TLS server with two CAs (the cluster's client CA and
the front proxy's CA), as upstream's ``--requestheader-*`` flags.

Covers, through SelfSubjectReview (``kubectl auth whoami``) and an RBAC outcome: the front proxy's
certificate (CN front-proxy-client, in ``--requestheader-allowed-names``) with ``X-Remote-User``,
repeated ``X-Remote-Group``, ``X-Remote-Tenant`` and ``X-Remote-Extra-*`` (key %-decoded and
lower-cased) is that user; without ``X-Remote-Tenant`` the tenant comes from the user name; a user
named so is authorized as itself (403 with its name); a client certificate of the cluster CA with
forged headers stays its own identity; a bearer token with forged headers stays the token's
identity; a front-proxy certificate whose CN is not allowed is 401, unless a valid token follows
(upstream's union); a front-proxy certificate without a username header is 401 (the x509
authenticator does not accept the front-proxy CA).
Leaves out: header parsing corner cases (test/unit/test_requestheader.py) and the gateway that
uses this (gateway tests).
"""

from __future__ import annotations

import json
import ssl
from collections.abc import Iterator, Sequence
from pathlib import Path
from typing import Any

import pytest
from apiserver_process import ApiServerProcess, start_apiserver
from component_http import https_call

from pki.certificates import issue_client_cert, load_ca
from tools.cluster_credentials import FRONT_PROXY_CA_STEM, FRONT_PROXY_CLIENT_CN, ClusterCredentials

WHOAMI = "/apis/authentication.k8s.io/v1/selfsubjectreviews"
TENANT_EXTRA = "arktos.futurewei.com/tenant"
IDENTITY_HEADERS = [("X-Remote-User", "alice"), ("X-Remote-Group", "team-a"),
                    ("X-Remote-Group", "team-b"), ("X-Remote-Tenant", "acme"),
                    ("X-Remote-Extra-Scopes%2FRead", "one"), ("X-Remote-Extra-scopes%2fread", "two")]


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[ApiServerProcess]:
    workdir = tmp_path_factory.mktemp("requestheader")
    ca_file = workdir / "certs" / f"{FRONT_PROXY_CA_STEM}.crt"  # made by start_apiserver's credentials
    process = start_apiserver(workdir, tls=True, extra_args=[
        "--requestheader-client-ca-file", str(ca_file),
        "--requestheader-allowed-names", f"{FRONT_PROXY_CLIENT_CN},another-proxy"])
    try:
        yield process
    finally:
        process.stop()


def _credentials(server: ApiServerProcess) -> ClusterCredentials:
    assert server.credentials is not None
    return server.credentials


def _context(server: ApiServerProcess, cert: Path | None = None, key: Path | None = None) -> ssl.SSLContext:
    context = ssl.create_default_context(cafile=str(_credentials(server).ca_cert))
    if cert is not None:
        context.load_cert_chain(cert, key)
    return context


def _proxy_context(server: ApiServerProcess) -> ssl.SSLContext:
    credentials = _credentials(server)
    return _context(server, credentials.front_proxy_client_cert, credentials.front_proxy_client_key)


def _foreign_proxy_context(server: ApiServerProcess, tmp_path: Path, common_name: str) -> ssl.SSLContext:
    """A certificate of the front-proxy CA with another CN."""
    issued = issue_client_cert(load_ca(_credentials(server).cert_dir, stem=FRONT_PROXY_CA_STEM),
                               common_name=common_name)
    cert, key = tmp_path / "proxy.crt", tmp_path / "proxy.key"
    cert.write_bytes(issued.certificate_pem())
    key.write_bytes(issued.private_key_pem())
    return _context(server, cert, key)


def _request(server: ApiServerProcess, context: ssl.SSLContext, method: str, path: str,
             headers: Sequence[tuple[str, str]] = (), body: dict[str, Any] | None = None) -> tuple[int, Any]:
    """(status, decoded JSON body) of one request with possibly repeated headers."""
    status, raw = https_call(server.port, context, method, path, body=body, headers=headers)
    return status, json.loads(raw or b"null")


def _whoami(server: ApiServerProcess, context: ssl.SSLContext,
            headers: Sequence[tuple[str, str]] = ()) -> tuple[int, dict[str, Any]]:
    status, body = _request(server, context, "POST", WHOAMI, headers,
                            {"apiVersion": "authentication.k8s.io/v1", "kind": "SelfSubjectReview"})
    return status, (body.get("status") or {}).get("userInfo", body) if status == 201 else body


def test_front_proxy_names_user_groups_tenant_and_extras(server: ApiServerProcess) -> None:
    status, user = _whoami(server, _proxy_context(server), IDENTITY_HEADERS)
    assert status == 201, user
    assert user["username"] == "alice"
    assert user["groups"] == ["team-a", "team-b", "system:authenticated"]
    assert user["extra"][TENANT_EXTRA] == ["acme"]
    assert user["extra"]["scopes/read"] == ["one", "two"]


def test_without_tenant_header_the_tenant_comes_from_the_user_name(server: ApiServerProcess) -> None:
    status, user = _whoami(server, _proxy_context(server), [("X-Remote-User", "globex:bob")])
    assert status == 201, user
    assert user["username"] == "globex:bob"
    assert user["extra"][TENANT_EXTRA] == ["globex"]
    status, user = _whoami(server, _proxy_context(server), [("X-Remote-User", "carol")])
    assert user["extra"][TENANT_EXTRA] == ["system"]


def test_a_proxied_user_is_authorized_as_itself(server: ApiServerProcess) -> None:
    status, body = _request(server, _proxy_context(server), "GET", "/api/v1/nodes",
                            [("X-Remote-User", "mallory")])
    assert status == 403, body
    assert 'User "mallory" cannot list resource "nodes"' in body["message"]
    status, body = _request(server, _proxy_context(server), "GET", "/api/v1/nodes",
                            [("X-Remote-User", "ops"), ("X-Remote-Group", "system:masters"),
                             ("X-Remote-Tenant", "system")])
    assert status == 200, body
    assert body["kind"] == "NodeList"


def test_a_client_certificate_ignores_forged_headers(server: ApiServerProcess) -> None:
    credentials = _credentials(server)
    admin = _context(server, credentials.admin_cert, credentials.admin_key)
    status, user = _whoami(server, admin, IDENTITY_HEADERS)
    assert status == 201, user
    assert user["username"] == "system:admin"
    assert "team-a" not in user["groups"]
    assert user["extra"][TENANT_EXTRA] == ["system"]
    assert "scopes/read" not in user["extra"]


def test_a_bearer_token_ignores_forged_headers(server: ApiServerProcess) -> None:
    token = [("Authorization", f"Bearer {_credentials(server).admin_token}")]
    status, user = _whoami(server, _context(server), [*token, *IDENTITY_HEADERS])
    assert status == 201, user
    assert user["username"] == "admin"
    assert "team-a" not in user["groups"]


def test_a_proxy_cn_not_allowed_is_refused(server: ApiServerProcess, tmp_path: Path) -> None:
    context = _foreign_proxy_context(server, tmp_path, "rogue-proxy")
    status, body = _whoami(server, context, IDENTITY_HEADERS)
    assert status == 401, body
    assert body["reason"] == "Unauthorized"
    # Upstream's union goes on to the token authenticators: a valid token still counts.
    token = [("Authorization", f"Bearer {_credentials(server).admin_token}")]
    status, user = _whoami(server, context, [*token, *IDENTITY_HEADERS])
    assert status == 201, user
    assert user["username"] == "admin"


def test_another_allowed_cn_of_the_proxy_ca_is_trusted(server: ApiServerProcess, tmp_path: Path) -> None:
    status, user = _whoami(server, _foreign_proxy_context(server, tmp_path, "another-proxy"),
                           [("X-Remote-User", "dave")])
    assert status == 201, user
    assert user["username"] == "dave"


def test_a_proxy_certificate_without_a_user_header_is_no_identity(server: ApiServerProcess) -> None:
    status, body = _whoami(server, _proxy_context(server), [("X-Remote-Group", "system:masters")])
    assert status == 401, body
