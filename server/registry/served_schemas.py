"""The server's schema set follows its catalogue: a record's definitions are served while it is.

A record added at run time brings the OpenAPI definitions of its kind (``ResourceRecord.schemas``);
they join the server's `SchemaSet` when the record is added and leave it when the record is
removed, so validation and the OpenAPI documents follow. A record may not redefine a definition
that is served already (upstream's or another record's): the catalogue refuses it before changing.
"""

from __future__ import annotations

from apis.schemas import Schema
from server.registry.catalogue import Catalogue, CatalogueChange, CatalogueError
from server.registry.record import ResourceRecord
from server.schema.schema_set import SchemaSet


def follow_catalogue(schemas: SchemaSet, catalogue: Catalogue) -> None:
    """Keep ``schemas`` in step with ``catalogue`` from now on (and bring it in step now)."""

    def check(record: ResourceRecord) -> None:
        clashing = sorted(name for name in record.schemas if name in schemas.definitions)
        if clashing:
            raise CatalogueError(f"{record.group_resource}/{record.version} redefines served definitions: "
                                 f"{', '.join(clashing)}")

    def update(_change: CatalogueChange | None = None) -> None:
        added: dict[str, Schema] = {}
        for record in catalogue:
            added.update(record.schemas)
        schemas.replace_added(added)

    catalogue.add_check(check)
    catalogue.subscribe(update)
    update()
