"""The API gateway in front of two tenant partitions and two resource partitions (gateway_cluster.py).

Covers, through real processes on loopback: tenants created through the gateway spread over both
TPs (checked on each TP directly), an explicit ``spec.storageClusterId`` honoured and one naming no
TP refused with 422; the merged tenant list (JSON, Table, ``limit``/``continue``, stock
``kubectl get tenants``) and a merged watch resumed from its composite resourceVersion; a tenant's
certificate user (made by the real hack/setup-tenant-user.sh) and token user working on long, short
and prefix paths, seeing only their tenant and refused another's; forged ``X-Remote-*`` headers from
clients ignored; nodes of both RPs listed by ``kubectl get nodes`` and single nodes and node leases
routed to their RP; the official python client through the gateway; a partition that is down
answered with a 503 Status. Leaves out exec/attach/port-forward upgrades (test_gateway_streaming.py)
and the full scale-out cluster with real nodes (P5's e2e on arktos-up-scale-out.sh).
"""

from __future__ import annotations

import contextlib
import http.client
import json
import os
import subprocess
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import yaml
from apiserver_process import REPO_ROOT, free_port, log_tail, stop_process
from gateway_cluster import GatewayCluster, gateway_cluster, gateway_command
from kubectl_binaries import kubectl_binary
from kubectl_runner import Kubectl
from kubernetes import client as k8s
from kubernetes import config as k8s_config

pytestmark = [pytest.mark.e2e, pytest.mark.slow]

TABLE = "application/json;as=Table;v=v1;g=meta.k8s.io,application/json"
REVIEW = {"apiVersion": "authentication.k8s.io/v1", "kind": "SelfSubjectReview"}
WAIT_S = 30.0


@pytest.fixture(scope="module")
def cluster(tmp_path_factory: pytest.TempPathFactory) -> Iterator[GatewayCluster]:
    with gateway_cluster(tmp_path_factory.mktemp("gateway")) as running:
        # Two tenants spread by the gateway: acme (tp0), globex (tp1); created once for the module.
        for name in ("acme", "globex"):
            answer = running.call("POST", "/api/v1/tenants", _tenant(name))
            assert answer.status == 201, answer.describe()
        for name in ("acme", "globex"):
            _wait(lambda n=name: running.call("GET", f"/api/v1/tenants/{n}/namespaces/default").status == 200,
                  f"tenant {name} initialised", running)
        yield running


def _tenant(name: str, partition: str | None = None) -> dict[str, Any]:
    spec = {"storageClusterId": partition} if partition is not None else {}
    return {"apiVersion": "v1", "kind": "Tenant", "metadata": {"name": name}, "spec": spec}


def _wait(predicate: Any, what: str, cluster: GatewayCluster, timeout: float = WAIT_S) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if predicate():
            return
        time.sleep(0.2)
    raise AssertionError(f"timed out waiting for {what}; gateway log:\n{log_tail(cluster.gateway_log)}")


@contextlib.contextmanager
def _watching(cluster: GatewayCluster, path: str) -> Iterator[http.client.HTTPResponse]:
    """A watch through the gateway as the system admin, open for the block."""
    connection = http.client.HTTPSConnection("127.0.0.1", cluster.gateway_port, timeout=30,
                                             context=cluster.admin_context())
    try:
        connection.request("GET", path)
        response = connection.getresponse()
        assert response.status == 200, response.read()[:300]
        yield response
    finally:
        connection.close()


def _names(document: dict[str, Any]) -> list[str]:
    if document.get("kind") == "Table":
        return [row["object"]["metadata"]["name"] for row in document["rows"]]
    return [item["metadata"]["name"] for item in document["items"]]


def _tenants_on(cluster: GatewayCluster, index: int) -> set[str]:
    answer = cluster.call("GET", "/api/v1/tenants", port=cluster.tps[index].port)
    assert answer.status == 200, answer.describe()
    return set(_names(answer.json()))


# -- tenant assignment ------------------------------------------------------------------------------

