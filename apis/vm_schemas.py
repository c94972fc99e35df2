"""Arktos's VM pods in the served schemas: ``PodSpec.virtualMachine``, ``vpc``, ``nics`` and
``PodStatus.virtualMachineStatus`` (ARKTOS.md §4).

A pod holds containers *or* a virtual machine, so ``PodSpec.containers`` stops being
schema-required here; `server.schema.vm_rules` checks the either/or instead. The VM is sized from its
``resources`` like a container and reaches the guest with its key and user data.
"""

from __future__ import annotations

from typing import Any

Schema = dict[str, Any]

POD_SPEC = "io.k8s.api.core.v1.PodSpec"
POD_STATUS = "io.k8s.api.core.v1.PodStatus"
VIRTUAL_MACHINE = "io.k8s.api.core.v1.VirtualMachine"
VIRTUAL_MACHINE_STATUS = "io.k8s.api.core.v1.VirtualMachineStatus"
NIC = "io.k8s.api.core.v1.Nic"
POWER_SPECS = ("Running", "Paused", "Shutdown", "Suspended")


def _text(description: str, **extra: Any) -> Schema:
    return {"description": description, "type": ["string", "null"], **extra}


def _ref(name: str, description: str) -> Schema:
    return {"$ref": f"#/$defs/{name}", "description": description}


def _virtual_machine() -> Schema:
    return {
        "description": "A virtual machine run by the node's VM runtime instead of containers.",
        "properties": {
            "name": _text("Name of the VM (a DNS label)."),
            "image": _text("VM image name (the runtime's image store)."),
            "imagePullPolicy": _text("Always, Never or IfNotPresent.",
                                     enum=["Always", "Never", "IfNotPresent"]),
            "resources": _ref("io.k8s.api.core.v1.ResourceRequirements",
                              "CPU and memory of the VM (requests/limits)."),
            "keyPairName": _text("Name of a key pair to inject."),
            "publicKey": _text("SSH public key to inject."),
            "userData": _text("Base64 user data handed to the guest (at most 65535 bytes).",
                              format="byte"),
            "cloudInitUserDataScript": _text("A cloud-init user-data script."),
            "powerSpec": _text("Desired power state.", enum=list(POWER_SPECS)),
            "shutdownBehavior": _text("What a guest-initiated shutdown does (stop or terminate)."),
            "bootVolume": _text("Volume to boot from."),
            "volumeMounts": {"description": "Volumes mounted into the VM.", "type": ["array", "null"],
                             "items": {"$ref": "#/$defs/io.k8s.api.core.v1.VolumeMount"}},
            "volumeDevices": {"description": "Block devices attached to the VM.", "type": ["array", "null"],
                              "items": {"$ref": "#/$defs/io.k8s.api.core.v1.VolumeDevice"}},
        },
        "required": ["name"],
        "type": ["object", "null"],
    }


def _virtual_machine_status() -> Schema:
    return {
        "description": "Observed state of a pod's virtual machine.",
        "properties": {
            "name": _text("Name of the VM."),
            "virtualMachineId": _text("The runtime's id of the VM."),
            "imageId": _text("Id of the image the VM runs."),
            "image": _text("The image the VM runs."),
            "state": _text("active, paused, suspended, stopped, error, deleted, ..."),
            "powerState": _text("nostate, running, paused, shutdown, crashed, suspended."),
            "ready": {"description": "Whether the VM is ready.", "type": ["boolean", "null"]},
            "restartCount": {"description": "Times the VM was restarted.", "type": ["integer", "null"],
                             "format": "int32"},
            "lastTerminationState": _ref("io.k8s.api.core.v1.ContainerState",
                                         "How the VM last terminated."),
            "resources": _ref("io.k8s.api.core.v1.ResourceRequirements", "Resources of the VM."),
        },
        "type": ["object", "null"],
    }


def _nic() -> Schema:
    return {
        "description": "A network interface of a VM pod.",
        "properties": {
            "name": _text("Interface name."), "subnetName": _text("Subnet to attach to."),
            "portId": _text("Id of an existing port."), "ipAddress": _text("Fixed IP address."),
            "tag": _text("A tag."),
            "ipv6Enabled": {"description": "Whether IPv6 is enabled.", "type": ["boolean", "null"]},
        },
        "type": ["object", "null"],
    }


def add_vm_definitions(defs: dict[str, Schema]) -> None:
    """Patch the VM fields into the pod definitions (mutates ``defs``)."""
    defs[VIRTUAL_MACHINE] = _virtual_machine()
    defs[VIRTUAL_MACHINE_STATUS] = _virtual_machine_status()
    defs[NIC] = _nic()
    spec = defs[POD_SPEC]
    spec["properties"]["virtualMachine"] = _ref(VIRTUAL_MACHINE,
                                                "A virtual machine instead of containers (Arktos).")
    spec["properties"]["vpc"] = _text("The VPC the pod's network interfaces belong to.")
    spec["properties"]["nics"] = {
        "description": "Network interfaces of the pod (Arktos).", "type": ["array", "null"],
        "items": {"$ref": f"#/$defs/{NIC}"},
        "x-kubernetes-patch-merge-key": "name", "x-kubernetes-patch-strategy": "merge",
    }
    spec["required"] = [field for field in spec.get("required", []) if field != "containers"]
    defs[POD_STATUS]["properties"]["virtualMachineStatus"] = _ref(
        VIRTUAL_MACHINE_STATUS, "Observed state of the pod's virtual machine (Arktos).")
