"""HTTP helpers of the component suite: a thin raw-HTTP client and upstream Status assertions.

Kept out of conftest.py so test modules can import them by a unique module name (several test
directories have a conftest.py, and pytest keeps only one module called ``conftest``). Also holds
small object builders shared by several test files.
"""

from __future__ import annotations

import asyncio
import contextlib
import http.client
import json
import ssl
from collections.abc import AsyncIterator, Sequence
from dataclasses import dataclass
from typing import Any

import aiohttp
import orjson

REQUEST_TIMEOUT_S = 20.0


def https_call(port: int, context: ssl.SSLContext, method: str, path: str, *, body: Any = None,
               headers: Sequence[tuple[str, str]] = ()) -> tuple[int, bytes]:
    """One HTTPS request to 127.0.0.1:``port`` whose headers may repeat (aiohttp merges them);
    (status, raw body)."""
    connection = http.client.HTTPSConnection("127.0.0.1", port, timeout=REQUEST_TIMEOUT_S, context=context)
    try:
        payload = json.dumps(body).encode() if body is not None else b""
        connection.putrequest(method, path)
        for name, value in [*headers, ("Content-Type", "application/json"),
                            ("Content-Length", str(len(payload)))]:
            connection.putheader(name, value)
        connection.endheaders(payload)
        response = connection.getresponse()
        return response.status, response.read()
    finally:
        connection.close()



@dataclass
class Reply:
    """One HTTP answer: status, headers, raw body and (when JSON) the decoded body."""

    status: int
    headers: Any
    raw: bytes

    @property
    def body(self) -> Any:
        return orjson.loads(self.raw) if self.raw else None


class Api:
    """Raw HTTP against one server: JSON bodies by default, any content type on request."""

    def __init__(self, session: aiohttp.ClientSession, base_url: str) -> None:
        self.session = session
        self.base_url = base_url

    async def request(self, method: str, path: str, body: Any = None, *,
                      content_type: str = "application/json", headers: dict[str, str] | None = None,
                      params: dict[str, str] | list[tuple[str, str]] | None = None,
                      raw: bytes | None = None) -> Reply:
        sent_headers = dict(headers or {})
        data = raw
        if body is not None:
            data = body if isinstance(body, bytes) else orjson.dumps(body)
        if data is not None:
            sent_headers.setdefault("Content-Type", content_type)
        async with self.session.request(method, self.base_url + path, data=data, headers=sent_headers,
                                        params=params) as response:
            return Reply(response.status, response.headers, await response.read())

    async def get(self, path: str, **kwargs: Any) -> Reply:
        return await self.request("GET", path, **kwargs)

    async def post(self, path: str, body: Any = None, **kwargs: Any) -> Reply:
        return await self.request("POST", path, body, **kwargs)

    async def put(self, path: str, body: Any = None, **kwargs: Any) -> Reply:
        return await self.request("PUT", path, body, **kwargs)

    async def patch(self, path: str, body: Any, *, kind: str = "merge", **kwargs: Any) -> Reply:
        content_type = {"merge": "application/merge-patch+json", "json": "application/json-patch+json",
                        "strategic": "application/strategic-merge-patch+json"}[kind]
        return await self.request("PATCH", path, body, content_type=content_type, **kwargs)

    async def delete(self, path: str, body: Any = None, **kwargs: Any) -> Reply:
        return await self.request("DELETE", path, body, **kwargs)

    async def ok(self, method: str, path: str, body: Any = None, **kwargs: Any) -> Any:
        """The decoded body of a request that must succeed (2xx), else an assertion with the body."""
        reply = await self.request(method, path, body, **kwargs)
        assert 200 <= reply.status < 300, f"{method} {path} -> {reply.status}: {reply.raw[:2000]!r}"
        return reply.body


def assert_status(reply: Reply, code: int, reason: str) -> dict[str, Any]:
    """The reply is a Kubernetes failure Status with this code and reason; returns it."""
    assert reply.status == code, f"expected {code}, got {reply.status}: {reply.raw[:2000]!r}"
    status = reply.body
    assert status["kind"] == "Status" and status["apiVersion"] == "v1", status
    assert status["status"] == "Failure", status
    assert status["code"] == code and status["reason"] == reason, status
    return dict(status)


def configmap(name: str, data: dict[str, str] | None = None, **metadata: Any) -> dict[str, Any]:
    return {"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": name, **metadata},
            "data": data or {"k": "v"}}


def pod(name: str, *, labels: dict[str, str] | None = None, node: str = "") -> dict[str, Any]:
    spec: dict[str, Any] = {"containers": [{"name": "c", "image": "busybox:1.36"}]}
    if node:
        spec["nodeName"] = node
    return {"apiVersion": "v1", "kind": "Pod",
            "metadata": {"name": name, "labels": labels or {}}, "spec": spec}


def deployment(name: str, *, replicas: int = 1, containers: list[dict[str, Any]] | None = None
               ) -> dict[str, Any]:
    labels = {"app": name}
    return {
        "apiVersion": "apps/v1", "kind": "Deployment", "metadata": {"name": name, "labels": labels},
        "spec": {"replicas": replicas, "selector": {"matchLabels": labels},
                 "template": {"metadata": {"labels": labels},
                              "spec": {"containers": containers or [
                                  {"name": "web", "image": "nginx:1.27"}]}}},
    }


class WatchStream:
    """One open watch: newline-delimited JSON events read with a per-event timeout."""

    def __init__(self, response: aiohttp.ClientResponse) -> None:
        self.response = response

    async def next(self, within: float = 10.0) -> dict[str, Any] | None:
        """The next event, or None when the server ended the stream."""
        line = await asyncio.wait_for(self.response.content.readline(), within)
        if not line:
            return None
        event: dict[str, Any] = orjson.loads(line)
        return event

    async def events(self, count: int, within: float = 10.0) -> list[dict[str, Any]]:
        """Exactly ``count`` events (skipping BOOKMARKs); fails on timeout or end of stream."""
        found: list[dict[str, Any]] = []
        while len(found) < count:
            event = await self.next(within)
            assert event is not None, f"stream ended after {found}"
            if event["type"] != "BOOKMARK":
                found.append(event)
        return found


@contextlib.asynccontextmanager
async def watching(api: Api, path: str, params: dict[str, str] | None = None, *,
                   legacy: bool = False, headers: dict[str, str] | None = None) -> AsyncIterator[WatchStream]:
    """Open a watch on ``path`` (a list path); ``legacy`` uses the ``/watch/`` path form."""
    query = dict(params or {})
    if legacy:
        prefix, _, rest = path.partition("/v1/")
        url = f"{prefix}/v1/watch/{rest}"
    else:
        url, query["watch"] = path, "true"
    timeout = aiohttp.ClientTimeout(total=None, sock_read=None)
    async with api.session.get(api.base_url + url, params=query, timeout=timeout,
                               headers=headers) as response:
        assert response.status == 200, await response.read()
        yield WatchStream(response)


def event_summary(events: list[dict[str, Any]]) -> list[tuple[str, str]]:
    return [(e["type"], e["object"]["metadata"].get("name", "")) for e in events]
