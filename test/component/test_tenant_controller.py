"""The tenant lifecycle controller, run as ``python -m controllers`` against a real API server.

Covers: a new tenant gets namespaces default/kube-system/kube-public, ClusterRole admin-role
(everything allowed), ClusterRoleBinding admin-role-binding (User admin) and the flat default
Network, all inside the tenant; a deleted default object is re-created; the discovery-driven sweep
empties one tenant (tenant-scoped and namespaced objects, its own namespaces) and leaves another
tenant alone; deleting a tenant makes it Terminating, removes all of its objects and then the
tenant itself (finalizer ``arktos``); the process works over TLS with arktos-up's
controller.kubeconfig; a new tenant's ``Initialized`` condition is False (Initializing) until the
controller has made its defaults, then True, so stock kubectl's ``kubectl wait
--for=condition=Initialized tenant/NAME`` returns and the tenant's admin (a certificate from
hack/setup-tenant-user.sh) is authorised at once, every time. Leaves out Events (issue 4).
"""

from __future__ import annotations

import asyncio
import os
import subprocess
import sys
import uuid
from collections.abc import AsyncIterator, Awaitable, Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
from apiserver_process import REPO_ROOT, ApiServerProcess, log_tail, start_apiserver, stop_process

from apis.tenant_status import condition_of
from client import errors
from client.config import config_for_url, load_kubeconfig
from client.resources import (
    CLUSTER_ROLE_BINDINGS,
    CLUSTER_ROLES,
    CONFIGMAPS,
    NAMESPACES,
    NETWORKS,
    SECRETS,
    TENANTS,
    ResourceRef,
)
from client.rest import ApiClient
from controllers.tenant_cleanup import discover_tenanted_resources, sweep_tenant
from controllers.tenant_defaults import INITIAL_NAMESPACES

ROLES = ResourceRef("rbac.authorization.k8s.io", "v1", "roles", "Role")
WAIT_S = 20.0
VENV_KUBECTL = REPO_ROOT / ".venv" / "bin" / "kubectl"


def start_controller_manager(kubeconfig: Path, log_path: Path, *extra: str) -> subprocess.Popen[bytes]:
    with log_path.open("ab") as log:
        return subprocess.Popen(
            [sys.executable, "-m", "controllers", "--kubeconfig", str(kubeconfig),
             "--controllers", "tenant,namespace", *extra],
            cwd=REPO_ROOT, stdout=log, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL,
            start_new_session=True)


@pytest.fixture(scope="module")
def controller_manager(apiserver: ApiServerProcess,
                       tmp_path_factory: pytest.TempPathFactory) -> Iterator[Path]:
    """``python -m controllers --kubeconfig ... --controllers tenant,namespace`` (emptying a tenant
    deletes its namespaces, which the namespace controller finalizes); yields its log path."""
    log_path = tmp_path_factory.mktemp("kcm") / "kube-controller-manager.log"
    process = start_controller_manager(apiserver.kubeconfig, log_path)
    try:
        yield log_path
    finally:
        code = stop_process(process)
        assert code == 0, f"controller manager exited {code}:\n{log_tail(log_path)}"


@pytest.fixture
async def client(apiserver: ApiServerProcess) -> AsyncIterator[ApiClient]:
    async with ApiClient(config_for_url(apiserver.url)) as api_client:
        yield api_client


async def eventually(check: Callable[[], Awaitable[bool]], what: str, log_path: Path | None = None) -> None:
    """Polls ``check`` every 100 ms, failing with the controller's log after WAIT_S."""
    for _ in range(int(WAIT_S / 0.1)):
        if await check():
            return
        await asyncio.sleep(0.1)
    tail = log_tail(log_path) if log_path else ""
    pytest.fail(f"not within {WAIT_S}s: {what}\ncontroller log:\n{tail}")


async def exists(client: ApiClient, ref: ResourceRef, name: str, *, tenant: str,
                 namespace: str | None = None) -> dict[str, Any] | None:
    try:
        return await client.get(ref, name, tenant=tenant, namespace=namespace)
    except errors.NotFound:
        return None


