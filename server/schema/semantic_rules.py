"""The few semantic validation rules clients rely on, beyond what the schema can say.

A JSON schema cannot express "at least one container", "container names unique", "the
selector must match the template's labels" or "restartPolicy is one of ...": upstream's
hand-written validation (``pkg/apis/core/validation``, ``pkg/apis/apps/validation``,
``pkg/apis/batch/validation``) does. The important ones are mirrored here with upstream's
paths and messages; they run on already-defaulted objects, as upstream validates after
defaulting. Each resource's record names the rules that apply to it.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from apis.field_errors import FieldError, child, duplicate, index, invalid, not_supported, required
from apis.selectors import SelectorError, label_selector_from_meta
from server.schema.name_rules import dns1123_label_errors, dns1123_subdomain_errors, label_errors
from server.schema.node_affinity_rules import node_affinity_errors
from server.schema.toleration_rules import toleration_errors
from server.schema.vm_rules import workload_errors

Obj = dict[str, Any]

_RESTART_POLICIES = ("Always", "OnFailure", "Never")
_DNS_POLICIES = ("ClusterFirst", "ClusterFirstWithHostNet", "Default", "None")
_PULL_POLICIES = ("Always", "IfNotPresent", "Never")
_PROTOCOLS = ("SCTP", "TCP", "UDP")
_SERVICE_TYPES = ("ClusterIP", "ExternalName", "LoadBalancer", "NodePort")
_SESSION_AFFINITIES = ("ClientIP", "None")
_PORT_RANGE = "must be between 1 and 65535, inclusive"


def _dict(value: Any) -> Obj:
    return value if isinstance(value, dict) else {}


def _list(value: Any) -> list[Any]:
    return value if isinstance(value, list) else []


def _port_errors(value: Any, path: str) -> list[FieldError]:
    if isinstance(value, int) and not 1 <= value <= 65535:
        return [invalid(path, value, _PORT_RANGE)]
    return []


def _container_errors(container: Obj, path: str, *, needs_image: bool) -> list[FieldError]:
    errors: list[FieldError] = []
    name = container.get("name")
    if isinstance(name, str) and name:
        errors.extend(invalid(child(path, "name"), name, msg) for msg in dns1123_label_errors(name))
    if needs_image and not container.get("image"):
        errors.append(required(child(path, "image")))
    policy = container.get("imagePullPolicy")
    if policy and policy not in _PULL_POLICIES:
        errors.append(not_supported(child(path, "imagePullPolicy"), policy, _PULL_POLICIES))
    for position, port in enumerate(_list(container.get("ports"))):
        port_path = index(child(path, "ports"), position)
        port = _dict(port)
        errors.extend(_port_errors(port.get("containerPort"), child(port_path, "containerPort")))
        errors.extend(_port_errors(port.get("hostPort") or None, child(port_path, "hostPort")))
        protocol = port.get("protocol")
        if protocol and protocol not in _PROTOCOLS:
            errors.append(not_supported(child(port_path, "protocol"), protocol, _PROTOCOLS))
    return errors


def pod_spec_errors(spec: Obj, path: str, *, is_pod: bool) -> list[FieldError]:
    """Upstream ValidatePodSpec's essentials (``is_pod``: a Pod rather than a template)."""
    errors: list[FieldError] = workload_errors(spec, path)  # containers xor an Arktos VM
    seen: set[str] = set()
    for field in ("initContainers", "containers"):
        for position, container in enumerate(_list(spec.get(field))):
            container_path = index(child(path, field), position)
            container = _dict(container)
            errors.extend(_container_errors(container, container_path, needs_image=is_pod))
            name = container.get("name")
            if isinstance(name, str) and name:
                if name in seen:
                    errors.append(duplicate(child(container_path, "name"), name))
                seen.add(name)
    restart = spec.get("restartPolicy")
    if restart is not None and restart not in _RESTART_POLICIES:
        errors.append(not_supported(child(path, "restartPolicy"), restart, _RESTART_POLICIES))
    dns = spec.get("dnsPolicy")
    if dns is not None and dns not in _DNS_POLICIES:
        errors.append(not_supported(child(path, "dnsPolicy"), dns, _DNS_POLICIES))
    errors.extend(toleration_errors(spec.get("tolerations"), child(path, "tolerations")))
    affinity_path = child(child(path, "affinity"), "nodeAffinity")
    errors.extend(node_affinity_errors(_dict(spec.get("affinity")).get("nodeAffinity"), affinity_path))
    return errors


