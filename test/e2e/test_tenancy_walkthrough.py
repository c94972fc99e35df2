"""The tenant walk-through with stock kubectl (1.32 and 1.37), as README tells a person to do it.

Covers: the system admin's `kubectl create -f` of Tenants acme and globex (done by the shared
fixture, which waits with `kubectl wait --for=condition=Initialized`) left them Active and
Initialized with namespaces default/kube-system/kube-public, ClusterRole admin-role,
ClusterRoleBinding admin-role-binding and the default Network, seen through the admin's prefix
server URL; each tenant's `admin` — by a client certificate from hack/setup-tenant-user.sh and by a
bearer token — creates, reads and deletes ConfigMaps with plain kubectl through short paths
(context `default`) and the prefix context (`--context prefix`, server URL ending
/tenants/{t}); both tenants hold `default/web` with different data and each reads back its own;
`kubectl api-resources` as a tenant user lists no cluster-scoped resources; the system admin's
`kubectl get configmaps -A` and `kubectl get namespaces` across tenants carry a TENANT column
(also with `-o wide`; `-o json` is the unchanged objects) while a tenant user's `-A` has none; the
audit log has
JSON lines (user, tenant, verb, path, code) for a tenant user's create and delete and none for
its reads.
Leaves out: refusals across tenants (test_tenancy_isolation.py), RBAC answers
(test_tenancy_rbac.py), deletion of tenants (test_tenancy_deletion.py).
"""

from __future__ import annotations

import json
import re
import time

import pytest
from tenancy_env import TENANTS, TenancyEnv, TenancyKubectl

pytestmark = [pytest.mark.e2e]


def test_tenants_are_active_with_their_defaults(
    tenancy_env: TenancyEnv, tenancy_kubectl: TenancyKubectl
) -> None:
    admin = tenancy_kubectl.as_identity(tenancy_env.admin)
    tenants = {t["metadata"]["name"]: t for t in admin.json("get", "tenants")["items"]}
    for name in TENANTS:
        assert tenants[name]["status"]["phase"] == "Active"
        initialized = {c["type"]: c for c in tenants[name]["status"]["conditions"]}["Initialized"]
        assert (initialized["status"], initialized["reason"]) == ("True", "DefaultsCreated")
        assert "arktos" in tenants[name]["spec"]["finalizers"]
        # The admin reaches into each tenant through the prefix form of the server URL.
        server = f"--server={tenancy_env.server.url}/tenants/{name}"
        namespaces = {n["metadata"]["name"] for n in admin.json(server, "get", "namespaces")["items"]}
        assert {"default", "kube-system", "kube-public"} <= namespaces
        role = admin.json(server, "get", "clusterrole", "admin-role")
        assert role["metadata"]["tenant"] == name
        assert {"apiGroups": ["*"], "resources": ["*"], "verbs": ["*"]} in role["rules"]
        binding = admin.json(server, "get", "clusterrolebinding", "admin-role-binding")
        assert binding["roleRef"]["name"] == "admin-role"
        assert [s["name"] for s in binding["subjects"] if s["kind"] == "User"] == ["admin"]
        network = admin.json(server, "get", "networks", "default")
        assert network["metadata"]["tenant"] == name and network["spec"]["type"] == "flat"


def test_each_tenant_works_with_cert_and_token_and_reads_its_own(
    tenancy_env: TenancyEnv, tenancy_kubectl: TenancyKubectl
) -> None:
    env = tenancy_env
    users = {
        t: (
            tenancy_kubectl.as_identity(env.identity(f"{t}-cert-admin")),
            tenancy_kubectl.as_identity(env.identity(f"{t}-token-admin")),
        )
        for t in TENANTS
    }
    # The certificate user creates `default/web` through a short path in each tenant.
    for tenant, (cert_user, _) in users.items():
        cert_user.run("create", "configmap", "web", "-n", "default", f"--from-literal=owner={tenant}")
    try:
        for tenant, (cert_user, token_user) in users.items():
            for kubectl, context in (
                (cert_user, "default"),
                (token_user, "default"),
                (token_user, "prefix"),
                (cert_user, "prefix"),
            ):
                web = kubectl.json("--context", context, "get", "configmap", "web", "-n", "default")
                assert web["data"] == {"owner": tenant}, f"{kubectl.label} --context {context}"
                assert web["metadata"]["tenant"] == tenant
            # The token user works through the prefix context: create, read back by cert, delete.
            token_user.run(
                "--context",
                "prefix",
                "create",
                "configmap",
                "by-token",
                "-n",
                "default",
                f"--from-literal=via=prefix-{tenant}",
            )
            assert cert_user.json("get", "configmap", "by-token", "-n", "default")["data"] == {
                "via": f"prefix-{tenant}"
            }
            token_user.run("--context", "prefix", "delete", "configmap", "by-token", "-n", "default")
            gone = cert_user.run("get", "configmap", "by-token", "-n", "default", check=False)
            assert gone.returncode == 1 and "NotFound" in gone.stderr
            listed = cert_user.json("get", "configmaps", "--all-namespaces")["items"]
            assert {o["metadata"]["tenant"] for o in listed} == {tenant}
            resources = set(cert_user.run("api-resources", "-o", "name").stdout.split())
            assert "configmaps" in resources and "namespaces" in resources
            assert not resources & {"nodes", "tenants", "priorityclasses.scheduling.k8s.io"}, resources
    finally:
        for _, token_user in users.values():
            token_user.run("delete", "configmap", "web", "-n", "default", "--ignore-not-found")
    for cert_user, _ in users.values():
        assert cert_user.run("get", "configmap", "web", "-n", "default", check=False).returncode == 1


