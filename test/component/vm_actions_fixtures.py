"""Objects the VM action tests share: a VM pod, its binding, CustomAction bodies.

Kept apart from the test modules so the API, access and kubelet tests build the same pods.
"""

from __future__ import annotations

from typing import Any

from component_http import Api


def vm_pod(name: str) -> dict[str, Any]:
    """A pod with spec.virtualMachine (ARKTOS.md §4) and no containers."""
    return {
        "apiVersion": "v1", "kind": "Pod", "metadata": {"name": name},
        "spec": {"virtualMachine": {"name": "vm", "image": "cirros", "keyPairName": "key",
                                    "resources": {"requests": {"cpu": "1", "memory": "256Mi"}}}},
    }


def custom_action(operation: str, **params: Any) -> dict[str, Any]:
    body: dict[str, Any] = {"apiVersion": "v1", "kind": "CustomAction", "operation": operation}
    body.update(params)
    return body


async def bound_vm_pod(api: Api, pods_path: str, name: str, node: str) -> dict[str, Any]:
    """Create a VM pod under ``pods_path`` and bind it to ``node``; answers the bound pod."""
    await api.ok("POST", pods_path, vm_pod(name))
    binding = {"apiVersion": "v1", "kind": "Binding", "metadata": {"name": name},
               "target": {"apiVersion": "v1", "kind": "Node", "name": node}}
    await api.ok("POST", f"{pods_path}/{name}/binding", binding)
    pod: dict[str, Any] = await api.ok("GET", f"{pods_path}/{name}")
    return pod