async def create_tenant(client: ApiClient, prefix: str) -> str:
    name = f"{prefix}-{uuid.uuid4().hex[:6]}"
    await client.create(TENANTS, {"apiVersion": "v1", "kind": "Tenant", "metadata": {"name": name}})
    return name


async def defaults_present(client: ApiClient, tenant: str) -> bool:
    checks = [exists(client, NAMESPACES, ns, tenant=tenant) for ns in INITIAL_NAMESPACES]
    checks += [exists(client, CLUSTER_ROLES, "admin-role", tenant=tenant),
               exists(client, CLUSTER_ROLE_BINDINGS, "admin-role-binding", tenant=tenant),
               exists(client, NETWORKS, "default", tenant=tenant)]
    return all(await asyncio.gather(*checks))


async def populate(client: ApiClient, tenant: str) -> None:
    """Objects of several scopes and groups inside ``tenant``."""
    await client.create(NAMESPACES, {"metadata": {"name": "app"}}, tenant=tenant)
    for ns in ("app", "default"):
        await client.create(CONFIGMAPS, {"metadata": {"name": "web"}, "data": {"t": tenant}},
                            tenant=tenant, namespace=ns)
    await client.create(SECRETS, {"metadata": {"name": "s"}, "stringData": {"k": "v"}}, tenant=tenant,
                        namespace="app")
    await client.create(ROLES, {"metadata": {"name": "reader"}, "rules": []}, tenant=tenant, namespace="app")
    await client.create(CLUSTER_ROLES, {"metadata": {"name": "extra"}, "rules": []}, tenant=tenant)


async def tenant_objects(client: ApiClient, tenant: str) -> dict[str, int]:
    """How many objects of each tenanted resource (namespaces included) the tenant holds."""
    counts: dict[str, int] = {}
    for resource in await discover_tenanted_resources(client):
        try:
            items = (await client.list(resource.ref, tenant=tenant))["items"]
        except errors.NotFound:
            continue
        if items:
            counts[str(resource.ref)] = len(items)
    namespaces = (await client.list(NAMESPACES, tenant=tenant))["items"]
    if namespaces:
        counts["namespaces"] = len(namespaces)
    return counts


async def test_new_tenants_get_namespaces_roles_and_network(client: ApiClient,
                                                            controller_manager: Path) -> None:
    tenants = [await create_tenant(client, "acme"), await create_tenant(client, "globex")]
    for tenant in tenants:
        await eventually(lambda t=tenant: defaults_present(client, t),  # type: ignore[misc]
                         f"defaults of tenant {tenant}", controller_manager)
        role = await client.get(CLUSTER_ROLES, "admin-role", tenant=tenant)
        assert {"apiGroups": ["*"], "resources": ["*"], "verbs": ["*"]} in role["rules"]
        assert {"nonResourceURLs": ["*"], "verbs": ["*"]} in role["rules"]
        binding = await client.get(CLUSTER_ROLE_BINDINGS, "admin-role-binding", tenant=tenant)
        assert binding["roleRef"]["name"] == "admin-role"
        assert [(s["kind"], s["name"]) for s in binding["subjects"]] == [("User", "admin")]
        network = await client.get(NETWORKS, "default", tenant=tenant)
        assert network["spec"]["type"] == "flat" and network["metadata"]["tenant"] == tenant
    assert await exists(client, TENANTS, "system", tenant="") is not None
    # Tenant system's users act everywhere: no blanket binding for a user called admin there.
    assert await exists(client, CLUSTER_ROLE_BINDINGS, "admin-role-binding", tenant="system") is None


async def test_deleted_default_objects_come_back(client: ApiClient, controller_manager: Path) -> None:
    tenant = await create_tenant(client, "heal")
    await eventually(lambda: defaults_present(client, tenant), "defaults", controller_manager)
    old = await client.get(CLUSTER_ROLE_BINDINGS, "admin-role-binding", tenant=tenant)
    await client.delete(CLUSTER_ROLE_BINDINGS, "admin-role-binding", tenant=tenant)
    await client.delete(NETWORKS, "default", tenant=tenant)

    async def recreated() -> bool:
        binding = await exists(client, CLUSTER_ROLE_BINDINGS, "admin-role-binding", tenant=tenant)
        network = await exists(client, NETWORKS, "default", tenant=tenant)
        return bool(binding and network and binding["metadata"]["uid"] != old["metadata"]["uid"])

    await eventually(recreated, "re-created binding and network", controller_manager)


