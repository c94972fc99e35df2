"""The root-CA publisher, run as ``python -m controllers --root-ca-file F`` against a real server.

Covers: every namespace (tenant system and another tenant) gets ConfigMap ``kube-root-ca.crt``
whose ``ca.crt`` is the file's content; an edited bundle is put back (other keys kept); a deleted
ConfigMap is re-created; the flag wiring of the process (``--leader-elect=false`` too). Leaves
out the kubeconfig's certificate-authority fallback (unit-tested through ControllerOptions).
"""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator, Iterator
from pathlib import Path

import pytest
from apiserver_process import ApiServerProcess, log_tail, stop_process
from controller_harness import eventually, get_or_none, new_namespace, start_controller_manager

from client.config import config_for_url
from client.resources import CONFIGMAPS, TENANTS
from client.rest import ApiClient

CA = "-----BEGIN CERTIFICATE-----\nMIIBfakeCAforTests\n-----END CERTIFICATE-----\n"


@pytest.fixture(scope="module")
def controller_log(apiserver: ApiServerProcess, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Path]:
    workdir = tmp_path_factory.mktemp("rootca")
    (workdir / "ca.crt").write_text(CA)
    log_path = workdir / "kube-controller-manager.log"
    process = start_controller_manager(apiserver.url, log_path, "--controllers", "root-ca-cert-publisher",
                                       "--leader-elect=false", "--root-ca-file", str(workdir / "ca.crt"))
    try:
        yield log_path
    finally:
        code = stop_process(process)
        assert code == 0, f"controller manager exited {code}:\n{log_tail(log_path)}"


@pytest.fixture
async def client(apiserver: ApiServerProcess, controller_log: Path) -> AsyncIterator[ApiClient]:
    async with ApiClient(config_for_url(apiserver.url)) as api_client:
        yield api_client


async def published(client: ApiClient, tenant: str, ns: str) -> dict[str, str] | None:
    found = await get_or_none(client, CONFIGMAPS, "kube-root-ca.crt", tenant=tenant, namespace=ns)
    return found["data"] if found and found.get("data", {}).get("ca.crt") == CA else None


async def test_every_namespace_gets_the_cluster_ca(client: ApiClient) -> None:
    tenant = f"ca-{uuid.uuid4().hex[:6]}"
    await client.create(TENANTS, {"apiVersion": "v1", "kind": "Tenant", "metadata": {"name": tenant}})
    for where in ("system", tenant):
        ns = await new_namespace(client, tenant=where, prefix="ca")
        await eventually(lambda w=where, n=ns: published(client, w, n), f"kube-root-ca.crt in {where}/{ns}")
    assert await published(client, "system", "kube-system")  # namespaces older than the process too


async def test_edited_or_deleted_bundle_is_restored(client: ApiClient) -> None:
    ns = await new_namespace(client, prefix="ca-heal")
    await eventually(lambda: published(client, "system", ns), "first publication")
    current = await client.get(CONFIGMAPS, "kube-root-ca.crt", tenant="system", namespace=ns)
    current["data"] = {"ca.crt": "tampered", "extra": "kept"}
    await client.update(CONFIGMAPS, current, tenant="system", namespace=ns)
    restored = await eventually(lambda: published(client, "system", ns), "bundle restored")
    assert restored["extra"] == "kept"
    await client.delete(CONFIGMAPS, "kube-root-ca.crt", tenant="system", namespace=ns)
    await eventually(lambda: published(client, "system", ns), "ConfigMap re-created")
