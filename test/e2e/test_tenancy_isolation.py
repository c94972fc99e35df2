"""The isolation matrix: a tenant's user reaching into another tenant or the cluster scope is refused
and learns nothing.

Covers, over raw HTTPS as the tenants' own users (acme's admin by client certificate and by bearer
token, globex's admin by token the other way round): every verb (get, list, watch, create, update,
patch, delete, deletecollection) x every path form (long `/api/v1/tenants/{t}/...`, the prefix
`/tenants/{t}/api/...`, the literal tenant `all` in both, the all-tenant short path, short and
prefixed paths to cluster-scoped objects, and the caller's *own* tenant segment on cluster-scoped
resources) x a tenanted resource (configmaps) and cluster-scoped ones (nodes, tenants). Each
refusal must be a Status (403/404; 405 where upstream refuses the request shape itself; always
403 for watches, with no stream), and no response may carry the victim's object names, data
values, uids or resourceVersions; the all-tenant short path lists and watches only the caller's
own objects; afterwards the victim's objects are byte-for-byte what they were and no intruder
object exists anywhere. Discovery (`/api/v1`, `/apis`, aggregated v2, prefixed) hides
cluster-scoped resources from a tenant while the system admin sees them, and another tenant's
prefixed discovery/version/OpenAPI is refused.
Leaves out: the list's own `metadata.resourceVersion` and watch bookmarks, which carry the store's
global revision (one counter shared by all tenants, as in Arktos) and so reveal *that* something
changed somewhere; kubectl-level behaviour (test_tenancy_walkthrough.py).
"""

from __future__ import annotations

import json
import secrets
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

import pytest
from tenancy_env import Answer, Identity, TenancyEnv, tenant_snapshot

pytestmark = [pytest.mark.e2e]

MERGE_PATCH = "application/merge-patch+json"
WATCH_QUERY = "watch=1&timeoutSeconds=1"
AGGREGATED_V2 = "application/json;g=apidiscovery.k8s.io;v=v2;as=APIGroupDiscoveryList"
# (attacker identity, victim tenant)
ATTACKS = (("acme-cert-admin", "globex"), ("acme-token-admin", "globex"), ("globex-token-admin", "acme"))
VERBS = ("get", "list", "watch", "create", "update", "patch", "delete", "deletecollection")
NAMED_VERBS = frozenset({"get", "update", "patch", "delete"})


@dataclass
class TenantWorld:
    """What one tenant holds for the matrix, and the strings that must never reach another tenant."""

    tenant: str
    secret_value: str
    private_configmap: str
    private_namespace: str
    markers: set[str]


@dataclass
class World:
    tenants: dict[str, TenantWorld]
    node: str
    node_markers: set[str]


@dataclass(frozen=True)
class Case:
    """One request of the matrix and how it must be answered."""

    label: str
    verb: str
    method: str
    path: str
    body: Any = None
    content_type: str = "application/json"
    refused_codes: frozenset[int] = frozenset({403, 404})
    own_only: bool = False  # may instead succeed, showing only the caller's own tenant


def _collect_markers(env: TenancyEnv, path: str) -> set[str]:
    """Names, uids, resourceVersions and data values of every object under a list path."""
    markers: set[str] = set()
    for item in env.ok(env.admin, "GET", path)["items"]:
        meta = item["metadata"]
        markers |= {meta["uid"], f'"{meta["resourceVersion"]}"'}
        if meta["name"] not in (
            "default",
            "kube-system",
            "kube-public",
            "web",
            "admin-role",
            "admin-role-binding",
            "kube-root-ca.crt",
        ):
            markers.add(meta["name"])
        markers |= {v for v in (item.get("data") or {}).values() if len(v) >= 8}
    return markers


def _tenant_objects(env: TenancyEnv, tenant: str) -> set[str]:
    markers = set()
    for path in (
        f"/api/v1/tenants/{tenant}/configmaps",
        f"/api/v1/tenants/{tenant}/namespaces",
        f"/apis/rbac.authorization.k8s.io/v1/tenants/{tenant}/clusterroles",
        f"/apis/arktos.futurewei.com/v1/tenants/{tenant}/networks",
    ):
        markers |= _collect_markers(env, path)
    tenant_object = env.ok(env.admin, "GET", f"/api/v1/tenants/{tenant}")["metadata"]
    return markers | {tenant_object["uid"], f'"{tenant_object["resourceVersion"]}"'}


