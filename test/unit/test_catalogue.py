"""server.registry.catalogue and the records in it: lookups, run-time change and its notification.

Covers: the built-in records (each subresource that is served has a storage; a record's strategy is
built for it; records compare by identity), a record added and removed (lookups, discovery order,
revision, listeners told what changed, checks that refuse a record before anything changes,
duplicate paths and storage segments refused), and the server's schema set following the catalogue
(a record's definitions served while it is, a clash refused). Leaves out what the server derives
from a change (routing, discovery, OpenAPI, validators over HTTP: test_runtime_resources).
"""

from __future__ import annotations

import dataclasses

import pytest

from server.registry.catalogue import Catalogue, CatalogueChange, CatalogueError
from server.registry.record import ResourceRecord, SubresourceRecord
from server.registry.served_schemas import follow_catalogue
from server.registry.strategy import Strategy
from server.resources.builtin import BUILTIN_RECORDS, builtin_catalogue
from server.schema.schema_set import SchemaSet

GADGETS = ResourceRecord(group="gadgets.example.com", version="v1", kind="Gadget", plural="gadgets",
                         singular="gadget", scope="Namespaced", definition="com.example.gadgets.v1.Gadget",
                         schemas={"com.example.gadgets.v1.Gadget": {"type": "object"}})


def test_builtin_records_are_complete_declarations() -> None:
    served = {(r.plural, s.name) for r in BUILTIN_RECORDS for s in r.subresources
              if isinstance(s, SubresourceRecord) and s.rest is not None}
    assert ("pods", "binding") in served and ("deployments", "scale") in served
    assert ("serviceaccounts", "token") in served and ("namespaces", "finalize") in served
    declared_only = {(r.plural, s.name) for r in BUILTIN_RECORDS for s in r.subresources} - served
    assert declared_only == {("pods", "ephemeralcontainers"), ("pods", "proxy"), ("pods", "resize"),
                             ("nodes", "proxy"), ("services", "proxy"),
                             ("certificatesigningrequests", "approval")}
    for record in BUILTIN_RECORDS:
        assert isinstance(record.strategy(record), Strategy)
    reviews = [r.plural for r in BUILTIN_RECORDS if not r.stored]
    assert sorted(reviews) == ["localsubjectaccessreviews", "selfsubjectaccessreviews", "selfsubjectreviews",
                               "selfsubjectrulesreviews", "subjectaccessreviews", "tokenreviews"]


def test_records_compare_by_identity() -> None:
    copy = dataclasses.replace(GADGETS)
    assert copy != GADGETS and GADGETS == GADGETS
    assert len({GADGETS, copy}) == 2


def test_a_record_added_and_removed_is_looked_up_and_announced() -> None:
    catalogue = builtin_catalogue()
    changes: list[CatalogueChange] = []
    unsubscribe = catalogue.subscribe(changes.append)
    before = len(catalogue)
    catalogue.add(GADGETS)
    assert catalogue.lookup("gadgets.example.com", "v1", "gadgets") is GADGETS
    assert list(catalogue)[-1] is GADGETS and len(catalogue) == before + 1
    assert catalogue.group_versions()["gadgets.example.com"] == ["v1"]
    assert catalogue.remove("gadgets.example.com", "v1", "gadgets") is GADGETS
    assert catalogue.lookup("gadgets.example.com", "v1", "gadgets") is None
    assert [(c.added, c.removed, c.revision) for c in changes] == [((GADGETS,), (), 1), ((), (GADGETS,), 2)]
    unsubscribe()
    catalogue.add(GADGETS)
    assert len(changes) == 2 and catalogue.revision == 3


def test_duplicates_and_refused_records_leave_the_catalogue_as_it_was() -> None:
    catalogue = Catalogue([GADGETS])
    with pytest.raises(CatalogueError, match="served already"):
        catalogue.add(dataclasses.replace(GADGETS))
    with pytest.raises(CatalogueError, match="storage segment"):
        catalogue.add(dataclasses.replace(GADGETS, version="v2"))

    def refuse(record: ResourceRecord) -> None:
        raise CatalogueError(f"no {record.plural}")

    catalogue.add_check(refuse)
    with pytest.raises(CatalogueError, match="no gizmos"):
        catalogue.add(dataclasses.replace(GADGETS, plural="gizmos"))
    assert [r.plural for r in catalogue] == ["gadgets"] and catalogue.revision == 0
    with pytest.raises(CatalogueError, match="not served"):
        catalogue.remove("gadgets.example.com", "v1", "gizmos")


def test_the_schema_set_follows_the_catalogue() -> None:
    catalogue, schemas = builtin_catalogue(), SchemaSet()
    follow_catalogue(schemas, catalogue)
    assert "com.example.gadgets.v1.Gadget" not in schemas.definitions
    catalogue.add(GADGETS)
    assert schemas.definitions["com.example.gadgets.v1.Gadget"] == {"type": "object"}
    assert schemas.definition_for(GADGETS) == "com.example.gadgets.v1.Gadget"
    unnamed = dataclasses.replace(GADGETS, plural="gizmos", kind="Gizmo", definition="", schemas={
        "com.example.gizmos.v1.Gizmo": {"type": "object", "x-kubernetes-group-version-kind": [
            {"group": "gadgets.example.com", "version": "v1", "kind": "Gizmo"}]}})
    catalogue.add(unnamed)
    assert schemas.definition_for(unnamed) == "com.example.gizmos.v1.Gizmo"  # found by its kind
    catalogue.remove("gadgets.example.com", "v1", "gizmos")
    assert "io.k8s.api.core.v1.Pod" in schemas.definitions
    catalogue.remove("gadgets.example.com", "v1", "gadgets")
    assert "com.example.gadgets.v1.Gadget" not in schemas.definitions and schemas.revision == 4
    redefining = dataclasses.replace(GADGETS, schemas={"io.k8s.api.core.v1.Pod": {"type": "object"}})
    with pytest.raises(CatalogueError, match=r"redefines served definitions: io\.k8s\.api\.core\.v1\.Pod"):
        catalogue.add(redefining)
    assert catalogue.lookup("gadgets.example.com", "v1", "gadgets") is None
