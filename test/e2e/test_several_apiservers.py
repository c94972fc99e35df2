"""Two API servers on one etcd behind HAProxy: `STORAGE_BACKEND=etcd APISERVER_COUNT=2 arktos-up.sh`.

Covers: stock kubectl (cluster/kubectl.sh) and the official python client work through the load
balancer (create, get, list, patch, watch, delete); new connections are spread over both servers
(each one's audit log holds some of the creates); a tenant user's client certificate passes
HAProxy untouched (TCP mode) and the server audits the request as that user; a watch on server A
sees every write made concurrently through B, A and the balancer, once each, in revision order; a list with
limit/continue started on A continues on B at the same revision (an object created meanwhile does
not appear); a write through A is read at once through B (GET; LIST without resourceVersion, and
with A's resourceVersion and resourceVersionMatch=NotOlderThan).
Leaves out: faults (test/fault/test_several_apiservers_faults.py), the compactor election
(test/component/test_api_compactor_election.py and test/unit/test_several_servers.py; arktos-up's
5-minute round is too slow here), the etcd backend's own contract (test/storage).
"""

from __future__ import annotations

import asyncio
import json
import uuid
from collections.abc import AsyncIterator, Iterator
from pathlib import Path
from typing import Any

import aiohttp
import pytest
from kubernetes import client as k8s
from kubernetes import config as k8s_config
from kubernetes import watch as k8s_watch
from several_cluster import SeveralCluster, running_several_cluster, several_cluster_env
from test_arktos_up import kubectl_sh
from workload_cluster import kubectl_as, tenant_kubeconfig

pytestmark = [pytest.mark.e2e, pytest.mark.slow]

TIMEOUT = aiohttp.ClientTimeout(total=30)


@pytest.fixture(scope="module")
def cluster(tmp_path_factory: pytest.TempPathFactory) -> Iterator[SeveralCluster]:
    yield from running_several_cluster(several_cluster_env(tmp_path_factory.mktemp("several")))


@pytest.fixture
def namespace(cluster: SeveralCluster) -> Iterator[str]:
    name = f"multi-{uuid.uuid4().hex[:8]}"
    made = kubectl_sh(cluster.env, "create", "namespace", name)
    assert made.returncode == 0, made.stderr
    yield name
    kubectl_sh(cluster.env, "delete", "namespace", name, "--wait=false")


@pytest.fixture
async def session(cluster: SeveralCluster) -> AsyncIterator[aiohttp.ClientSession]:
    connector = aiohttp.TCPConnector(ssl=cluster.ssl_context(), limit=64)
    async with aiohttp.ClientSession(connector=connector, timeout=TIMEOUT) as opened:
        yield opened


def configmap(name: str, **data: str) -> dict[str, Any]:
    return {"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": name}, "data": data}


async def call(session: aiohttp.ClientSession, method: str, url: str, body: Any = None,
               *, expect: int = 200, **params: str) -> dict[str, Any]:
    async with session.request(method, url, json=body, params=params or None) as answer:
        text = await answer.text()
        assert answer.status == expect, f"{method} {url}: {answer.status} {text}"
        loaded: dict[str, Any] = json.loads(text)
        return loaded


def audited(cluster: SeveralCluster, index: int, needle: str) -> list[dict[str, Any]]:
    path = cluster.log_dir / f"kube-apiserver-audit-{index}.log"
    lines = path.read_text().splitlines() if path.exists() else []
    return [json.loads(line) for line in lines if needle in line]


def test_kubectl_flows_through_the_load_balancer_reach_both_servers(cluster: SeveralCluster,
                                                                    namespace: str) -> None:
    def kubectl(*args: str, stdin: str = "") -> str:
        done = kubectl_sh(cluster.env, "-n", namespace, *args, stdin=stdin)
        assert done.returncode == 0, f"kubectl {' '.join(args)}: {done.stderr}"
        return done.stdout

    for i in range(6):
        kubectl("apply", "-f", "-", stdin=json.dumps(configmap(f"cm-{i}", n=str(i))))
    assert kubectl("get", "configmap", "cm-3", "-o", "jsonpath={.data.n}") == "3"
    kubectl("patch", "configmap", "cm-3", "--type", "merge", "-p", '{"data":{"n":"33"}}')
    assert kubectl("get", "configmap", "cm-3", "-o", "jsonpath={.data.n}") == "33"
    listed = kubectl("get", "configmaps", "-o", "name").split()
    assert {f"configmap/cm-{i}" for i in range(6)} <= set(listed)
    kubectl("delete", "configmap", "cm-0")
    assert "configmap/cm-0" not in kubectl("get", "configmaps", "-o", "name").split()
    # Every write landed on one of the servers (each audits its own).
    paths = [r["path"] for index in range(cluster.servers)
             for r in audited(cluster, index, f"/namespaces/{namespace}/configmaps")]
    assert len([p for p in paths if p.endswith("/configmaps")]) >= 6, paths


