"""Allocated Service addresses and node ports, kept in the store: one key per allocated item.

Upstream keeps each range as one RangeAllocation bitmap (``/registry/ranges/serviceips``) updated
by compare-and-swap, and since KEP-1880 each ClusterIP as its own IPAddress object whose creation
is the allocation. We follow the latter for both: ``/registry/serviceips/<ip>`` and
``/registry/servicenodeports/<port>`` exist while something holds them, and the store's atomic
create decides who gets an item when several API servers (one store) race for it — no lock, no
read-modify-write. Each claim names its holder (tenant, namespace, name, uid of the Service), so
a release never frees what another Service took since, and the repair loop
(`server.services.repair`) can tell a leak (a claim without its Service) from a use.
"""

from __future__ import annotations

import time
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from typing import Any

import orjson

from server.storage.interface import Backend, KeyExistsError, KeyNotFoundError, RevisionConflictError
from server.storage.keys import REGISTRY_PREFIX
from server.watchcache import WatchCache

IP_SEGMENT = "serviceips"
PORT_SEGMENT = "servicenodeports"


@dataclass(frozen=True, slots=True)
class Holder:
    """The Service a claim belongs to."""

    tenant: str
    namespace: str
    name: str
    uid: str

    @classmethod
    def of(cls, service: dict[str, Any]) -> Holder:
        metadata = service.get("metadata") or {}
        return cls(str(metadata.get("tenant", "")), str(metadata.get("namespace", "")),
                   str(metadata.get("name", "")), str(metadata.get("uid", "")))

    def as_json(self) -> dict[str, str]:
        return {"tenant": self.tenant, "namespace": self.namespace, "name": self.name, "uid": self.uid}


@dataclass(frozen=True, slots=True)
class Claim:
    """One allocated item as stored: which, by whom, since when (unix seconds)."""

    item: str
    holder: Holder
    created: float
    revision: int


class Claims:
    """The claims of one kind (addresses or node ports) in one store."""

    def __init__(self, backend: Backend, cache: WatchCache, segment: str) -> None:
        self._backend = backend
        self._cache = cache
        self._segment = segment
        self._prefix = f"{REGISTRY_PREFIX}{segment}/"

    def key(self, item: str) -> str:
        return self._prefix + item

    async def claim(self, item: str, holder: Holder) -> bool:
        """Take ``item`` for ``holder``; False when it is taken already (by anyone, itself included)."""
        value = orjson.dumps({"kind": "ServiceAllocation", "metadata": {"name": item},
                              "holder": holder.as_json(), "created": time.time()})
        try:
            await self._backend.create(self.key(item), value)
        except KeyExistsError:
            return False
        return True

    async def taken(self, item: str) -> bool:
        """Whether ``item`` is claimed, read from the store (not the cache: a dry run's answer)."""
        return await self._backend.get(self.key(item)) is not None

    def probably_free(self, candidates: Iterable[str]) -> Iterator[str]:
        """The candidates this server's watch cache does not know as taken (a claim may still
        lose a race to another server: `claim` decides)."""
        known = self._cache.resource(self._segment).objects
        return (item for item in candidates if self.key(item) not in known)

    async def release(self, item: str, holder: Holder) -> bool:
        """Free ``item`` if ``holder`` (same uid) still holds it; False when it did not."""
        key = self.key(item)
        for _attempt in range(8):
            kv = await self._backend.get(key)
            if kv is None:
                return False
            claim = _parse(item, kv.value, kv.mod_revision)
            if claim is None or claim.holder.uid != holder.uid:
                return False
            try:
                await self._backend.delete(key, expected_revision=kv.mod_revision)
            except KeyNotFoundError:
                return False
            except RevisionConflictError:
                continue
            return True
        return False

    async def release_unheld(self, claim: Claim) -> bool:
        """Free a leaked claim, unless it changed since it was read (repair)."""
        try:
            await self._backend.delete(self.key(claim.item), expected_revision=claim.revision)
        except (KeyNotFoundError, RevisionConflictError):
            return False
        return True

    async def all(self) -> list[Claim]:
        """Every claim, read from the store."""
        claims: list[Claim] = []
        after = ""
        while True:
            page = await self._backend.list(self._prefix, start_after=after, limit=1000)
            for kv in page.items:
                claim = _parse(kv.key[len(self._prefix):], kv.value, kv.mod_revision)
                if claim is not None:
                    claims.append(claim)
            if not page.more or not page.items:
                return claims
            after = page.items[-1].key


def _parse(item: str, value: bytes, revision: int) -> Claim | None:
    try:
        data = orjson.loads(value)
        holder = data["holder"]
        return Claim(item, Holder(holder["tenant"], holder["namespace"], holder["name"], holder["uid"]),
                     float(data.get("created", 0.0)), revision)
    except (orjson.JSONDecodeError, KeyError, TypeError, ValueError):
        return None
