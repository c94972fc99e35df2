"""A bounded map whose entries expire: the kubelet's memory of recent token and access reviews.

Why this exists: upstream's kubelet wraps its webhook authenticator and authorizer in caches
(``--authentication-token-webhook-cache-ttl`` 2 m; ``--authorization-webhook-cache-authorized-ttl``
5 m and ``-unauthorized-ttl`` 30 s), so a followed log or a busy exec session costs the API server
one review, not one per request. Each entry carries its own lifetime (allowed and denied answers
live differently long); the map is bounded so a caller cycling through credentials cannot grow it
without limit — when full, expired entries go first, then the oldest.
"""

from __future__ import annotations

import time
from collections import OrderedDict
from collections.abc import Callable, Hashable
from typing import Generic, TypeVar

K = TypeVar("K", bound=Hashable)
V = TypeVar("V")

DEFAULT_MAX_ENTRIES = 4096


class ExpiringCache(Generic[K, V]):
    """``get`` answers a value stored less than its ttl ago, else None."""

    def __init__(self, *, max_entries: int = DEFAULT_MAX_ENTRIES,
                 clock: Callable[[], float] = time.monotonic) -> None:
        self._entries: OrderedDict[K, tuple[float, V]] = OrderedDict()
        self._max_entries = max_entries
        self._clock = clock

    def get(self, key: K) -> V | None:
        entry = self._entries.get(key)
        if entry is None:
            return None
        expires_at, value = entry
        if expires_at <= self._clock():
            del self._entries[key]
            return None
        return value

    def put(self, key: K, value: V, *, ttl_s: float) -> None:
        if ttl_s <= 0:
            return
        now = self._clock()
        self._entries.pop(key, None)
        if len(self._entries) >= self._max_entries:
            for stale in [k for k, (expires_at, _) in self._entries.items() if expires_at <= now]:
                del self._entries[stale]
            while len(self._entries) >= self._max_entries:
                self._entries.popitem(last=False)
        self._entries[key] = (now + ttl_s, value)

    def __len__(self) -> int:
        return len(self._entries)
