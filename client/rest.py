"""The async API client every component uses: typed-by-resource CRUD, lists and watches over HTTP.

One `ApiClient` wraps one aiohttp session (one connection pool) for one `ClientConfig`. It speaks
JSON (orjson), builds Arktos paths (`client.resources.resource_path`), retries what client-go's
rest client retries (`client.retry`), and turns every failure into the `client.errors` tree at a
single boundary (`_error_for_status`), so callers never see an HTTP status code. Watches are
async iterators of ``(type, object)`` (`client.watchstream`). A ``token_source`` supplies the
bearer token per request (a service account's, renewed as it nears expiry); a 401 makes it fetch
a fresh one and the request is sent once more, as client-go's token-refreshing transports do.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import AsyncGenerator, Mapping
from typing import Any, Literal, Protocol

import aiohttp
import orjson

from client.config import ClientConfig
from client.errors import ApiError, ConnectionFailed, error_from_response
from client.resources import ResourceRef, resource_path
from client.retry import RETRIABLE_STATUSES, RetryPolicy, parse_retry_after
from client.watchstream import WatchEvent, watch_events

log = logging.getLogger(__name__)

PatchType = Literal["merge", "strategic", "json", "apply"]
_PATCH_CONTENT_TYPES: dict[str, str] = {
    "merge": "application/merge-patch+json",
    "strategic": "application/strategic-merge-patch+json",
    "json": "application/json-patch+json",
    "apply": "application/apply-patch+yaml",
}
Params = Mapping[str, str]


class TokenSource(Protocol):
    """A bearer token per request (`client.service_account_token.ServiceAccountTokenSource`)."""

    async def token(self) -> str: ...

    def invalidate(self) -> None: ...


class ApiClient:
    """An HTTP(S) client for one API server. Use ``async with`` or call `close`."""

    def __init__(self, config: ClientConfig, *, retry: RetryPolicy | None = None,
                 request_timeout: float = 30.0, token_source: TokenSource | None = None) -> None:
        self.config = config
        self.retry = retry or RetryPolicy()
        self.request_timeout = request_timeout
        self.token_source = token_source
        self._session: aiohttp.ClientSession | None = None

    async def __aenter__(self) -> ApiClient:
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.close()

    async def close(self) -> None:
        if self._session is not None:
            await self._session.close()
            self._session = None

    def _client_session(self) -> aiohttp.ClientSession:
        # Created lazily: an aiohttp session belongs to the loop that first uses it.
        if self._session is None or self._session.closed:
            connector = aiohttp.TCPConnector(ssl=self.config.ssl_context() or False, limit=100)
            self._session = aiohttp.ClientSession(connector=connector,
                                                  headers=self.config.auth_headers())
        return self._session

    # -- resource verbs -------------------------------------------------------------------------

    async def get(self, ref: ResourceRef, name: str, *, tenant: str | None = None,
                  namespace: str | None = None, subresource: str | None = None) -> dict[str, Any]:
        path = resource_path(ref, tenant=tenant, namespace=namespace, name=name, subresource=subresource)
        return await self.request("GET", path)

    async def list(self, ref: ResourceRef, *, tenant: str | None = None, namespace: str | None = None,
                   label_selector: str | None = None, field_selector: str | None = None,
                   resource_version: str | None = None, limit: int | None = None,
                   continue_token: str | None = None) -> dict[str, Any]:
        """One list call (one page when ``limit`` is given; see `list_all`)."""
        params = _selector_params(label_selector, field_selector)
        if resource_version is not None:
            params["resourceVersion"] = resource_version
        if limit:
            params["limit"] = str(limit)
        if continue_token:
            params["continue"] = continue_token
        path = resource_path(ref, tenant=tenant, namespace=namespace)
        return await self.request("GET", path, params=params)

    async def list_all(self, ref: ResourceRef, *, tenant: str | None = None,
                       namespace: str | None = None, label_selector: str | None = None,
                       field_selector: str | None = None, page_size: int = 500) -> dict[str, Any]:
        """Every item, fetched in pages; the result carries the first page's resourceVersion
        (upstream pins all pages of a paginated list to it, so it is the list's snapshot)."""
        first = await self.list(ref, tenant=tenant, namespace=namespace, label_selector=label_selector,
                                field_selector=field_selector, limit=page_size)
        items = list(first.get("items") or [])
        token = (first.get("metadata") or {}).get("continue")
        while token:
            page = await self.list(ref, tenant=tenant, namespace=namespace,
                                   label_selector=label_selector, field_selector=field_selector,
                                   limit=page_size, continue_token=token)
            items.extend(page.get("items") or [])
            token = (page.get("metadata") or {}).get("continue")
        first["items"] = items
        first.setdefault("metadata", {}).pop("continue", None)
        return first

    async def create(self, ref: ResourceRef, body: Mapping[str, Any], *, tenant: str | None = None,
                     namespace: str | None = None) -> dict[str, Any]:
        tenant, namespace = _location(body, tenant, namespace)
        return await self.request("POST", resource_path(ref, tenant=tenant, namespace=namespace), body=body)

    async def update(self, ref: ResourceRef, body: Mapping[str, Any], *, tenant: str | None = None,
                     namespace: str | None = None, subresource: str | None = None) -> dict[str, Any]:
        """PUT ``body``; tenant and namespace default to the ones in its metadata."""
        tenant, namespace = _location(body, tenant, namespace)
        name = str((body.get("metadata") or {}).get("name") or "")
        path = resource_path(ref, tenant=tenant, namespace=namespace, name=name, subresource=subresource)
        return await self.request("PUT", path, body=body)

    async def patch(self, ref: ResourceRef, name: str, patch: Any, *, patch_type: PatchType = "merge",
                    tenant: str | None = None, namespace: str | None = None,
                    subresource: str | None = None, field_manager: str | None = None,
                    force: bool = False) -> dict[str, Any]:
        params: dict[str, str] = {}
        if field_manager:
            params["fieldManager"] = field_manager
        if force:
            params["force"] = "true"
        path = resource_path(ref, tenant=tenant, namespace=namespace, name=name, subresource=subresource)
        return await self.request("PATCH", path, body=patch, params=params,
                                  content_type=_PATCH_CONTENT_TYPES[patch_type])

    async def delete(self, ref: ResourceRef, name: str, *, tenant: str | None = None,
                     namespace: str | None = None, propagation_policy: str | None = None,
                     grace_period_seconds: int | None = None,
                     preconditions: dict[str, str] | None = None) -> dict[str, Any]:
        """DELETE one object; answers the object (being finalized) or a Success Status."""
        options = _delete_options(propagation_policy, grace_period_seconds, preconditions)
        path = resource_path(ref, tenant=tenant, namespace=namespace, name=name)
        return await self.request("DELETE", path, body=options)

    async def delete_collection(self, ref: ResourceRef, *, tenant: str | None = None,
                                namespace: str | None = None, label_selector: str | None = None,
                                field_selector: str | None = None,
                                propagation_policy: str | None = None) -> dict[str, Any]:
        params = _selector_params(label_selector, field_selector)
        options = _delete_options(propagation_policy, None, None)
        path = resource_path(ref, tenant=tenant, namespace=namespace)
        return await self.request("DELETE", path, params=params, body=options)

    async def watch(self, ref: ResourceRef, *, tenant: str | None = None, namespace: str | None = None,
                    resource_version: str | None = None, label_selector: str | None = None,
                    field_selector: str | None = None, allow_bookmarks: bool = True,
                    timeout_seconds: int | None = None) -> AsyncGenerator[WatchEvent, None]:
        """``(type, object)`` events until the server ends the stream; `Gone` on a 410 ERROR event.

        Opening the stream is retried like any request; a stream that breaks later simply ends.
        """
        params = _selector_params(label_selector, field_selector)
        params["watch"] = "true"
        if resource_version is not None:
            params["resourceVersion"] = resource_version
        if allow_bookmarks:
            params["allowWatchBookmarks"] = "true"
        if timeout_seconds is not None:
            params["timeoutSeconds"] = str(timeout_seconds)
        path = resource_path(ref, tenant=tenant, namespace=namespace)
        # No total timeout: a watch lasts as long as the server keeps it open.
        timeout = aiohttp.ClientTimeout(total=None, sock_connect=self.request_timeout)
        response = await self._send("GET", path, params=params, data=None, headers={},
                                    client_timeout=timeout)
        try:
            async for event in watch_events(response.content):
                yield event
        finally:
            response.release()

    # -- raw requests ---------------------------------------------------------------------------

    async def request(self, method: str, path: str, *, params: Params | None = None, body: Any = None,
                      content_type: str = "application/json") -> Any:
        """One API call on ``path`` (below the server URL); answers the decoded JSON body."""
        headers = {"Accept": "application/json"}
        data: bytes | None = None
        if body is not None:
            data = body if isinstance(body, bytes) else orjson.dumps(body)
            headers["Content-Type"] = content_type
        timeout = aiohttp.ClientTimeout(total=self.request_timeout)
        response = await self._send(method, path, params=params, data=data, headers=headers,
                                    client_timeout=timeout)
        async with response:
            raw = await response.read()
        return orjson.loads(raw) if raw else None

    async def _send(self, method: str, path: str, *, params: Params | None, data: bytes | None,
                    headers: dict[str, str], client_timeout: aiohttp.ClientTimeout) -> aiohttp.ClientResponse:
        """Sends with retries; answers a 2xx response (unread) or raises an `ApiError`."""
        url = self.config.server + path
        attempt = 0
        fresh_token = False
        while True:
            attempt += 1
            if self.token_source is not None:
                headers = {**headers, "Authorization": f"Bearer {await self.token_source.token()}"}
            try:
                response = await self._client_session().request(
                    method, url, params=params, data=data, headers=headers, timeout=client_timeout)
            except (aiohttp.ClientConnectionError, TimeoutError) as e:
                if not self.retry.should_retry(attempt):
                    raise ConnectionFailed(f"{method} {path}: {e or type(e).__name__}") from e
                delay = self.retry.delay(attempt)
                log.debug("%s %s failed to connect (%s); retry in %.2fs", method, path, e, delay)
                await asyncio.sleep(delay)
                continue
            if response.status < 400:
                return response
            async with response:
                raw = await response.read()
            if response.status == 401 and self.token_source is not None and not fresh_token:
                self.token_source.invalidate()  # a revoked or stale token: one retry with a new one
                fresh_token = True
                continue
            if response.status in RETRIABLE_STATUSES and self.retry.should_retry(attempt):
                retry_after = parse_retry_after(response.headers.get("Retry-After"))
                delay = self.retry.delay(attempt, retry_after=retry_after)
                log.debug("%s %s answered %s; retry in %.2fs", method, path, response.status, delay)
                await asyncio.sleep(delay)
                continue
            raise _error_for_status(response.status, raw)


def _error_for_status(code: int, raw: bytes) -> ApiError:
    """The single place an HTTP failure becomes an exception of the `client.errors` tree."""
    return error_from_response(code, raw)


def _selector_params(label_selector: str | None, field_selector: str | None) -> dict[str, str]:
    params: dict[str, str] = {}
    if label_selector:
        params["labelSelector"] = label_selector
    if field_selector:
        params["fieldSelector"] = field_selector
    return params


def _delete_options(propagation_policy: str | None, grace_period_seconds: int | None,
                    preconditions: dict[str, str] | None) -> dict[str, Any] | None:
    options: dict[str, Any] = {}
    if propagation_policy:
        options["propagationPolicy"] = propagation_policy
    if grace_period_seconds is not None:
        options["gracePeriodSeconds"] = grace_period_seconds
    if preconditions:
        options["preconditions"] = preconditions
    if not options:
        return None
    return {"kind": "DeleteOptions", "apiVersion": "v1", **options}


def _location(body: Mapping[str, Any], tenant: str | None,
              namespace: str | None) -> tuple[str | None, str | None]:
    """Tenant and namespace for a write: explicit arguments win, else the body's metadata."""
    metadata = body.get("metadata") or {}
    return (tenant or metadata.get("tenant") or None, namespace or metadata.get("namespace") or None)