@pytest.fixture(scope="module")
def world(tenancy_env: TenancyEnv) -> Iterator[World]:
    """Both tenants hold `default/web` plus private objects; the system admin holds a Node."""
    env = tenancy_env
    tenants: dict[str, TenantWorld] = {}
    for tenant in ("acme", "globex"):
        owner = env.identity(f"{tenant}-cert-admin")
        suffix = secrets.token_hex(4)
        world = TenantWorld(
            tenant,
            f"{tenant}-secret-{secrets.token_hex(8)}",
            f"{tenant}-private-cm-{suffix}",
            f"{tenant}-private-ns-{suffix}",
            set(),
        )
        env.ok(owner, "POST", "/api/v1/namespaces", {"metadata": {"name": world.private_namespace}})
        for namespace, name in (
            ("default", "web"),
            ("default", world.private_configmap),
            (world.private_namespace, world.private_configmap),
        ):
            env.ok(
                owner,
                "POST",
                f"/api/v1/namespaces/{namespace}/configmaps",
                {"metadata": {"name": name}, "data": {"value": world.secret_value}},
            )
        tenants[tenant] = world
    node = f"secret-node-{secrets.token_hex(4)}"
    created = env.ok(env.admin, "POST", "/api/v1/nodes", {"metadata": {"name": node}})
    node_markers = {node, created["metadata"]["uid"]}
    for tenant, tenant_world in tenants.items():
        tenant_world.markers = _tenant_objects(env, tenant)
    yield World(tenants, node, node_markers)
    env.call(env.admin, "DELETE", f"/api/v1/nodes/{node}")
    for tenant, tenant_world in tenants.items():
        owner = env.identity(f"{tenant}-cert-admin")
        env.call(owner, "DELETE", f"/api/v1/namespaces/default/configmaps/{tenant_world.private_configmap}")
        env.call(owner, "DELETE", "/api/v1/namespaces/default/configmaps/web")
        env.call(owner, "DELETE", f"/api/v1/namespaces/{tenant_world.private_namespace}")


# -- the table --------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Bodies:
    """What an intruder sends to create, replace or patch an object of one resource."""

    create: dict[str, Any]
    update: dict[str, Any]
    patch: dict[str, Any]


@dataclass(frozen=True)
class PathForm:
    """One way of addressing a resource: its collection and one named object."""

    resource: str
    form: str
    collection: str
    item: str
    verbs: tuple[str, ...] = VERBS
    shape_codes: tuple[tuple[str, int], ...] = ()  # (verb, code) upstream answers for the shape
    own_only: tuple[str, ...] = ()  # verbs that may succeed with the caller's own objects


def _requests(form: PathForm, bodies: Bodies) -> dict[str, tuple[str, str, Any, str]]:
    """verb -> (method, path, body, content type) for one path form."""
    json_type = "application/json"
    return {
        "get": ("GET", form.item, None, json_type),
        "list": ("GET", form.collection, None, json_type),
        "watch": ("GET", f"{form.collection}?{WATCH_QUERY}", None, json_type),
        "create": ("POST", form.collection, bodies.create, json_type),
        "update": ("PUT", form.item, bodies.update, json_type),
        "patch": ("PATCH", form.item, bodies.patch, MERGE_PATCH),
        "delete": ("DELETE", form.item, None, json_type),
        "deletecollection": ("DELETE", form.collection, None, json_type),
    }


def _cases_of(form: PathForm, bodies: Bodies) -> list[Case]:
    requests = _requests(form, bodies)
    cases = []
    for verb in form.verbs:
        method, path, body, content_type = requests[verb]
        codes = {403} if verb == "watch" else {403, 404}
        codes |= {code for shape_verb, code in form.shape_codes if shape_verb == verb}
        cases.append(
            Case(
                f"{form.resource}/{form.form}/{verb}",
                verb,
                method,
                path,
                body,
                content_type,
                frozenset(codes),
                verb in form.own_only,
            )
        )
    return cases