def test_tenants_created_through_the_gateway_spread_over_both_partitions(cluster: GatewayCluster) -> None:
    on_tp0, on_tp1 = _tenants_on(cluster, 0), _tenants_on(cluster, 1)
    assert "acme" in on_tp0 and "acme" not in on_tp1
    assert "globex" in on_tp1 and "globex" not in on_tp0
    # The next ones go to the TP holding fewer tenants (ties: the lowest index).
    created = []
    for name in ("spread-a", "spread-b", "spread-c"):
        answer = cluster.call("POST", "/api/v1/tenants", _tenant(name))
        assert answer.status == 201, answer.describe()
        created.append((name, answer.json()["spec"]["storageClusterId"]))
    assert created == [("spread-a", "0"), ("spread-b", "1"), ("spread-c", "0")]
    assert {"spread-a", "spread-c"} <= _tenants_on(cluster, 0)
    assert "spread-b" in _tenants_on(cluster, 1)
    # Routable at once (recorded on the 201, before the watch reports it).
    answer = cluster.call("GET", "/api/v1/tenants/spread-b")
    assert answer.status == 200 and answer.json()["spec"]["storageClusterId"] == "1", answer.describe()


def test_an_explicit_partition_is_honoured_and_one_naming_no_partition_refused(
        cluster: GatewayCluster) -> None:
    answer = cluster.call("POST", "/api/v1/tenants", _tenant("pinned", "1"))
    assert answer.status == 201, answer.describe()
    assert "pinned" in _tenants_on(cluster, 1)
    answer = cluster.call("POST", "/api/v1/tenants", _tenant("nowhere", "7"))
    assert answer.status == 422, answer.describe()
    status = answer.json()
    assert status["kind"] == "Status" and status["reason"] == "Invalid"
    assert 'spec.storageClusterId: Invalid value: "7": no tenant partition "7"' in status["message"]
    assert "nowhere" not in _tenants_on(cluster, 0) | _tenants_on(cluster, 1)


# -- merged tenant list and watch ---------------------------------------------------------------------

def test_the_tenant_list_is_merged_with_system_once(cluster: GatewayCluster) -> None:
    names = _names(cluster.call("GET", "/api/v1/tenants").json())
    assert {"acme", "globex", "system"} <= set(names) and names.count("system") == 1
    assert names == sorted(names)  # one server's key order, not partition by partition
    table = cluster.call("GET", "/api/v1/tenants", headers={"Accept": TABLE}).json()
    assert table["kind"] == "Table" and _names(table) == names
    assert [c["name"] for c in table["columnDefinitions"]][:1] == ["Name"]


def test_paging_over_partitions_returns_every_tenant_once(cluster: GatewayCluster) -> None:
    everything = _names(cluster.call("GET", "/api/v1/tenants").json())
    paged: list[str] = []
    token = ""
    for _ in range(20):
        answer = cluster.call("GET", f"/api/v1/tenants?limit=2{'&continue=' + token if token else ''}")
        assert answer.status == 200, answer.describe()
        document = answer.json()
        assert len(document["items"]) <= 2
        paged += _names(document)
        token = document["metadata"].get("continue", "")
        if not token:
            break
    assert sorted(paged) == sorted(everything)


def test_bad_input_gets_a_status(cluster: GatewayCluster) -> None:
    big = _configmap("too-big")
    big["data"] = {"blob": "x" * (4 << 20)}
    answer = cluster.call("POST", "/api/v1/tenants/acme/namespaces/default/configmaps", big)
    assert answer.status == 413 and answer.json()["reason"] == "RequestEntityTooLarge", answer.describe()
    answer = cluster.call("GET", "/api/v1/tenants?limit=1&continue=not-a-token")
    assert answer.status == 400 and answer.json()["kind"] == "Status", answer.describe()
    answer = cluster.call("DELETE", "/api/v1/tenants")
    assert answer.status == 400 and "not supported through the gateway" in answer.json()["message"]


