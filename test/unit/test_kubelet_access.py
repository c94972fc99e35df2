"""Who may use the kubelet's HTTPS port: the pure parts of kubelet/streaming/{request_attributes,authn,
authz,expiring_cache}.py.

Covers: upstream's method/path → verb/subresource table (stats, metrics, logs, spec, checkpoint, and
proxy for everything else incl. containerLogs/exec/attach/portForward/run) and its 403/500 texts; a
client certificate read exactly as the API server reads it (the same subject table as
test_auth_x509.py, plus system:authenticated and the tenant extra); TokenReview answers → requester;
the SubjectAccessReview spec sent; allowed answers cached, denied ones kept only as long as their
TTL says (0: asked again), failures not cached; token answers cached by digest; the cache's expiry
and bound. Leaves out HTTP, TLS and a real API server (test/component/test_kubelet_authz.py).
"""

from __future__ import annotations

from typing import Any

import pytest
from cryptography.hazmat.primitives.serialization import Encoding
from test_auth_x509 import certificate

from apis.identity import TENANT_EXTRA
from kubelet.streaming.authn import (
    Requester,
    TokenAuthenticator,
    requester_from_certificate,
    requester_from_review,
)
from kubelet.streaming.authz import WebhookAuthorizer, review_spec
from kubelet.streaming.expiring_cache import ExpiringCache
from kubelet.streaming.request_attributes import NodeRequest, node_request
from kubelet.streaming.reviews import ReviewFailed
from server.auth.x509 import user_from_certificate


@pytest.mark.parametrize(("method", "path", "verb", "subresource"), [
    ("GET", "/containerLogs/acme/ns/pod/c", "get", "proxy"),
    ("POST", "/exec/acme/ns/pod/c", "create", "proxy"),
    ("GET", "/exec/acme/ns/pod/c", "get", "proxy"),
    ("POST", "/attach/acme/ns/pod/c", "create", "proxy"),
    ("POST", "/portForward/acme/ns/pod", "create", "proxy"),
    ("POST", "/run/acme/ns/pod/c", "create", "proxy"),
    ("GET", "/pods", "get", "proxy"),
    ("GET", "/stats", "get", "stats"),
    ("GET", "/stats/summary", "get", "stats"),
    ("GET", "/statsfoo", "get", "proxy"),
    ("GET", "/metrics/cadvisor", "get", "metrics"),
    ("GET", "/logs/", "get", "log"),
    ("GET", "/logs/syslog", "get", "log"),
    ("GET", "/spec/", "get", "spec"),
    ("POST", "/checkpoint/ns/pod/c", "create", "checkpoint"),
    ("PUT", "/anything", "update", "proxy"),
    ("PATCH", "/anything", "patch", "proxy"),
    ("DELETE", "/anything", "delete", "proxy"),
    ("HEAD", "/containerLogs/a/b/c/d", "", "proxy"),
])
def test_request_attributes_follow_upstream(method: str, path: str, verb: str, subresource: str) -> None:
    assert node_request(method, path, node="n1") == NodeRequest(verb, subresource, "n1")


def test_refusal_texts_are_upstreams() -> None:
    request = node_request("POST", "/exec/acme/ns/p/c", node="n1")
    assert request.forbidden_message("alice") == \
        "Forbidden (user=alice, verb=create, resource=nodes, subresource=proxy)"
    assert request.error_message("alice") == \
        "Authorization error (user=alice, verb=create, resource=nodes, subresource=proxy)"


@pytest.mark.parametrize(("cn", "o", "ou"), [
    ("system:admin", ("system:masters",), ()),
    ("alice", ("tenant:acme", "devs"), ("ops", "qa")),
    ("acme:carol", (), ()),
    ("kube-apiserver-kubelet-client", (), ()),
    ("dave", ("tenant:",), ()),
])
def test_a_certificate_names_the_same_user_to_kubelet_and_api_server(cn: str, o: tuple[str, ...],
                                                                      ou: tuple[str, ...]) -> None:
    cert = certificate(cn=cn, o=o, ou=ou)
    server_user = user_from_certificate(cert)
    requester = requester_from_certificate(cert.public_bytes(Encoding.DER))
    assert requester is not None
    assert requester.user == server_user.name
    assert requester.groups == (*server_user.groups, "system:authenticated")
    assert requester.extra == ((TENANT_EXTRA, (server_user.tenant,)),)


def test_a_certificate_without_common_name_is_no_credential() -> None:
    nameless = certificate(cn=None, o=("system:masters",))
    assert requester_from_certificate(nameless.public_bytes(Encoding.DER)) is None


