"""Tenants, their token users and raw sockets for the flow-control component tests.

The flow-control tests need what the component suite's plain port does not give by default:
requests from tenant users (bearer tokens from ``--token-auth-file``; the plain port's anonymous
caller is system:admin, which flow control exempts), tenants with a namespace and RBAC for their
``admin`` (what the tenant controller would create), and requests that hold a seat on purpose: a
POST whose body stops half way keeps its handler (and its seat) busy until the rest arrives or
the client hangs up.
"""

from __future__ import annotations

import asyncio
import re
from dataclasses import dataclass
from pathlib import Path

import aiohttp
import orjson
from component_http import Api, configmap

TENANT_TOKENS = {"acme": "flowcontrol-acme-token", "globex": "flowcontrol-globex-token"}
NAMESPACE = "work"
SEEN = "seen"  # a ConfigMap each tenant's namespace holds
RBAC = "/apis/rbac.authorization.k8s.io/v1/tenants"


def write_token_file(directory: Path) -> Path:
    path = directory / "tokens.csv"
    path.write_text("".join(f'{token},admin,{tenant}-admin,"",,{tenant}\n'
                            for tenant, token in TENANT_TOKENS.items()))
    return path


def bearer(tenant: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {TENANT_TOKENS[tenant]}"}


async def make_tenants(url: str) -> None:
    """Each tenant with namespace `work`, ConfigMap `seen` and all rights for its ``admin``."""
    async with aiohttp.ClientSession() as session:
        admin = Api(session, url)
        for tenant in TENANT_TOKENS:
            await admin.ok("POST", "/api/v1/tenants", {"apiVersion": "v1", "kind": "Tenant",
                                                       "metadata": {"name": tenant}})
            await admin.ok("POST", f"/api/v1/tenants/{tenant}/namespaces",
                           {"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": NAMESPACE}})
            await admin.ok("POST", f"{RBAC}/{tenant}/clusterroles", {
                "apiVersion": "rbac.authorization.k8s.io/v1", "kind": "ClusterRole",
                "metadata": {"name": "admin-role"},
                "rules": [{"apiGroups": ["*"], "resources": ["*"], "verbs": ["*"]}]})
            await admin.ok("POST", f"{RBAC}/{tenant}/clusterrolebindings", {
                "apiVersion": "rbac.authorization.k8s.io/v1", "kind": "ClusterRoleBinding",
                "metadata": {"name": "admin-role-binding"},
                "roleRef": {"apiGroup": "rbac.authorization.k8s.io", "kind": "ClusterRole",
                            "name": "admin-role"},
                "subjects": [{"apiGroup": "rbac.authorization.k8s.io", "kind": "User", "name": "admin"}]})
            await admin.ok("POST", f"/api/v1/tenants/{tenant}/namespaces/{NAMESPACE}/configmaps",
                           configmap(SEEN))


async def metric(url: str, name: str, **labels: str) -> float:
    """One sample of /metrics (0 when absent), read as the exempt system:admin."""
    async with aiohttp.ClientSession() as session, session.get(f"{url}/metrics") as response:
        text = await response.text()
    wanted = ",".join(f'{k}="{v}"' for k, v in labels.items())
    match = re.search(rf"^{re.escape(name)}(?:{{{re.escape(wanted)}}})? (\S+)$", text, re.MULTILINE)
    return float(match.group(1)) if match else 0.0


async def until_metric(url: str, name: str, value: float, *, within: float = 10.0, **labels: str) -> None:
    deadline = asyncio.get_running_loop().time() + within
    while (seen := await metric(url, name, **labels)) != value:
        assert asyncio.get_running_loop().time() < deadline, f"{name}{labels} stayed {seen}, not {value}"
        await asyncio.sleep(0.05)


@dataclass
class RawRequest:
    """An HTTP/1.1 request on its own connection, its body held back until `finish`."""

    reader: asyncio.StreamReader
    writer: asyncio.StreamWriter
    rest: bytes

    async def finish(self) -> tuple[int, bytes]:
        self.writer.write(self.rest)
        await self.writer.drain()
        return await self.response()

    async def response(self) -> tuple[int, bytes]:
        """Status code and body (Content-Length framed, as our Status answers are)."""
        head = await self.reader.readuntil(b"\r\n\r\n")
        status = int(head.split(b" ", 2)[1])
        length = int(re.search(rb"(?i)content-length: (\d+)", head).group(1))  # type: ignore[union-attr]
        return status, await self.reader.readexactly(length)

    def hang_up(self) -> None:
        self.writer.transport.abort()


async def stalled_post(port: int, tenant: str, name: str) -> RawRequest:
    """A ConfigMap create whose body stops after a few bytes: it runs (and holds a seat) until
    `RawRequest.finish` or `RawRequest.hang_up`."""
    body = orjson.dumps(configmap(name))
    reader, writer = await asyncio.open_connection("127.0.0.1", port)
    writer.write(
        f"POST /api/v1/namespaces/{NAMESPACE}/configmaps HTTP/1.1\r\nHost: 127.0.0.1\r\n"
        f"Authorization: Bearer {TENANT_TOKENS[tenant]}\r\nContent-Type: application/json\r\n"
        f"Content-Length: {len(body)}\r\n\r\n".encode() + body[:5])
    await writer.drain()
    return RawRequest(reader, writer, body[5:])


async def raw_get(port: int, tenant: str, path: str) -> RawRequest:
    reader, writer = await asyncio.open_connection("127.0.0.1", port)
    writer.write(f"GET {path} HTTP/1.1\r\nHost: 127.0.0.1\r\n"
                 f"Authorization: Bearer {TENANT_TOKENS[tenant]}\r\n\r\n".encode())
    await writer.drain()
    return RawRequest(reader, writer, b"")
