"""The kubelet's HTTPS port asks a real API server who may do what (webhook authn/authz).

A TLS `python -m server` with arktos-up's credentials; the kubelet's streaming server (an empty pod
directory: an allowed request ends in 404 NotFound, past the access check) reviews with the node's own
kubeconfig (``system:node:<name>``), as a kubelet does. Covers: the API server's kubelet client
certificate allowed (by the bootstrap binding to system:kubelet-api-admin, not by system:masters); a
tenant user's certificate and token, a system user without roles, and a service account without a
binding all refused with upstream's 403 text naming the path's subresource (proxy, stats, metrics,
log); the admin's token allowed; no or a bogus credential 401; a binding granted later taking effect
once the refusal's cache entry (1 s here) expires. Leaves out the streams themselves
(test_kubelet_streaming.py) and arktos-up (test/e2e/test_arktos_up_identities.py).
"""

from __future__ import annotations

import asyncio
import json
import ssl
import time
from collections.abc import AsyncIterator, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import aiohttp
import pytest
from apiserver_process import E2E_NODE_NAME, ApiServerProcess, start_apiserver

from client.config import load_kubeconfig
from client.rest import ApiClient
from kubelet.streaming.access import AccessPolicy
from kubelet.streaming.authn import TokenAuthenticator
from kubelet.streaming.authz import WebhookAuthorizer
from kubelet.streaming.pod_directory import LocatedPod
from kubelet.streaming.reviews import ApiReviews
from kubelet.streaming.server import StreamingServer
from kubelet.streaming.tls import self_signed_serving_files, server_ssl_context
from pki.certificates import ensure_ca, issue_client_cert
from tools.cluster_credentials import ensure_cluster_credentials
from tools.token_file import ensure_token

pytestmark = pytest.mark.e2e

LOGS = "/containerLogs/acme/default/web/c"
DENIED_TTL_S = 1.0


@dataclass(frozen=True)
class Tokens:
    admin: str
    tenant_user: str


class NoPods:
    def find_pod(self, tenant: str, namespace: str, name: str, *, uid: str = "") -> LocatedPod | None:
        return None


@pytest.fixture(scope="module")
def tls_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[ApiServerProcess, Tokens]]:
    workdir = tmp_path_factory.mktemp("kubelet-authz")
    credentials = ensure_cluster_credentials(workdir / "certs", server="https://127.0.0.1:1",
                                             hosts=["127.0.0.1"], node_name=E2E_NODE_NAME)
    tokens = Tokens(credentials.admin_token,
                    ensure_token(credentials.token_file, user="carol", groups=("system:masters",),
                                 tenant="acme"))
    server = start_apiserver(workdir, tls=True)
    try:
        yield server, tokens
    finally:
        server.stop()


@pytest.fixture
async def kubelet_port(tls_server: tuple[ApiServerProcess, Tokens], tmp_path: Path) -> AsyncIterator[str]:
    """A fresh streaming server (and fresh review caches) per test."""
    server, _ = tls_server
    assert server.credentials is not None
    pki = tmp_path / "kubelet-pki"
    files = self_signed_serving_files(pki, hostname=E2E_NODE_NAME, hosts=["127.0.0.1"])
    context = server_ssl_context(files, client_ca_file=str(server.credentials.ca_cert))
    node_config = load_kubeconfig(server.credentials.cert_dir / "kubelet.kubeconfig")
    async with ApiClient(node_config) as node_client:
        reviews = ApiReviews(node_client)
        access = AccessPolicy(node=E2E_NODE_NAME, client_ca_configured=True,
                              tokens=TokenAuthenticator(reviews),
                              authorizer=WebhookAuthorizer(reviews, unauthorized_ttl_s=DENIED_TTL_S))
        streaming = StreamingServer(NoPods(), address="127.0.0.1", port=0, ssl_context=context, access=access)
        port = await streaming.start()
        try:
            yield f"https://127.0.0.1:{port}"
        finally:
            await streaming.stop()


def _context(server: ApiServerProcess, tmp: Path, *, cert: Path | None = None, key: Path | None = None,
             pair: Any = None) -> ssl.SSLContext:
    """Trusts the kubelet's self-signed CA loosely (hostname-free) and presents the given certificate."""
    context = ssl.create_default_context()
    context.check_hostname, context.verify_mode = False, ssl.CERT_NONE
    if pair is not None:
        cert, key = tmp / "client.crt", tmp / "client.key"
        cert.write_bytes(pair.certificate_pem())
        key.write_bytes(pair.private_key_pem())
    if cert is not None and key is not None:
        context.load_cert_chain(cert, key)
    return context


