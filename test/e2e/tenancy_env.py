"""A multi-tenant cluster for the tenancy e2e tests: TLS server, controller manager, tenant users.

The tenancy tests (test_tenancy_*.py) all need the same expensive setup, so it is built once per
session: a TLS-only API server (``start_apiserver(..., tls=True)``, whose credentials come from
``tools.cluster_credentials``) with our own ``--token-auth-file``, the real controller manager
(``python -m controllers --kubeconfig controller.kubeconfig --use-service-account-credentials``) so
tenants are initialised as arktos-up does it, and tenants ``acme`` and ``globex`` created by the
system admin with stock ``kubectl create -f``. Each tenant has an ``admin`` with a client
certificate issued by the real ``hack/setup-tenant-user.sh`` and an ``admin`` with a bearer
token; acme also has a token user ``viewer`` (bound to view-only rights by the tests that need it).

`TenancyEnv.call` speaks raw HTTPS as any identity (``ssl`` + ``http.client``): the isolation
matrix sends hundreds of requests and must see exact status codes and bodies, which kubectl
would hide. `TenancyKubectl` hands out stock kubectl bound to an identity's kubeconfig, with a
private discovery cache per identity (kubectl caches discovery per server URL, not per user, and a
tenant sees a smaller discovery than the admin).
"""

from __future__ import annotations

import base64
import contextlib
import http.client
import json
import os
import secrets
import ssl
import subprocess
import sys
import time
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest
import yaml
from apiserver_process import REPO_ROOT, ApiServerProcess, log_tail, start_apiserver, stop_process
from kubectl_binaries import KUBECTL_LABELS, kubectl_binary
from kubectl_runner import Kubectl

from tools.kubeconfig import (
    ClientCredentials,
    ClusterAuthority,
    kubeconfig_document,
    standard_contexts,
    write_kubeconfig,
)

TENANTS = ("acme", "globex")
WAIT_TIMEOUT_S = 30.0
SETUP_TENANT_USER = REPO_ROOT / "hack" / "setup-tenant-user.sh"
# Groups the certificate users carry as OU entries (Arktos reads OU as groups).
CERT_USER_GROUP = "{tenant}-devs"


@dataclass(frozen=True)
class Identity:
    """Who a request comes from: a client certificate, a bearer token, or nothing at all."""

    label: str
    user: str
    tenant: str
    kubeconfig: Path | None = None
    cert_file: Path | None = None
    key_file: Path | None = None
    token: str | None = None


@dataclass(frozen=True)
class Answer:
    """One HTTP response, read whole."""

    status: int
    headers: dict[str, str]
    body: bytes

    def json(self) -> Any:
        return json.loads(self.body)

    @property
    def text(self) -> str:
        return self.body.decode(errors="replace")

    def describe(self) -> str:
        return f"{self.status} {self.headers.get('content-type', '')}: {self.text[:600]}"


