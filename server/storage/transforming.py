"""A Backend that transforms values between the registry and the real store (encryption at rest).

Upstream's etcd3 store calls its resource's value transformer on every value it writes
(``TransformToStorage``) and reads (``TransformFromStorage``, also for the watch that feeds the
watch cache). We keep one store for all resources, so this wrapper picks the transformer by the
key's segment (``/registry/{segment}/...``) and applies it to everything that passes: create and
update values on the way in; get, list, delete results and watch events on the way out. The
storage key is the authenticated data, as upstream's.

A value that cannot be transformed does not fail the whole list or the watch (one bad secret must
not take down the cache of every resource): it comes back as a `KeyValue` with ``unreadable`` set
and an empty value, and the reader that would have served it answers upstream's 500 ("unable to
transform key ..."). A value read through a non-writing key comes back ``stale``, so the registry
rewrites it even when nothing changed: that is how rotation re-encrypts.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Mapping

from server.storage.interface import Backend, Event, KeyValue, ListResult
from server.storage.keys import segment_of
from server.storage.value_transformers import (
    ENCRYPTED_PREFIX,
    IdentityTransformer,
    TransformError,
    ValueTransformer,
)


def unreadable_message(key: str, reason: str) -> str:
    """Upstream's wording for a value its transformer refused."""
    return f'unable to transform key "{key}": {reason}'


class TransformingBackend:
    """Wraps ``inner``; ``transformers`` maps a key segment to its transformer, else ``default``."""

    def __init__(self, inner: Backend, transformers: Mapping[str, ValueTransformer], *,
                 default: ValueTransformer) -> None:
        self.inner = inner
        self._transformers = dict(transformers)
        self._default = default

    def set_transformers(self, transformers: Mapping[str, ValueTransformer]) -> None:
        """Replace the segment table (the server's resources changed)."""
        self._transformers = dict(transformers)

    def _transformer(self, key: str) -> ValueTransformer:
        return self._transformers.get(segment_of(key), self._default)

    def _read(self, kv: KeyValue) -> KeyValue:
        transformer = self._transformer(kv.key)
        if isinstance(transformer, IdentityTransformer) and not kv.value.startswith(ENCRYPTED_PREFIX):
            return kv  # the common case (nothing encrypted): no copy, no call
        try:
            value, stale = transformer.from_storage(kv.value, kv.key.encode())
        except TransformError as e:
            return KeyValue(kv.key, b"", kv.create_revision, kv.mod_revision,
                            unreadable=unreadable_message(kv.key, str(e)))
        return KeyValue(kv.key, value, kv.create_revision, kv.mod_revision, stale=stale)

    def _write(self, key: str, value: bytes) -> bytes:
        transformer = self._transformer(key)
        if isinstance(transformer, IdentityTransformer):
            return value
        return transformer.to_storage(value, key.encode())

    # -- the Backend contract ---------------------------------------------------------------------

    async def start(self) -> None:
        await self.inner.start()

    async def close(self) -> None:
        await self.inner.close()

    async def check_health(self) -> None:
        await self.inner.check_health()

    async def current_revision(self) -> int:
        return await self.inner.current_revision()

    async def compacted_revision(self) -> int:
        return await self.inner.compacted_revision()

    async def get(self, key: str, *, revision: int = 0) -> KeyValue | None:
        kv = await self.inner.get(key, revision=revision)
        return None if kv is None else self._read(kv)

    async def list(self, prefix: str, *, revision: int = 0, start_after: str = "",
                   limit: int = 0) -> ListResult:
        page = await self.inner.list(prefix, revision=revision, start_after=start_after, limit=limit)
        return ListResult([self._read(kv) for kv in page.items], page.revision, page.more, page.remaining)

    async def count(self, prefix: str) -> int:
        return await self.inner.count(prefix)

    async def create(self, key: str, value: bytes) -> int:
        return await self.inner.create(key, self._write(key, value))

    async def update(self, key: str, value: bytes, *, expected_revision: int) -> int:
        return await self.inner.update(key, self._write(key, value), expected_revision=expected_revision)

    async def delete(self, key: str, *, expected_revision: int = 0) -> KeyValue:
        return self._read(await self.inner.delete(key, expected_revision=expected_revision))

    async def watch(self, prefix: str, *, after_revision: int) -> AsyncIterator[Event]:
        async for event in self.inner.watch(prefix, after_revision=after_revision):
            prev = None if event.prev is None else self._read(event.prev)
            yield Event(event.type, self._read(event.kv), prev)

    async def compact(self, revision: int) -> None:
        await self.inner.compact(revision)
