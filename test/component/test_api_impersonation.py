"""Impersonation over TLS: ``Impersonate-*`` headers on a real server, as the system admin (client
certificate) and as tenant users (bearer tokens).

Covers: the system admin acting as a user of tenant acme (the tenant extra) sees (list and
watch) and writes only acme and is refused where that user is, with the user's name in
upstream's 403; SelfSubjectReview (``kubectl auth whoami``) and SelfSubjectAccessReview
(``kubectl auth can-i``) answered for the identity acted as (user, groups, uid, extras, tenant;
a service account with its groups and tenant); the audit log naming both identities; a tenant
user without the ``impersonate`` verb refused with upstream's text; with a ClusterRole of its
tenant granting it, acting as that tenant's admin but never reaching another tenant, nor naming
another tenant in the extra; flow control classifying the identity acted as; headers that name
no user answered 400 with a Status.
Leaves out: the identity-building rules' corner cases (test/unit/test_impersonation.py) and stock
kubectl ``--as`` (test/e2e/test_tenancy_impersonation.py).
"""

from __future__ import annotations

import json
import ssl
from collections.abc import AsyncIterator, Iterator
from pathlib import Path
from typing import Any

import aiohttp
import pytest
from component_http import REQUEST_TIMEOUT_S, Api, assert_status, configmap
from token_cluster import TokenServer, grant_cluster_role, logged_in, make_tenant, serve

from server.flowcontrol.config import PRIORITY_LEVELS

USERS = {
    "viewer": ("viewer", "", "acme"),
    "nobody": ("nobody", "", "acme"),
    "globex-admin": ("admin", "", "globex"),
}
TENANT_EXTRA = "Impersonate-Extra-arktos.futurewei.com%2Ftenant"
AS_ACME_ADMIN = {"Impersonate-User": "admin", TENANT_EXTRA: "acme"}


@pytest.fixture(scope="module")
def token_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[TokenServer]:
    yield from serve(tmp_path_factory, USERS, "impersonation")


@pytest.fixture
async def admin(token_server: TokenServer) -> AsyncIterator[Api]:
    """The system admin with its client certificate (system:masters)."""
    credentials = token_server[0].credentials
    assert credentials is not None
    context = ssl.create_default_context(cafile=str(credentials.ca_cert))
    context.load_cert_chain(credentials.admin_cert, credentials.admin_key)
    async with aiohttp.ClientSession(timeout=aiohttp.ClientTimeout(total=REQUEST_TIMEOUT_S),
                                     connector=aiohttp.TCPConnector(ssl=context)) as session:
        api = Api(session, token_server[0].url)
        for tenant in ("acme", "globex"):
            await make_tenant(api, tenant, "default")
        yield api


@pytest.fixture
async def users(token_server: TokenServer, admin: Api) -> AsyncIterator[dict[str, Api]]:
    async with logged_in(token_server, USERS) as apis:
        yield apis


def _audit_lines(token_server: TokenServer) -> list[dict[str, Any]]:
    path = Path(token_server[0].log_path).with_name("kube-apiserver-audit.log")
    return [json.loads(line) for line in path.read_text().splitlines()]


async def test_the_admin_acting_as_a_tenant_user_sees_and_writes_only_that_tenant(
        admin: Api, token_server: TokenServer) -> None:
    namespaces = await admin.ok("GET", "/api/v1/namespaces", headers=AS_ACME_ADMIN)
    assert {ns["metadata"].get("tenant") for ns in namespaces["items"]} == {"acme"}
    made = await admin.ok("POST", "/api/v1/namespaces/default/configmaps", configmap("made-as-admin"),
                          headers=AS_ACME_ADMIN)
    assert made["metadata"]["tenant"] == "acme"
    assert (await admin.get("/api/v1/tenants/acme/namespaces/default/configmaps/made-as-admin")).status == 200
    assert (await admin.get("/api/v1/namespaces/default/configmaps/made-as-admin")).status == 404

    # What acme's admin may not do, the admin acting as it may not either: upstream's 403 names it.
    refused = await admin.get("/api/v1/tenants/globex/namespaces/default/configmaps", headers=AS_ACME_ADMIN)
    status = assert_status(refused, 403, "Forbidden")
    assert status["message"] == ('configmaps is forbidden: User "admin" cannot list resource "configmaps" '
                                 'in API group "" in the namespace "default"')
    nodes = await admin.get("/api/v1/nodes", headers=AS_ACME_ADMIN)
    assert 'User "admin" cannot list resource "nodes"' in assert_status(nodes, 403, "Forbidden")["message"]

    line = next(e for e in reversed(_audit_lines(token_server))
                if e["verb"] == "create" and e["path"].endswith("/configmaps"))
    assert (line["user"], line["tenant"], line["code"]) == ("system:admin", "system", 201)
    assert line["impersonatedUser"] == {"username": "admin", "groups": ["system:authenticated"],
                                        "tenant": "acme"}

    # A watch is served (streamed) as the identity acted as too: acme's objects only.
    if (await admin.get("/api/v1/namespaces/default/configmaps/system-only")).status == 404:
        await admin.ok("POST", "/api/v1/namespaces/default/configmaps", configmap("system-only"))
    watched = await admin.get("/api/v1/namespaces/default/configmaps", headers=AS_ACME_ADMIN,
                              params={"watch": "1", "timeoutSeconds": "1"})
    assert watched.status == 200, watched.raw
    names = {json.loads(event)["object"]["metadata"]["name"] for event in watched.raw.splitlines()}
    assert "made-as-admin" in names and "system-only" not in names


