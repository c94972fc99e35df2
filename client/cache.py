"""The informer's local copy of a resource: objects by key, plus secondary indexes.

Controllers read state from here, never from the server (client-go ``tools/cache``'s thread-safe
store with ``Indexers``). Keys carry the tenant, because two Arktos tenants may hold objects with
the same namespace and name (ARKTOS.md §1); `ObjectKey` keeps the three parts apart instead of
gluing them into an ambiguous string. Index functions map an object to the index values it is
filed under (``by_tenant``, ``by_namespace`` or any custom function); lookups by index are
sets of keys, so a controller can ask "every namespace of tenant acme" in O(result).
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass
from typing import Any

IndexFunc = Callable[[dict[str, Any]], Iterable[str]]


@dataclass(frozen=True, slots=True, order=True)
class ObjectKey:
    """Identifies one object of one resource: tenant ("" for cluster scope), namespace, name."""

    tenant: str
    namespace: str
    name: str

    @classmethod
    def of(cls, obj: dict[str, Any]) -> ObjectKey:
        metadata = obj.get("metadata") or {}
        return cls(str(metadata.get("tenant") or ""), str(metadata.get("namespace") or ""),
                   str(metadata.get("name") or ""))

    def __str__(self) -> str:
        return "/".join(part for part in (self.tenant, self.namespace, self.name) if part)


def by_tenant(obj: dict[str, Any]) -> list[str]:
    """Index value: the object's tenant."""
    return [str((obj.get("metadata") or {}).get("tenant") or "")]


def by_namespace(obj: dict[str, Any]) -> list[str]:
    """Index value: ``tenant/namespace`` (a namespace name alone is ambiguous across tenants)."""
    metadata = obj.get("metadata") or {}
    return [f"{metadata.get('tenant') or ''}/{metadata.get('namespace') or ''}"]


def namespace_index_value(tenant: str, namespace: str) -> str:
    """The `by_namespace` value to look up."""
    return f"{tenant}/{namespace}"


class IndexedStore:
    """Objects by `ObjectKey` with indexes kept up to date on every write. Not thread-safe: it
    lives in one event loop, written only by its informer."""

    def __init__(self, indexers: dict[str, IndexFunc] | None = None) -> None:
        self._objects: dict[ObjectKey, dict[str, Any]] = {}
        self._indexers: dict[str, IndexFunc] = dict(indexers or {})
        self._indices: dict[str, dict[str, set[ObjectKey]]] = {name: {} for name in self._indexers}

    def add_indexer(self, name: str, func: IndexFunc) -> None:
        """Adds an index and files the objects already held under it."""
        if name in self._indexers:
            raise ValueError(f"indexer {name!r} already exists")
        self._indexers[name] = func
        self._indices[name] = {}
        for key, obj in self._objects.items():
            self._file(name, key, obj)

    def has_indexer(self, name: str) -> bool:
        return name in self._indexers

    def get(self, key: ObjectKey) -> dict[str, Any] | None:
        return self._objects.get(key)

    def keys(self) -> list[ObjectKey]:
        return list(self._objects)

    def values(self) -> list[dict[str, Any]]:
        return list(self._objects.values())

    def __len__(self) -> int:
        return len(self._objects)

    def __iter__(self) -> Iterator[ObjectKey]:
        return iter(list(self._objects))

    def __contains__(self, key: object) -> bool:
        return key in self._objects

    def by_index(self, index: str, value: str) -> list[dict[str, Any]]:
        """Objects filed under ``value`` in ``index``."""
        return [self._objects[key] for key in sorted(self.keys_by_index(index, value))]

    def keys_by_index(self, index: str, value: str) -> set[ObjectKey]:
        if index not in self._indices:
            raise KeyError(f"no indexer named {index!r}")
        return set(self._indices[index].get(value, ()))

    def put(self, key: ObjectKey, obj: dict[str, Any]) -> dict[str, Any] | None:
        """Stores ``obj``; answers the object it replaced."""
        old = self._objects.get(key)
        if old is not None:
            self._unfile_all(key, old)
        self._objects[key] = obj
        for name in self._indexers:
            self._file(name, key, obj)
        return old

    def remove(self, key: ObjectKey) -> dict[str, Any] | None:
        old = self._objects.pop(key, None)
        if old is not None:
            self._unfile_all(key, old)
        return old

    def _file(self, index: str, key: ObjectKey, obj: dict[str, Any]) -> None:
        buckets = self._indices[index]
        for value in self._indexers[index](obj):
            buckets.setdefault(value, set()).add(key)

    def _unfile_all(self, key: ObjectKey, obj: dict[str, Any]) -> None:
        for name, func in self._indexers.items():
            buckets = self._indices[name]
            for value in func(obj):
                bucket = buckets.get(value)
                if bucket is not None:
                    bucket.discard(key)
                    if not bucket:
                        del buckets[value]
