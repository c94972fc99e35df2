"""Upstream's defaulting of the fields clients rely on, applied to objects as they are created.

Mirrors the ``SetDefaults_*`` functions of ``pkg/apis/{core,apps,batch,autoscaling}/v1`` (and
the bits of registry strategy every object shows; what upstream sets in admission, such as a Pod's
priority, is set by admission plugins),
so that what clients read back looks like what a real API server returns. Defaults only fill
fields that are absent: applying them twice changes nothing. Values of the wrong JSON type are
left alone for validation to report. Each resource's record names its defaulter.
"""

from __future__ import annotations

from typing import Any

from apis.images import default_pull_policy
from server.schema.vm_rules import default_virtual_machine

Obj = dict[str, Any]


def _child(obj: Obj, name: str) -> Obj | None:
    """``obj[name]`` when it is an object (created empty if absent), else None."""
    value = obj.setdefault(name, {})
    return value if isinstance(value, dict) else None


def _objects(value: Any) -> list[Obj]:
    return [item for item in value if isinstance(item, dict)] if isinstance(value, list) else []


def _default_probe(probe: Any) -> None:
    if not isinstance(probe, dict):
        return
    for name, value in (("timeoutSeconds", 1), ("periodSeconds", 10), ("successThreshold", 1),
                        ("failureThreshold", 3)):
        probe.setdefault(name, value)
    http = probe.get("httpGet")
    if isinstance(http, dict):
        http.setdefault("path", "/")
        http.setdefault("scheme", "HTTP")


def _default_container(container: Obj, *, host_network: bool) -> None:
    image = container.get("image")
    if isinstance(image, str) and image:
        container.setdefault("imagePullPolicy", default_pull_policy(image))
    container.setdefault("terminationMessagePath", "/dev/termination-log")
    container.setdefault("terminationMessagePolicy", "File")
    container.setdefault("resources", {})
    for port in _objects(container.get("ports")):
        port.setdefault("protocol", "TCP")
        if host_network and "containerPort" in port:
            port.setdefault("hostPort", port["containerPort"])
    for env in _objects(container.get("env")):
        value_from = env.get("valueFrom")
        field_ref = value_from.get("fieldRef") if isinstance(value_from, dict) else None
        if isinstance(field_ref, dict):
            field_ref.setdefault("apiVersion", "v1")
    for probe in ("livenessProbe", "readinessProbe", "startupProbe"):
        _default_probe(container.get(probe))


def _default_requests_from_limits(container: Obj) -> None:
    # upstream SetDefaults_Pod: a limit without a request requests the limit
    resources = container.get("resources")
    if not isinstance(resources, dict) or not isinstance(resources.get("limits"), dict):
        return
    requests = resources.setdefault("requests", {})
    if isinstance(requests, dict):
        for name, quantity in resources["limits"].items():
            requests.setdefault(name, quantity)
        if not requests:
            del resources["requests"]


def _default_volumes(spec: Obj) -> None:
    for volume in _objects(spec.get("volumes")):
        for source in ("configMap", "secret", "downwardAPI", "projected"):
            if isinstance(volume.get(source), dict):
                volume[source].setdefault("defaultMode", 420)  # 0644


def mirror_service_account(spec: Obj) -> None:
    """Upstream's v1 conversion: ``serviceAccount`` is the deprecated alias of
    ``serviceAccountName`` — read when the name is empty, and always shown equal to it."""
    if not spec.get("serviceAccountName") and spec.get("serviceAccount"):
        spec["serviceAccountName"] = spec["serviceAccount"]
    if spec.get("serviceAccountName"):
        spec["serviceAccount"] = spec["serviceAccountName"]


