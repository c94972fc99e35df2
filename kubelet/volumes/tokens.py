"""Service-account tokens for projected volumes, requested once and renewed before they expire.

Upstream's kubelet token manager (pkg/kubelet/token) caches each TokenRequest answer per
(service account, audience, lifetime, bound pod) and asks again once 80% of the token's lifetime
has passed or it is older than 24 hours; the volume refresh then writes the new token in place
(the atomic writer swaps it). Tokens of a forgotten pod are dropped with it.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from kubelet.pod_sources import ObjectSource, SourceError
from kubelet.volumes.payloads import VolumeError

_RENEW_FRACTION = 0.8
_MAX_AGE_S = 24 * 3600.0


@dataclass(frozen=True, slots=True)
class _Issued:
    token: str
    issued_at: float
    expires_at: float

    def needs_renewal(self, now: float) -> bool:
        lifetime = self.expires_at - self.issued_at
        return now >= self.issued_at + _RENEW_FRACTION * lifetime or now - self.issued_at > _MAX_AGE_S


class ServiceAccountTokens:
    """Implements `kubelet.volumes.payloads.TokenSource` over an `ObjectSource`."""

    def __init__(self, source: ObjectSource, *, clock: Callable[[], float] = time.time) -> None:
        self.source = source
        self.clock = clock
        self._cache: dict[tuple[str, ...], _Issued] = {}

    async def token(self, pod: dict[str, Any], *, audience: str, expiration_seconds: int) -> str:
        metadata = pod.get("metadata") or {}
        account = str((pod.get("spec") or {}).get("serviceAccountName") or "default")
        tenant, namespace = str(metadata.get("tenant") or ""), str(metadata.get("namespace") or "")
        key = (str(metadata.get("uid", "")), tenant, namespace, account, audience, str(expiration_seconds))
        now = self.clock()
        cached = self._cache.get(key)
        if cached is not None and not cached.needs_renewal(now):
            return cached.token
        try:
            token, expires_at = await self.source.service_account_token(
                tenant, namespace, account, audience=audience, expiration_seconds=expiration_seconds,
                pod=pod)
        except SourceError as e:
            if cached is not None and now < cached.expires_at:
                return cached.token  # keep serving the still-valid token, as upstream does
            raise VolumeError(f"failed to fetch token: {e}") from e
        self._cache[key] = _Issued(token, now, expires_at)
        return token

    def forget_pod(self, pod_uid: str) -> None:
        for key in [k for k in self._cache if k[0] == pod_uid]:
            del self._cache[key]