async def test_the_balancer_spreads_connections_over_both_servers(
        cluster: SeveralCluster, namespace: str) -> None:
    path = f"{cluster.url}/api/v1/namespaces/{namespace}/configmaps"
    # A new connection per request: HAProxy balances connections (round robin), not requests.
    connector = aiohttp.TCPConnector(ssl=cluster.ssl_context(), force_close=True)
    async with aiohttp.ClientSession(connector=connector, timeout=TIMEOUT) as fresh:
        for i in range(10):
            await call(fresh, "POST", path, configmap(f"spread-{i}"), expect=201)
    per_server = [len([r for r in audited(cluster, index, f"/namespaces/{namespace}/configmaps")
                       if r["user"] == "system:admin"])  # not the root-CA controller's ConfigMap
                  for index in range(cluster.servers)]
    print(f"creates per server: {per_server}")
    assert sum(per_server) == 10 and min(per_server) > 0, per_server


def test_a_tenant_users_certificate_reaches_the_servers(cluster: SeveralCluster) -> None:
    tenant = f"t{uuid.uuid4().hex[:6]}"
    made = kubectl_sh(cluster.env, "apply", "-f", "-", stdin=json.dumps(
        {"apiVersion": "v1", "kind": "Tenant", "metadata": {"name": tenant},
         "spec": {"storageClusterId": "0"}}))
    assert made.returncode == 0, made.stderr
    kubeconfig = tenant_kubeconfig(cluster.env, tenant, "alice")
    for i in range(4):  # new connections: through both servers
        answer = kubectl_as(cluster.env, kubeconfig, "create", "configmap", f"alice-{i}", "-n", "default")
        # Authenticated as alice of the tenant (authorized or not): the certificate arrived.
        assert "Unauthorized" not in answer.stderr, answer.stderr
    records = [r for index in range(cluster.servers) for r in audited(cluster, index, '"alice"')]
    assert records, "no server audited a request of alice"
    assert all(r["user"] == "alice" and r["tenant"] == tenant for r in records), records[:3]


def test_python_client_flows_through_the_load_balancer(cluster: SeveralCluster, namespace: str) -> None:
    with k8s_config.new_client_from_config(config_file=str(cluster.kubeconfig)) as api:
        core = k8s.CoreV1Api(api)
        listed = core.list_namespaced_config_map(namespace, _request_timeout=10)
        stream = k8s_watch.Watch()
        seen: list[tuple[str, str]] = []
        for i in range(5):
            core.create_namespaced_config_map(namespace, configmap(f"py-{i}"), _request_timeout=10)
        core.patch_namespaced_config_map("py-1", namespace, {"data": {"k": "v"}}, _request_timeout=10)
        core.delete_namespaced_config_map("py-2", namespace, _request_timeout=10)
        for event in stream.stream(core.list_namespaced_config_map, namespace,
                                   resource_version=listed.metadata.resource_version, timeout_seconds=10):
            seen.append((event["type"], event["object"].metadata.name))
            if len(seen) == 7:
                stream.stop()
        assert seen == [("ADDED", f"py-{i}") for i in range(5)] + [("MODIFIED", "py-1"), ("DELETED", "py-2")]
        assert core.read_namespaced_config_map("py-1", namespace, _request_timeout=10).data == {"k": "v"}


async def watch_events(session: aiohttp.ClientSession, url: str, resource_version: str,
                       count: int, into: list[tuple[str, str, int]]) -> None:
    """Reads a watch on ``url`` from ``resource_version`` until ``count`` events arrived."""
    params = {"watch": "true", "resourceVersion": resource_version, "timeoutSeconds": "60"}
    async with session.get(url, params=params) as answer:
        assert answer.status == 200, await answer.text()
        async for line in answer.content:
            event = json.loads(line)
            assert event["type"] != "ERROR", event
            revision = int(event["object"]["metadata"]["resourceVersion"])
            into.append((event["type"], event["object"]["metadata"]["name"], revision))
            if len(into) == count:
                return