def configmap_forms(victim: str) -> list[PathForm]:
    ns = "namespaces/default/configmaps"
    return [
        PathForm(
            "configmaps", "long", f"/api/v1/tenants/{victim}/{ns}", f"/api/v1/tenants/{victim}/{ns}/web"
        ),
        PathForm(
            "configmaps",
            "long-all-namespaces",
            f"/api/v1/tenants/{victim}/configmaps",
            f"/api/v1/tenants/{victim}/configmaps",
            verbs=("list", "watch", "deletecollection"),
        ),
        PathForm(
            "configmaps", "prefix", f"/tenants/{victim}/api/v1/{ns}", f"/tenants/{victim}/api/v1/{ns}/web"
        ),
        PathForm(
            "configmaps", "all-literal", "/api/v1/tenants/all/configmaps", f"/api/v1/tenants/all/{ns}/web"
        ),
        PathForm(
            "configmaps",
            "all-literal-namespaced",
            f"/api/v1/tenants/all/{ns}",
            f"/api/v1/tenants/all/{ns}/web",
            verbs=("list", "watch", "create", "deletecollection"),
        ),
        PathForm("configmaps", "prefix-all", f"/tenants/all/api/v1/{ns}", f"/tenants/all/api/v1/{ns}/web"),
        # The all-tenant short path: for a tenant's user it means its own tenant (ARKTOS.md §1),
        # so list and watch succeed with the caller's objects only; upstream refuses the other
        # shapes (nowhere to create or delete without a namespace: 405; a name without one: 404).
        PathForm(
            "configmaps",
            "all-tenant-short",
            "/api/v1/configmaps",
            "/api/v1/configmaps/web",
            shape_codes=(("create", 405), ("deletecollection", 405)),
            own_only=("list", "watch"),
        ),
    ]


def cluster_scoped_forms(actor_tenant: str, victim: str, node: str) -> list[PathForm]:
    bases = {
        "short": "/api/v1",
        "long-own-tenant": f"/api/v1/tenants/{actor_tenant}",
        "long-other-tenant": f"/api/v1/tenants/{victim}",
        "long-all": "/api/v1/tenants/all",
        "prefix-own-tenant": f"/tenants/{actor_tenant}/api/v1",
        "prefix-other-tenant": f"/tenants/{victim}/api/v1",
        "prefix-all": "/tenants/all/api/v1",
    }
    forms = [PathForm("nodes", form, f"{base}/nodes", f"{base}/nodes/{node}") for form, base in bases.items()]
    # `/api/v1/tenants/{victim}/tenants` would parse as the tenant object's own path; skip it.
    forms += [
        PathForm("tenants", form, f"{base}/tenants", f"{base}/tenants/{victim}")
        for form, base in bases.items()
        if form != "long-other-tenant"
    ]
    # The caller's own Tenant object is cluster-scoped too.
    forms.append(
        PathForm(
            "tenants",
            "short-own-object",
            "/api/v1/tenants",
            f"/api/v1/tenants/{actor_tenant}",
            verbs=("get", "update", "patch", "delete"),
        )
    )
    return forms


def matrix_cases(actor_tenant: str, victim: str, node: str) -> list[Case]:
    pwned = {"metadata": {"labels": {"pwned": "1"}}}
    configmap = Bodies(
        create={
            "apiVersion": "v1",
            "kind": "ConfigMap",
            "metadata": {"name": "intruder"},
            "data": {"x": "1"},
        },
        update={"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": "web"}, "data": {"pwned": "1"}},
        patch={"data": {"pwned": "1"}},
    )
    by_resource = {
        "configmaps": configmap,
        "nodes": Bodies(
            {"apiVersion": "v1", "kind": "Node", "metadata": {"name": "evil-node"}},
            {"apiVersion": "v1", "kind": "Node", "metadata": {"name": node}},
            pwned,
        ),
        "tenants": Bodies(
            {"apiVersion": "v1", "kind": "Tenant", "metadata": {"name": "evil-tenant"}},
            {"apiVersion": "v1", "kind": "Tenant", "metadata": {"name": victim}},
            pwned,
        ),
    }
    forms = configmap_forms(victim) + cluster_scoped_forms(actor_tenant, victim, node)
    return [case for form in forms for case in _cases_of(form, by_resource[form.resource])]


# -- judging answers --------------------------------------------------------------------------------


def _leaks(text: str, markers: set[str]) -> list[str]:
    return sorted(m for m in markers if m in text)


def _objects_of(answer: Answer, verb: str) -> list[dict[str, Any]]:
    if verb == "list":
        return list(answer.json()["items"])
    events = [json.loads(line) for line in answer.text.splitlines() if line.strip()]
    return [e["object"] for e in events if e.get("type") != "BOOKMARK"]


