"""Translates a VM pod's ``spec.virtualMachine`` into the CRI ``ContainerConfig`` for Arktos's VM runtime.

The VM is the pod's one "container" (`kubelet.vm.pods.vm_container`); its sandbox config is the
ordinary one (`kubelet.cri_specs.build_sandbox_config`). The CRI has no fields for a guest's key or
user data, so those travel as annotations whose names `cri.vm_annotations` defines for both
sides (as Arktos's kubelet handed them to its runtime): ``publicKey``, ``keyPairName``, ``userData``
(still base64; the runtime decodes and checks the 64 KiB limit), ``cloudInitUserDataScript`` and the
initial ``powerSpec``. vCPUs and memory come from ``resources`` exactly as a container's CPU shares,
quota and memory limit do; the runtime sizes the VM from them.
"""

from __future__ import annotations

from typing import Any

from cri import vm_annotations
from cri.stubs import pb
from kubelet.cri_specs import (
    CONTAINER_IMAGE_ANNOTATION,
    CONTAINER_NAME_LABEL,
    POD_NAME_LABEL,
    POD_NAMESPACE_LABEL,
    POD_UID_LABEL,
    TENANT_LABEL,
    container_resources,
)
from kubelet.runtime import pod_ref

# spec.virtualMachine field → annotation carrying it to the runtime
_FIELD_ANNOTATIONS = (
    ("publicKey", vm_annotations.PUBLIC_KEY),
    ("keyPairName", vm_annotations.KEY_PAIR_NAME),
    ("userData", vm_annotations.USER_DATA),
    ("cloudInitUserDataScript", vm_annotations.CLOUD_INIT_SCRIPT),
    ("powerSpec", vm_annotations.POWER_SPEC),
)


def virtual_machine(pod: dict[str, Any]) -> dict[str, Any]:
    """``spec.virtualMachine`` ({} for a container pod)."""
    vm: dict[str, Any] = (pod.get("spec") or {}).get("virtualMachine") or {}
    return vm


def vm_annotations_for(vm: dict[str, Any]) -> dict[str, str]:
    """The guest settings of ``vm`` as CRI annotations (absent fields are left out)."""
    out: dict[str, str] = {}
    for field, key in _FIELD_ANNOTATIONS:
        value = vm.get(field)
        if value not in (None, ""):
            out[key] = str(value)
    return out


def build_vm_container_config(pod: dict[str, Any], *, attempt: int, image_ref: str) -> pb.ContainerConfig:
    """The VM's ``ContainerConfig``: labels as for containers (so listing by pod uid works), the log
    at ``<vm name>/<attempt>.log`` below the sandbox's log directory (``kubectl logs`` reads the
    serial console from it), no command, env or mounts (a VM boots its image)."""
    ref = pod_ref(pod)
    vm = virtual_machine(pod)
    name = str(vm.get("name", ""))
    image = str(vm.get("image", ""))
    annotations = {CONTAINER_IMAGE_ANNOTATION: image, **vm_annotations_for(vm)}
    return pb.ContainerConfig(
        metadata=pb.ContainerMetadata(name=name, attempt=attempt),
        image=pb.ImageSpec(image=image_ref or image, user_specified_image=image),
        labels={CONTAINER_NAME_LABEL: name, POD_UID_LABEL: ref.uid, POD_NAME_LABEL: ref.name,
                POD_NAMESPACE_LABEL: ref.namespace, TENANT_LABEL: ref.tenant},
        annotations=annotations,
        log_path=f"{name}/{attempt}.log",
        linux=pb.LinuxContainerConfig(resources=container_resources(vm)))
