"""Authentication failures on the secure port: 401 Status, or (a foreign certificate) no TLS at all.

Covers, over raw HTTPS: no credentials at all; an unknown bearer token; a
service-account token that has expired (signed here with the server's own key through
`server.auth.serviceaccounts.ServiceAccountTokens`, with an expiry in the past), next to a
control token from the same key that is accepted; a token signed by a key the server does not
know; a token from a TokenRequest whose service account was then deleted (and one whose account
was re-created under the same name: new uid, still refused). Each is a `Status` with reason
Unauthorized and code 401 that names no object. A client certificate from another CA: Python's
`ssl` cannot ask for a client certificate without verifying it, so our server fails the TLS
handshake instead of answering 401 as upstream does (documented in server/serving.py); the test
asserts the handshake is refused and nothing is served.
Leaves out: token caching windows (unit tests of the authenticator); stock kubectl, which
prompts for a username when it has no credentials and retries a refused handshake for a minute.
"""

from __future__ import annotations

import http.client
import ssl
from pathlib import Path

import pytest
from apiserver_process import SERVICE_ACCOUNT_ISSUER
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import rsa
from tenancy_env import Answer, Identity, TenancyEnv

from pki.certificates import ensure_ca, issue_client_cert
from server.auth.serviceaccounts import ServiceAccountTokens

pytestmark = [pytest.mark.e2e]

PROBE = "/api/v1/namespaces/default/configmaps"
WHOAMI = "/apis/authentication.k8s.io/v1/selfsubjectreviews"
WHOAMI_BODY = {"apiVersion": "authentication.k8s.io/v1", "kind": "SelfSubjectReview"}


def assert_unauthorized(answer: Answer) -> None:
    assert answer.status == 401, answer.describe()
    status = answer.json()
    assert (status["kind"], status["status"], status["reason"], status["code"]) == (
        "Status",
        "Failure",
        "Unauthorized",
        401,
    )
    assert "items" not in status and not status.get("details")


def bearer(token: str) -> Identity:
    return Identity("bearer", "?", "?", token=token)


def _service_account(env: TenancyEnv, name: str) -> dict[str, str]:
    owner = env.identity("acme-cert-admin")
    env.call(owner, "DELETE", f"/api/v1/namespaces/default/serviceaccounts/{name}")
    created = env.ok(
        owner, "POST", "/api/v1/namespaces/default/serviceaccounts", {"metadata": {"name": name}}
    )
    return {"name": name, "uid": created["metadata"]["uid"]}


def test_no_credentials_is_401(tenancy_env: TenancyEnv) -> None:
    # (Stock kubectl never sends such a request: with no credentials in its kubeconfig it asks
    # for a username on the terminal first.)
    for method, path, body in (
        ("GET", PROBE, None),
        ("POST", PROBE, {"metadata": {"name": "anon"}}),
        ("GET", "/api/v1/tenants/acme/namespaces", None),
        ("GET", "/api/v1/nodes", None),
    ):
        assert_unauthorized(tenancy_env.call(None, method, path, body))


def test_unknown_bearer_token_is_401(tenancy_env: TenancyEnv) -> None:
    assert_unauthorized(tenancy_env.call(bearer("not-a-token-we-issued"), "GET", PROBE))
    assert_unauthorized(tenancy_env.call(bearer("a.b.c"), "GET", "/api/v1"))