def judge(case: Case, answer: Answer, *, actor_tenant: str, markers: set[str]) -> str | None:
    """None when the answer is right, else what is wrong."""
    if answer.status in case.refused_codes:
        try:
            status = answer.json()
        except ValueError:
            return f"refusal is not JSON: {answer.describe()}"
        if status.get("kind") != "Status" or status.get("code") != answer.status or "items" in status:
            return f"refusal is not a plain Status: {answer.describe()}"
        # Echoing what the caller itself sent (a name in its path) teaches it nothing.
        sent = case.path + json.dumps(case.body)
        leaked = [m for m in _leaks(answer.text, markers) if m not in sent]
        return f"refusal leaks {leaked}: {answer.describe()}" if leaked else None
    if case.own_only and answer.status == 200:
        objects = _objects_of(answer, case.verb)
        foreign = [o["metadata"] for o in objects if o["metadata"].get("tenant") != actor_tenant]
        if foreign:
            return f"shows objects of other tenants: {foreign}"
        leaked = _leaks(json.dumps(objects), markers)
        return f"own-tenant answer leaks {leaked}" if leaked else None
    wanted = f"{sorted(case.refused_codes)}{' or own objects' if case.own_only else ''}"
    return f"expected {wanted}: {answer.describe()}"


def existence_oracle(
    env: TenancyEnv, actor: Identity, case: Case, answer: Answer, world: World
) -> str | None:
    """A refusal must read the same whether the named object exists or not (no existence probe)."""
    victim_names = [f"/nodes/{world.node}", "/web", "/tenants/globex", "/tenants/acme"]
    real = next((n for n in victim_names if case.path.endswith(n)), None)
    if real is None:
        return None
    ghost = real.rsplit("/", 1)[0] + "/no-such-object"
    ghost_path = case.path[: -len(real)] + ghost
    other = env.call(actor, case.method, ghost_path, case.body, content_type=case.content_type)
    same = (
        other.status == answer.status
        and other.text.replace("no-such-object", real.rsplit("/", 1)[1]) == answer.text
    )
    return (
        None if same else f"refusal differs for a missing object: {answer.describe()} vs {other.describe()}"
    )


def test_isolation_matrix(tenancy_env: TenancyEnv, world: World) -> None:
    env = tenancy_env
    before = {t: tenant_snapshot(env, t) for t in world.tenants}
    failures: list[str] = []
    n = 0
    for actor_label, victim in ATTACKS:
        actor = env.identity(actor_label)
        markers = world.tenants[victim].markers | world.node_markers
        for case in matrix_cases(actor.tenant, victim, world.node):
            answer = env.call(actor, case.method, case.path, case.body, content_type=case.content_type)
            n += 1
            problem = judge(case, answer, actor_tenant=actor.tenant, markers=markers)
            if problem is None and case.verb in NAMED_VERBS and answer.status != 200:
                problem = existence_oracle(env, actor, case, answer, world)
            if problem:
                failures.append(
                    f"{actor_label} -> {victim} {case.label} {case.method} {case.path}: {problem}"
                )
    print(f"isolation matrix: {n} cases")
    assert n >= 80
    assert not failures, f"{len(failures)} of {n} cases failed:\n" + "\n".join(failures)
    # Nothing changed for the victims, and no intruder object was made anywhere.
    assert {t: tenant_snapshot(env, t) for t in world.tenants} == before
    assert env.call(env.admin, "GET", "/api/v1/nodes/evil-node").status == 404
    assert env.call(env.admin, "GET", "/api/v1/tenants/evil-tenant").status == 404
    for tenant in world.tenants:
        path = f"/api/v1/tenants/{tenant}/namespaces/default/configmaps/intruder"
        assert env.call(env.admin, "GET", path).status == 404


