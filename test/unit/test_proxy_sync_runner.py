"""kube-proxy's sync timing (proxy.sync_runner) and its /healthz verdict (proxy.healthz.healthy).

Covers: a burst of change requests costs one sync per min-sync-period, a sync comes by itself every
sync-period and is marked periodic (full), a failed sync is retried, and health turns bad when a
change waits longer than the timeout. Leaves out: the HTTP server (test_proxy_iptables.py asks it).
"""

from __future__ import annotations

import asyncio
import contextlib

from proxy.healthz import healthy
from proxy.sync_runner import SyncRunner


async def test_a_burst_of_requests_is_batched_and_periodic_syncs_are_full() -> None:
    calls: list[bool] = []

    async def sync(periodic: bool) -> None:
        calls.append(periodic)

    # Timeline (s): first sync at 0, requests until ~0.15, their sync at 0.3, periodic at 1.3, 2.3.
    runner = SyncRunner(sync, min_interval_s=0.3, max_interval_s=1.0)
    task = asyncio.create_task(runner.run())
    try:
        await asyncio.sleep(0.05)
        assert calls == [True]  # the first run is due at once
        for _ in range(50):
            runner.request()
            await asyncio.sleep(0.002)
        await asyncio.sleep(0.45)
        assert calls == [True, False]  # 50 requests within min-sync-period: one sync
        await asyncio.sleep(1.1)
        assert calls == [True, False, True]  # nothing asked: the periodic one
    finally:
        task.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await task


async def test_a_failed_sync_is_retried_after_the_min_sync_period() -> None:
    attempts = 0

    async def sync(periodic: bool) -> None:
        nonlocal attempts
        attempts += 1
        if attempts == 1:
            raise RuntimeError("iptables-restore failed")

    runner = SyncRunner(sync, min_interval_s=0.1, max_interval_s=60)
    task = asyncio.create_task(runner.run())
    try:
        await asyncio.sleep(0.3)
        assert attempts == 2 and runner.last_success is not None
    finally:
        task.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await task


def test_health_follows_the_oldest_unsynced_change() -> None:
    async def sync(periodic: bool) -> None:
        return None

    runner = SyncRunner(sync, min_interval_s=1, max_interval_s=30)
    assert healthy(runner, timeout_s=60, started=1000, now=1030)  # starting, nothing pending
    runner.last_success = 1010
    runner.pending_since = 1020
    assert healthy(runner, timeout_s=60, started=1000, now=1050)
    assert not healthy(runner, timeout_s=60, started=1000, now=1081)  # a change waiting 61 s
    runner.pending_since = None
    assert not healthy(runner, timeout_s=60, started=1000, now=1071)  # no sync for 61 s