def _template_errors(spec: Obj, *, restart_policies: tuple[str, ...] | None) -> list[FieldError]:
    """The pod template of a workload: pod spec rules plus the allowed restart policies."""
    template = _dict(spec.get("template"))
    template_spec = _dict(template.get("spec"))
    errors = pod_spec_errors(template_spec, "spec.template.spec", is_pod=False)
    labels = _dict(_dict(template.get("metadata")).get("labels"))
    errors.extend(label_errors(labels, "spec.template.metadata.labels"))
    restart = template_spec.get("restartPolicy")
    if restart_policies and restart in _RESTART_POLICIES and restart not in restart_policies:
        errors.append(not_supported("spec.template.spec.restartPolicy", restart, restart_policies))
    return errors


def _selector_errors(spec: Obj, kind: str, *, selector_required: bool) -> list[FieldError]:
    """Upstream: selector required, non-empty, and matching the template's labels."""
    selector = spec.get("selector")
    if not isinstance(selector, dict):
        return [required("spec.selector")] if selector_required else []
    if not selector.get("matchLabels") and not selector.get("matchExpressions"):
        return [invalid("spec.selector", selector, f"empty selector is invalid for {kind}")]
    try:  # upstream ValidateLabelSelector, then LabelSelectorAsSelector(...).Matches(labels)
        compiled = label_selector_from_meta(selector)
    except SelectorError as e:
        return [invalid("spec.selector", selector, str(e))]
    labels = _dict(_dict(_dict(spec.get("template")).get("metadata")).get("labels"))
    if not compiled.matches({str(k): str(v) for k, v in labels.items()}):
        return [invalid("spec.template.metadata.labels", labels,
                        "`selector` does not match template `labels`")]
    return []


def _replicas_errors(spec: Obj) -> list[FieldError]:
    replicas = spec.get("replicas")
    if isinstance(replicas, int) and replicas < 0:
        return [invalid("spec.replicas", replicas, "must be greater than or equal to 0")]
    return []


def _workload_errors(kind: str, restart_policies: tuple[str, ...]) -> Callable[[Obj], list[FieldError]]:
    def check(obj: Obj) -> list[FieldError]:
        spec = _dict(obj.get("spec"))
        return (_replicas_errors(spec) + _selector_errors(spec, kind, selector_required=True)
                + _template_errors(spec, restart_policies=restart_policies))
    return check


def pod_errors(obj: Obj) -> list[FieldError]:
    return pod_spec_errors(_dict(obj.get("spec")), "spec", is_pod=True)


def job_errors(obj: Obj) -> list[FieldError]:
    spec = _dict(obj.get("spec"))
    # The selector is generated on create from the uid (manualSelector unset), so only check a match.
    return (_selector_errors(spec, "job", selector_required=False)
            + _template_errors(spec, restart_policies=("OnFailure", "Never")))


def cronjob_errors(obj: Obj) -> list[FieldError]:
    name = _dict(obj.get("metadata")).get("name")
    errors: list[FieldError] = []
    if isinstance(name, str) and len(name) > 52:
        # upstream: the Job names the CronJob controller derives must stay DNS-1035 labels
        errors.append(invalid("metadata.name", name, "must be no more than 52 characters"))
    job_spec = _dict(_dict(_dict(obj.get("spec")).get("jobTemplate")).get("spec"))
    template_spec = _dict(_dict(job_spec.get("template")).get("spec"))
    path = "spec.jobTemplate.spec.template.spec"
    errors.extend(pod_spec_errors(template_spec, path, is_pod=False))
    restart = template_spec.get("restartPolicy")
    if restart in ("Always",):
        errors.append(not_supported(child(path, "restartPolicy"), restart, ("OnFailure", "Never")))
    return errors


