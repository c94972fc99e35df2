"""The OpenAPI definitions one API server validates against and publishes.

Upstream's and Arktos's definitions (`apis.schemas`) are read once and shared, read-only, by the
whole process: they are data shipped with the code, the same for every server. What a server serves
beyond them — the definitions its run-time resources bring (`ResourceRecord.schemas`; later its
CustomResourceDefinitions) — belongs to that server and changes with its catalogue, so it lives
here, in an object the server owns. The set has a revision that moves on every change; what is
derived from it (compiled validators, OpenAPI documents) is kept per server and rebuilt when the
revision moves, never cached process-wide.
"""

from __future__ import annotations

from collections import ChainMap
from collections.abc import Mapping

from apis.catalogue import Resource
from apis.schemas import GVK_EXTENSION, Schema, definition_name, definitions


class SchemaSet:
    """The shared definitions plus the ones added by the resources a server serves now."""

    def __init__(self) -> None:
        self._base = definitions()
        self._added: dict[str, Schema] = {}
        self.definitions: Mapping[str, Schema] = self._base
        self.revision = 0

    def replace_added(self, added: Mapping[str, Schema]) -> None:
        """Serve exactly ``added`` besides the shared definitions (which it may not redefine)."""
        clashing = sorted(name for name in added if name in self._base)
        if clashing:
            raise ValueError(f"definitions already defined by the server: {', '.join(clashing)}")
        if dict(added) == self._added:
            return
        self._added = dict(added)
        self.definitions = ChainMap(self._added, self._base) if self._added else self._base
        self.revision += 1

    @property
    def added(self) -> Mapping[str, Schema]:
        return self._added

    def definition_for(self, resource: Resource) -> str | None:
        """The definition objects of ``resource`` are checked against, None when it has none: the
        one it names, else the one whose group-version-kind is its kind (shared or added)."""
        name = resource.definition or definition_name(resource.group, resource.version, resource.kind) \
            or self._added_definition_of(resource)
        return name if name is not None and name in self.definitions else None

    def _added_definition_of(self, resource: Resource) -> str | None:
        wanted = {"group": resource.group, "version": resource.version, "kind": resource.kind}
        for name, schema in self._added.items():
            if wanted in schema.get(GVK_EXTENSION, ()):
                return name
        return None