def test_kubectl_get_tenants_lists_every_partition(cluster: GatewayCluster, tmp_path: Path) -> None:
    kubectl = Kubectl(binary=kubectl_binary("kubectl-1.37"), kubeconfig=cluster.credentials.admin_kubeconfig,
                      cache_dir=tmp_path / "cache", label="kubectl-1.37")
    lines = kubectl.run("get", "tenants").stdout.splitlines()
    rows = {line.split()[0]: line.split() for line in lines[1:]}
    assert {"acme", "globex", "system"} <= set(rows), lines
    header = lines[0].split()
    column = header.index("PARTITION")  # the column the partitions print (issue 13)
    assert rows["acme"][column] == "0" and rows["globex"][column] == "1", lines
    # kubectl wait lists and watches the Tenant collection (merged over the TPs) from the list's version.
    assert cluster.call("POST", "/api/v1/tenants", _tenant("waited-for")).status == 201
    kubectl.run("wait", "--for=condition=Initialized", "tenant/waited-for", "tenant/globex", "--timeout=30s",
                timeout=40)


def test_a_merged_watch_sees_new_tenants_of_every_partition(cluster: GatewayCluster) -> None:
    listed = cluster.call("GET", "/api/v1/tenants").json()
    version = listed["metadata"]["resourceVersion"]
    assert version.startswith("gw."), version
    with _watching(cluster, f"/api/v1/tenants?watch=true&resourceVersion={version}&timeoutSeconds=15") \
            as response:
        for name, partition in (("watched-0", "0"), ("watched-1", "1")):
            assert cluster.call("POST", "/api/v1/tenants", _tenant(name, partition)).status == 201
        seen: set[str] = set()
        while not {"watched-0", "watched-1"} <= seen:
            line = response.readline()
            assert line, f"watch ended before both tenants appeared (saw {seen})"
            event = json.loads(line)
            assert event["object"]["metadata"]["name"] != "system" or event["type"] != "ADDED"
            seen.add(event["object"]["metadata"]["name"])
    # A version only one partition issued cannot resume a watch over both: 410, clients relist.
    answer = cluster.call("GET", "/api/v1/tenants?watch=true&resourceVersion=5")
    assert answer.status == 410 and answer.json()["reason"] == "Expired", answer.describe()


def test_the_system_admins_cross_tenant_list_and_watch_span_both_partitions(cluster: GatewayCluster) -> None:
    for tenant in ("acme", "globex"):
        body = _configmap(f"across-{tenant}")
        answer = cluster.call("POST", f"/api/v1/tenants/{tenant}/namespaces/default/configmaps", body)
        assert answer.status == 201, answer.describe()
    for path in ("/api/v1/configmaps", "/api/v1/tenants/all/configmaps"):
        for accept in ("application/json", TABLE):
            listed = cluster.call("GET", path, headers={"Accept": accept}).json()
            entries = [row["object"] for row in listed["rows"]] if accept == TABLE else listed["items"]
            keys = [(e["metadata"]["tenant"], e["metadata"]["namespace"], e["metadata"]["name"])
                    for e in entries]
            assert {("acme", "default", "across-acme"), ("globex", "default", "across-globex")} <= set(keys)
            # Each TP has a tenant `system` of its own; the cluster-wide view shows tp0's once.
            assert len(keys) == len(set(keys)), sorted(k for k in keys if keys.count(k) > 1)
            assert keys == sorted(keys, key="/".join)  # the order of one server's store keys
            assert ("system", "kube-system", "kube-root-ca.crt") in keys
    version = cluster.call("GET", "/api/v1/configmaps").json()["metadata"]["resourceVersion"]
    with _watching(cluster, f"/api/v1/configmaps?watch=1&resourceVersion={version}&timeoutSeconds=15") \
            as response:
        # An event far larger than aiohttp's line limit (128 KiB) passes whole.
        big = _configmap("big")
        big["data"] = {"blob": "x" * 900_000}
        created = cluster.call("POST", "/api/v1/tenants/globex/namespaces/default/configmaps", big)
        assert created.status == 201, created.describe()
        event = json.loads(response.readline())
        assert (event["type"], event["object"]["metadata"]["name"]) == ("ADDED", "big")
        assert len(event["object"]["data"]["blob"]) == 900_000