def test_token_review_answers() -> None:
    accepted = {"authenticated": True, "user": {
        "username": "system:serviceaccount:ns:sa", "uid": "u1", "groups": ["system:serviceaccounts"],
        "extra": {TENANT_EXTRA: ["acme"]}}}
    assert requester_from_review(accepted) == Requester(
        "system:serviceaccount:ns:sa", ("system:serviceaccounts", "system:authenticated"), "u1",
        ((TENANT_EXTRA, ("acme",)),))
    assert requester_from_review({"authenticated": False, "user": {}, "error": "invalid"}) is None
    assert requester_from_review({"authenticated": True, "user": {"username": ""}}) is None


class FakeReviews:
    """Counts questions; answers from tables (raising ReviewFailed for a missing entry)."""

    def __init__(self, *, allowed: set[str] = frozenset(), tokens: dict[str, str] | None = None) -> None:
        self.allowed = set(allowed)
        self.tokens = tokens or {}
        self.sars: list[dict[str, Any]] = []
        self.token_reviews = 0
        self.failing = False

    async def token_review(self, token: str) -> dict[str, Any]:
        self.token_reviews += 1
        if self.failing:
            raise ReviewFailed("unreachable")
        user = self.tokens.get(token)
        return {"authenticated": user is not None, "user": {"username": user} if user else {}}

    async def subject_access_review(self, spec: dict[str, Any]) -> dict[str, Any]:
        self.sars.append(spec)
        if self.failing:
            raise ReviewFailed("unreachable")
        return {"allowed": spec["user"] in self.allowed}


ALICE = Requester("alice", ("system:authenticated",), extra=((TENANT_EXTRA, ("system",)),))
BOB = Requester("bob", ("system:authenticated",))
LOGS = node_request("GET", "/containerLogs/t/ns/p/c", node="n1")


def test_review_spec_names_the_node_and_the_subject() -> None:
    assert review_spec(ALICE, LOGS) == {
        "user": "alice", "groups": ["system:authenticated"], "extra": {TENANT_EXTRA: ["system"]},
        "resourceAttributes": {"verb": "get", "group": "", "version": "v1", "resource": "nodes",
                               "subresource": "proxy", "name": "n1"}}


async def test_allowed_answers_are_cached_denied_ones_for_their_ttl() -> None:
    reviews = FakeReviews(allowed={"alice"})
    authorizer = WebhookAuthorizer(reviews, authorized_ttl_s=300.0, unauthorized_ttl_s=0.0)
    assert [await authorizer.allowed(ALICE, LOGS) for _ in range(3)] == [True, True, True]
    assert [await authorizer.allowed(BOB, LOGS) for _ in range(2)] == [False, False]
    assert [s["user"] for s in reviews.sars] == ["alice", "bob", "bob"]  # denials kept for 0 s
    await authorizer.allowed(ALICE, node_request("POST", "/exec/t/ns/p/c", node="n1"))
    assert len(reviews.sars) == 4  # another verb is another question


async def test_a_failed_review_is_not_cached() -> None:
    reviews = FakeReviews(allowed={"alice"})
    authorizer = WebhookAuthorizer(reviews)
    reviews.failing = True
    with pytest.raises(ReviewFailed):
        await authorizer.allowed(ALICE, LOGS)
    reviews.failing = False
    assert await authorizer.allowed(ALICE, LOGS) is True


async def test_token_answers_are_cached_refusals_too() -> None:
    reviews = FakeReviews(tokens={"good": "carol"})
    tokens = TokenAuthenticator(reviews)
    assert (await tokens.authenticate("good")) == Requester("carol", ("system:authenticated",))
    assert await tokens.authenticate("good") is not None
    assert await tokens.authenticate("bad") is None
    assert await tokens.authenticate("bad") is None
    assert reviews.token_reviews == 2


def test_expiring_cache_expires_and_stays_bounded() -> None:
    now = [0.0]
    cache: ExpiringCache[str, int] = ExpiringCache(max_entries=3, clock=lambda: now[0])
    cache.put("a", 1, ttl_s=10.0)
    cache.put("b", 2, ttl_s=1.0)
    cache.put("zero", 0, ttl_s=0.0)
    assert (cache.get("a"), cache.get("b"), cache.get("zero")) == (1, 2, None)
    now[0] = 5.0
    assert (cache.get("a"), cache.get("b")) == (1, None)
    for key in ("c", "d", "e"):
        cache.put(key, 0, ttl_s=10.0)
    assert len(cache) == 3 and cache.get("a") is None  # the oldest went first