def default_pod_spec(spec: Obj) -> None:
    """SetDefaults_PodSpec and the container/volume defaults beneath it (pods and templates)."""
    spec.setdefault("restartPolicy", "Always")
    spec.setdefault("dnsPolicy", "ClusterFirst")
    spec.setdefault("terminationGracePeriodSeconds", 30)
    spec.setdefault("securityContext", {})
    spec.setdefault("schedulerName", "default-scheduler")
    spec.setdefault("enableServiceLinks", True)
    mirror_service_account(spec)
    default_virtual_machine(spec)
    host_network = spec.get("hostNetwork") is True
    for field in ("initContainers", "containers"):
        for container in _objects(spec.get(field)):
            _default_container(container, host_network=host_network)
            _default_requests_from_limits(container)
    _default_volumes(spec)


def _default_template(spec: Obj) -> None:
    template = spec.get("template")
    if isinstance(template, dict):
        template_spec = _child(template, "spec")
        if template_spec is not None:
            default_pod_spec(template_spec)


def default_pod(obj: Obj) -> None:
    spec = _child(obj, "spec")
    if spec is None:
        return
    default_pod_spec(spec)


def default_service(obj: Obj) -> None:
    spec = _child(obj, "spec")
    if spec is None:
        return
    service_type = spec.setdefault("type", "ClusterIP")
    spec.setdefault("sessionAffinity", "None")
    for port in _objects(spec.get("ports")):
        port.setdefault("protocol", "TCP")
        if port.get("targetPort") in (None, 0, "") and "port" in port:
            port["targetPort"] = port["port"]
    if service_type == "ExternalName":
        return
    # ipFamilies/ipFamilyPolicy are filled by upstream's service REST storage on create
    spec.setdefault("ipFamilyPolicy", "SingleStack")
    spec.setdefault("ipFamilies", ["IPv4"])
    spec.setdefault("internalTrafficPolicy", "Cluster")
    if service_type in ("NodePort", "LoadBalancer"):
        spec.setdefault("externalTrafficPolicy", "Cluster")
    if service_type == "LoadBalancer":
        spec.setdefault("allocateLoadBalancerNodePorts", True)


def default_deployment(obj: Obj) -> None:
    spec = _child(obj, "spec")
    if spec is None:
        return
    spec.setdefault("replicas", 1)
    strategy = _child(spec, "strategy")
    if strategy is not None:
        if strategy.setdefault("type", "RollingUpdate") == "RollingUpdate":
            rolling = _child(strategy, "rollingUpdate")
            if rolling is not None:
                rolling.setdefault("maxUnavailable", "25%")
                rolling.setdefault("maxSurge", "25%")
    spec.setdefault("revisionHistoryLimit", 10)
    spec.setdefault("progressDeadlineSeconds", 600)
    _default_template(spec)


def default_replica_set(obj: Obj) -> None:
    spec = _child(obj, "spec")
    if spec is not None:
        spec.setdefault("replicas", 1)
        _default_template(spec)


def default_replication_controller(obj: Obj) -> None:
    spec = _child(obj, "spec")
    if spec is None:
        return
    spec.setdefault("replicas", 1)
    template = spec.get("template")
    # upstream SetDefaults_ReplicationController: selector and labels default to the template's labels
    labels = template.get("metadata", {}).get("labels") if isinstance(template, dict) else None
    if isinstance(labels, dict) and labels:
        spec.setdefault("selector", dict(labels))
        meta = _child(obj, "metadata")
        if meta is not None and not meta.get("labels"):
            meta["labels"] = dict(labels)
    _default_template(spec)


def default_stateful_set(obj: Obj) -> None:
    spec = _child(obj, "spec")
    if spec is None:
        return
    spec.setdefault("replicas", 1)
    spec.setdefault("podManagementPolicy", "OrderedReady")
    strategy = _child(spec, "updateStrategy")
    if strategy is not None and strategy.setdefault("type", "RollingUpdate") == "RollingUpdate":
        rolling = _child(strategy, "rollingUpdate")
        if rolling is not None:
            rolling.setdefault("partition", 0)
    spec.setdefault("revisionHistoryLimit", 10)
    retention = _child(spec, "persistentVolumeClaimRetentionPolicy")
    if retention is not None:
        retention.setdefault("whenDeleted", "Retain")
        retention.setdefault("whenScaled", "Retain")
    for claim in _objects(spec.get("volumeClaimTemplates")):
        default_persistent_volume_claim(claim)
    _default_template(spec)