async def test_sweep_empties_one_tenant_and_spares_the_other(server_factory: Any) -> None:
    # Its own server without a controller manager: nothing re-creates what the sweep deletes.
    server: ApiServerProcess = await asyncio.to_thread(server_factory)
    async with ApiClient(config_for_url(server.url)) as client:
        doomed, spared = await create_tenant(client, "doomed"), await create_tenant(client, "spared")
        for tenant in (doomed, spared):
            await client.create(NETWORKS, {"metadata": {"name": "default"}, "spec": {"type": "flat"}},
                                tenant=tenant)
            for ns in INITIAL_NAMESPACES:
                await client.create(NAMESPACES, {"metadata": {"name": ns}}, tenant=tenant)
            await populate(client, tenant)
        before = await tenant_objects(client, spared)
        resources = await discover_tenanted_resources(client)
        assert await sweep_tenant(client, doomed, resources) > 0  # first pass: objects, not namespaces
        await sweep_tenant(client, doomed, resources)  # second pass: the namespaces
        left = await tenant_objects(client, doomed)
        # While the tenant is Active the server refuses to delete its three default namespaces.
        assert set(left) <= {"namespaces"}, left
        # Without a namespace controller, a deleted namespace stays Terminating (finalizer kubernetes).
        remaining = {n["metadata"]["name"] for n in (await client.list(NAMESPACES, tenant=doomed))["items"]
                     if n.get("status", {}).get("phase") != "Terminating"}
        assert remaining <= set(INITIAL_NAMESPACES)
        assert await tenant_objects(client, spared) == before


async def test_deleting_a_tenant_removes_its_objects_then_the_tenant(
        client: ApiClient, controller_manager: Path) -> None:
    doomed, spared = await create_tenant(client, "bye"), await create_tenant(client, "stay")
    for tenant in (doomed, spared):
        await eventually(lambda t=tenant: defaults_present(client, t),  # type: ignore[misc]
                         f"defaults of {tenant}", controller_manager)
        await populate(client, tenant)
    spared_before = await tenant_objects(client, spared)
    await client.delete(TENANTS, doomed)
    # The server keeps the tenant, Terminating, until the controller has emptied it.
    terminating = await exists(client, TENANTS, doomed, tenant="")
    assert terminating is not None and terminating["status"]["phase"] == "Terminating"

    async def tenant_gone() -> bool:
        return await exists(client, TENANTS, doomed, tenant="") is None

    await eventually(tenant_gone, f"tenant {doomed} deleted", controller_manager)
    assert await tenant_objects(client, doomed) == {}
    assert await tenant_objects(client, spared) == spared_before
    assert await exists(client, TENANTS, "system", tenant="") is not None


async def test_controller_manager_over_tls_with_its_own_kubeconfig(
        tmp_path_factory: pytest.TempPathFactory) -> None:
    """As arktos-up runs it: TLS, the controller.kubeconfig client certificate (not in system:masters),
    each controller as its own service account."""
    workdir = tmp_path_factory.mktemp("tls")
    server = await asyncio.to_thread(start_apiserver, workdir, tls=True)
    assert server.credentials is not None
    log_path = workdir / "kube-controller-manager.log"
    process = start_controller_manager(server.credentials.cert_dir / "controller.kubeconfig", log_path,
                                       "--use-service-account-credentials")
    try:
        async with ApiClient(load_kubeconfig(server.kubeconfig)) as client:
            tenant = await create_tenant(client, "secure")
            await eventually(lambda: defaults_present(client, tenant), f"defaults of {tenant}", log_path)
    finally:
        code = await asyncio.to_thread(stop_process, process)
        await asyncio.to_thread(server.stop)
    assert code == 0, log_tail(log_path)


