"""The annotation keys through which a VM's settings travel on CRI ``ContainerConfig``/``ContainerStatus``.

The CRI has no fields for a guest's public key or user data, so the kubelet (``kubelet.vm.specs``)
puts ``spec.virtualMachine`` into container annotations and the VM runtime (``vmruntime``) reads
them back — the way Arktos's own runtime received them. They live in ``cri``, the CRI vocabulary both
components build on, so neither imports the other and the names cannot drift. ``ContainerStatus``
carries the VM's live power state and boot count back the same way.
"""

from __future__ import annotations

PREFIX = "vm.arktos.futurewei.com/"

PUBLIC_KEY = PREFIX + "public-key"
KEY_PAIR_NAME = PREFIX + "key-pair-name"
USER_DATA = PREFIX + "user-data"  # base64, as in the pod spec
CLOUD_INIT_SCRIPT = PREFIX + "cloud-init-user-data-script"
VCPUS = PREFIX + "vcpus"  # explicit vCPU count; else derived from the CPU limit/shares
MEMORY_MIB = PREFIX + "memory-mib"  # explicit memory; else the memory limit
POWER_SPEC = PREFIX + "power-spec"  # the powerSpec the VM was created with (Running|Paused|...)

# Reported on ContainerStatus.annotations by the runtime.
POWER_STATE = PREFIX + "power-state"  # running | paused | suspended | shutdown | crashed
BOOT_COUNT = PREFIX + "launches"  # how many times qemu was started for this container

# ContainerStatus.reason of a VM whose qemu runs but whose guest is stopped (CRI state stays RUNNING).
REASON_PAUSED = "Paused"
REASON_SUSPENDED = "Suspended"
# ContainerStatus.reason of a VM whose qemu ended because it was asked to stop (power off, or a
# StopContainer): gracefully, or killed after the timeout. Any other exit is "Completed"/"Error".
REASON_STOPPED = "Stopped"
REASON_KILLED = "Killed"
