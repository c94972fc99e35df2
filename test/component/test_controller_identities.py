"""The controller manager without system:masters: each controller acts as its own service account.

A TLS `python -m server` with arktos-up's credentials and `python -m controllers --kubeconfig
controller.kubeconfig --use-service-account-credentials` (every controller), as arktos-up runs them.
Covers: the controller kubeconfig's certificate carries no group; a new tenant initialised by
``tenant-controller``; in that tenant a Deployment rolled out (ReplicaSet by
``deployment-controller``, pods by ``replicaset-controller``), its dependents removed by
``generic-garbage-collector`` after a background delete, and a namespace emptied and removed by
``namespace-controller`` — each writer read from the audit log; the accounts in tenant system's
kube-system; ``kubectl auth whoami``'s SelfSubjectReview answering a controller's token with its
account; a controller's token refused what its role does not grant (replicaset-controller reading
secrets, namespace-controller creating pods) and allowed what it does; no controller refused
anything during the run (no 403 in the controller manager's log); a service-account token renewed
once less than 20 % of its life is left, and replaced after a 401 when its account was deleted (the
account re-created); an issuer that may not make tokens failing with CredentialsUnavailable.
Leaves out the scheduler and kubelets (test/e2e/test_arktos_up_identities.py runs the whole cluster).
"""

from __future__ import annotations

import dataclasses
import json
import re
import subprocess
import sys
import uuid
from collections.abc import AsyncIterator, Iterator
from pathlib import Path
from typing import Any

import pytest
from apiserver_process import REPO_ROOT, ApiServerProcess, log_tail, start_apiserver, stop_process
from component_http import deployment
from controller_harness import eventually
from cryptography.x509.oid import NameOID
from workload_env import DEPLOYMENTS, PODS, REPLICA_SETS

from client.config import load_kubeconfig
from client.errors import CredentialsUnavailable, Forbidden, NotFound
from client.resources import CONFIGMAPS, NAMESPACES, TENANTS, ResourceRef
from client.rest import ApiClient
from client.service_account_token import ServiceAccountTokenSource
from tools.kubeconfig import embedded_client_pair, read_kubeconfig

pytestmark = pytest.mark.e2e

SERVICE_ACCOUNTS = ResourceRef("", "v1", "serviceaccounts", "ServiceAccount")
WHOAMI = "/apis/authentication.k8s.io/v1/selfsubjectreviews"  # what `kubectl auth whoami` sends
SELF_REVIEW = {"apiVersion": "authentication.k8s.io/v1", "kind": "SelfSubjectReview"}
WAIT_S = 40.0


def controller(name: str) -> str:
    return f"system:serviceaccount:kube-system:{name}"


@pytest.fixture(scope="module")
def cluster(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[ApiServerProcess, Path]]:
    """The TLS server and the controller manager's log; stops both (the manager must exit 0)."""
    workdir = tmp_path_factory.mktemp("identities")
    server = start_apiserver(workdir, tls=True)
    assert server.credentials is not None
    log_path = workdir / "kube-controller-manager.log"
    with log_path.open("ab") as log:
        manager = subprocess.Popen(
            [sys.executable, "-m", "controllers", "--kubeconfig",
             str(server.credentials.cert_dir / "controller.kubeconfig"), "--use-service-account-credentials",
             "--leader-elect=false"],
            cwd=REPO_ROOT, stdout=log, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL,
            start_new_session=True)
    try:
        yield server, log_path
    finally:
        code = stop_process(manager)
        server.stop()
        assert code == 0, log_tail(log_path)


@pytest.fixture
async def admin(cluster: tuple[ApiServerProcess, Path]) -> AsyncIterator[ApiClient]:
    async with ApiClient(load_kubeconfig(cluster[0].kubeconfig)) as client:
        yield client


def audit(server: ApiServerProcess) -> list[dict[str, Any]]:
    path = server.log_path.with_name("kube-apiserver-audit.log")
    return [json.loads(line) for line in path.read_text().splitlines() if line.strip()]


def writers(server: ApiServerProcess, verb: str, path: str) -> set[str]:
    """Who made successful ``verb`` requests on paths matching the regular expression ``path``."""
    return {e["user"] for e in audit(server) if e["verb"] == verb and re.fullmatch(path, e["path"])
            and e["code"] < 300}


async def token_of(admin: ApiClient, account: str) -> str:
    answer = await admin.request("POST", f"/api/v1/namespaces/kube-system/serviceaccounts/{account}/token",
                                 body={"spec": {"expirationSeconds": 600}})
    return str(answer["status"]["token"])