async def _call(base: str, path: str, *, context: ssl.SSLContext, token: str = "",
                method: str = "GET") -> tuple[int, str]:
    headers = {"Authorization": f"Bearer {token}"} if token else {}
    async with aiohttp.ClientSession(timeout=aiohttp.ClientTimeout(total=20)) as session:
        async with session.request(method, base + path, ssl=context, headers=headers) as response:
            return response.status, await response.text()


def _message(body: str) -> str:
    return str(json.loads(body)["message"])


async def test_the_api_servers_kubelet_client_is_allowed_by_rbac(
        tls_server: tuple[ApiServerProcess, Tokens], kubelet_port: str, tmp_path: Path) -> None:
    server, _ = tls_server
    assert server.credentials is not None
    context = _context(server, tmp_path, cert=server.credentials.kubelet_client_cert,
                       key=server.credentials.kubelet_client_key)
    for method, path in (("GET", LOGS), ("POST", "/exec/acme/default/web/c?command=true&stdout=1")):
        status, body = await _call(kubelet_port, path, context=context, method=method)
        assert (status, json.loads(body)["reason"]) == (404, "NotFound"), body  # past the access check


async def test_tenant_users_and_roleless_users_are_forbidden(
        tls_server: tuple[ApiServerProcess, Tokens], kubelet_port: str, tmp_path: Path) -> None:
    server, tokens = tls_server
    assert server.credentials is not None
    ca = ensure_ca(server.credentials.cert_dir)
    tenant_admin = _context(server, tmp_path, pair=issue_client_cert(
        ca, common_name="admin", organizations=["tenant:acme", "system:masters"]))
    status, body = await _call(kubelet_port, LOGS, context=tenant_admin)
    assert (status, _message(body)) == (403, "Forbidden (user=admin, verb=get, resource=nodes, "
                                             "subresource=proxy)")
    anonymous = _context(server, tmp_path)
    status, body = await _call(kubelet_port, "/exec/acme/default/web/c", context=anonymous,
                               token=tokens.tenant_user, method="POST")
    assert (status, _message(body)) == (403, "Forbidden (user=carol, verb=create, resource=nodes, "
                                             "subresource=proxy)")
    roleless = _context(server, tmp_path, pair=issue_client_cert(ca, common_name="bob"))
    for path, subresource in (("/stats/summary", "stats"), ("/metrics", "metrics"), ("/logs/", "log")):
        status, body = await _call(kubelet_port, path, context=roleless)
        assert (status, _message(body)) == (
            403, f"Forbidden (user=bob, verb=get, resource=nodes, subresource={subresource})")


async def test_tokens_are_reviewed_and_missing_credentials_are_401(
        tls_server: tuple[ApiServerProcess, Tokens], kubelet_port: str, tmp_path: Path) -> None:
    server, tokens = tls_server
    anonymous = _context(server, tmp_path)
    status, body = await _call(kubelet_port, LOGS, context=anonymous, token=tokens.admin)
    assert (status, json.loads(body)["reason"]) == (404, "NotFound"), body
    for token in ("", "not-a-token"):
        status, body = await _call(kubelet_port, LOGS, context=anonymous, token=token)
        assert (status, _message(body)) == (401, "Unauthorized")


async def test_a_binding_granted_later_applies_once_the_refusal_expires(
        tls_server: tuple[ApiServerProcess, Tokens], kubelet_port: str, tmp_path: Path) -> None:
    server, _ = tls_server
    async with ApiClient(load_kubeconfig(server.kubeconfig)) as admin:
        await admin.request("POST", "/api/v1/namespaces/kube-system/serviceaccounts",
                            body={"metadata": {"name": "prober"}})
        issued = await admin.request("POST", "/api/v1/namespaces/kube-system/serviceaccounts/prober/token",
                                     body={"spec": {"expirationSeconds": 600}})
        token = issued["status"]["token"]
        anonymous = _context(server, tmp_path)
        status, body = await _call(kubelet_port, LOGS, context=anonymous, token=token)
        assert (status, _message(body)) == (403, "Forbidden (user=system:serviceaccount:kube-system:prober, "
                                                 "verb=get, resource=nodes, subresource=proxy)")
        await admin.request("POST", "/apis/rbac.authorization.k8s.io/v1/clusterrolebindings", body={
            "metadata": {"name": "prober-kubelet-api"},
            "roleRef": {"apiGroup": "rbac.authorization.k8s.io", "kind": "ClusterRole",
                        "name": "system:kubelet-api-admin"},
            "subjects": [{"kind": "ServiceAccount", "name": "prober", "namespace": "kube-system"}]})
        deadline = time.monotonic() + 10 * DENIED_TTL_S
        while (status := (await _call(kubelet_port, LOGS, context=anonymous, token=token))[0]) == 403:
            assert time.monotonic() < deadline, "the binding never took effect"
            await asyncio.sleep(0.2)
        assert status == 404
