"""The memory budget of LIST responses: bytes they may hold at once, shared by every request.

Concurrency limits bound how many LISTs run, not how much memory they take: 500 LISTs of a 2 MB
namespace that each build their whole body held gigabytes. A LIST reserves what it will hold in
memory before it encodes anything (a streamed JSON list: a few chunks; a Table or YAML list: the
whole body) and gives it back once the response is written. When the budget is spent, the next
reservation waits, first come first served, so memory is bounded by the budget whatever the
concurrency. A reservation larger than the whole budget is cut to the budget: it runs alone.
Upstream has no such knob (Go streams list encoding); this is our ``--list-memory-budget``.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections import deque
from collections.abc import AsyncIterator


class ByteBudget:
    def __init__(self, capacity: int) -> None:
        self.capacity = capacity  # 0: no budget
        self.in_use = 0
        self._waiters: deque[tuple[int, asyncio.Future[None]]] = deque()

    @property
    def waiting(self) -> int:
        return len(self._waiters)

    @contextlib.asynccontextmanager
    async def reserve(self, size: int) -> AsyncIterator[None]:
        """Hold ``size`` bytes of the budget for the body of the ``async with``."""
        if self.capacity <= 0:
            yield
            return
        size = max(1, min(size, self.capacity))
        if self._waiters or self.in_use + size > self.capacity:
            await self._wait_for(size)
        else:
            self.in_use += size
        try:
            yield
        finally:
            self._release(size)

    async def _wait_for(self, size: int) -> None:
        waiter: asyncio.Future[None] = asyncio.get_running_loop().create_future()
        entry = (size, waiter)
        self._waiters.append(entry)
        try:
            await waiter
        except asyncio.CancelledError:
            if waiter.done() and not waiter.cancelled():
                self._release(size)  # granted in the same instant as the cancellation
            else:
                self._waiters.remove(entry)
                self._grant()  # it may have been the head that held the others back
            raise

    def _release(self, size: int) -> None:
        self.in_use -= size
        self._grant()

    def _grant(self) -> None:
        while self._waiters and self.in_use + self._waiters[0][0] <= self.capacity:
            size, waiter = self._waiters.popleft()
            if waiter.done():
                continue
            self.in_use += size
            waiter.set_result(None)