def _headers(output: str) -> list[str]:
    return re.split(r"\s{2,}", output.splitlines()[0].strip())


def test_system_admin_lists_across_tenants_with_a_tenant_column(
    tenancy_env: TenancyEnv, tenancy_kubectl: TenancyKubectl
) -> None:
    admin = tenancy_kubectl.as_identity(tenancy_env.admin)
    users = {t: tenancy_kubectl.as_identity(tenancy_env.identity(f"{t}-cert-admin")) for t in TENANTS}
    for tenant, user in users.items():
        user.run("create", "configmap", "twin", "-n", "default", f"--from-literal=owner={tenant}")
    admin.run("create", "configmap", "twin", "-n", "default", "--from-literal=owner=system")
    twins = ("configmaps", "-A", "--field-selector", "metadata.name=twin")
    try:
        listed = admin.run("get", *twins).stdout
        assert _headers(listed) == ["NAMESPACE", "TENANT", "NAME", "DATA", "AGE"]
        rows = sorted(line.split()[:3] for line in listed.splitlines()[1:])
        assert rows == [["default", tenant, "twin"] for tenant in sorted([*TENANTS, "system"])]
        assert _headers(admin.run("get", *twins, "-o", "wide").stdout) == _headers(listed)
        # Every tenant has a `default` namespace: the TENANT column tells them apart.
        namespaces = admin.run("get", "namespaces").stdout
        assert _headers(namespaces) == ["TENANT", "NAME", "STATUS", "AGE"]
        defaults = {line.split()[0] for line in namespaces.splitlines()[1:] if line.split()[1] == "default"}
        assert {*TENANTS, "system"} <= defaults
        # JSON is the objects themselves, unchanged by the table's column.
        items = admin.json("get", *twins)["items"]
        assert {(i["metadata"]["tenant"], i["data"]["owner"]) for i in items} == {
            (t, t) for t in (*TENANTS, "system")}
        assert all(set(i) == {"apiVersion", "kind", "metadata", "data"} for i in items)
        # A tenant's user lists only its own tenant: no TENANT column.
        own = users[TENANTS[0]].run("get", *twins).stdout
        assert _headers(own) == ["NAMESPACE", "NAME", "DATA", "AGE"]
    finally:
        for user in users.values():
            user.run("delete", "configmap", "twin", "-n", "default", "--ignore-not-found")
        admin.run("delete", "configmap", "twin", "-n", "default", "--ignore-not-found")


def _audit_lines(env: TenancyEnv, *, after: int = 0) -> list[dict[str, object]]:
    lines = env.audit_log.read_text().splitlines()[after:]
    return [json.loads(line) for line in lines if line.strip()]


def test_audit_log_records_mutations_not_reads(
    tenancy_env: TenancyEnv, tenancy_kubectl: TenancyKubectl
) -> None:
    env = tenancy_env
    kubectl = tenancy_kubectl.as_identity(env.identity("globex-cert-admin"))
    name = f"audited-{int(time.time() * 1000)}"
    seen = len(env.audit_log.read_text().splitlines())
    kubectl.run("create", "configmap", name, "-n", "default", "--from-literal=a=b")
    kubectl.run("get", "configmap", name, "-n", "default")
    kubectl.run("get", "configmaps", "-n", "default")
    kubectl.run("delete", "configmap", name, "-n", "default")
    # Lines are flushed per request, before the response is written.
    # (Other clients, e.g. the controller manager, may write in between: keep globex's admin.)
    entries = [e for e in _audit_lines(env, after=seen) if (e["user"], e["tenant"]) == ("admin", "globex")]
    collection = "/api/v1/namespaces/default/configmaps"
    assert [(e["user"], e["tenant"], e["verb"], e["path"], e["code"]) for e in entries] == [
        ("admin", "globex", "create", collection, 201),
        ("admin", "globex", "delete", f"{collection}/{name}", 200),
    ]
    assert all(str(e["timestamp"]).endswith("Z") for e in entries)
    assert not [e for e in _audit_lines(env) if e["verb"] in ("get", "list", "watch")]
