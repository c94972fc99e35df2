"""``/healthz`` on ``--healthz-bind-address`` (upstream's port 10256).

As upstream's proxier health server: healthy (200) while the tables are current, that is unless a
change has been waiting longer than the health timeout (twice the sync-period) or no sync has succeeded
for that long; 503 otherwise. The body names the times, as upstream's does (``lastUpdated``,
``currentTime``).
"""

from __future__ import annotations

import time
from datetime import UTC, datetime

import orjson
from aiohttp import web

from proxy.sync_runner import SyncRunner


def _timestamp(seconds: float | None) -> str:
    if seconds is None:
        return ""
    return datetime.fromtimestamp(seconds, UTC).isoformat().replace("+00:00", "Z")


def healthy(runner: SyncRunner, *, timeout_s: float, started: float, now: float) -> bool:
    oldest_wait = runner.pending_since if runner.pending_since is not None else now
    last = runner.last_success if runner.last_success is not None else started
    return now - oldest_wait <= timeout_s and now - last <= timeout_s


def healthz_app(runner: SyncRunner, *, timeout_s: float) -> web.Application:
    started = time.time()

    async def handle(_: web.Request) -> web.Response:
        now = time.time()
        ok = healthy(runner, timeout_s=timeout_s, started=started, now=now)
        body = {"lastUpdated": _timestamp(runner.last_success), "currentTime": _timestamp(now)}
        return web.Response(body=orjson.dumps(body), status=200 if ok else 503,
                            content_type="application/json")

    app = web.Application()
    app.router.add_get("/healthz", handle)
    app.router.add_get("/livez", handle)
    return app
