"""The built-in records unit tests look up by name (server.resources.builtin)."""

from __future__ import annotations

from server.registry.record import ResourceRecord
from server.resources.builtin import builtin_catalogue

_CATALOGUE = builtin_catalogue()


def record(group: str, plural: str, version: str = "v1") -> ResourceRecord:
    found = _CATALOGUE.lookup(group, version, plural)
    assert found is not None, (group, version, plural)
    return found