async def test_a_watch_on_one_server_sees_every_write_through_the_others_in_order(
        cluster: SeveralCluster, namespace: str, session: aiohttp.ClientSession) -> None:
    path = f"/api/v1/namespaces/{namespace}/configmaps"
    a, b = cluster.server_url(0), cluster.server_url(1)
    start = (await call(session, "GET", b + path))["metadata"]["resourceVersion"]  # B's revision, A's watch
    writers = [b, a, cluster.url]  # through B, through A itself, through the balancer
    written: list[tuple[str, str, int]] = []  # creates and updates, with the revision answered
    deleted: list[str] = []  # a delete answers a Status: its revision comes only with the event

    async def write(i: int) -> None:
        base = writers[i % len(writers)] + path
        created = await call(session, "POST", base, configmap(f"w-{i}"), expect=201)
        written.append(("ADDED", f"w-{i}", int(created["metadata"]["resourceVersion"])))
        updated = await call(session, "PUT", f"{base}/w-{i}", {**created, "data": {"v": "1"}})
        written.append(("MODIFIED", f"w-{i}", int(updated["metadata"]["resourceVersion"])))
        if i % 3 == 0:
            await call(session, "DELETE", f"{base}/w-{i}")
            deleted.append(f"w-{i}")

    await asyncio.gather(*(write(i) for i in range(150)))
    seen: list[tuple[str, str, int]] = []
    async with asyncio.timeout(60):
        await watch_events(session, a + path, start, len(written) + len(deleted), seen)
    print(f"watch on {a}: {len(seen)} events for {len(written) + len(deleted)} writes through A, B "
          "and the balancer")
    revisions = [revision for _, _, revision in seen]
    assert revisions == sorted(set(revisions)), "events out of revision order, or one twice"
    assert [e for e in seen if e[0] != "DELETED"] == sorted(written, key=lambda e: e[2])
    modified_at = {name: revision for kind, name, revision in written if kind == "MODIFIED"}
    deletes = [(name, revision) for kind, name, revision in seen if kind == "DELETED"]
    assert sorted(name for name, _ in deletes) == sorted(deleted)
    assert all(revision > modified_at[name] for name, revision in deletes)


async def test_a_list_started_on_one_server_continues_on_the_other(
        cluster: SeveralCluster, namespace: str, session: aiohttp.ClientSession) -> None:
    path = f"/api/v1/namespaces/{namespace}/configmaps"
    a, b = cluster.server_url(0), cluster.server_url(1)
    for i in range(25):
        await call(session, "POST", b + path, configmap(f"p-{i:02d}"), expect=201)
    selector = {"fieldSelector": "metadata.name!=kube-root-ca.crt"}  # the root-CA controller's
    first = await call(session, "GET", a + path, limit="10", **selector)
    revision = first["metadata"]["resourceVersion"]
    await call(session, "POST", a + path, configmap("p-99-late"), expect=201)  # after the snapshot
    names = [item["metadata"]["name"] for item in first["items"]]
    token = first["metadata"]["continue"]
    for server in (b, a, b):
        if not token:
            break
        page = await call(session, "GET", server + path, limit="10", **selector, **{"continue": token})
        assert page["metadata"]["resourceVersion"] == revision
        names += [item["metadata"]["name"] for item in page["items"]]
        token = page["metadata"].get("continue", "")
    assert not token
    assert names == [f"p-{i:02d}" for i in range(25)]


async def test_a_write_through_one_server_is_read_at_once_through_the_other(
        cluster: SeveralCluster, namespace: str, session: aiohttp.ClientSession) -> None:
    path = f"/api/v1/namespaces/{namespace}/configmaps"
    a, b = cluster.server_url(0), cluster.server_url(1)
    for i in range(40):
        writer, reader = (a, b) if i % 2 else (b, a)
        created = await call(session, "POST", writer + path, configmap(f"r-{i}"), expect=201)
        got = await call(session, "GET", f"{reader}{path}/r-{i}")
        assert got["metadata"]["resourceVersion"] == created["metadata"]["resourceVersion"]
        revision = created["metadata"]["resourceVersion"]
        for params in ({}, {"resourceVersion": revision, "resourceVersionMatch": "NotOlderThan"}):
            listed = await call(session, "GET", reader + path, **params)
            assert int(listed["metadata"]["resourceVersion"]) >= int(revision)
            assert f"r-{i}" in {item["metadata"]["name"] for item in listed["items"]}


def test_both_servers_run_and_haproxy_fronts_them(cluster: SeveralCluster) -> None:
    for index in range(cluster.servers):
        assert cluster.component(cluster.server_name(index)) is not None
        assert cluster.ready(cluster.server_url(index))
    assert cluster.component("haproxy") is not None
    config = (Path(cluster.env["ARKTOS_DATA_DIR"]) / "haproxy" / "haproxy.cfg").read_text()
    assert "mode tcp" in config
    # Each server twice: in the backend of ready servers and in the one of running servers.
    assert config.count("server kube-apiserver-") == 2 * cluster.servers
