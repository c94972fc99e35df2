"""Request-header authentication's pure rules (server.auth.requestheader, server.auth.x509's
CertificateAuthorities, the Authenticator's order).

Covers: which certificates are a trusted proxy (issued by the request-header CA; CN allowed or any
CN when no names are given; another CA's certificate is no proxy); the first non-empty username
header wins; groups from every value of every group header; extras per prefix with keys
lower-cased then %-decoded (a malformed escape kept as is); the identity headers stripped (named
ones and every extra prefix, case-insensitively) while other headers stay; the authenticator's
union: proxy before x509, a client certificate of the front-proxy CA is no x509 identity, a
disallowed proxy CN is 401 without a token.
Leaves out: TLS and HTTP (test/component/test_api_requestheader.py).
"""

from __future__ import annotations

from pathlib import Path

import pytest
from cryptography import x509
from multidict import CIMultiDict

from pki.certificates import ensure_ca, issue_client_cert
from server.auth.authenticator import Authenticator
from server.auth.requestheader import ProxyNotAllowed, RequestHeaderAuthenticator, RequestHeaderConfig
from server.auth.x509 import CertificateAuthorities
from server.errors import Unauthorized


@pytest.fixture
def cas(tmp_path: Path) -> tuple[Path, Path]:
    client = ensure_ca(tmp_path, common_name="client-ca")
    proxy = ensure_ca(tmp_path, common_name="proxy-ca", stem="front-proxy-ca")
    return client.cert_path, proxy.cert_path


def _cert(tmp_path: Path, stem: str, cn: str) -> x509.Certificate:
    ca = ensure_ca(tmp_path, stem=stem)
    return issue_client_cert(ca, common_name=cn).certificate


def test_trusted_proxy_needs_the_ca_and_an_allowed_name(tmp_path: Path, cas: tuple[Path, Path]) -> None:
    allowed = RequestHeaderAuthenticator(
        RequestHeaderConfig(str(cas[1]), allowed_names=("front-proxy-client",)))
    anyone = RequestHeaderAuthenticator(RequestHeaderConfig(str(cas[1])))
    proxy = _cert(tmp_path, "front-proxy-ca", "front-proxy-client")
    rogue = _cert(tmp_path, "front-proxy-ca", "rogue")
    client = _cert(tmp_path, "ca", "front-proxy-client")
    assert allowed.proxy_trusted(proxy)
    assert not allowed.proxy_trusted(client)
    with pytest.raises(ProxyNotAllowed, match="cn=rogue is not in the allowed list"):
        allowed.proxy_trusted(rogue)
    assert anyone.proxy_trusted(rogue)


def test_headers_make_the_user(cas: tuple[Path, Path]) -> None:
    auth = RequestHeaderAuthenticator(RequestHeaderConfig(
        str(cas[1]), username_headers=("X-First", "X-Remote-User"),
        extra_header_prefixes=("X-Remote-Extra-", "X-Other-")))
    headers = CIMultiDict([("X-First", ""), ("X-Remote-User", "alice"), ("X-Remote-Group", "a"),
                           ("x-remote-group", "b"), ("X-Remote-Group", ""),
                           ("X-Other-Key", "3"), ("X-Remote-Extra-KEY", "1"), ("x-remote-extra-key", "2"),
                           ("X-Remote-Extra-a%2Fb", "x"), ("X-Remote-Extra-bad%zz", "y"),
                           ("X-Remote-Tenant", "acme")])
    user = auth.user(headers)
    assert user is not None
    assert (user.name, user.groups, user.tenant) == ("alice", ("a", "b"), "acme")
    assert dict(user.extra) == {"key": ("1", "2", "3"), "a/b": ("x",), "bad%zz": ("y",)}
    assert auth.user(CIMultiDict([("X-Remote-Group", "a")])) is None
    derived = auth.user(CIMultiDict([("X-Remote-User", "globex:bob")]))
    assert derived is not None and derived.tenant == "globex"


def test_identity_headers_are_stripped(cas: tuple[Path, Path]) -> None:
    auth = RequestHeaderAuthenticator(RequestHeaderConfig(str(cas[1])))
    headers = CIMultiDict([("x-remote-user", "u"), ("X-Remote-Group", "g"), ("X-REMOTE-TENANT", "t"),
                           ("X-Remote-Extra-Foo", "f"), ("Accept", "application/json"),
                           ("X-Remote-Userish", "kept")])
    stripped = auth.without_headers(headers)
    assert stripped is not None
    assert list(stripped.items()) == [("Accept", "application/json"), ("X-Remote-Userish", "kept")]
    assert auth.without_headers(CIMultiDict([("Accept", "*/*")])) is None


def test_the_union_orders_proxy_x509_token(tmp_path: Path, cas: tuple[Path, Path]) -> None:
    request_header = RequestHeaderAuthenticator(RequestHeaderConfig(str(cas[1]), allowed_names=("proxy",)))
    auth = Authenticator(request_header=request_header,
                         client_authorities=CertificateAuthorities.load(cas[0]))
    proxy = _cert(tmp_path, "front-proxy-ca", "proxy")
    headers = CIMultiDict([("X-Remote-User", "alice")])
    assert auth.authenticate(peer_cert=proxy, authorization_header=None, headers=headers).name == "alice"
    client = _cert(tmp_path, "ca", "bob")
    assert auth.authenticate(peer_cert=client, authorization_header=None, headers=headers).name == "bob"
    with pytest.raises(Unauthorized):  # the proxy without a user header: no x509 identity either
        auth.authenticate(peer_cert=proxy, authorization_header=None, headers=CIMultiDict())
    with pytest.raises(Unauthorized):
        auth.authenticate(peer_cert=_cert(tmp_path, "front-proxy-ca", "rogue"), authorization_header=None,
                          headers=headers)
