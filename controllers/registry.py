"""Which controllers exist: the registry ``--controllers`` chooses from.

Controller modules register their class with ``@REGISTRY.register`` when imported
(kopf's registry-by-decorator); `load_controllers` imports the modules listed in
`CONTROLLER_MODULES`, so adding a controller is one new module plus one line here.
Upstream's kube-controller-manager keeps the same kind of table (``NewControllerDescriptors``).
"""

from __future__ import annotations

import importlib

from client.controller import Controller, ControllerRegistry

REGISTRY = ControllerRegistry()

# Issue 4 appends the workload controllers (namespace, garbagecollector, deployment, ...).
CONTROLLER_MODULES: tuple[str, ...] = (
    "controllers.tenant",
)


def load_controllers() -> ControllerRegistry:
    """Imports every controller module (registering its classes) and answers the registry."""
    for module in CONTROLLER_MODULES:
        importlib.import_module(module)
    return REGISTRY


def select_controllers(spec: str, registry: ControllerRegistry) -> list[type[Controller]]:
    """The classes named by a ``--controllers`` value, upstream's syntax: a comma list where
    ``*`` means every registered controller and ``-name`` removes one (``*,-tenant``)."""
    chosen: list[str] = []
    for item in (part.strip() for part in spec.split(",")):
        if not item:
            continue
        if item == "*":
            chosen.extend(n for n in registry.names() if n not in chosen)
        elif item.startswith("-"):
            registry.get(item[1:])  # unknown names are an error, not silently ignored
            chosen = [n for n in chosen if n != item[1:]]
        elif item not in chosen:
            registry.get(item)
            chosen.append(item)
    return [registry.get(name) for name in chosen]
