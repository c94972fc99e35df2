"""The service-account controller against a real API server, run in-process.

Covers: a new namespace (tenant system and another tenant) gets ServiceAccount ``default``; a
deleted ``default`` account comes back (new uid). Leaves out token Secrets (upstream stopped
creating them in 1.24) and terminating namespaces (the server refuses creates there anyway).
"""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator

import pytest
from apiserver_process import ApiServerProcess
from controller_harness import eventually, get_or_none, new_namespace, running

from client.resources import TENANTS
from client.rest import ApiClient
from controllers.serviceaccount import SERVICE_ACCOUNTS, ServiceAccountController


@pytest.fixture
async def client(apiserver: ApiServerProcess) -> AsyncIterator[ApiClient]:
    async with running(apiserver.url, ServiceAccountController) as test_client:
        yield test_client


async def test_every_namespace_of_every_tenant_gets_a_default_account(client: ApiClient) -> None:
    tenant = f"sa-{uuid.uuid4().hex[:6]}"
    await client.create(TENANTS, {"apiVersion": "v1", "kind": "Tenant", "metadata": {"name": tenant}})
    for where in ("system", tenant):
        ns = await new_namespace(client, tenant=where, prefix="sa")
        account = await eventually(
            lambda w=where, n=ns: get_or_none(client, SERVICE_ACCOUNTS, "default", tenant=w, namespace=n),
            f"default account in {where}/{ns}")
        assert account["metadata"]["tenant"] == where


async def test_a_deleted_default_account_is_recreated(client: ApiClient) -> None:
    ns = await new_namespace(client, prefix="sa-heal")
    first = await eventually(lambda: get_or_none(client, SERVICE_ACCOUNTS, "default", namespace=ns),
                             "default account")
    await client.delete(SERVICE_ACCOUNTS, "default", tenant="system", namespace=ns)

    async def recreated() -> bool:
        again = await get_or_none(client, SERVICE_ACCOUNTS, "default", namespace=ns)
        return bool(again and again["metadata"]["uid"] != first["metadata"]["uid"])

    await eventually(recreated, "default account re-created")