@dataclass
class TenancyEnv:
    """The running cluster and the identities of its users."""

    server: ApiServerProcess  # the address tenants use (the gateway of a scale-out cluster)
    controller: subprocess.Popen[Any]
    controller_log: Path
    workdir: Path
    identities: dict[str, Identity] = field(default_factory=dict)
    _contexts: dict[str, ssl.SSLContext] = field(default_factory=dict, repr=False)

    # -- files --------------------------------------------------------------------------------------
    @property
    def cert_dir(self) -> Path:
        assert self.server.credentials is not None
        return self.server.credentials.cert_dir

    @property
    def ca_cert(self) -> Path:
        return self.cert_dir / "ca.crt"

    @property
    def audit_log(self) -> Path:
        return self.server.log_path.with_name("kube-apiserver-audit.log")

    @property
    def sa_signing_key(self) -> Path:
        return self.cert_dir / "sa.key"

    @property
    def sa_public_key(self) -> Path:
        return self.cert_dir / "sa.pub"

    def identity(self, label: str) -> Identity:
        return self.identities[label]

    @property
    def admin(self) -> Identity:
        return self.identities["system-admin"]

    # -- raw HTTPS ---------------------------------------------------------------------------------
    def ssl_context(self, identity: Identity | None) -> ssl.SSLContext:
        key = identity.label if identity is not None else ""
        context = self._contexts.get(key)
        if context is None:
            context = ssl.create_default_context(cafile=str(self.ca_cert))
            if identity is not None and identity.cert_file is not None:
                context.load_cert_chain(identity.cert_file, identity.key_file)
            self._contexts[key] = context
        return context

    def call(
        self,
        identity: Identity | None,
        method: str,
        path: str,
        body: Any = None,
        *,
        content_type: str = "application/json",
        accept: str = "application/json",
        timeout: float = 10.0,
    ) -> Answer:
        """One request on a fresh connection; ``identity`` None sends no credentials at all."""
        headers = {"Accept": accept}
        if identity is not None and identity.token is not None:
            headers["Authorization"] = f"Bearer {identity.token}"
        payload: bytes | None = None
        if body is not None:
            payload = body if isinstance(body, bytes) else json.dumps(body).encode()
            headers["Content-Type"] = content_type
        connection = http.client.HTTPSConnection(
            "127.0.0.1", self.server.port, timeout=timeout, context=self.ssl_context(identity)
        )
        try:
            connection.request(method, path, body=payload, headers=headers)
            response = connection.getresponse()
            data = response.read()
            return Answer(response.status, {k.lower(): v for k, v in response.getheaders()}, data)
        finally:
            connection.close()

    def ok(self, identity: Identity | None, method: str, path: str, body: Any = None, **kwargs: Any) -> Any:
        """``call`` that must succeed (2xx); returns the decoded JSON body."""
        answer = self.call(identity, method, path, body, **kwargs)
        assert 200 <= answer.status < 300, f"{method} {path} as {_who(identity)}: {answer.describe()}"
        return answer.json()

    def wait_for(self, what: str, predicate: Callable[[], bool], *, timeout: float = WAIT_TIMEOUT_S) -> None:
        """Polls ``predicate`` until true; fails with the controller log when it never is."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if predicate():
                return
            time.sleep(0.1)
        raise AssertionError(
            f"timed out after {timeout:.0f}s waiting for {what}; controller log:\n"
            f"{log_tail(self.controller_log, max_lines=60)}"
        )

    def tenant_phase(self, name: str) -> str | None:
        answer = self.call(self.admin, "GET", f"/api/v1/tenants/{name}")
        if answer.status == 404:
            return None
        assert answer.status == 200, answer.describe()
        return str((answer.json().get("status") or {}).get("phase"))

    def tenant_initialised(self, tenant: str) -> bool:
        """Active, with the three namespaces, admin-role(-binding) and the default Network."""
        if self.tenant_phase(tenant) != "Active":
            return False
        paths = [
            *(
                f"/api/v1/tenants/{tenant}/namespaces/{ns}"
                for ns in ("default", "kube-system", "kube-public")
            ),
            f"/apis/rbac.authorization.k8s.io/v1/tenants/{tenant}/clusterroles/admin-role",
            f"/apis/rbac.authorization.k8s.io/v1/tenants/{tenant}/clusterrolebindings/admin-role-binding",
            f"/apis/arktos.futurewei.com/v1/tenants/{tenant}/networks/default",
        ]
        return all(self.call(self.admin, "GET", p).status == 200 for p in paths)

    def tenant_manifest(self, name: str, *, extra_metadata: dict[str, Any] | None = None) -> Path:
        """A Tenant manifest file for ``kubectl create -f``."""
        document = {
            "apiVersion": "v1",
            "kind": "Tenant",
            "metadata": {"name": name, **(extra_metadata or {})},
            "spec": {"storageClusterId": "0"},
        }
        path = self.workdir / f"tenant-{name}.yaml"
        path.write_text(yaml.safe_dump(document))
        return path


# Where a tenant's objects are listed, for before/after comparisons (the system admin's view).
TENANT_LIST_PATHS = (
    "/api/v1/tenants/{t}/configmaps",
    "/api/v1/tenants/{t}/secrets",
    "/api/v1/tenants/{t}/serviceaccounts",
    "/api/v1/tenants/{t}/namespaces",
    "/apis/rbac.authorization.k8s.io/v1/tenants/{t}/clusterroles",
    "/apis/rbac.authorization.k8s.io/v1/tenants/{t}/clusterrolebindings",
    "/apis/rbac.authorization.k8s.io/v1/tenants/{t}/roles",
    "/apis/rbac.authorization.k8s.io/v1/tenants/{t}/rolebindings",
    "/apis/arktos.futurewei.com/v1/tenants/{t}/networks",
)


def tenant_snapshot(env: TenancyEnv, tenant: str) -> list[tuple[str, str, str, str]]:
    """(list path, namespace/name, uid, resourceVersion) of every object of ``tenant``, sorted."""
    rows = []
    for template in TENANT_LIST_PATHS:
        path = template.format(t=tenant)
        for item in env.ok(env.admin, "GET", path)["items"]:
            meta = item["metadata"]
            rows.append(
                (path, f"{meta.get('namespace', '')}/{meta['name']}", meta["uid"], meta["resourceVersion"])
            )
    return sorted(rows)


def tenant_settled(env: TenancyEnv, tenant: str) -> bool:
    """Nothing of ``tenant`` is still changing on its own: no namespace is terminating (the
    namespace controller would still be deleting its contents and then the namespace), and every
    namespace has what the controllers add to it (ServiceAccount ``default``, ConfigMap
    ``kube-root-ca.crt``). Another test's clean-up may leave a namespace terminating or a new one
    half-filled; a before/after snapshot must not start while either is under way."""
    namespaces = env.ok(env.admin, "GET", f"/api/v1/tenants/{tenant}/namespaces")["items"]
    if any(ns["metadata"].get("deletionTimestamp") or (ns.get("status") or {}).get("phase") != "Active"
           for ns in namespaces):
        return False
    base = f"/api/v1/tenants/{tenant}"
    accounts = {i["metadata"]["namespace"] for i in env.ok(
        env.admin, "GET", f"{base}/serviceaccounts?fieldSelector=metadata.name%3Ddefault")["items"]}
    root_cas = {i["metadata"]["namespace"] for i in env.ok(
        env.admin, "GET", f"{base}/configmaps?fieldSelector=metadata.name%3Dkube-root-ca.crt")["items"]}
    names = {ns["metadata"]["name"] for ns in namespaces}
    return names <= accounts and names <= root_cas


def _who(identity: Identity | None) -> str:
    return identity.label if identity is not None else "anonymous"


# -- building the environment ---------------------------------------------------------------------


def write_token_file(path: Path) -> dict[str, tuple[str, str, str]]:
    """Our static token CSV: label -> (token, user, tenant). Rows `token,user,uid,"groups",,tenant`."""
    rows = {
        "acme-token-admin": ("admin", "acme"),
        "globex-token-admin": ("admin", "globex"),
        "acme-viewer": ("viewer", "acme"),
    }
    tokens = {label: (secrets.token_hex(24), user, tenant) for label, (user, tenant) in rows.items()}
    lines = [f'{token},{user},{label}-uid,"",,{tenant}\n' for label, (token, user, tenant) in tokens.items()]
    path.write_text("".join(lines))
    path.chmod(0o600)
    return tokens


def token_kubeconfig(path: Path, *, ca_cert: Path, server_url: str, tenant: str, token: str | None) -> Path:
    """A kubeconfig with a bearer token (or no credentials), contexts `default` and `prefix`."""
    document = kubeconfig_document(
        user="token-user",
        credentials=ClientCredentials(token=token),
        authority=ClusterAuthority(ca_file=ca_cert),
        contexts=standard_contexts(server_url, prefix_tenant=tenant),
    )
    write_kubeconfig(path, document)
    return path


def setup_tenant_user(env: TenancyEnv, tenant: str, user: str, *groups: str) -> Identity:
    """Runs the real hack/setup-tenant-user.sh and unpacks the certificate it embedded."""
    run_env = {
        **os.environ,
        "CERT_DIR": str(env.cert_dir),
        "API_HOST_IP": "127.0.0.1",
        "API_SECURE_PORT": str(env.server.port),
        "LOG_DIR": str(env.workdir),
    }
    result = subprocess.run(
        ["bash", str(SETUP_TENANT_USER), tenant, user, *groups],
        env=run_env,
        capture_output=True,
        text=True,
        timeout=60,
        stdin=subprocess.DEVNULL,
    )
    assert result.returncode == 0, f"setup-tenant-user.sh failed:\n{result.stdout}\n{result.stderr}"
    kubeconfig = Path(result.stdout.strip().splitlines()[-1])
    assert kubeconfig.is_file(), f"setup-tenant-user.sh printed {kubeconfig}, which does not exist"
    document = yaml.safe_load(kubeconfig.read_text())
    fields = document["users"][0]["user"]
    cert_file = env.workdir / f"{tenant}-{user}.crt"
    key_file = env.workdir / f"{tenant}-{user}.key"
    cert_file.write_bytes(base64.b64decode(fields["client-certificate-data"]))
    key_file.write_bytes(base64.b64decode(fields["client-key-data"]))
    key_file.chmod(0o600)
    return Identity(f"{tenant}-cert-admin", user, tenant, kubeconfig, cert_file, key_file)


def start_controller_manager(workdir: Path, kubeconfig: Path) -> tuple[subprocess.Popen[bytes], Path]:
    log_path = workdir / "kube-controller-manager.log"
    with log_path.open("ab") as log:
        process = subprocess.Popen(
            [sys.executable, "-m", "controllers", "--kubeconfig", str(kubeconfig),
             "--use-service-account-credentials"],
            cwd=REPO_ROOT,
            stdout=log,
            stderr=subprocess.STDOUT,
            stdin=subprocess.DEVNULL,
            start_new_session=True,
        )
    return process, log_path


def create_tenants_with_kubectl(
    env: TenancyEnv, kubectl_binary: str, tenants: Sequence[str] = TENANTS
) -> None:
    """The system admin creates the tenants (acme and globex) with stock `kubectl create -f`."""
    admin = Kubectl(
        binary=kubectl_binary,
        kubeconfig=env.server.kubeconfig,
        cache_dir=env.workdir / "kube-cache-setup",
        label="setup",
    )
    for tenant in tenants:
        admin.run("create", "-f", str(env.tenant_manifest(tenant)))
    for tenant in tenants:
        # The README's way to know a tenant is ready: its Initialized condition.
        admin.run("wait", "--for=condition=Initialized", f"tenant/{tenant}",
                  f"--timeout={WAIT_TIMEOUT_S:.0f}s", timeout=WAIT_TIMEOUT_S + 10)
        assert env.tenant_initialised(tenant), f"tenant {tenant} Initialized before its defaults exist"


def build_tenancy_env(workdir: Path) -> TenancyEnv:
    token_file = workdir / "tenancy-tokens.csv"
    workdir.mkdir(parents=True, exist_ok=True)
    tokens = write_token_file(token_file)
    # A later --token-auth-file wins over the one start_apiserver passes (argparse keeps the last).
    server = start_apiserver(workdir, tls=True, extra_args=["--token-auth-file", str(token_file)])
    assert server.credentials is not None
    controller, controller_log = start_controller_manager(
        workdir, server.credentials.cert_dir / "controller.kubeconfig"
    )
    env = TenancyEnv(server=server, controller=controller, controller_log=controller_log, workdir=workdir)
    add_admin_and_token_identities(env, tokens)
    return env


def add_admin_and_token_identities(env: TenancyEnv, tokens: dict[str, tuple[str, str, str]]) -> None:
    """The system admin (the server's admin certificate) and one identity per token row."""
    credentials = env.server.credentials
    assert credentials is not None
    env.identities["system-admin"] = Identity(
        "system-admin",
        "system:admin",
        "system",
        credentials.admin_kubeconfig,
        credentials.admin_cert,
        credentials.admin_key,
    )
    for label, (token, user, tenant) in tokens.items():
        kubeconfig = token_kubeconfig(
            env.workdir / f"{label}.kubeconfig",
            ca_cert=env.ca_cert,
            server_url=env.server.url,
            tenant=tenant,
            token=token,
        )
        env.identities[label] = Identity(label, user, tenant, kubeconfig, token=token)


@contextlib.contextmanager
def tenancy_cluster(workdir: Path, tenants: Sequence[str] = TENANTS) -> Iterator[TenancyEnv]:
    """A running env with ``tenants`` created by stock kubectl, initialised by the controllers, and
    each given a certificate ``admin`` by the real setup-tenant-user.sh; stopped on exit."""
    env = build_tenancy_env(workdir)
    try:
        create_tenants_with_kubectl(env, kubectl_binary("kubectl-1.37"), tenants)
        for tenant in tenants:
            identity = setup_tenant_user(env, tenant, "admin", CERT_USER_GROUP.format(tenant=tenant))
            env.identities[identity.label] = identity
        yield env
    finally:
        stop_process(env.controller)
        env.server.stop()


@pytest.fixture(scope="session")
def tenancy_env(tmp_path_factory: pytest.TempPathFactory) -> Iterator[TenancyEnv]:
    """The shared multi-tenant cluster (see the module docstring); stopped at the session's end."""
    with tenancy_cluster(tmp_path_factory.mktemp("tenancy")) as env:
        yield env


@dataclass(frozen=True)
class TenancyKubectl:
    """One stock kubectl binary, handed out per identity (own kubeconfig and discovery cache)."""

    binary: str
    label: str
    cache_root: Path

    def as_identity(self, identity: Identity, *, kubeconfig: Path | None = None) -> Kubectl:
        config = kubeconfig or identity.kubeconfig
        assert config is not None, f"{identity.label} has no kubeconfig"
        return Kubectl(
            binary=self.binary,
            kubeconfig=config,
            cache_dir=self.cache_root / identity.label,
            label=f"{self.label} as {identity.label}",
        )


@pytest.fixture(params=KUBECTL_LABELS)
def tenancy_kubectl(
    request: pytest.FixtureRequest, tenancy_env: TenancyEnv, tmp_path_factory: pytest.TempPathFactory
) -> TenancyKubectl:
    """Stock kubectl for the tenancy cluster; the test runs once per binary (1.32 and 1.37)."""
    label: str = request.param
    cache_dir = tmp_path_factory.getbasetemp() / f"tenancy-kube-cache-{label}"
    return TenancyKubectl(kubectl_binary(label), label, cache_dir)
