"""Who may see and work VM pod Actions: tenant isolation and the node authorizer, over TLS.

A TLS-only API server with a static token file holds the system admin, an ``admin`` in each of
tenants acme and globex (bound to an all-verbs ``admin-role`` in their tenant, as the tenant
controller would do) and the kubelets ``system:node:n1`` and ``system:node:n2``.
Covers: a tenant admin creating an action through pods/action in its own tenant; another
tenant's admin neither seeing it (own-tenant list empty, name 404) nor reaching it (403 on the
acme path, on pods/action and on the Action); the system admin listing it across tenants; a
kubelet listing and watching actions of every tenant only with ``fieldSelector=spec.nodeName=<own
node>`` (403 without it or for another node), reading and writing /status only of actions
addressed to its node (403 for the other node's), and not creating actions.
Leaves out RBAC roles beyond the tenant admin's, and the tenant controller (tenants are set up by
hand here).
"""

from __future__ import annotations

import secrets
import ssl
from collections.abc import AsyncIterator, Awaitable, Callable
from pathlib import Path

import aiohttp
import pytest
from apiserver_process import ApiServerProcess, start_apiserver
from component_http import REQUEST_TIMEOUT_S, Api, assert_status
from vm_actions_fixtures import bound_vm_pod, custom_action

# label -> (user, groups, tenant)
USERS = {
    "root": ("root", "system:masters", "system"),
    "acme": ("admin", "", "acme"),
    "globex": ("admin", "", "globex"),
    "n1": ("system:node:n1", "system:nodes", "system"),
    "n2": ("system:node:n2", "system:nodes", "system"),
}
RBAC = "/apis/rbac.authorization.k8s.io/v1/tenants"

Login = Callable[[str], Awaitable[Api]]


@pytest.fixture(scope="module")
def tls_server(tmp_path_factory: pytest.TempPathFactory) -> tuple[ApiServerProcess, dict[str, str]]:
    workdir = tmp_path_factory.mktemp("actions-tls")
    tokens = {label: secrets.token_hex(16) for label in USERS}
    token_file = workdir / "tokens.csv"
    token_file.write_text("".join(f'{tokens[label]},{user},{label}-uid,"{groups}",,{tenant}\n'
                                  for label, (user, groups, tenant) in USERS.items()))
    server = start_apiserver(workdir, tls=True, extra_args=["--token-auth-file", str(token_file)])
    yield server, tokens  # type: ignore[misc]
    server.stop()


@pytest.fixture
async def login(tls_server: tuple[ApiServerProcess, dict[str, str]]) -> AsyncIterator[Login]:
    server, tokens = tls_server
    assert server.credentials is not None
    context = ssl.create_default_context(cafile=str(Path(server.credentials.ca_cert)))
    sessions: list[aiohttp.ClientSession] = []

    async def as_user(label: str) -> Api:
        session = aiohttp.ClientSession(
            timeout=aiohttp.ClientTimeout(total=REQUEST_TIMEOUT_S),
            connector=aiohttp.TCPConnector(ssl=context),
            headers={"Authorization": f"Bearer {tokens[label]}"})
        sessions.append(session)
        return Api(session, server.url)

    yield as_user
    for session in sessions:
        await session.close()


async def _tenant(root: Api, name: str) -> None:
    """Tenant, its default namespace and an admin-role for its ``admin`` (the tenant controller's job)."""
    if (await root.get(f"/api/v1/tenants/{name}")).status == 404:
        await root.ok("POST", "/api/v1/tenants", {"apiVersion": "v1", "kind": "Tenant",
                                                  "metadata": {"name": name}})
        await root.ok("POST", f"/api/v1/tenants/{name}/namespaces",
                      {"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": "default"}})
        await root.ok("POST", f"{RBAC}/{name}/clusterroles", {
            "apiVersion": "rbac.authorization.k8s.io/v1", "kind": "ClusterRole",
            "metadata": {"name": "admin-role"},
            "rules": [{"apiGroups": ["*"], "resources": ["*"], "verbs": ["*"]}]})
        await root.ok("POST", f"{RBAC}/{name}/clusterrolebindings", {
            "apiVersion": "rbac.authorization.k8s.io/v1", "kind": "ClusterRoleBinding",
            "metadata": {"name": "admin-role-binding"},
            "roleRef": {"apiGroup": "rbac.authorization.k8s.io", "kind": "ClusterRole", "name": "admin-role"},
            "subjects": [{"apiGroup": "rbac.authorization.k8s.io", "kind": "User", "name": "admin"}]})


