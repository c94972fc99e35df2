"""The resources one API server serves: its records, which may change while it runs.

Everything that depends on the set of served resources reads it from here — request routing,
discovery (classic and aggregated), the OpenAPI documents, the validators' schemas, admission's
per-resource plugin lists, the store's strategies — and keeps only what it can rebuild: each
subscribes, and a change (a record added or removed) tells it to drop what it derived. This is the
seam dynamic CustomResourceDefinitions plug into: a CRD controller in each API server process
watches CRDs and adds or removes records here; nothing in the catalogue is shared between
processes, so several API servers each follow the same CRDs on their own.

Removing a record stops serving it (its paths answer 404, it leaves discovery); its stored objects
stay in storage — deleting them first is the remover's business, as upstream's CRD finalizer does.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass

from apis.catalogue import Resource
from server.registry.record import ResourceRecord

log = logging.getLogger(__name__)

Listener = Callable[["CatalogueChange"], None]
# Refuses a record the server cannot serve (raises CatalogueError) before the catalogue changes.
Check = Callable[[ResourceRecord], None]


@dataclass(frozen=True, slots=True)
class CatalogueChange:
    """What one change did; ``revision`` is the catalogue's revision after it."""

    added: tuple[ResourceRecord, ...]
    removed: tuple[ResourceRecord, ...]
    revision: int


class CatalogueError(ValueError):
    """A change the catalogue refuses (a duplicate resource, a storage segment in use)."""


class Catalogue:
    """Lookups over the served records, in declaration order (discovery's order), with change
    notification."""

    def __init__(self, records: Iterable[ResourceRecord] = ()) -> None:
        self._by_path: dict[tuple[str, str, str], ResourceRecord] = {}
        self._all: tuple[ResourceRecord, ...] = ()
        self._listeners: list[Listener] = []
        self._checks: list[Check] = []
        self.revision = 0
        for record in records:
            self._check_new(record)
            self._by_path[_path_of(record)] = record
        self._all = tuple(self._by_path.values())

    def __iter__(self) -> Iterator[ResourceRecord]:
        return iter(self._all)

    def __len__(self) -> int:
        return len(self._all)

    def lookup(self, group: str, version: str, plural: str) -> ResourceRecord | None:
        return self._by_path.get((group, version, plural))

    def in_group_version(self, group: str, version: str) -> list[ResourceRecord]:
        return [r for r in self._all if r.group == group and r.version == version]

    def group_versions(self) -> dict[str, list[str]]:
        """Group name -> served versions, preferred first (the order of declaration)."""
        return group_versions(self._all)

    # -- change ---------------------------------------------------------------------------------
    def subscribe(self, listener: Listener) -> Callable[[], None]:
        """Call ``listener`` after every change; returns the function that unsubscribes it."""
        self._listeners.append(listener)
        return lambda: self._listeners.remove(listener)

    def add_check(self, check: Check) -> None:
        """Run ``check`` on every record before it is added (a CatalogueError refuses it)."""
        self._checks.append(check)

    def add(self, record: ResourceRecord) -> None:
        """Serve ``record`` from now on (after the resources already served)."""
        self._check_new(record)
        for check in self._checks:
            check(record)
        self._by_path[_path_of(record)] = record
        self._changed(added=(record,), removed=())

    def remove(self, group: str, version: str, plural: str) -> ResourceRecord:
        """Stop serving a resource; returns its record."""
        record = self._by_path.pop((group, version, plural), None)
        if record is None:
            raise CatalogueError(f"{plural}.{group}/{version} is not served")
        self._changed(added=(), removed=(record,))
        return record

    def _check_new(self, record: ResourceRecord) -> None:
        if _path_of(record) in self._by_path:
            raise CatalogueError(f"{record.group_resource}/{record.version} is served already")
        # Two resources never share objects: their storage segments must differ (upstream: one
        # etcd prefix per group-resource; versions of one resource here keep their own segment).
        if any(r.key_segment == record.key_segment for r in self._by_path.values()):
            raise CatalogueError(f"storage segment {record.key_segment!r} belongs to another resource")

    def _changed(self, *, added: tuple[ResourceRecord, ...], removed: tuple[ResourceRecord, ...]) -> None:
        self._all = tuple(self._by_path.values())
        self.revision += 1
        change = CatalogueChange(added, removed, self.revision)
        log.info("catalogue revision %d: added %s, removed %s", self.revision,
                 [r.group_resource for r in added], [r.group_resource for r in removed])
        for listener in list(self._listeners):
            listener(change)


def group_versions(resources: Iterable[Resource]) -> dict[str, list[str]]:
    """Group name -> the versions ``resources`` hold, in their order (the preferred first)."""
    out: dict[str, list[str]] = {}
    for resource in resources:
        versions = out.setdefault(resource.group, [])
        if resource.version not in versions:
            versions.append(resource.version)
    return out


def _path_of(record: ResourceRecord) -> tuple[str, str, str]:
    return (record.group, record.version, record.plural)