async def test_reviews_answer_for_the_identity_acted_as(admin: Api) -> None:
    review = {"apiVersion": "authentication.k8s.io/v1", "kind": "SelfSubjectReview"}
    headers = {"Impersonate-User": "alice", "Impersonate-Group": "devs", "Impersonate-Uid": "u-7",
               "Impersonate-Extra-Scopes": "view", TENANT_EXTRA: "globex"}
    whoami = await admin.ok("POST", "/apis/authentication.k8s.io/v1/selfsubjectreviews", review,
                            headers=headers)
    assert whoami["status"]["userInfo"] == {
        "username": "alice", "uid": "u-7", "groups": ["devs", "system:authenticated"],
        "extra": {"scopes": ["view"], "arktos.futurewei.com/tenant": ["globex"]}}
    account = await admin.ok("POST", "/apis/authentication.k8s.io/v1/selfsubjectreviews", review,
                             headers={"Impersonate-User": "system:serviceaccount:default:bot",
                                      TENANT_EXTRA: "acme"})
    assert account["status"]["userInfo"]["groups"] == [
        "system:serviceaccounts", "system:serviceaccounts:default", "system:authenticated"]
    assert account["status"]["userInfo"]["extra"]["arktos.futurewei.com/tenant"] == ["acme"]

    can_i = {"apiVersion": "authorization.k8s.io/v1", "kind": "SelfSubjectAccessReview",
             "spec": {"resourceAttributes": {"verb": "list", "resource": "secrets", "namespace": "default"}}}
    path = "/apis/authorization.k8s.io/v1/selfsubjectaccessreviews"
    assert (await admin.ok("POST", path, can_i))["status"]["allowed"] is True
    assert (await admin.ok("POST", path, can_i, headers=AS_ACME_ADMIN))["status"]["allowed"] is True
    as_nobody = {"Impersonate-User": "nobody", TENANT_EXTRA: "acme"}
    assert (await admin.ok("POST", path, can_i, headers=as_nobody))["status"]["allowed"] is False


async def test_a_tenant_user_needs_the_impersonate_verb_in_its_tenant(
        admin: Api, users: dict[str, Api]) -> None:
    viewer = users["viewer"]
    refused = await viewer.get("/api/v1/namespaces/default/configmaps", headers={"Impersonate-User": "admin"})
    assert assert_status(refused, 403, "Forbidden")["message"] == (
        'users "admin" is forbidden: User "viewer" cannot impersonate resource "users" in API group "" '
        "at the cluster scope")
    # The system tenant's grants are not acme's: globex's admin is refused the same way.
    globex = await users["globex-admin"].get("/api/v1/namespaces/default/configmaps",
                                            headers={"Impersonate-User": "x", TENANT_EXTRA: "acme"})
    assert 'User "admin" cannot impersonate resource "userextras/arktos.futurewei.com/tenant"' in \
        assert_status(globex, 403, "Forbidden")["message"]

    if (await admin.get("/apis/rbac.authorization.k8s.io/v1/tenants/acme/clusterroles/impersonator")).status \
            == 404:
        await grant_cluster_role(admin, "acme", "impersonator", [
            {"apiGroups": [""], "resources": ["users"], "verbs": ["impersonate"], "resourceNames": ["admin"]},
            {"apiGroups": ["authentication.k8s.io"], "resources": ["userextras/arktos.futurewei.com/tenant"],
             "verbs": ["impersonate"]}], "viewer")
    as_admin = {"Impersonate-User": "admin"}
    made = await viewer.ok("POST", "/api/v1/namespaces/default/configmaps", configmap("made-by-viewer"),
                           headers=as_admin)
    assert made["metadata"]["tenant"] == "acme"
    other = await viewer.get("/api/v1/tenants/globex/namespaces/default/configmaps", headers=as_admin)
    assert 'User "admin" cannot list resource "configmaps"' in \
        assert_status(other, 403, "Forbidden")["message"]
    moved = await viewer.get("/api/v1/namespaces/default/configmaps",
                             headers={**as_admin, TENANT_EXTRA: "globex"})
    assert assert_status(moved, 403, "Forbidden")["message"].endswith(
        'a user of tenant "acme" can only impersonate identities of its own tenant')
    # Only `admin` is granted: acting as anyone else stays refused.
    alice = await viewer.get("/api/v1/namespaces/default/configmaps", headers={"Impersonate-User": "alice"})
    assert_status(alice, 403, "Forbidden")


async def test_flow_control_classifies_the_identity_acted_as(admin: Api) -> None:
    # Upstream runs impersonation before API Priority and Fairness: system:masters is exempt, the
    # tenant user it acts as queues at global-default like that user would.
    levels = {level.name: level.uid for level in PRIORITY_LEVELS}
    plain = await admin.get("/api/v1/namespaces/default/configmaps")
    assert plain.headers["X-Kubernetes-PF-PriorityLevel-UID"] == levels["exempt"]
    acting = await admin.get("/api/v1/namespaces/default/configmaps", headers=AS_ACME_ADMIN)
    assert acting.headers["X-Kubernetes-PF-PriorityLevel-UID"] == levels["global-default"]


async def test_parts_without_a_user_are_refused_with_a_status(admin: Api) -> None:
    reply = await admin.get("/api/v1/namespaces", headers={"Impersonate-Group": "system:masters"})
    assert "without impersonating a user" in assert_status(reply, 400, "BadRequest")["message"]
