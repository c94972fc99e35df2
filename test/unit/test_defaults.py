"""server.schema.defaults: upstream's defaults for the fields clients read back.

Covers the defaulter each built-in record names: pods (and their containers, probes, volumes,
requests-from-limits, the serviceAccount alias), pod templates in every workload, services,
deployments, statefulsets, daemonsets, jobs (incl. the generated selector), cronjobs, secrets,
tenants; idempotence and robustness against wrongly typed input. Leaves out defaults set by other
server parts (namespace phase/finalizers, service clusterIP, a pod's priority — the Priority
admission plugin, see test_admission_chain — service-account and tolerations admission).
"""

from __future__ import annotations

import copy
from typing import Any

import pytest
from builtin_records import record

from server.registry.record import ResourceRecord

PODS = record("", "pods")
SERVICES = record("", "services")
SECRETS = record("", "secrets")
TENANTS = record("", "tenants")
DEPLOYMENTS = record("apps", "deployments")
STATEFULSETS = record("apps", "statefulsets")
DAEMONSETS = record("apps", "daemonsets")
REPLICASETS = record("apps", "replicasets")
JOBS = record("batch", "jobs")
CRONJOBS = record("batch", "cronjobs")
CONFIGMAPS = record("", "configmaps")


def template(*containers: dict[str, Any]) -> dict[str, Any]:
    return {"metadata": {"labels": {"app": "web"}}, "spec": {"containers": list(containers)}}


def apply_defaults(resource: ResourceRecord, obj: Any) -> None:
    if resource.defaulter is not None:
        resource.defaulter(obj)


def defaulted(resource: ResourceRecord, obj: dict[str, Any]) -> dict[str, Any]:
    apply_defaults(resource, obj)
    return obj


def test_pod_spec_defaults() -> None:
    spec = defaulted(PODS, {"spec": {"containers": [{"name": "c", "image": "busybox"}]}})["spec"]
    assert {k: v for k, v in spec.items() if k != "containers"} == {
        "restartPolicy": "Always",
        "dnsPolicy": "ClusterFirst",
        "terminationGracePeriodSeconds": 30,
        "securityContext": {},
        "schedulerName": "default-scheduler",
        "enableServiceLinks": True,
    }
    assert spec["containers"][0] == {
        "name": "c",
        "image": "busybox",
        "imagePullPolicy": "Always",
        "terminationMessagePath": "/dev/termination-log",
        "terminationMessagePolicy": "File",
        "resources": {},
    }


@pytest.mark.parametrize(("given", "both"), [
    ({"serviceAccount": "old"}, "old"),
    ({"serviceAccountName": "new"}, "new"),
    ({"serviceAccountName": "new", "serviceAccount": "old"}, "new"),  # the name wins
])
def test_service_account_is_the_names_deprecated_alias(given: dict[str, str], both: str) -> None:
    spec = defaulted(PODS, {"spec": {"containers": [], **given}})["spec"]
    assert (spec["serviceAccountName"], spec["serviceAccount"]) == (both, both)


@pytest.mark.parametrize(
    ("image", "policy"),
    [
        ("busybox", "Always"),
        ("busybox:latest", "Always"),
        ("busybox:1.36", "IfNotPresent"),
        ("registry:5000/team/app", "Always"),
        ("registry:5000/team/app:v2", "IfNotPresent"),
        ("busybox@sha256:" + "a" * 64, "IfNotPresent"),
    ],
)
def test_image_pull_policy_follows_the_tag(image: str, policy: str) -> None:
    pod = defaulted(PODS, {"spec": {"containers": [{"name": "c", "image": image}]}})
    assert pod["spec"]["containers"][0]["imagePullPolicy"] == policy