def as_token(server: ApiServerProcess, token: str) -> ApiClient:
    """A client presenting only ``token`` (no client certificate)."""
    config = load_kubeconfig(server.kubeconfig)
    return ApiClient(dataclasses.replace(config, client_cert_file=None, client_key_file=None, token=token))


async def account_names(admin: ApiClient) -> set[str]:
    items = (await admin.list(SERVICE_ACCOUNTS, tenant="system", namespace="kube-system"))["items"]
    return {i["metadata"]["name"] for i in items}


async def wait_for_accounts(admin: ApiClient, expected: set[str]) -> None:
    async def present() -> bool:
        return expected <= await account_names(admin)

    await eventually(present, f"service accounts {sorted(expected)}", within=WAIT_S)


async def gone(admin: ApiClient, ref: ResourceRef, name: str, *, tenant: str, namespace: str | None) -> bool:
    try:
        await admin.get(ref, name, tenant=tenant, namespace=namespace)
    except NotFound:
        return True
    return False


def test_the_controller_kubeconfig_is_not_system_masters(cluster: tuple[ApiServerProcess, Path]) -> None:
    server, _ = cluster
    assert server.credentials is not None
    document = read_kubeconfig(server.credentials.cert_dir / "controller.kubeconfig")
    pair = embedded_client_pair(document, "kube-controller-manager")
    assert pair is not None
    subject = pair.certificate.subject
    assert [a.value for a in subject.get_attributes_for_oid(NameOID.COMMON_NAME)] == \
        ["system:kube-controller-manager"]
    assert subject.get_attributes_for_oid(NameOID.ORGANIZATION_NAME) == []


async def test_workloads_in_a_new_tenant_are_written_by_each_controllers_account(
        cluster: tuple[ApiServerProcess, Path], admin: ApiClient) -> None:
    server, log_path = cluster
    tenant = f"id-{uuid.uuid4().hex[:6]}"
    await admin.create(TENANTS, {"apiVersion": "v1", "kind": "Tenant", "metadata": {"name": tenant}})

    async def initialised() -> bool:
        return not await gone(admin, NAMESPACES, "kube-system", tenant=tenant, namespace=None)

    await eventually(initialised, f"tenant {tenant} initialised", within=WAIT_S)
    await admin.create(DEPLOYMENTS, deployment("web", replicas=2), tenant=tenant, namespace="default")

    async def rolled_out() -> bool:
        status = (await admin.get(DEPLOYMENTS, "web", tenant=tenant, namespace="default")).get("status") or {}
        return status.get("updatedReplicas") == 2 and status.get("replicas") == 2

    await eventually(rolled_out, "the deployment's 2 replicas", within=WAIT_S)
    assert writers(server, "create", f"/api/v1/tenants/{tenant}/namespaces") == \
        {controller("tenant-controller")}
    assert writers(server, "create", f"/apis/apps/v1/tenants/{tenant}/namespaces/default/replicasets") == \
        {controller("deployment-controller")}
    assert writers(server, "create", f"/api/v1/tenants/{tenant}/namespaces/default/pods") == \
        {controller("replicaset-controller")}

    [rs] = (await admin.list(REPLICA_SETS, tenant=tenant, namespace="default"))["items"]
    await admin.delete(DEPLOYMENTS, "web", tenant=tenant, namespace="default",
                       propagation_policy="Background")

    async def dependents_gone() -> bool:
        pods = (await admin.list(PODS, tenant=tenant, namespace="default"))["items"]
        return not pods and await gone(admin, REPLICA_SETS, rs["metadata"]["name"], tenant=tenant,
                                       namespace="default")

    await eventually(dependents_gone, "the ReplicaSet and pods collected", within=WAIT_S)
    assert writers(server, "delete", f"/apis/apps/v1/tenants/{tenant}/namespaces/default/replicasets/.*") == \
        {controller("generic-garbage-collector")}

    await admin.create(NAMESPACES, {"metadata": {"name": "scratch"}}, tenant=tenant)
    await admin.create(CONFIGMAPS, {"metadata": {"name": "c"}, "data": {"k": "v"}}, tenant=tenant,
                       namespace="scratch")
    await admin.delete(NAMESPACES, "scratch", tenant=tenant)
    await eventually(lambda: gone(admin, NAMESPACES, "scratch", tenant=tenant, namespace=None),
                     "the namespace deleted", within=WAIT_S)
    configmaps = f"/api/v1/tenants/{tenant}/namespaces/scratch/configmaps(/.*)?"
    emptied = writers(server, "delete", configmaps) | writers(server, "deletecollection", configmaps)
    assert emptied == {controller("namespace-controller")}
    assert " 403 " not in log_path.read_text() and "Forbidden" not in log_path.read_text(), \
        log_tail(log_path)


