"""Validation and defaults of Arktos's VM pods (ARKTOS.md §4): a pod has containers or a VM,
never both; a VM needs a key (``keyPairName`` or ``publicKey``), its resources, a DNS-label name,
and at most 65535 bytes of user data; ``powerSpec`` defaults to Running."""

from __future__ import annotations

import base64
import binascii
from typing import Any

from apis.field_errors import FieldError, child, forbidden, invalid, required
from apis.images import default_pull_policy
from server.schema.name_rules import dns1123_label_errors

MAX_USER_DATA_BYTES = 65535
Obj = dict[str, Any]


def workload_errors(spec: Obj, path: str) -> list[FieldError]:
    """The containers-xor-virtualMachine rule, and the VM's own rules when it has one."""
    vm = spec.get("virtualMachine")
    containers = spec.get("containers") or []
    if vm is None:
        return [] if containers else [required(child(path, "containers"))]
    errors: list[FieldError] = []
    if containers:
        errors.append(forbidden(child(path, "containers"),
                                "may not be set together with spec.virtualMachine"))
    if spec.get("initContainers"):
        errors.append(forbidden(child(path, "initContainers"),
                                "may not be set together with spec.virtualMachine"))
    if isinstance(vm, dict):
        errors.extend(_vm_errors(vm, child(path, "virtualMachine")))
    return errors


def _vm_errors(vm: Obj, path: str) -> list[FieldError]:
    errors: list[FieldError] = []
    name = vm.get("name")
    if isinstance(name, str) and name:
        errors.extend(invalid(child(path, "name"), name, message)
                      for message in dns1123_label_errors(name))
    if not vm.get("keyPairName") and not vm.get("publicKey"):
        errors.append(required(child(path, "keyPairName"), "keyPairName or publicKey is required"))
    resources = vm.get("resources") or {}
    if not (resources.get("requests") or resources.get("limits")):
        errors.append(required(child(path, "resources"), "the VM is sized from its resources"))
    user_data = vm.get("userData")
    if isinstance(user_data, str) and user_data:
        try:
            size = len(base64.b64decode(user_data, validate=True))
        except (binascii.Error, ValueError):
            errors.append(invalid(child(path, "userData"), "<base64>", "must be base64-encoded"))
        else:
            if size > MAX_USER_DATA_BYTES:
                errors.append(FieldError("FieldValueTooLong", child(path, "userData"),
                                         f"Too long: must have at most {MAX_USER_DATA_BYTES} bytes"))
    return errors


def default_virtual_machine(spec: Obj) -> None:
    vm = spec.get("virtualMachine")
    if not isinstance(vm, dict):
        return
    vm.setdefault("powerSpec", "Running")
    image = vm.get("image")
    if isinstance(image, str) and "imagePullPolicy" not in vm:
        vm["imagePullPolicy"] = default_pull_policy(image)
