"""A service account's bearer token, obtained through the TokenRequest API and renewed before it expires.

Why this exists: kube-controller-manager with ``--use-service-account-credentials`` runs each
controller as its own service account in ``kube-system`` (k8s.io/controller-manager's
``DynamicControllerClientBuilder``): with its own credential it makes sure the account exists,
asks ``serviceaccounts/{name}/token`` for a token of an hour, and asks again once 80 % of the
lifetime has passed (upstream's 20 % leeway), so a token is never used near its expiry. A client
that is refused with 401 (the account was deleted and re-created, the signing key changed) drops
its token through `invalidate` and the next request gets a fresh one.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Callable
from typing import Any

from client.errors import AlreadyExists, ApiError, CredentialsUnavailable, NotFound
from client.resources import ResourceRef, resource_path
from client.rest import ApiClient

log = logging.getLogger(__name__)

SERVICE_ACCOUNTS = ResourceRef("", "v1", "serviceaccounts", "ServiceAccount")
DEFAULT_EXPIRATION_S = 3600
# Renew once this share of the lifetime is left (upstream's defaultLeewayPercent).
LEEWAY_FRACTION = 0.2
# A new account reaches the server's cache of accounts a moment after its create answers; the
# TokenRequest is retried briefly (upstream's builder polls for the account in the same way).
_ACCOUNT_WAIT_S = 10.0
_ACCOUNT_POLL_S = 0.1


class ServiceAccountTokenSource:
    """Tokens for ``tenant/namespace/name``, requested with ``issuer`` (the manager's own client)."""

    def __init__(self, issuer: ApiClient, *, tenant: str, namespace: str, name: str,
                 expiration_s: int = DEFAULT_EXPIRATION_S,
                 clock: Callable[[], float] = time.monotonic) -> None:
        self._issuer = issuer
        self.tenant, self.namespace, self.name = tenant, namespace, name
        self._expiration_s = expiration_s
        self._clock = clock
        self._token = ""
        self._renew_at = 0.0
        self._lock = asyncio.Lock()

    async def token(self) -> str:
        """The current token; `CredentialsUnavailable` when none can be had (never the issuer's own
        error: a NotFound from the token request must not read as the caller's object being gone)."""
        if self._token and self._clock() < self._renew_at:
            return self._token
        async with self._lock:  # one TokenRequest however many requests are waiting
            if not self._token or self._clock() >= self._renew_at:
                try:
                    await self._refresh()
                except ApiError as e:
                    raise CredentialsUnavailable(f"no token for service account {self.tenant}/"
                                                 f"{self.namespace}/{self.name}: {e}") from e
            return self._token

    def invalidate(self) -> None:
        self._token, self._renew_at = "", 0.0

    async def _refresh(self) -> None:
        await self._ensure_account()
        deadline = self._clock() + _ACCOUNT_WAIT_S
        while True:
            try:
                answer = await self._request_token()
                break
            except NotFound:
                if self._clock() >= deadline:
                    raise
                await asyncio.sleep(_ACCOUNT_POLL_S)
        status = answer.get("status") or {}
        lifetime = float((answer.get("spec") or {}).get("expirationSeconds") or self._expiration_s)
        self._token = str(status.get("token") or "")
        self._renew_at = self._clock() + lifetime * (1 - LEEWAY_FRACTION)
        log.info("obtained a token for service account %s/%s/%s (renewed in %.0fs)", self.tenant,
                 self.namespace, self.name, lifetime * (1 - LEEWAY_FRACTION))

    async def _ensure_account(self) -> None:
        try:
            await self._issuer.get(SERVICE_ACCOUNTS, self.name, tenant=self.tenant, namespace=self.namespace)
            return
        except NotFound:
            pass
        body = {"apiVersion": "v1", "kind": "ServiceAccount", "metadata": {"name": self.name}}
        try:
            await self._issuer.create(SERVICE_ACCOUNTS, body, tenant=self.tenant, namespace=self.namespace)
            log.info("created service account %s/%s/%s", self.tenant, self.namespace, self.name)
        except AlreadyExists:
            pass

    async def _request_token(self) -> dict[str, Any]:
        body = {"apiVersion": "authentication.k8s.io/v1", "kind": "TokenRequest",
                "spec": {"expirationSeconds": self._expiration_s}}
        path = resource_path(SERVICE_ACCOUNTS, tenant=self.tenant, namespace=self.namespace, name=self.name,
                             subresource="token")
        answer: dict[str, Any] = await self._issuer.request("POST", path, body=body)
        return answer
