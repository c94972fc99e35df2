"""Several in-process API servers on one MemoryBackend (as several servers on one etcd)."""

from __future__ import annotations

import contextlib
from collections.abc import AsyncIterator
from typing import Any

from server.app import ApiServer, ServerConfig
from server.storage.memory import MemoryBackend


class SharedBackend:
    """One MemoryBackend for several servers; closed by the test, not by a server."""

    def __init__(self, inner: MemoryBackend) -> None:
        self._inner = inner

    def __getattr__(self, name: str) -> Any:
        return getattr(self._inner, name)

    async def close(self) -> None:
        """Left to the test."""


@contextlib.asynccontextmanager
async def running_servers(count: int, config: ServerConfig) -> AsyncIterator[list[ApiServer]]:
    """``count`` running servers of ``config`` on one fresh store."""
    store = MemoryBackend()
    started = [ApiServer(config, backend=SharedBackend(store))
               for _ in range(count)]
    async with contextlib.AsyncExitStack() as stack:
        for server in started:
            await stack.enter_async_context(server.running())
        yield started
    await store.close()
