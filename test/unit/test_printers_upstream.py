"""Table cells of the printers upstream's printers.go adds beyond pods and workloads
(server/printing/: config_printers.py, network_printers.py, storage_printers.py, policy_printers.py,
cells.py), and the TENANT column of a list across tenants.

Covers: the cell texts upstream writes for endpoints (``ip:port`` lists cut at three), endpoint
slices, ingresses (``*`` hosts, ``80, 443``), PVs and PVCs (canonical capacity, ``RWO,ROX``, class
from the beta annotation, ``Terminating``), CSI drivers' defaults, resource quotas' request/limit
split, HPA targets (v2 metrics and a v1 CPU target), CSR conditions, pod disruption budgets,
controller revisions, admission policies and bindings, APIServices, component statuses, pod
templates, Arktos networks; the TENANT column (first server column, every version of a tenanted
resource, not for cluster-scoped ones). Leaves out: column headers as kubectl shows them
(test/e2e/test_kubectl_columns.py) and the pod/workload printers (test_tables.py).
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

from apis.catalogue import Resource
from server.printing.tables import table_for
from server.resources.builtin import builtin_catalogue

NOW = datetime(2024, 6, 1, 12, 0, 0, tzinfo=UTC)
CREATED = {"creationTimestamp": (NOW - timedelta(days=2)).strftime("%Y-%m-%dT%H:%M:%SZ")}


def res(group: str, plural: str, version: str = "v1") -> Resource:
    found = builtin_catalogue().lookup(group, version, plural)
    assert found is not None
    return found


def cells(group: str, plural: str, obj: dict[str, Any], version: str = "v1") -> list[Any]:
    obj.setdefault("metadata", {}).update({"name": obj["metadata"].get("name", "x"), **CREATED})
    row: list[Any] = table_for(res(group, plural, version), [obj], now=NOW)["rows"][0]["cells"]
    return row


def test_endpoints_list_three_then_more() -> None:
    subsets = [{"addresses": [{"ip": f"10.0.0.{i}"} for i in range(1, 4)],
                "ports": [{"port": 80}, {"port": 443}]}, {"addresses": [{"ip": "fd00::1"}]}]
    assert cells("", "endpoints", {"subsets": subsets})[1] == (
        "10.0.0.1:80,10.0.0.2:80,10.0.0.3:80 + 4 more...")
    assert cells("", "endpoints", {"subsets": [{"addresses": [{"ip": "fd00::1"}], "ports": [{"port": 53}]}]}
                 )[1] == "[fd00::1]:53"
    assert cells("", "endpoints", {})[1] == "<none>"


def test_endpoint_slices_and_ingresses() -> None:
    slice_ = {"addressType": "IPv4", "ports": [{"port": 80}, {"name": "dns"}, {}],
              "endpoints": [{"addresses": ["10.0.0.1"]}]}
    assert cells("discovery.k8s.io", "endpointslices", slice_)[1:4] == ["IPv4", "80,dns,*", "10.0.0.1"]
    assert cells("discovery.k8s.io", "endpointslices", {})[2:4] == ["<unset>", "<unset>"]
    rules = [{}, {"host": "a"}, {"host": "b"}, {"host": "c"}, {"host": "d"}]
    ingress = {"spec": {"rules": rules, "tls": [{}]},
               "status": {"loadBalancer": {"ingress": [{"ip": "1.2.3.4"}, {"hostname": "lb.example"}]}}}
    assert cells("networking.k8s.io", "ingresses", ingress)[1:5] == [
        "<none>", "a,b,c + 2 more...", "1.2.3.4,lb.example", "80, 443"]
    assert cells("networking.k8s.io", "ingresses", {"spec": {}})[2:5] == ["*", "", "80"]


def test_persistent_volumes_and_claims() -> None:
    volume = {"metadata": {"annotations": {"volume.beta.kubernetes.io/storage-class": "beta"},
                           "deletionTimestamp": CREATED["creationTimestamp"]},
              "spec": {"capacity": {"storage": "1024Mi"}, "accessModes": ["ReadWriteMany", "ReadWriteOnce"],
                       "persistentVolumeReclaimPolicy": "Retain", "storageClassName": "field",
                       "claimRef": {"namespace": "ns", "name": "data"}},
              "status": {"phase": "Bound"}}
    assert cells("", "persistentvolumes", volume)[1:] == [
        "1Gi", "RWO,RWX", "Retain", "Terminating", "ns/data", "beta", "<unset>", "", "2d", "<unset>"]
    pending = {"spec": {"storageClassName": "fast", "resources": {"requests": {"storage": "5Gi"}}},
               "status": {"phase": "Pending", "capacity": {"storage": "5Gi"}}}
    assert cells("", "persistentvolumeclaims", pending)[1:] == [
        "Pending", "", "", "", "fast", "<unset>", "2d", "<unset>"]
    bound = {"spec": {"volumeName": "pv-1", "volumeMode": "Block"},
             "status": {"phase": "Bound", "capacity": {"storage": "5Gi"}, "accessModes": ["ReadWriteOnce"]}}
    assert cells("", "persistentvolumeclaims", bound)[1:5] == ["Bound", "pv-1", "5Gi", "RWO"]
    assert cells("", "persistentvolumeclaims", bound)[-1] == "Block"


def test_csi_drivers_default_like_upstream() -> None:
    assert cells("storage.k8s.io", "csidrivers", {"spec": {}})[1:7] == [
        True, False, False, "<unset>", False, "<none>"]
    spec = {"attachRequired": False, "tokenRequests": [{"audience": "a"}, {"audience": "b"}],
            "volumeLifecycleModes": ["Persistent", "Ephemeral"]}
    assert cells("storage.k8s.io", "csidrivers", {"spec": spec})[1:7] == [
        False, False, False, "a,b", False, "Persistent,Ephemeral"]


def test_resource_quota_splits_requests_and_limits() -> None:
    quota = {"status": {"hard": {"pods": "10", "limits.cpu": "2", "requests.memory": "1Gi", "cpu": "1000m"},
                        "used": {"pods": "3", "limits.cpu": "500m"}}}
    assert cells("", "resourcequotas", quota)[1:3] == [
        "cpu: 0/1, pods: 3/10, requests.memory: 0/1Gi", "limits.cpu: 500m/2"]


def test_hpa_targets_for_v2_metrics_and_a_v1_cpu_target() -> None:
    spec = {"scaleTargetRef": {"kind": "Deployment", "name": "web"}, "maxReplicas": 5, "metrics": [
        {"type": "Resource", "resource": {"name": "cpu",
                                          "target": {"type": "Utilization", "averageUtilization": 80}}},
        {"type": "Pods", "pods": {"target": {"averageValue": "1k"}}},
        {"type": "External", "external": {"target": {"averageValue": "30"}}}]}
    status = {"currentReplicas": 2, "currentMetrics": [
        {"type": "Resource", "resource": {"name": "cpu", "current": {"averageUtilization": 12}}}]}
    assert cells("autoscaling", "horizontalpodautoscalers", {"spec": spec, "status": status}, "v2")[1:6] == [
        "Deployment/web", "cpu: 12%/80%, <unknown>/1k + 1 more...", "<unset>", 5, 2]
    v1 = {"spec": {"scaleTargetRef": {"kind": "Deployment", "name": "web"}, "minReplicas": 1,
                   "maxReplicas": 3, "targetCPUUtilizationPercentage": 50}}
    assert cells("autoscaling", "horizontalpodautoscalers", v1, "v1")[2:4] == ["cpu: <unknown>/50%", "1"]
    assert cells("autoscaling", "horizontalpodautoscalers", {"spec": {}}, "v1")[2] == "<none>"


def test_csr_budgets_revisions_and_policies() -> None:
    csr = {"spec": {"signerName": "example.com/s", "username": "alice", "expirationSeconds": 3600},
           "status": {"conditions": [{"type": "Approved"}, {"type": "Failed"}], "certificate": "Y2VydA=="}}
    assert cells("certificates.k8s.io", "certificatesigningrequests", csr)[1:] == [
        "2d", "example.com/s", "alice", "60m", "Approved,Failed,Issued"]
    budget = {"spec": {"maxUnavailable": "50%"}}
    assert cells("policy", "poddisruptionbudgets", budget)[1:4] == ["N/A", "50%", 0]
    owner = {"apiVersion": "apps/v1", "kind": "DaemonSet", "name": "Agent", "controller": True}
    revision = {"metadata": {"ownerReferences": [owner]}, "revision": 4}
    assert cells("apps", "controllerrevisions", revision)[1:3] == ["daemonset.apps/Agent", 4]
    policy = {"spec": {"validations": [{}, {}], "paramKind": {"apiVersion": "v1", "kind": "ConfigMap"}}}
    admission = "admissionregistration.k8s.io"
    assert cells(admission, "validatingadmissionpolicies", policy)[1:3] == [2, "v1/ConfigMap"]
    binding = {"spec": {"policyName": "p", "paramRef": {"name": "cfg"}}}
    assert cells(admission, "validatingadmissionpolicybindings", binding)[1:3] == ["p", "*/cfg"]


def test_api_services_component_statuses_templates_and_networks() -> None:
    local = {"spec": {}, "status": {"conditions": [{"type": "Available", "status": "True"}]}}
    assert cells("apiregistration.k8s.io", "apiservices", local)[1:3] == ["Local", "True"]
    missing = {"type": "Available", "status": "False", "reason": "MissingEndpoints"}
    remote = {"spec": {"service": {"namespace": "ns", "name": "api"}}, "status": {"conditions": [missing]}}
    assert cells("apiregistration.k8s.io", "apiservices", remote)[1:3] == [
        "ns/api", "False (MissingEndpoints)"]
    healthy = {"conditions": [{"type": "Healthy", "status": "True", "message": "ok"}]}
    assert cells("", "componentstatuses", healthy) == ["x", "Healthy", "ok", ""]
    headers = table_for(res("", "componentstatuses"), [])["columnDefinitions"]
    assert [c["name"] for c in headers] == ["Name", "Status", "Message", "Error"]  # no AGE upstream
    template = {"template": {"metadata": {"labels": {"b": "2", "a": "1"}},
                             "spec": {"containers": [{"name": "c", "image": "i"}]}}}
    assert cells("", "podtemplates", template) == ["x", "c", "i", "a=1,b=2"]
    network = cells("arktos.futurewei.com", "networks", {"spec": {"type": "flat"}})
    assert network == ["x", "flat", None, None, None]


def test_list_across_tenants_adds_a_tenant_column() -> None:
    pod = {"metadata": {"name": "web", "tenant": "acme", **CREATED}, "spec": {"containers": []}}
    table = table_for(res("", "pods"), [pod], now=NOW, across_tenants=True)
    assert [c["name"] for c in table["columnDefinitions"]][:3] == ["Tenant", "Name", "Ready"]
    assert table["columnDefinitions"][0]["priority"] == 0
    assert table["rows"][0]["cells"][:2] == ["acme", "web"]
    for group, plural in (("rbac.authorization.k8s.io", "roles"), ("", "namespaces")):
        columns = table_for(res(group, plural), [], across_tenants=True)["columnDefinitions"]
        assert columns[0]["name"] == "Tenant"
    node = table_for(res("", "nodes"), [], across_tenants=True)
    assert node["columnDefinitions"][0]["name"] == "Name"  # cluster-scoped: no tenant to show
    assert table_for(res("", "pods"), [pod], now=NOW)["columnDefinitions"][0]["name"] == "Name"
