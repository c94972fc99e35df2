"""A TLS-only API server with static-token users of several tenants, for admission tests.

Admission that depends on who asks (RBAC escalation prevention, the Pod Security tenant floor)
needs authenticated users of different tenants. `start_token_server` starts the real server with
a token file (``token,user,uid,"groups",,tenant`` rows) and `Logins` hands out one raw-HTTP `Api`
per user. `make_tenant` sets a tenant up the way the tenant controller would (Tenant, namespaces,
``admin-role`` bound to its ``admin``), without running the controller.
"""

from __future__ import annotations

import contextlib
import secrets
import ssl
from collections.abc import AsyncIterator, Iterator
from pathlib import Path
from typing import Any

import aiohttp
import pytest
from apiserver_process import ApiServerProcess, start_apiserver
from component_http import REQUEST_TIMEOUT_S, Api

RBAC_V1 = "rbac.authorization.k8s.io/v1"
RBAC_API = "/apis/rbac.authorization.k8s.io/v1/tenants"
# label -> (user name, comma-separated groups, tenant)
Users = dict[str, tuple[str, str, str]]


TokenServer = tuple[ApiServerProcess, dict[str, str]]


def start_token_server(workdir: Path, users: Users) -> TokenServer:
    tokens = {label: secrets.token_hex(16) for label in users}
    token_file = workdir / "tokens.csv"
    token_file.write_text(
        "".join(
            f'{tokens[label]},{user},{label}-uid,"{groups}",,{tenant}\n'
            for label, (user, groups, tenant) in users.items()
        )
    )
    server = start_apiserver(workdir, tls=True, extra_args=["--token-auth-file", str(token_file)])
    return server, tokens


def serve(tmp_path_factory: pytest.TempPathFactory, users: Users, name: str) -> Iterator[TokenServer]:
    """Body of a module-scoped fixture: the server for ``users``, stopped afterwards."""
    server, tokens = start_token_server(tmp_path_factory.mktemp(name), users)
    try:
        yield server, tokens
    finally:
        server.stop()


@contextlib.asynccontextmanager
async def logged_in(token_server: TokenServer, users: Users) -> AsyncIterator[dict[str, Api]]:
    """One `Api` per user label, closed on exit."""
    logins = Logins(*token_server)
    try:
        yield {label: logins.as_user(label) for label in users}
    finally:
        await logins.close()


class Logins:
    """One aiohttp session per user, closed together."""

    def __init__(self, server: ApiServerProcess, tokens: dict[str, str]) -> None:
        assert server.credentials is not None
        self._server = server
        self._tokens = tokens
        self._context = ssl.create_default_context(cafile=str(Path(server.credentials.ca_cert)))
        self._sessions: list[aiohttp.ClientSession] = []

    def as_user(self, label: str) -> Api:
        session = aiohttp.ClientSession(
            timeout=aiohttp.ClientTimeout(total=REQUEST_TIMEOUT_S),
            connector=aiohttp.TCPConnector(ssl=self._context),
            headers={"Authorization": f"Bearer {self._tokens[label]}"},
        )
        self._sessions.append(session)
        return Api(session, self._server.url)

    async def close(self) -> None:
        for session in self._sessions:
            await session.close()


def role_ref(kind: str, name: str) -> dict[str, str]:
    return {"apiGroup": "rbac.authorization.k8s.io", "kind": kind, "name": name}


def user_subject(name: str) -> dict[str, str]:
    return {"apiGroup": "rbac.authorization.k8s.io", "kind": "User", "name": name}


def role(kind: str, name: str, rules: list[dict[str, Any]], **extra: Any) -> dict[str, Any]:
    return {"apiVersion": RBAC_V1, "kind": kind, "metadata": {"name": name}, "rules": rules, **extra}


def binding(kind: str, name: str, ref: dict[str, str], *users: str) -> dict[str, Any]:
    return {
        "apiVersion": RBAC_V1,
        "kind": kind,
        "metadata": {"name": name},
        "roleRef": ref,
        "subjects": [user_subject(u) for u in users],
    }


async def grant_cluster_role(
    root: Api, tenant: str, name: str, rules: list[dict[str, Any]], user: str
) -> None:
    """ClusterRole ``name`` with ``rules`` in ``tenant``, bound to ``user`` by a ClusterRoleBinding."""
    await root.ok("POST", f"{RBAC_API}/{tenant}/clusterroles", role("ClusterRole", name, rules))
    await root.ok("POST", f"{RBAC_API}/{tenant}/clusterrolebindings",
                  binding("ClusterRoleBinding", name, role_ref("ClusterRole", name), user))


async def make_tenant(root: Api, name: str, *namespaces: str) -> None:
    """Tenant ``name`` with ``namespaces`` and an all-powerful ``admin-role`` for its ``admin``."""
    if (await root.get(f"/api/v1/tenants/{name}")).status == 404:
        await root.ok(
            "POST", "/api/v1/tenants", {"apiVersion": "v1", "kind": "Tenant", "metadata": {"name": name}}
        )
        await root.ok(
            "POST",
            f"{RBAC_API}/{name}/clusterroles",
            role(
                "ClusterRole",
                "admin-role",
                [
                    {"apiGroups": ["*"], "resources": ["*"], "verbs": ["*"]},
                    {"nonResourceURLs": ["*"], "verbs": ["*"]},
                ],
            ),
        )
        await root.ok(
            "POST",
            f"{RBAC_API}/{name}/clusterrolebindings",
            binding(
                "ClusterRoleBinding", "admin-role-binding", role_ref("ClusterRole", "admin-role"), "admin"
            ),
        )
    for namespace in namespaces:
        if (await root.get(f"/api/v1/tenants/{name}/namespaces/{namespace}")).status == 404:
            await root.ok(
                "POST",
                f"/api/v1/tenants/{name}/namespaces",
                {"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": namespace}},
            )