def default_daemon_set(obj: Obj) -> None:
    spec = _child(obj, "spec")
    if spec is None:
        return
    strategy = _child(spec, "updateStrategy")
    if strategy is not None and strategy.setdefault("type", "RollingUpdate") == "RollingUpdate":
        rolling = _child(strategy, "rollingUpdate")
        if rolling is not None:
            rolling.setdefault("maxUnavailable", 1)
            rolling.setdefault("maxSurge", 0)
    spec.setdefault("revisionHistoryLimit", 10)
    _default_template(spec)


def _job_selector(obj: Obj, spec: Obj) -> None:
    # upstream job strategy (generateSelector): without manualSelector the server owns the
    # selector, keyed by the Job's uid, and labels the template to match.
    meta = obj.get("metadata")
    if not isinstance(meta, dict):
        return
    uid, name = meta.get("uid"), meta.get("name")
    if spec.get("manualSelector") is True or not uid or "selector" in spec:
        return
    template = _child(spec, "template")
    template_meta = _child(template, "metadata") if template is not None else None
    labels = _child(template_meta, "labels") if template_meta is not None else None
    if labels is None:
        return
    labels.setdefault("batch.kubernetes.io/controller-uid", uid)
    labels.setdefault("controller-uid", uid)
    if name:
        labels.setdefault("batch.kubernetes.io/job-name", name)
        labels.setdefault("job-name", name)
    spec["selector"] = {"matchLabels": {"batch.kubernetes.io/controller-uid": uid}}


def default_job(obj: Obj) -> None:
    spec = _child(obj, "spec")
    if spec is None:
        return
    if "completions" not in spec and "parallelism" not in spec:
        spec["completions"] = 1
    spec.setdefault("parallelism", 1)
    if "backoffLimitPerIndex" not in spec:
        spec.setdefault("backoffLimit", 6)
    spec.setdefault("completionMode", "NonIndexed")
    spec.setdefault("suspend", False)
    if "podFailurePolicy" not in spec:
        spec.setdefault("podReplacementPolicy", "TerminatingOrFailed")
    _job_selector(obj, spec)
    _default_template(spec)


def default_cron_job(obj: Obj) -> None:
    spec = _child(obj, "spec")
    if spec is None:
        return
    spec.setdefault("concurrencyPolicy", "Allow")
    spec.setdefault("suspend", False)
    spec.setdefault("successfulJobsHistoryLimit", 3)
    spec.setdefault("failedJobsHistoryLimit", 1)
    job_template = spec.get("jobTemplate")
    if isinstance(job_template, dict) and isinstance(job_template.get("spec"), dict):
        _default_template(job_template["spec"])


def default_persistent_volume_claim(obj: Obj) -> None:
    spec = _child(obj, "spec")
    if spec is not None:
        spec.setdefault("volumeMode", "Filesystem")


def default_persistent_volume(obj: Obj) -> None:
    spec = _child(obj, "spec")
    if spec is not None:
        spec.setdefault("persistentVolumeReclaimPolicy", "Retain")
        spec.setdefault("volumeMode", "Filesystem")


def default_secret(obj: Obj) -> None:
    obj.setdefault("type", "Opaque")


def default_pod_template(obj: Obj) -> None:
    _default_template(obj)


def default_horizontal_pod_autoscaler(obj: Obj) -> None:
    spec = _child(obj, "spec")
    if spec is not None:
        spec.setdefault("minReplicas", 1)


def default_tenant(obj: Obj) -> None:
    spec = _child(obj, "spec")
    if spec is not None:
        spec.setdefault("storageClusterId", "0")  # Arktos: "0" is the system store