def _watch_events(cluster: GatewayCluster, path: str, *, until: Any,
                  limit: int = 500) -> list[dict[str, Any]]:
    """Events of a watch through the gateway until ``until(events)`` holds (or the stream ends)."""
    events: list[dict[str, Any]] = []
    with _watching(cluster, path) as response:
        while len(events) < limit and not until(events):
            line = response.readline()
            if not line:
                break
            events.append(json.loads(line))
    return events


def test_bookmarks_carry_a_composite_version_a_watch_resumes_from(cluster: GatewayCluster) -> None:
    version = cluster.call("GET", "/api/v1/tenants").json()["metadata"]["resourceVersion"]
    events = _watch_events(
        cluster, f"/api/v1/tenants?watch=1&allowWatchBookmarks=true&resourceVersion={version}"
                 "&timeoutSeconds=12",
        until=lambda seen: any(e["type"] == "BOOKMARK" for e in seen))
    bookmark = next(e for e in events if e["type"] == "BOOKMARK")
    resumed = bookmark["object"]["metadata"]["resourceVersion"]
    assert resumed.startswith("gw.") and len(resumed.split(".")) == 3, resumed
    assert cluster.call("POST", "/api/v1/tenants", _tenant("after-bookmark", "1")).status == 201
    events = _watch_events(cluster, f"/api/v1/tenants?watch=1&resourceVersion={resumed}&timeoutSeconds=10",
                           until=lambda seen: any(e["object"]["metadata"]["name"] == "after-bookmark"
                                                  for e in seen))
    assert events and events[-1]["object"]["metadata"]["name"] == "after-bookmark", events


def test_send_initial_events_ends_once_after_every_partitions_initial_events(
        cluster: GatewayCluster) -> None:
    events = _watch_events(
        cluster, "/api/v1/tenants?watch=1&sendInitialEvents=true&allowWatchBookmarks=true"
                 "&resourceVersionMatch=NotOlderThan&timeoutSeconds=8",
        until=lambda seen: any(e["type"] == "BOOKMARK" for e in seen))
    names = [e["object"]["metadata"]["name"] for e in events if e["type"] == "ADDED"]
    assert {"acme", "globex", "system"} <= set(names) and names.count("system") == 1, names
    ends = [e for e in events if e["type"] == "BOOKMARK"]
    assert ends[-1]["object"]["metadata"]["annotations"]["k8s.io/initial-events-end"] == "true"
    assert ends[-1]["object"]["metadata"]["resourceVersion"].startswith("gw.")


# -- tenant users -----------------------------------------------------------------------------------

def _cert_user(cluster: GatewayCluster, tenant: str) -> tuple[Path, Any]:
    run_env = {**os.environ, "CERT_DIR": str(cluster.credentials.cert_dir), "API_HOST_IP": "127.0.0.1",
               "API_SECURE_PORT": str(cluster.gateway_port), "LOG_DIR": str(cluster.workdir)}
    result = subprocess.run(["bash", str(REPO_ROOT / "hack" / "setup-tenant-user.sh"), tenant, "admin"],
                            env=run_env, capture_output=True, text=True, timeout=60, stdin=subprocess.DEVNULL)
    assert result.returncode == 0, result.stderr
    kubeconfig = Path(result.stdout.strip().splitlines()[-1])
    user = yaml.safe_load(kubeconfig.read_text())["users"][0]["user"]
    import base64

    cert, key = cluster.workdir / f"{tenant}.crt", cluster.workdir / f"{tenant}.key"
    cert.write_bytes(base64.b64decode(user["client-certificate-data"]))
    key.write_bytes(base64.b64decode(user["client-key-data"]))
    return kubeconfig, cluster.context(cert, key)


def _configmap(name: str) -> dict[str, Any]:
    return {"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": name}, "data": {"k": "v"}}


