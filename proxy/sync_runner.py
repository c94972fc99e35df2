"""When to sync: soon after a change, never more often than ``--min-sync-period``, and at least every
``--sync-period``.

Upstream's ``BoundedFrequencyRunner``: informer events only *request* a sync, so a burst of changes
(a Deployment scaled to 100 replicas) costs one iptables transaction per min-sync-period, not one
per event. The sync is told whether it is the periodic one (``periodic=True``): that one is full and
repairs anything another program changed in the tables; those asked for by changes may be partial.
A failed sync is tried again after min-sync-period (upstream's RetryAfter).
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Awaitable, Callable

log = logging.getLogger(__name__)


class SyncRunner:
    def __init__(self, sync: Callable[[bool], Awaitable[object]], *, min_interval_s: float,
                 max_interval_s: float) -> None:
        self._sync = sync
        self._min = min_interval_s
        self._max = max(max_interval_s, min_interval_s)
        self._wanted = asyncio.Event()
        self.last_success: float | None = None  # time.time() of the last sync that succeeded
        self.pending_since: float | None = None  # time.time() of the oldest change not yet synced

    def request(self) -> None:
        """Asks for a sync (cheap; call from event handlers)."""
        if self.pending_since is None:
            self.pending_since = time.time()
        self._wanted.set()

    async def run(self) -> None:
        """Syncs until cancelled."""
        loop = asyncio.get_running_loop()
        last_run = float("-inf")
        while True:
            wait = last_run + self._max - loop.time()
            periodic = True
            if wait > 0:
                try:
                    await asyncio.wait_for(self._wanted.wait(), wait)
                    periodic = False
                except TimeoutError:
                    pass
            # Bounded frequency: a sync that was asked for too soon waits out the rest of min-sync-period.
            await asyncio.sleep(max(0.0, last_run + self._min - loop.time()))
            self._wanted.clear()
            started_wall = time.time()
            last_run = loop.time()
            try:
                await self._sync(periodic)
            except asyncio.CancelledError:
                raise
            except Exception:
                log.exception("sync failed; retrying after the min-sync-period")
                self._wanted.set()
                continue
            self.last_success = started_wall
            if self.pending_since is not None and self.pending_since <= started_wall:
                self.pending_since = None