def test_container_details_are_defaulted() -> None:
    container = {
        "name": "c", "image": "x:1",
        "ports": [{"containerPort": 80}],
        "resources": {"limits": {"cpu": "500m"}},
        "livenessProbe": {"httpGet": {"port": 80}},
        "env": [{"name": "NODE", "valueFrom": {"fieldRef": {"fieldPath": "spec.nodeName"}}}],
    }
    spec = {"containers": [container], "hostNetwork": True,
            "volumes": [{"name": "cfg", "configMap": {"name": "cfg"}}], "priorityClassName": "high"}
    spec = defaulted(PODS, {"spec": spec})["spec"]
    out = spec["containers"][0]
    assert out["ports"] == [{"containerPort": 80, "protocol": "TCP", "hostPort": 80}]
    assert out["resources"] == {"limits": {"cpu": "500m"}, "requests": {"cpu": "500m"}}
    assert out["livenessProbe"] == {
        "httpGet": {"port": 80, "path": "/", "scheme": "HTTP"},
        "timeoutSeconds": 1, "periodSeconds": 10, "successThreshold": 1, "failureThreshold": 3,
    }
    assert out["env"][0]["valueFrom"]["fieldRef"]["apiVersion"] == "v1"
    assert spec["volumes"][0]["configMap"]["defaultMode"] == 420
    assert "priority" not in spec  # resolved from the PriorityClass by the server, not defaulted


def test_service_defaults() -> None:
    svc = defaulted(SERVICES, {"spec": {"ports": [{"port": 80}, {"port": 81, "targetPort": "http"}]}})
    assert svc["spec"] == {
        "ports": [{"port": 80, "protocol": "TCP", "targetPort": 80},
                  {"port": 81, "protocol": "TCP", "targetPort": "http"}],
        "type": "ClusterIP",
        "sessionAffinity": "None",
        "ipFamilyPolicy": "SingleStack",
        "ipFamilies": ["IPv4"],
        "internalTrafficPolicy": "Cluster",
    }
    node_port = defaulted(SERVICES, {"spec": {"type": "NodePort", "ports": [{"port": 80}]}})
    assert node_port["spec"]["externalTrafficPolicy"] == "Cluster"
    external = defaulted(SERVICES, {"spec": {"type": "ExternalName", "externalName": "db.example.com"}})
    assert "ipFamilies" not in external["spec"]


def test_deployment_defaults_and_template() -> None:
    spec = defaulted(DEPLOYMENTS, {"spec": {"template": template({"name": "c", "image": "nginx:1"})}})["spec"]
    assert spec["replicas"] == 1
    rolling = {"maxUnavailable": "25%", "maxSurge": "25%"}
    assert spec["strategy"] == {"type": "RollingUpdate", "rollingUpdate": rolling}
    assert spec["revisionHistoryLimit"] == 10
    assert spec["progressDeadlineSeconds"] == 600
    pod_spec = spec["template"]["spec"]
    assert pod_spec["restartPolicy"] == "Always"
    assert pod_spec["containers"][0]["imagePullPolicy"] == "IfNotPresent"
    assert "priority" not in pod_spec  # admission sets that on pods only


def test_recreate_strategy_gets_no_rolling_update() -> None:
    spec = defaulted(DEPLOYMENTS, {"spec": {"strategy": {"type": "Recreate"}}})["spec"]
    assert spec["strategy"] == {"type": "Recreate"}


def test_statefulset_daemonset_replicaset_defaults() -> None:
    sts = defaulted(STATEFULSETS, {"spec": {"template": template({"name": "c", "image": "x"})}})["spec"]
    assert sts["podManagementPolicy"] == "OrderedReady"
    assert sts["updateStrategy"] == {"type": "RollingUpdate", "rollingUpdate": {"partition": 0}}
    assert sts["revisionHistoryLimit"] == 10
    assert sts["persistentVolumeClaimRetentionPolicy"] == {"whenDeleted": "Retain", "whenScaled": "Retain"}
    ds = defaulted(DAEMONSETS, {"spec": {"template": template({"name": "c", "image": "x"})}})["spec"]
    rolling = {"maxUnavailable": 1, "maxSurge": 0}
    assert ds["updateStrategy"] == {"type": "RollingUpdate", "rollingUpdate": rolling}
    assert ds["revisionHistoryLimit"] == 10
    assert ds["template"]["spec"]["dnsPolicy"] == "ClusterFirst"
    assert defaulted(REPLICASETS, {"spec": {}})["spec"]["replicas"] == 1


