"""Which controllers exist: the registry ``--controllers`` chooses from.

Controller modules register their class with ``@REGISTRY.register`` when imported
(kopf's registry-by-decorator); `load_controllers` imports every module of the package, so adding
a controller is one new module.
Upstream's kube-controller-manager keeps the same kind of table (``NewControllerDescriptors``).
"""

from __future__ import annotations

import importlib
import pkgutil

from client.controller import Controller, ControllerRegistry

REGISTRY = ControllerRegistry()

# Modules of this package that are infrastructure, not controllers.
_NOT_CONTROLLERS = frozenset({"manager", "registry", "__main__"})


def controller_modules() -> list[str]:
    """Every module of the ``controllers`` package: a new controller is one new module."""
    import controllers

    return sorted(f"controllers.{info.name}" for info in pkgutil.iter_modules(controllers.__path__)
                  if info.name not in _NOT_CONTROLLERS and not info.ispkg)


def load_controllers() -> ControllerRegistry:
    """Imports every controller module (registering its classes) and answers the registry."""
    for module in controller_modules():
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