@pytest.mark.parametrize("tenant", ["acme", "globex"])
def test_a_tenant_certificate_user_works_on_long_short_and_prefix_paths(cluster: GatewayCluster,
                                                                        tenant: str) -> None:
    _, context = _cert_user(cluster, tenant)
    other = "globex" if tenant == "acme" else "acme"
    long_path = f"/api/v1/tenants/{tenant}/namespaces/default/configmaps"
    answer = cluster.call("POST", long_path, _configmap("via-long"), context=context)
    assert answer.status == 201, answer.describe()
    short_path = "/api/v1/namespaces/default/configmaps"
    answer = cluster.call("POST", short_path, _configmap("via-short"), context=context)
    assert answer.status == 201, answer.describe()
    answer = cluster.call("GET", f"/tenants/{tenant}/api/v1/namespaces/default/configmaps/via-long",
                          context=context)
    assert answer.status == 200 and answer.json()["metadata"]["tenant"] == tenant, answer.describe()
    # It sees its own tenant only: namespaces of its tenant; the other tenant is forbidden.
    namespaces = cluster.call("GET", "/api/v1/namespaces", context=context).json()
    assert {item["metadata"]["tenant"] for item in namespaces["items"]} == {tenant}
    assert cluster.call("GET", f"/api/v1/tenants/{other}/namespaces/default/configmaps",
                        context=context).status == 403
    # The objects are on the tenant's TP, as the system admin sees it there directly.
    index = 0 if tenant == "acme" else 1
    direct = cluster.call("GET", f"/api/v1/tenants/{tenant}/namespaces/default/configmaps",
                          port=cluster.tps[index].port)
    assert {"via-long", "via-short"} <= set(_names(direct.json()))
    who = cluster.call("POST", "/apis/authentication.k8s.io/v1/selfsubjectreviews",
                       REVIEW, context=context)
    assert who.status == 201 and who.json()["status"]["userInfo"]["username"] == "admin", who.describe()


def test_stock_kubectl_as_a_tenant_user_through_the_gateway(cluster: GatewayCluster, tmp_path: Path) -> None:
    kubeconfig, _ = _cert_user(cluster, "globex")  # globex lives on tp1
    kubectl = Kubectl(binary=kubectl_binary("kubectl-1.37"), kubeconfig=kubeconfig,
                      cache_dir=tmp_path / "cache", label="kubectl-1.37")
    kubectl.run("create", "configmap", "from-kubectl", "--from-literal=k=v", "-n", "default")
    for context in ("default", "prefix"):  # short paths, and the /tenants/globex prefix
        names = kubectl.run("--context", context, "get", "configmaps", "-n", "default", "-o", "name").stdout
        assert "configmap/from-kubectl" in names.split(), (context, names)
    # Discovery is the tenant's view (ARKTOS.md §3: cluster-scoped resources hidden from tenants).
    hidden = kubectl.run("get", "nodes", check=False)
    assert hidden.returncode != 0 and 'resource type "nodes"' in hidden.stderr, hidden.stderr


def test_a_tenant_token_user_works_through_the_gateway(cluster: GatewayCluster) -> None:
    token = cluster.tokens["globex-token"]
    short_path = "/api/v1/namespaces/default/configmaps"
    answer = cluster.call("POST", short_path, _configmap("by-token"), token=token)
    assert answer.status == 201 and answer.json()["metadata"]["tenant"] == "globex", answer.describe()
    listed = cluster.call("GET", "/api/v1/tenants/globex/namespaces/default/configmaps", token=token)
    assert "by-token" in _names(listed.json())
    assert cluster.call("GET", "/tenants/globex/api/v1/namespaces/default/configmaps/by-token",
                        token=token).status == 200
    other = cluster.call("GET", "/api/v1/tenants/acme/namespaces/default/configmaps", token=token)
    assert other.status == 403, other.describe()
    namespaces = cluster.call("GET", "/api/v1/namespaces", token=token).json()
    assert {item["metadata"]["tenant"] for item in namespaces["items"]} == {"globex"}