def _service_port_errors(ports: list[Any]) -> list[FieldError]:
    errors: list[FieldError] = []
    names: set[str] = set()
    for position, port in enumerate(ports):
        path = index("spec.ports", position)
        port = _dict(port)
        name = port.get("name")
        if not name:
            if len(ports) > 1:
                errors.append(required(child(path, "name")))
        elif isinstance(name, str):
            errors.extend(invalid(child(path, "name"), name, m) for m in dns1123_label_errors(name))
            if name in names:
                errors.append(duplicate(child(path, "name"), name))
            names.add(name)
        errors.extend(_port_errors(port.get("port"), child(path, "port")))
        protocol = port.get("protocol")
        if protocol and protocol not in _PROTOCOLS:
            errors.append(not_supported(child(path, "protocol"), protocol, _PROTOCOLS))
        target = port.get("targetPort")
        if isinstance(target, int) and not isinstance(target, bool):
            errors.extend(_port_errors(target, child(path, "targetPort")))
    return errors


def service_errors(obj: Obj) -> list[FieldError]:
    spec = _dict(obj.get("spec"))
    errors: list[FieldError] = []
    service_type = spec.get("type", "ClusterIP")
    if service_type not in _SERVICE_TYPES:
        errors.append(not_supported("spec.type", service_type, _SERVICE_TYPES))
    affinity = spec.get("sessionAffinity")
    if affinity is not None and affinity not in _SESSION_AFFINITIES:
        errors.append(not_supported("spec.sessionAffinity", affinity, _SESSION_AFFINITIES))
    ports = _list(spec.get("ports"))
    if service_type == "ExternalName":
        external = spec.get("externalName")
        if not external:
            errors.append(required("spec.externalName"))
        elif isinstance(external, str):
            # upstream accepts one trailing dot (a fully qualified name)
            errors.extend(invalid("spec.externalName", external, m)
                          for m in dns1123_subdomain_errors(external.removesuffix(".")))
    elif not ports and spec.get("clusterIP") != "None":
        errors.append(required("spec.ports"))
    errors.extend(_service_port_errors(ports))
    return errors


def replication_controller_errors(obj: Obj) -> list[FieldError]:
    spec = _dict(obj.get("spec"))
    return _template_errors(spec, restart_policies=("Always",)) + _replicas_errors(spec)


# The apps/v1 workloads: a selector matching the template, replicas >= 0, restartPolicy Always.
deployment_errors = _workload_errors("deployment", ("Always",))
replica_set_errors = _workload_errors("replicaset", ("Always",))
stateful_set_errors = _workload_errors("statefulset", ("Always",))
daemon_set_errors = _workload_errors("daemonset", ("Always",))


_MAX_HASH_KEY = 2**63 - 1


def controller_instance_errors(obj: Obj) -> list[FieldError]:
    """Arktos's ControllerInstance: a controller type (a DNS label, as Arktos's
    ValidateControllerTypeName), a key inside the hashKey space, a non-negative workload count."""
    errors: list[FieldError] = []
    controller_type = obj.get("controllerType")
    if not controller_type:
        errors.append(required("controllerType"))
    else:
        errors.extend(invalid("controllerType", controller_type, message)
                      for message in dns1123_label_errors(str(controller_type)))
    key = obj.get("controllerKey")
    if isinstance(key, int) and not 0 <= key <= _MAX_HASH_KEY:
        errors.append(invalid("controllerKey", key, f"must be between 0 and {_MAX_HASH_KEY}, inclusive"))
    workloads = obj.get("workloadNum")
    if isinstance(workloads, int) and workloads < 0:
        errors.append(invalid("workloadNum", workloads, "must be greater than or equal to 0"))
    return errors