def test_expired_service_account_token_is_401(tenancy_env: TenancyEnv) -> None:
    env = tenancy_env
    account = _service_account(env, "short-lived")
    tokens = ServiceAccountTokens(
        env.sa_signing_key.read_bytes(), [env.sa_public_key.read_bytes()], SERVICE_ACCOUNT_ISSUER
    )

    def token(seconds: int) -> str:
        issued, _ = tokens.issue(
            tenant="acme",
            namespace="default",
            name=account["name"],
            uid=account["uid"],
            audiences=(),
            expiration_seconds=seconds,
            bound_object=None,
        )
        return issued

    # Control: the same key, a live expiry — the server knows the account (authenticated, 201).
    fresh = env.ok(bearer(token(600)), "POST", WHOAMI, WHOAMI_BODY)
    assert fresh["status"]["userInfo"]["username"] == "system:serviceaccount:default:short-lived"
    # Expired an hour ago: well beyond upstream's one-minute clock-skew leeway.
    assert_unauthorized(env.call(bearer(token(-3600)), "POST", WHOAMI, WHOAMI_BODY))
    assert_unauthorized(env.call(bearer(token(-3600)), "GET", PROBE))


def test_token_signed_by_unknown_key_is_401(tenancy_env: TenancyEnv) -> None:
    account = _service_account(tenancy_env, "forged")
    stranger = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    pem = stranger.private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
    )
    forged, _ = ServiceAccountTokens(pem, [], SERVICE_ACCOUNT_ISSUER).issue(
        tenant="acme",
        namespace="default",
        name="forged",
        uid=account["uid"],
        audiences=(),
        expiration_seconds=600,
        bound_object=None,
    )
    assert_unauthorized(tenancy_env.call(bearer(forged), "GET", PROBE))


def test_token_of_deleted_service_account_is_401(tenancy_env: TenancyEnv) -> None:
    env = tenancy_env
    owner = env.identity("acme-cert-admin")
    account = _service_account(env, "ephemeral")
    request = {
        "apiVersion": "authentication.k8s.io/v1",
        "kind": "TokenRequest",
        "spec": {"expirationSeconds": 600},
    }
    token = env.ok(owner, "POST", "/api/v1/namespaces/default/serviceaccounts/ephemeral/token", request)[
        "status"
    ]["token"]
    assert env.ok(bearer(token), "POST", WHOAMI, WHOAMI_BODY)["status"]["userInfo"]["uid"] == account["uid"]
    env.ok(owner, "DELETE", "/api/v1/namespaces/default/serviceaccounts/ephemeral")
    env.wait_for(
        "the deleted service account's token to be refused",
        lambda: env.call(bearer(token), "POST", WHOAMI, WHOAMI_BODY).status == 401,
        timeout=15,
    )
    assert_unauthorized(env.call(bearer(token), "GET", PROBE))
    # Same name again, new uid: the old token still names the old account.
    _service_account(env, "ephemeral")
    assert_unauthorized(env.call(bearer(token), "GET", PROBE))
    env.ok(owner, "DELETE", "/api/v1/namespaces/default/serviceaccounts/ephemeral")


def _foreign_client(tmp_path: Path) -> tuple[Path, Path]:
    """A client certificate for acme's admin, signed by a CA the server has never seen."""
    ca = ensure_ca(tmp_path / "other-ca")
    pair = issue_client_cert(ca, common_name="admin", organizations=("tenant:acme",))
    cert, key = tmp_path / "foreign.crt", tmp_path / "foreign.key"
    cert.write_bytes(pair.certificate_pem())
    key.write_bytes(pair.private_key_pem())
    return cert, key


def test_client_cert_from_another_ca_is_refused_at_tls(tenancy_env: TenancyEnv, tmp_path: Path) -> None:
    env = tenancy_env
    cert, key = _foreign_client(tmp_path)
    context = ssl.create_default_context(cafile=str(env.ca_cert))
    context.load_cert_chain(cert, key)
    connection = http.client.HTTPSConnection("127.0.0.1", env.server.port, timeout=10, context=context)
    served: http.client.HTTPResponse | None = None
    try:
        # TLS 1.3 clients learn of the refusal on their first read; either step may raise.
        with pytest.raises((ssl.SSLError, ConnectionError, http.client.RemoteDisconnected)):
            connection.request("GET", PROBE)
            served = connection.getresponse()
    finally:
        connection.close()
    assert served is None