def test_a_service_account_token_routes_by_its_tenant_claim(cluster: GatewayCluster) -> None:
    request = {"apiVersion": "authentication.k8s.io/v1", "kind": "TokenRequest",
               "spec": {"audiences": ["https://kubernetes.default.svc"], "expirationSeconds": 600}}
    path = "/api/v1/tenants/globex/namespaces/default/serviceaccounts/default/token"
    _wait(lambda: cluster.call("GET", path.removesuffix("/token")).status == 200, "globex's default SA",
          cluster)
    issued = cluster.call("POST", path, request)
    assert issued.status == 201, issued.describe()
    token = issued.json()["status"]["token"]
    # A short path: only the token's tenant claim tells the gateway that globex lives on tp1. tp0
    # would refuse the token (it checks that the service account exists, and tp0 has no globex).
    assert cluster.call("POST", "/apis/authentication.k8s.io/v1/selfsubjectreviews", REVIEW,
                        token=token, port=cluster.tps[0].port).status == 401
    who = cluster.call("POST", "/apis/authentication.k8s.io/v1/selfsubjectreviews", REVIEW, token=token)
    assert who.status == 201, who.describe()
    assert who.json()["status"]["userInfo"]["username"] == "system:serviceaccount:default:default"


FORGED = {"X-Remote-User": "system:admin", "X-Remote-Group": "system:masters", "X-Remote-Tenant": "system"}


def test_forged_remote_headers_from_clients_are_ignored(cluster: GatewayCluster) -> None:
    token = cluster.tokens["acme-token"]
    answer = cluster.call("GET", "/api/v1/tenants/globex/namespaces", token=token, headers=FORGED)
    assert answer.status == 403, answer.describe()
    review = REVIEW
    who = cluster.call("POST", "/apis/authentication.k8s.io/v1/selfsubjectreviews", review, token=token,
                       headers=FORGED)
    assert who.json()["status"]["userInfo"]["username"] == "admin", who.describe()
    _, context = _cert_user(cluster, "acme")
    who = cluster.call("POST", "/apis/authentication.k8s.io/v1/selfsubjectreviews", review, context=context,
                       headers=FORGED)
    info = who.json()["status"]["userInfo"]
    assert info["username"] == "admin" and "system:masters" not in info.get("groups", []), who.describe()
    anonymous = cluster.call("GET", "/api/v1/tenants", context=cluster.context(), headers=FORGED)
    assert anonymous.status in (401, 403), anonymous.describe()


# -- nodes --------------------------------------------------------------------------------------------

def _node(name: str) -> dict[str, Any]:
    return {"apiVersion": "v1", "kind": "Node", "metadata": {"name": name}}


def _lease(name: str) -> dict[str, Any]:
    return {"apiVersion": "coordination.k8s.io/v1", "kind": "Lease",
            "metadata": {"name": name, "namespace": "kube-node-lease"}, "spec": {"holderIdentity": name}}