def test_job_defaults_and_generated_selector() -> None:
    job = {"metadata": {"name": "pi", "uid": "u-1"},
           "spec": {"template": {"spec": {"containers": [{"name": "pi", "image": "perl"}],
                                          "restartPolicy": "Never"}}}}
    spec = defaulted(JOBS, job)["spec"]
    assert (spec["completions"], spec["parallelism"], spec["backoffLimit"]) == (1, 1, 6)
    assert spec["completionMode"] == "NonIndexed"
    assert spec["suspend"] is False
    assert spec["selector"] == {"matchLabels": {"batch.kubernetes.io/controller-uid": "u-1"}}
    assert spec["template"]["metadata"]["labels"] == {
        "batch.kubernetes.io/controller-uid": "u-1", "controller-uid": "u-1",
        "batch.kubernetes.io/job-name": "pi", "job-name": "pi",
    }
    assert spec["template"]["spec"]["restartPolicy"] == "Never"


def test_job_parallelism_alone_leaves_completions_unset_and_no_uid_no_selector() -> None:
    spec = defaulted(JOBS, {"metadata": {"name": "x"}, "spec": {"parallelism": 3}})["spec"]
    assert "completions" not in spec
    assert "selector" not in spec


def test_cronjob_defaults_reach_the_pod_template() -> None:
    cron = {"spec": {"schedule": "* * * * *", "jobTemplate": {"spec": {
        "template": {"spec": {"containers": [{"name": "c", "image": "x"}]}}}}}}
    spec = defaulted(CRONJOBS, cron)["spec"]
    assert (spec["concurrencyPolicy"], spec["suspend"]) == ("Allow", False)
    assert (spec["successfulJobsHistoryLimit"], spec["failedJobsHistoryLimit"]) == (3, 1)
    assert spec["jobTemplate"]["spec"]["template"]["spec"]["schedulerName"] == "default-scheduler"
    assert "backoffLimit" not in spec["jobTemplate"]["spec"]


def test_secret_tenant_and_untouched_kinds() -> None:
    assert defaulted(SECRETS, {"data": {}})["type"] == "Opaque"
    assert defaulted(SECRETS, {"type": "kubernetes.io/tls"})["type"] == "kubernetes.io/tls"
    assert defaulted(TENANTS, {"metadata": {"name": "acme"}})["spec"] == {"storageClusterId": "0"}
    assert defaulted(CONFIGMAPS, {"data": {"a": "b"}}) == {"data": {"a": "b"}}


@pytest.mark.parametrize(
    ("resource", "obj"),
    [
        (PODS, {"spec": {"containers": [{"name": "c", "image": "x", "ports": [{"containerPort": 1}]}]}}),
        (DEPLOYMENTS, {"spec": {"template": template({"name": "c", "image": "x"})}}),
        (JOBS, {"metadata": {"name": "j", "uid": "u"}, "spec": {"template": template({"name": "c"})}}),
        (SERVICES, {"spec": {"ports": [{"port": 80}]}}),
        (STATEFULSETS, {"spec": {"volumeClaimTemplates": [{"spec": {}}]}}),
    ],
)
def test_defaults_are_idempotent(resource: ResourceRecord, obj: dict[str, Any]) -> None:
    once = defaulted(resource, obj)
    twice = defaulted(resource, copy.deepcopy(once))
    assert twice == once


def test_wrongly_typed_input_is_left_for_validation() -> None:
    for bad in ({"spec": "x"}, {"spec": {"containers": "x"}}, {"spec": {"containers": ["x", 3]}}):
        apply_defaults(PODS, bad)
    apply_defaults(DEPLOYMENTS, {"spec": {"strategy": "x", "template": []}})
    apply_defaults(JOBS, {"metadata": "x", "spec": {"template": {"metadata": {"labels": "x"}}}})