async def test_accounts_exist_and_whoami_names_them(cluster: tuple[ApiServerProcess, Path],
                                                    admin: ApiClient) -> None:
    server, _ = cluster
    await wait_for_accounts(admin, {"tenant-controller", "namespace-controller", "replicaset-controller",
                                    "root-ca-cert-publisher", "service-account-controller"})
    async with as_token(server, await token_of(admin, "replicaset-controller")) as client:
        review = await client.request("POST", WHOAMI, body=SELF_REVIEW)
    assert review["status"]["userInfo"]["username"] == controller("replicaset-controller")


async def test_a_controller_can_do_only_what_its_role_grants(cluster: tuple[ApiServerProcess, Path],
                                                             admin: ApiClient) -> None:
    server, _ = cluster
    await wait_for_accounts(admin, {"replicaset-controller", "namespace-controller"})
    async with as_token(server, await token_of(admin, "replicaset-controller")) as replicasets:
        with pytest.raises(Forbidden) as refused:
            await replicasets.list(ResourceRef("", "v1", "secrets", "Secret"), tenant="system",
                                   namespace="default")
        assert 'User "system:serviceaccount:kube-system:replicaset-controller" cannot list resource ' \
               '"secrets"' in refused.value.message
        assert "items" in await replicasets.list(PODS, tenant="system", namespace="default")
    async with as_token(server, await token_of(admin, "namespace-controller")) as namespaces:
        with pytest.raises(Forbidden):
            await namespaces.create(PODS, {"metadata": {"name": "p"}, "spec": {
                "containers": [{"name": "c", "image": "busybox"}]}}, tenant="system", namespace="default")


async def test_a_token_is_renewed_before_expiry_and_replaced_after_a_401(
        cluster: tuple[ApiServerProcess, Path], admin: ApiClient) -> None:
    server, _ = cluster
    account_name = f"probe-{uuid.uuid4().hex[:6]}"
    now = [0.0]
    tokens = ServiceAccountTokenSource(admin, tenant="system", namespace="kube-system", name=account_name,
                                       expiration_s=600, clock=lambda: now[0])
    token_path = f"/api/v1/tenants/system/namespaces/kube-system/serviceaccounts/{account_name}/token"

    def requested() -> int:
        return len([e for e in audit(server) if e["path"] == token_path and e["code"] == 201])

    first = await tokens.token()
    now[0] = 0.79 * 600
    assert await tokens.token() == first and requested() == 1
    now[0] = 0.81 * 600  # less than 20 % of the lifetime left: a new one
    await tokens.token()
    assert requested() == 2
    config = dataclasses.replace(load_kubeconfig(server.kubeconfig), client_cert_file=None,
                                 client_key_file=None)
    async with ApiClient(config, token_source=tokens) as client:
        whoami = await client.request("POST", WHOAMI, body=SELF_REVIEW)
        assert whoami["status"]["userInfo"]["username"] == controller(account_name)
        # Deleting the account revokes its tokens: the next request is refused once, then sent again
        # with the token of the re-created account.
        await admin.delete(SERVICE_ACCOUNTS, account_name, tenant="system", namespace="kube-system")

        async def account_gone() -> bool:
            return await gone(admin, SERVICE_ACCOUNTS, account_name, tenant="system", namespace="kube-system")

        await eventually(account_gone, "the account deleted", within=WAIT_S)
        again = await client.request("POST", WHOAMI, body=SELF_REVIEW)
        assert again["status"]["userInfo"]["username"] == controller(account_name)
    assert requested() == 3


async def test_an_issuer_without_the_right_is_a_credential_failure(
        cluster: tuple[ApiServerProcess, Path]) -> None:
    server, _ = cluster
    assert server.credentials is not None
    async with ApiClient(load_kubeconfig(server.credentials.cert_dir / "scheduler.kubeconfig")) as scheduler:
        tokens = ServiceAccountTokenSource(scheduler, tenant="system", namespace="kube-system", name="nope")
        with pytest.raises(CredentialsUnavailable) as failed:
            await tokens.token()
    assert "no token for service account system/kube-system/nope" in failed.value.message