async def test_a_new_tenant_is_not_initialized_until_its_controller_ran(server_factory: Any) -> None:
    # Its own server without a controller manager: nothing initialises the tenant.
    server: ApiServerProcess = await asyncio.to_thread(server_factory)
    async with ApiClient(config_for_url(server.url)) as client:
        tenant = await create_tenant(client, "fresh")
        condition = condition_of(await client.get(TENANTS, tenant))
        assert condition is not None, "a new tenant says it is not initialised yet"
        assert (condition["status"], condition["reason"]) == ("False", "Initializing")
        assert condition["lastTransitionTime"].endswith("Z") and "tenant controller" in condition["message"]


async def test_kubectl_wait_for_initialized_then_the_tenant_admin_is_authorised(
        tmp_path_factory: pytest.TempPathFactory) -> None:
    """The README's flow with stock kubectl: create, ``kubectl wait``, act as the tenant's admin."""
    workdir = tmp_path_factory.mktemp("ready")
    server = await asyncio.to_thread(start_apiserver, workdir, tls=True)
    assert server.credentials is not None
    log_path = workdir / "kube-controller-manager.log"
    process = start_controller_manager(server.credentials.cert_dir / "controller.kubeconfig", log_path,
                                       "--use-service-account-credentials")
    try:
        for attempt in range(3):  # the race the condition closes: repeat it
            tenant = f"ready-{attempt}-{uuid.uuid4().hex[:4]}"
            await asyncio.to_thread(_create_wait_and_use, server, workdir, tenant, log_path)
        async with ApiClient(load_kubeconfig(server.kubeconfig)) as client:
            condition = condition_of(await client.get(TENANTS, tenant))
        assert condition is not None and condition["status"] == "True", condition
        assert condition["reason"] == "DefaultsCreated" and "ClusterRoleBinding admin-role-binding" in \
            condition["message"]
    finally:
        code = await asyncio.to_thread(stop_process, process)
        await asyncio.to_thread(server.stop)
    assert code == 0, log_tail(log_path)


def _kubectl(kubeconfig: Path, cache: Path, *args: str, stdin: str | None = None) -> str:
    result = subprocess.run([str(VENV_KUBECTL), f"--kubeconfig={kubeconfig}", f"--cache-dir={cache}", *args],
                            input=stdin, capture_output=True, text=True, timeout=60)
    assert result.returncode == 0, f"kubectl {' '.join(args)}: {result.stderr}"
    return result.stdout


def _create_wait_and_use(server: ApiServerProcess, workdir: Path, tenant: str, log_path: Path) -> None:
    assert server.credentials is not None
    admin = server.kubeconfig
    _kubectl(admin, workdir / "cache-admin", "create", "-f", "-",
             stdin=f"apiVersion: v1\nkind: Tenant\nmetadata:\n  name: {tenant}\n")
    waited = subprocess.run([str(VENV_KUBECTL), f"--kubeconfig={admin}",
                             f"--cache-dir={workdir / 'cache-admin'}",
                             "wait", "--for=condition=Initialized", f"tenant/{tenant}", "--timeout=30s"],
                            capture_output=True, text=True, timeout=60)
    assert waited.returncode == 0, f"{waited.stderr}\ncontroller log:\n{log_tail(log_path)}"
    assert waited.stdout.strip() == f"tenant/{tenant} condition met", waited.stdout
    env = {**os.environ, "CERT_DIR": str(server.credentials.cert_dir), "API_HOST_IP": "127.0.0.1",
           "API_SECURE_PORT": str(server.port)}
    issued = subprocess.run(["bash", str(REPO_ROOT / "hack" / "setup-tenant-user.sh"), tenant, "admin"],
                            env=env, capture_output=True, text=True, timeout=60)
    assert issued.returncode == 0, issued.stderr
    user_kubeconfig = Path(issued.stdout.splitlines()[-1])
    # No retry: right after the wait, the tenant's admin may act in its default namespace.
    cache = workdir / f"cache-{tenant}"
    _kubectl(user_kubeconfig, cache, "create", "configmap", "hello", "--from-literal=k=v", "-n", "default")
    assert _kubectl(user_kubeconfig, cache, "get", "configmap", "hello", "-o", "jsonpath={.data.k}") == "v"
