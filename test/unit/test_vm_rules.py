"""Arktos VM pods in validation and defaults (server.schema.vm_rules; apis.vm_schemas via
server.schema.validation).

Covers: a VM-only pod is valid and defaulted (powerSpec Running); containers together with a VM,
a VM without key, without resources, with oversized or non-base64 user data, and a pod with
neither containers nor a VM are refused with upstream-style field errors; the served PodSpec
schema knows virtualMachine/vpc/nics. Leaves out the runtime (issue 6) and the HTTP layer.
"""

from __future__ import annotations

import base64
import copy
from typing import Any

from apis.schemas import definitions
from server.resources.builtin import builtin_catalogue
from server.schema.schema_set import SchemaSet
from server.schema.validation import Validators, rule_errors

PODS = builtin_catalogue().lookup("", "v1", "pods")
assert PODS is not None and PODS.defaulter is not None
VALIDATORS = Validators(SchemaSet())
default_pod = PODS.defaulter

VM_POD: dict[str, Any] = {
    "apiVersion": "v1", "kind": "Pod", "metadata": {"name": "vm1"},
    "spec": {"virtualMachine": {"name": "vm", "image": "cirros", "keyPairName": "key",
                                "resources": {"requests": {"cpu": "1", "memory": "512Mi"}}}},
}


def problems(pod: dict[str, Any]) -> list[tuple[str, str]]:
    pod = copy.deepcopy(pod)
    report = VALIDATORS.inspect(PODS, pod)
    default_pod(pod)
    errors = [*report.errors, *rule_errors(pod, name_check=PODS.name_check, rules=PODS.rules)]
    return [(e.field, e.reason) for e in errors]


def test_a_vm_only_pod_is_valid_and_powered_on_by_default() -> None:
    assert problems(VM_POD) == []
    pod = copy.deepcopy(VM_POD)
    default_pod(pod)
    assert pod["spec"]["virtualMachine"]["powerSpec"] == "Running"
    assert pod["spec"]["virtualMachine"]["imagePullPolicy"] == "Always"


def test_containers_and_a_vm_together_are_refused() -> None:
    pod = copy.deepcopy(VM_POD)
    pod["spec"]["containers"] = [{"name": "c", "image": "busybox"}]
    assert ("spec.containers", "FieldValueForbidden") in problems(pod)


def test_a_pod_needs_containers_or_a_vm() -> None:
    pod = {"apiVersion": "v1", "kind": "Pod", "metadata": {"name": "p"}, "spec": {}}
    assert ("spec.containers", "FieldValueRequired") in problems(pod)


def test_a_vm_needs_a_key_and_resources() -> None:
    pod = copy.deepcopy(VM_POD)
    del pod["spec"]["virtualMachine"]["keyPairName"]
    del pod["spec"]["virtualMachine"]["resources"]
    found = problems(pod)
    assert ("spec.virtualMachine.keyPairName", "FieldValueRequired") in found
    assert ("spec.virtualMachine.resources", "FieldValueRequired") in found


def test_user_data_is_base64_and_at_most_65535_bytes() -> None:
    pod = copy.deepcopy(VM_POD)
    pod["spec"]["virtualMachine"]["userData"] = base64.b64encode(b"x" * 65536).decode()
    assert ("spec.virtualMachine.userData", "FieldValueTooLong") in problems(pod)
    pod["spec"]["virtualMachine"]["userData"] = base64.b64encode(b"x" * 65535).decode()
    assert problems(pod) == []
    pod["spec"]["virtualMachine"]["userData"] = "not base64!"
    assert ("spec.virtualMachine.userData", "FieldValueInvalid") in problems(pod)


def test_the_served_schema_has_the_arktos_pod_fields() -> None:
    spec = definitions()["io.k8s.api.core.v1.PodSpec"]["properties"]
    assert {"virtualMachine", "vpc", "nics"} <= set(spec)
    status = definitions()["io.k8s.api.core.v1.PodStatus"]["properties"]
    assert "virtualMachineStatus" in status