def test_short_path_list_and_watch_show_only_own_tenant(tenancy_env: TenancyEnv, world: World) -> None:
    env = tenancy_env
    for tenant, other in (("acme", "globex"), ("globex", "acme")):
        for label in (f"{tenant}-cert-admin", f"{tenant}-token-admin"):
            user = env.identity(label)
            listed = env.ok(user, "GET", "/api/v1/configmaps")["items"]
            names = {(o["metadata"]["namespace"], o["metadata"]["name"]) for o in listed}
            mine = world.tenants[tenant]
            assert {
                ("default", "web"),
                ("default", mine.private_configmap),
                (mine.private_namespace, mine.private_configmap),
            } <= names
            assert {o["metadata"]["tenant"] for o in listed} == {tenant}
            assert {o["data"]["value"] for o in listed if o["metadata"]["name"] == "web"} == {
                mine.secret_value
            }
            assert not _leaks(json.dumps(listed), world.tenants[other].markers)
            # The same short path in the default namespace reads the caller's own `web`.
            web = env.ok(user, "GET", "/api/v1/namespaces/default/configmaps/web")
            assert web["data"]["value"] == mine.secret_value and web["metadata"]["tenant"] == tenant
            namespaces = {o["metadata"]["name"] for o in env.ok(user, "GET", "/api/v1/namespaces")["items"]}
            assert mine.private_namespace in namespaces
            assert world.tenants[other].private_namespace not in namespaces
    # The system admin's short path means every tenant.
    everyone = env.ok(env.admin, "GET", "/api/v1/configmaps")["items"]
    assert {"acme", "globex"} <= {o["metadata"]["tenant"] for o in everyone}


def _resource_names(document: dict[str, Any]) -> set[str]:
    return {r["name"] for r in document.get("resources", []) if "/" not in r["name"]}


def _aggregated(env: TenancyEnv, identity: Identity, path: str) -> dict[tuple[str, str], bool]:
    """(group, resource) -> tenanted, from an aggregated v2 discovery document."""
    answer = env.call(identity, "GET", path, accept=AGGREGATED_V2)
    assert answer.status == 200, answer.describe()
    found: dict[tuple[str, str], bool] = {}
    for group in answer.json()["items"]:
        for version in group["versions"]:
            for resource in version["resources"]:
                found[(group["metadata"].get("name", ""), resource["resource"])] = bool(
                    resource.get("tenanted")
                )
    return found


def test_discovery_hides_cluster_scope_from_tenants(tenancy_env: TenancyEnv, world: World) -> None:
    env = tenancy_env
    admin_core = env.ok(env.admin, "GET", "/api/v1")
    cluster_scoped = {
        r["name"] for r in admin_core["resources"] if not r.get("tenanted") and "/" not in r["name"]
    }
    assert {"nodes", "tenants"} <= cluster_scoped
    admin_all = {**_aggregated(env, env.admin, "/api"), **_aggregated(env, env.admin, "/apis")}
    cluster_pairs = {key for key, tenanted in admin_all.items() if not tenanted}
    assert {("", "nodes"), ("", "tenants"), ("scheduling.k8s.io", "priorityclasses")} <= cluster_pairs
    for label in ("acme-cert-admin", "acme-token-admin", "globex-token-admin"):
        user = env.identity(label)
        for path in ("/api/v1", f"/tenants/{user.tenant}/api/v1"):
            names = _resource_names(env.ok(user, "GET", path))
            assert {"configmaps", "namespaces", "pods"} <= names
            assert not names & cluster_scoped, f"{label} {path} shows {names & cluster_scoped}"
        # A group holding only cluster-scoped resources is hidden whole (or at least emptied of them).
        scheduling = env.call(user, "GET", "/apis/scheduling.k8s.io/v1")
        assert scheduling.status == 404 or "priorityclasses" not in _resource_names(scheduling.json())
        seen = {**_aggregated(env, user, "/api"), **_aggregated(env, user, "/apis")}
        assert ("", "configmaps") in seen
        assert not set(seen) & cluster_pairs, (
            f"{label} aggregated discovery shows {set(seen) & cluster_pairs}"
        )
        assert all(seen.values())
        # Another tenant's prefixed discovery, version and OpenAPI are not the caller's business.
        other = "globex" if user.tenant == "acme" else "acme"
        for path in (
            f"/tenants/{other}/api",
            f"/tenants/{other}/api/v1",
            f"/tenants/{other}/apis",
            f"/tenants/{other}/version",
            f"/tenants/{other}/openapi/v3",
        ):
            answer = env.call(user, "GET", path)
            assert answer.status == 403, f"{label} GET {path}: {answer.describe()}"
            assert answer.json()["kind"] == "Status"
            assert not _leaks(answer.text, world.tenants[other].markers)
