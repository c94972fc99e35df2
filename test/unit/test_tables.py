"""Server-side tables (server/printing/: tables.py, printers.py, workload_printers.py, durations.py).

Covers: upstream's HumanDuration steps; the Table envelope and column definitions; rows as upstream's
printers produce them for pods (every STATUS path we know kubectl users see), nodes, services,
deployments, jobs, events, config objects, tenants; the default Name/Created At table; includeObject;
and a 10k-pod table row for row. Leaves out: its cost (a figure: bench/hot_paths_bench.py) and
the HTTP side (Accept negotiation, resourceVersion/continue in table metadata).
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from apis.catalogue import Resource
from server.printing.durations import human_duration
from server.printing.tables import partial_object_metadata, table_for
from server.resources.builtin import builtin_catalogue

NOW = datetime(2024, 6, 1, 12, 0, 0, tzinfo=UTC)


def ago(**delta: float) -> str:
    return (NOW - timedelta(**delta)).strftime("%Y-%m-%dT%H:%M:%SZ")


def res(group: str, plural: str) -> Resource:
    version = "v2" if group == "autoscaling" else "v1"
    found = builtin_catalogue().lookup(group, version, plural)
    assert found is not None
    return found


def row(group: str, plural: str, obj: dict[str, Any]) -> list[Any]:
    cells: list[Any] = table_for(res(group, plural), [obj], now=NOW)["rows"][0]["cells"]
    return cells


@pytest.mark.parametrize(("seconds", "text"), [
    (-5, "<invalid>"), (-1, "0s"), (0, "0s"), (5, "5s"), (119, "119s"), (120, "2m"), (200, "3m20s"),
    (599, "9m59s"), (600, "10m"), (179 * 60, "179m"), (3 * 3600, "3h"), (3 * 3600 + 300, "3h5m"),
    (8 * 3600, "8h"), (47 * 3600, "47h"), (48 * 3600, "2d"), (50 * 3600, "2d2h"), (8 * 86400, "8d"),
    (729 * 86400, "729d"), (730 * 86400, "2y"), (731 * 86400, "2y1d"), (8 * 365 * 86400, "8y"),
])
def test_human_duration_matches_upstream(seconds: float, text: str) -> None:
    assert human_duration(seconds) == text


def pod(phase: str = "Running", *, statuses: list[dict[str, Any]] | None = None,
        init: list[dict[str, Any]] | None = None, **extra: Any) -> dict[str, Any]:
    obj: dict[str, Any] = {
        "apiVersion": "v1", "kind": "Pod",
        "metadata": {"name": "web", "namespace": "default", "creationTimestamp": ago(minutes=5)},
        "spec": {"containers": [{"name": "a", "image": "nginx"}, {"name": "b", "image": "busybox"}]},
        "status": {"phase": phase, "containerStatuses": statuses or []},
    }
    if init is not None:
        obj["spec"]["initContainers"] = [{"name": s["name"], "image": "busybox"} for s in init]
        obj["status"]["initContainerStatuses"] = init
    for key, value in extra.items():
        obj[key].update(value)
    return obj


RUNNING = {"running": {"startedAt": ago(minutes=4)}}


def test_table_envelope_and_pod_columns() -> None:
    table = table_for(res("", "pods"), [pod()], now=NOW)
    assert (table["kind"], table["apiVersion"], table["metadata"]) == ("Table", "meta.k8s.io/v1", {})
    names = [(c["name"], c["priority"]) for c in table["columnDefinitions"]]
    assert names == [("Name", 0), ("Ready", 0), ("Status", 0), ("Restarts", 0), ("Age", 0), ("IP", 1),
                     ("Node", 1), ("Nominated Node", 1), ("Readiness Gates", 1)]
    assert all(set(c) == {"name", "type", "format", "description", "priority"}
               for c in table["columnDefinitions"])
    assert table["columnDefinitions"][0]["format"] == "name"
    (only,) = table["rows"]
    assert only["cells"] == ["web", "0/2", "Running", "0", "5m", "<none>", "<none>", "<none>", "<none>"]
    assert only["object"] == partial_object_metadata(pod())
    assert only["object"]["kind"] == "PartialObjectMetadata"


def test_pod_ready_restarts_and_ip() -> None:
    statuses = [
        {"name": "a", "ready": True, "restartCount": 3, "state": RUNNING,
         "lastState": {"terminated": {"exitCode": 1, "finishedAt": ago(minutes=2)}}},
        {"name": "b", "ready": True, "restartCount": 0, "state": RUNNING},
    ]
    cells = row("", "pods", pod(statuses=statuses, spec={"nodeName": "n1"},
                                status={"podIPs": [{"ip": "10.1.0.5"}]}))
    assert cells[:6] == ["web", "2/2", "Running", "3 (2m ago)", "5m", "10.1.0.5"]
    assert cells[6] == "n1"


@pytest.mark.parametrize(("phase", "statuses", "init", "meta", "expected"), [
    ("Pending", [{"name": "a", "ready": False, "restartCount": 0,
                  "state": {"waiting": {"reason": "ContainerCreating"}}}], None, {}, "ContainerCreating"),
    ("Running", [{"name": "a", "ready": False, "restartCount": 4,
                  "state": {"waiting": {"reason": "CrashLoopBackOff"}}}], None, {}, "CrashLoopBackOff"),
    ("Succeeded", [{"name": "a", "ready": False, "restartCount": 0,
                    "state": {"terminated": {"exitCode": 0, "reason": "Completed"}}}], None, {}, "Completed"),
    ("Failed", [{"name": "a", "ready": False, "restartCount": 0,
                 "state": {"terminated": {"exitCode": 137}}}], None, {}, "ExitCode:137"),
    ("Pending", [], [{"name": "i1", "ready": False, "restartCount": 0,
                      "state": {"terminated": {"exitCode": 0, "reason": "Completed"}}},
                     {"name": "i2", "ready": False, "restartCount": 0,
                      "state": {"running": {}}}], {}, "Init:1/2"),
    ("Pending", [], [{"name": "i1", "ready": False, "restartCount": 2,
                      "state": {"waiting": {"reason": "CrashLoopBackOff"}}}], {}, "Init:CrashLoopBackOff"),
    ("Pending", [], [{"name": "i1", "ready": False, "restartCount": 0,
                      "state": {"terminated": {"exitCode": 2}}}], {}, "Init:ExitCode:2"),
    ("Running", [{"name": "a", "ready": True, "restartCount": 0, "state": RUNNING}], None,
     {"deletionTimestamp": ago(seconds=3)}, "Terminating"),
    ("Succeeded", [], None, {"deletionTimestamp": ago(seconds=3)}, "Succeeded"),
])
def test_pod_status_column(phase: str, statuses: list[dict[str, Any]], init: list[dict[str, Any]] | None,
                           meta: dict[str, Any], expected: str) -> None:
    assert row("", "pods", pod(phase, statuses=statuses, init=init, metadata=meta))[2] == expected


def test_pod_status_reason_and_completed_condition() -> None:
    evicted = pod("Failed", status={"reason": "Evicted"})
    table = table_for(res("", "pods"), [evicted, pod("Succeeded")], now=NOW)
    assert table["rows"][0]["cells"][2] == "Evicted"
    assert table["rows"][0]["conditions"][0]["reason"] == "Failed"
    assert table["rows"][1]["conditions"] == [{"type": "Completed", "status": "True", "reason": "Succeeded",
                                               "message": "The pod has completed successfully."}]
    assert "conditions" not in table_for(res("", "pods"), [pod()], now=NOW)["rows"][0]


def test_node_row() -> None:
    node = {
        "metadata": {"name": "n1", "creationTimestamp": ago(days=3, hours=4),
                     "labels": {"node-role.kubernetes.io/control-plane": ""}},
        "spec": {"unschedulable": True},
        "status": {"conditions": [{"type": "Ready", "status": "True"}],
                   "addresses": [{"type": "InternalIP", "address": "192.168.0.2"}],
                   "nodeInfo": {"kubeletVersion": "v1.32.0", "osImage": "Debian GNU/Linux 12",
                                "kernelVersion": "6.1.0", "containerRuntimeVersion": "containerd://1.6.20"}},
    }
    assert row("", "nodes", node) == ["n1", "Ready,SchedulingDisabled", "control-plane", "3d4h", "v1.32.0",
                                      "192.168.0.2", "<none>", "Debian GNU/Linux 12", "6.1.0",
                                      "containerd://1.6.20"]
    assert row("", "nodes", {"metadata": {"name": "n2"}})[1:3] == ["Unknown", "<none>"]


def test_service_rows() -> None:
    svc = {"metadata": {"name": "web", "creationTimestamp": ago(hours=30)},
           "spec": {"type": "NodePort", "clusterIP": "10.0.0.10", "clusterIPs": ["10.0.0.10"],
                    "ports": [{"port": 80, "protocol": "TCP"},
                              {"port": 443, "nodePort": 30443, "protocol": "TCP"}],
                    "selector": {"app": "web", "tier": "fe"}}}
    assert row("", "services", svc) == ["web", "NodePort", "10.0.0.10", "<none>", "80/TCP,443:30443/TCP",
                                        "30h", "app=web,tier=fe"]
    lb = {"metadata": {"name": "lb"}, "spec": {"type": "LoadBalancer", "clusterIPs": ["10.0.0.11"]}}
    assert row("", "services", lb)[3:5] == ["<pending>", "<none>"]


def test_workload_rows() -> None:
    template = {"spec": {"containers": [{"name": "web", "image": "nginx:1.27"}]}}
    deployment = {"metadata": {"name": "web", "creationTimestamp": ago(seconds=42)},
                  "spec": {"replicas": 3, "selector": {"matchLabels": {"app": "web"}}, "template": template},
                  "status": {"readyReplicas": 2, "updatedReplicas": 3, "availableReplicas": 2}}
    expected = ["web", "2/3", 3, 2, "42s", "web", "nginx:1.27", "app=web"]
    assert row("apps", "deployments", deployment) == expected
    replica_set = {**deployment, "status": {"replicas": 3, "readyReplicas": 1}}
    assert row("apps", "replicasets", replica_set)[:5] == ["web", 3, 3, 1, "42s"]
    job = {"metadata": {"name": "pi", "creationTimestamp": ago(minutes=3)},
           "spec": {"completions": 1, "template": template},
           "status": {"succeeded": 1, "startTime": ago(minutes=3),
                      "completionTime": ago(minutes=2, seconds=25),
                      "conditions": [{"type": "Complete", "status": "True"}]}}
    assert row("batch", "jobs", job)[:5] == ["pi", "Complete", "1/1", "35s", "3m"]
    running = {"metadata": {"name": "r"}, "spec": {"parallelism": 2, "template": template},
               "status": {"startTime": ago(seconds=10)}}
    assert row("batch", "jobs", running)[1:4] == ["Running", "0/1 of 2", "10s"]


def test_event_row() -> None:
    event = {"metadata": {"name": "web.17a"}, "type": "Normal", "reason": "Scheduled",
             "involvedObject": {"kind": "Pod", "name": "web"}, "message": "Successfully assigned\n",
             "firstTimestamp": ago(minutes=1), "lastTimestamp": ago(seconds=30), "count": 2,
             "source": {"component": "default-scheduler"}}
    assert row("", "events", event) == ["30s", "Normal", "Scheduled", "pod/web", "", "default-scheduler",
                                        "Successfully assigned", "60s", 2, "web.17a"]


def test_config_objects_and_tenants() -> None:
    created = {"creationTimestamp": ago(days=2)}
    assert row("", "configmaps", {"metadata": {"name": "c", **created}, "data": {"a": "1"},
                                  "binaryData": {"b": ""}}) == ["c", 2, "2d"]
    assert row("", "secrets", {"metadata": {"name": "s", **created}, "type": "Opaque",
                               "data": {"k": "dg=="}}) == ["s", "Opaque", 1, "2d"]
    assert row("coordination.k8s.io", "leases", {"metadata": {"name": "n1", **created},
                                                  "spec": {"holderIdentity": "n1"}}) == ["n1", "n1", "2d"]
    assert row("", "namespaces", {"metadata": {"name": "default", **created},
                                  "status": {"phase": "Active"}}) == ["default", "Active", "2d"]
    tenant = {"metadata": {"name": "acme", **created}, "spec": {"storageClusterId": "3"},
              "status": {"phase": "Terminating"}}
    assert row("", "tenants", tenant) == ["acme", "Terminating", "2d", "3"]


def test_default_table_is_name_and_created_at() -> None:
    role = {"metadata": {"name": "reader", "creationTimestamp": "2024-05-01T10:00:00Z"}}
    table = table_for(res("rbac.authorization.k8s.io", "roles"), [role], now=NOW)
    assert [(c["name"], c["type"]) for c in table["columnDefinitions"]] == [("Name", "string"),
                                                                              ("Created At", "date")]
    assert table["rows"][0]["cells"] == ["reader", "2024-05-01T10:00:00Z"]


def test_include_object_and_no_headers() -> None:
    obj = pod()
    assert table_for(res("", "pods"), [obj], include_object="Object", now=NOW)["rows"][0]["object"] is obj
    assert "object" not in table_for(res("", "pods"), [obj], include_object="None", now=NOW)["rows"][0]
    assert table_for(res("", "pods"), [obj], now=NOW, no_headers=True)["columnDefinitions"] == []
    assert table_for(res("", "pods"), [], now=NOW)["rows"] == []


def test_ten_thousand_pods_convert_row_for_row() -> None:
    statuses = [{"name": "a", "ready": True, "restartCount": 1, "state": RUNNING,
                 "lastState": {"terminated": {"exitCode": 1, "finishedAt": ago(minutes=2)}}},
                {"name": "b", "ready": True, "restartCount": 0, "state": RUNNING}]
    pods = [pod(statuses=statuses, metadata={"name": f"web-{i}"}) for i in range(10_000)]
    table = table_for(res("", "pods"), pods, now=NOW)
    assert len(table["rows"]) == 10_000 and table["rows"][-1]["cells"][0] == "web-9999"
    assert table["rows"][0]["cells"][1:4] == ["2/2", "Running", "1 (2m ago)"]
    assert all(row["object"]["metadata"]["name"] == f"web-{i}" for i, row in enumerate(table["rows"]))