def test_nodes_of_both_resource_partitions_are_listed_and_routed(cluster: GatewayCluster,
                                                                 tmp_path: Path) -> None:
    for index, name in ((0, "node-rp0"), (1, "node-rp1")):
        port = cluster.rps[index].port
        assert cluster.call("POST", "/api/v1/nodes", _node(name), port=port).status == 201
        lease = cluster.call("POST", "/apis/coordination.k8s.io/v1/namespaces/kube-node-lease/leases",
                             _lease(name), port=port)
        assert lease.status == 201, lease.describe()
    _wait(lambda: cluster.call("GET", "/api/v1/nodes/node-rp1").status == 200, "node-rp1 routable", cluster)
    assert cluster.call("GET", "/api/v1/nodes/node-rp0").status == 200
    assert cluster.call("GET", "/apis/coordination.k8s.io/v1/namespaces/kube-node-lease/leases/node-rp1"
                        ).json()["spec"]["holderIdentity"] == "node-rp1"
    patched = cluster.call("PATCH", "/api/v1/nodes/node-rp1", {"metadata": {"labels": {"gw": "yes"}}},
                           headers={"Content-Type": "application/merge-patch+json"})
    assert patched.status == 200, patched.describe()
    direct = cluster.call("GET", "/api/v1/nodes/node-rp1", port=cluster.rps[1].port).json()
    assert direct["metadata"]["labels"]["gw"] == "yes"
    assert cluster.call("GET", "/api/v1/nodes/no-such-node").status == 404
    kubectl = Kubectl(binary=kubectl_binary("kubectl-1.37"), kubeconfig=cluster.credentials.admin_kubeconfig,
                      cache_dir=tmp_path / "cache", label="kubectl-1.37")
    names = {line.split()[0] for line in kubectl.run("get", "nodes").stdout.splitlines()[1:]}
    assert {"node-rp0", "node-rp1"} <= names
    leases = cluster.call("GET", "/apis/coordination.k8s.io/v1/namespaces/kube-node-lease/leases").json()
    assert {"node-rp0", "node-rp1"} <= set(_names(leases))


def test_the_python_client_drives_the_gateway(cluster: GatewayCluster) -> None:
    with k8s_config.new_client_from_config(config_file=str(cluster.credentials.admin_kubeconfig)) as api:
        core = k8s.CoreV1Api(api)
        nodes = {n.metadata.name for n in core.list_node(_request_timeout=10).items}
        assert nodes == set(_names(cluster.call("GET", "/api/v1/nodes").json()))
        # Every tenant's namespaces, merged over the TPs (the client's model drops metadata.tenant).
        names = [n.metadata.name for n in core.list_namespace(_request_timeout=10).items]
        assert names.count("default") >= 3, names  # system, acme (tp0) and globex (tp1) at least
    kubeconfig, _ = _cert_user(cluster, "globex")
    with k8s_config.new_client_from_config(config_file=str(kubeconfig)) as api:
        core = k8s.CoreV1Api(api)
        created = core.create_namespaced_config_map(
            "default", k8s.V1ConfigMap(metadata=k8s.V1ObjectMeta(name="from-python"), data={"a": "b"}))
        assert core.read_namespaced_config_map("from-python", "default").data == {"a": "b"}
    direct = cluster.call("GET", "/api/v1/tenants/globex/namespaces/default/configmaps/from-python",
                          port=cluster.tps[1].port)
    assert direct.status == 200 and created.metadata.uid == direct.json()["metadata"]["uid"]


# -- a partition down -----------------------------------------------------------------------------------

def test_a_partition_that_is_down_is_answered_with_a_503_status(cluster: GatewayCluster) -> None:
    port = free_port()
    command = gateway_command(cluster.credentials, port=port, token_file=cluster.workdir / "tokens.csv",
                              tps=cluster.tps, rps=cluster.rps)
    dead = f"https://127.0.0.1:{free_port()}"
    command += ["--tenant-partition", f"tp2={dead}"]
    log_path = cluster.workdir / "gateway-dead-tp.log"
    with log_path.open("ab") as log:
        process = subprocess.Popen(command, cwd=REPO_ROOT, stdout=log, stderr=subprocess.STDOUT,
                                   stdin=subprocess.DEVNULL, start_new_session=True)
    try:
        deadline = time.monotonic() + WAIT_S
        answer = None
        while time.monotonic() < deadline:
            try:
                answer = cluster.call("GET", "/api/v1/tenants", port=port)
                break
            except OSError:
                time.sleep(0.2)
        assert answer is not None, log_tail(log_path)
        assert answer.status == 503, answer.describe()
        status = answer.json()
        assert status["kind"] == "Status" and status["reason"] == "ServiceUnavailable"
        assert "partition tp2" in status["message"] and "unavailable" in status["message"]
        assert cluster.call("GET", "/readyz", port=port).status == 500
        # Requests that need only live partitions still work.
        assert cluster.call("GET", "/api/v1/tenants/acme/namespaces", port=port).status == 200
    finally:
        stop_process(process)
