"""``/livez``, ``/readyz`` and ``/healthz``: named checks, answered as upstream's healthz package does.

Each endpoint runs its checks (``ping``, ``etcd``: the store answers a read within two seconds, as
upstream's ``--etcd-healthcheck-timeout``; ``/readyz`` also ``informer-sync``: the watch cache is
loaded and the server is not shutting down). All pass: 200 ``ok``, or with ``?verbose`` one
``[+]name ok`` line per check and ``readyz check passed``. One fails: 500 listing every check,
``[-]name failed: reason withheld`` for the failed ones (the endpoint is public, so the reason
goes to the log only), then ``readyz check failed``. ``?exclude=name`` skips a check;
``/readyz/etcd`` runs one check alone. The check is named ``etcd`` whatever the backend, as
kine's users see it too: monitors probe that path.
"""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable, Mapping, Sequence
from dataclasses import dataclass

from aiohttp import web
from multidict import MultiMapping

log = logging.getLogger(__name__)

ENDPOINTS = ("/healthz", "/livez", "/readyz")


@dataclass(frozen=True, slots=True)
class HealthCheck:
    """``check`` returns when healthy and raises (any Exception) when not."""

    name: str
    check: Callable[[], Awaitable[None]]


async def _ping() -> None:
    """Always healthy: the server answers at all."""


PING = HealthCheck("ping", _ping)


def is_health_path(path: str) -> bool:
    return path in ENDPOINTS or path.startswith(tuple(f"{endpoint}/" for endpoint in ENDPOINTS))


def _text(body: str, status: int) -> web.Response:
    response = web.Response(text=body, status=status, content_type="text/plain", charset="utf-8")
    response.headers["X-Content-Type-Options"] = "nosniff"
    return response


async def _failure(check: HealthCheck) -> str:
    """'' when the check passes, else why not (for the log)."""
    try:
        await check.check()
    except Exception as e:  # any failure of a check is an unhealthy answer, never a 500 traceback
        return str(e) or type(e).__name__
    return ""


class HealthEndpoints:
    """The checks of each endpoint, in the order they are reported."""

    def __init__(self, checks: Mapping[str, Sequence[HealthCheck]]) -> None:
        self._checks = {endpoint: tuple(checks[endpoint]) for endpoint in ENDPOINTS}

    async def answer(self, path: str, query: MultiMapping[str]) -> web.Response:
        endpoint, _, name = path.partition("/")[2].partition("/")
        checks = self._checks[f"/{endpoint}"]
        if name:
            return await self._one(checks, name)
        excluded = {n for value in query.getall("exclude", []) for n in value.split(",") if n}
        lines: list[str] = []
        failed: list[str] = []
        for check in checks:
            if check.name in excluded:
                excluded.discard(check.name)
                lines.append(f"[+]{check.name} excluded: ok")
                continue
            reason = await _failure(check)
            if reason:
                log.info("%s check %s failed: %s", endpoint, check.name, reason)
                lines.append(f"[-]{check.name} failed: reason withheld")
                failed.append(check.name)
            else:
                lines.append(f"[+]{check.name} ok")
        if excluded:
            names = ",".join(f'"{n}"' for n in sorted(excluded))
            lines.append(f"warn: some health checks cannot be excluded: no matches for {names}")
        if failed:
            return _text("\n".join([*lines, f"{endpoint} check failed"]) + "\n", 500)
        if "verbose" not in query:
            return _text("ok", 200)
        return _text("\n".join([*lines, f"{endpoint} check passed"]) + "\n", 200)

    async def _one(self, checks: Sequence[HealthCheck], name: str) -> web.Response:
        for check in checks:
            if check.name == name:
                reason = await _failure(check)
                if reason:
                    return _text(f"internal server error: {reason}\n", 500)
                return _text("ok", 200)
        return _text("404 page not found\n", 404)