async def test_actions_stay_in_their_tenant(login: Login) -> None:
    root, acme, globex = await login("root"), await login("acme"), await login("globex")
    for tenant in ("acme", "globex"):
        await _tenant(root, tenant)
    pods = "/api/v1/namespaces/default/pods"
    await bound_vm_pod(acme, pods, "vm-iso", "node-iso")
    name = (await acme.ok("POST", f"{pods}/vm-iso/action", custom_action("reboot")))["details"]["name"]
    mine = await acme.ok("GET", "/api/v1/namespaces/default/actions")
    assert [a["metadata"]["name"] for a in mine["items"]] == [name]
    assert mine["items"][0]["metadata"]["tenant"] == "acme"

    theirs = await globex.ok("GET", "/api/v1/namespaces/default/actions")
    assert theirs["items"] == []
    assert_status(await globex.get(f"/api/v1/namespaces/default/actions/{name}"), 404, "NotFound")
    acme_path = "/api/v1/tenants/acme/namespaces/default"
    assert_status(await globex.get(f"{acme_path}/actions/{name}"), 403, "Forbidden")
    assert_status(await globex.post(f"{acme_path}/pods/vm-iso/action", custom_action("reboot")),
                  403, "Forbidden")
    assert_status(await globex.post(f"{pods}/vm-iso/action", custom_action("reboot")), 404, "NotFound")

    everywhere = await root.ok("GET", "/api/v1/actions", params={"fieldSelector": "spec.nodeName=node-iso"})
    assert [(a["metadata"]["tenant"], a["metadata"]["name"]) for a in everywhere["items"]] == [("acme", name)]


async def test_kubelets_work_only_their_nodes_actions(login: Login) -> None:
    root, n1, n2 = await login("root"), await login("n1"), await login("n2")
    await _tenant(root, "acme")
    pods = "/api/v1/tenants/system/namespaces/default/pods"
    await bound_vm_pod(root, pods, "vm-n1", "n1")
    await bound_vm_pod(root, pods, "vm-n2", "n2")
    acme_pods = "/api/v1/tenants/acme/namespaces/default/pods"
    await bound_vm_pod(root, acme_pods, "vm-acme-n1", "n1")
    for_n1 = (await root.ok("POST", f"{pods}/vm-n1/action", custom_action("reboot")))["details"]["name"]
    for_n2 = (await root.ok("POST", f"{pods}/vm-n2/action", custom_action("reboot")))["details"]["name"]
    await root.ok("POST", f"{acme_pods}/vm-acme-n1/action", custom_action("reboot"))

    listed = await n1.ok("GET", "/api/v1/actions", params={"fieldSelector": "spec.nodeName=n1"})
    assert sorted((a["metadata"]["tenant"], a["spec"]["podName"]) for a in listed["items"]) == [
        ("acme", "vm-acme-n1"), ("system", "vm-n1")]
    watch = await n1.get("/api/v1/actions", params={"fieldSelector": "spec.nodeName=n1", "watch": "true",
                                                    "timeoutSeconds": "1"})
    assert watch.status == 200
    for selector in ({}, {"fieldSelector": "spec.nodeName=n2"}):
        assert_status(await n1.get("/api/v1/actions", params=selector), 403, "Forbidden")

    actions = "/api/v1/tenants/system/namespaces/default/actions"
    assert (await n1.ok("GET", f"{actions}/{for_n1}"))["spec"]["nodeName"] == "n1"
    assert_status(await n1.get(f"{actions}/{for_n2}"), 403, "Forbidden")
    done = {"status": {"complete": True, "error": "", "rebootStatus": {"rebootSuccessful": True}}}
    written = await n1.ok("PATCH", f"{actions}/{for_n1}/status", done,
                          content_type="application/merge-patch+json")
    assert written["status"]["complete"] is True
    assert_status(await n1.patch(f"{actions}/{for_n2}/status", done), 403, "Forbidden")
    assert_status(await n1.patch(f"{actions}/{for_n1}", {"spec": {"nodeName": "n2"}}), 403, "Forbidden")
    assert_status(await n1.post(f"{pods}/vm-n1/action", custom_action("reboot")), 403, "Forbidden")
    # The other kubelet sees its own action only.
    theirs = await n2.ok("GET", "/api/v1/actions", params={"fieldSelector": "spec.nodeName=n2"})
    assert [a["metadata"]["name"] for a in theirs["items"]] == [for_n2]
