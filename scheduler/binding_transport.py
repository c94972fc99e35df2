"""A lean keep-alive HTTP/1.1 POST path for bindings: the scheduler's highest-rate request.

Measured on the 2-core development machine, one POST through aiohttp's client costs 400-500 µs
of CPU — more than a whole scheduling cycle — so at 1,000+ bindings per second the general
`client.rest.ApiClient` would make the scheduler's core, not the API server, the limit. Bindings
are the simplest request there is (small JSON body, small ``Status`` answer, no streaming), so
this module sends them over a small pool of persistent connections (plain or TLS, with the same
kubeconfig credentials) with hand-built request bytes and a minimal response reader.
`LeanCreateClient` routes `ApiClient.create` (the Events the scheduler records, one per pod)
the same way; everything else (informers, patches) stays on aiohttp.
Failures are mapped by `client.errors` exactly as `ApiClient` maps them; connection problems
become `ConnectionFailed` after one retry on a fresh connection (a kept-alive connection may have
been closed by the server between requests).
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import Mapping
from typing import Any
from urllib.parse import urlsplit

import orjson

from client.config import ClientConfig
from client.errors import ConnectionFailed, error_from_response
from client.resources import ResourceRef, resource_path
from client.rest import ApiClient

_Connection = tuple[asyncio.StreamReader, asyncio.StreamWriter]


class BindingTransport:
    """POSTs JSON bodies over up to ``connections`` kept-alive connections."""

    def __init__(self, config: ClientConfig, *, connections: int = 32, timeout_s: float = 30.0) -> None:
        url = urlsplit(config.server)
        self._host = url.hostname or "127.0.0.1"
        self._port = url.port or (443 if url.scheme == "https" else 80)
        self._prefix = url.path.rstrip("/")
        self._ssl = config.ssl_context()
        host_header = url.netloc.rsplit("@", 1)[-1]
        headers = {"Host": host_header, "Accept": "application/json", "Content-Type": "application/json",
                   **config.auth_headers()}
        self._header_block = "".join(f"{k}: {v}\r\n" for k, v in headers.items()).encode("latin-1")
        self._timeout_s = timeout_s
        self._idle: list[_Connection] = []
        self._slots = asyncio.Semaphore(connections)

    async def post(self, path: str, body: Mapping[str, Any]) -> Any:
        """POST ``body`` to ``path``; answers the decoded JSON answer or raises an `ApiError`."""
        payload = orjson.dumps(body)
        request = b"".join((b"POST ", (self._prefix + path).encode(), b" HTTP/1.1\r\n", self._header_block,
                            b"Content-Length: ", str(len(payload)).encode(), b"\r\n\r\n", payload))
        async with self._slots:
            for attempt in (1, 2):
                reused = bool(self._idle)
                connection = self._idle.pop() if reused else await self._connect()
                # asyncio.timeout, not wait_for: Python 3.11's wait_for can swallow a cancellation
                # that arrives as the exchange completes, and a cancelled bind must stop.
                try:
                    async with asyncio.timeout(self._timeout_s):
                        status, raw, keep = await self._exchange(connection, request)
                except (OSError, asyncio.IncompleteReadError, TimeoutError, ValueError) as e:
                    _close(connection)
                    if attempt == 1 and reused:
                        continue  # a kept-alive connection the server had closed: one fresh try
                    raise ConnectionFailed(f"POST {path}: {e or type(e).__name__}") from e
                except asyncio.CancelledError:
                    _close(connection)  # half an exchange: the connection cannot be reused
                    raise
                if keep:
                    self._idle.append(connection)
                else:
                    _close(connection)
                if status >= 400:
                    raise error_from_response(status, raw)
                return orjson.loads(raw) if raw else None
        raise AssertionError("unreachable")

    async def _connect(self) -> _Connection:
        try:
            async with asyncio.timeout(self._timeout_s):
                return await asyncio.open_connection(
                    self._host, self._port, ssl=self._ssl, server_hostname=self._host if self._ssl else None)
        except (OSError, TimeoutError) as e:
            raise ConnectionFailed(f"connect {self._host}:{self._port}: {e or type(e).__name__}") from e

    @staticmethod
    async def _exchange(connection: _Connection, request: bytes) -> tuple[int, bytes, bool]:
        reader, writer = connection
        writer.write(request)
        head = await reader.readuntil(b"\r\n\r\n")
        lines = head.decode("latin-1").split("\r\n")
        status = int(lines[0].split(" ", 2)[1])
        length = -1
        chunked = False
        keep = True
        for line in lines[1:]:
            name, _, value = line.partition(":")
            name = name.strip().lower()
            if name == "content-length":
                length = int(value)
            elif name == "transfer-encoding" and "chunked" in value.lower():
                chunked = True
            elif name == "connection" and value.strip().lower() == "close":
                keep = False
        if chunked:
            return status, await _read_chunked(reader), keep
        if length < 0:
            return status, await reader.read(), False
        return status, await reader.readexactly(length), keep

    async def close(self) -> None:
        while self._idle:
            _close(self._idle.pop())


async def _read_chunked(reader: asyncio.StreamReader) -> bytes:
    parts: list[bytes] = []
    while True:
        size = int((await reader.readuntil(b"\r\n")).split(b";", 1)[0], 16)
        if size == 0:
            await reader.readuntil(b"\r\n")
            return b"".join(parts)
        parts.append(await reader.readexactly(size))
        await reader.readexactly(2)


def _close(connection: _Connection) -> None:
    with contextlib.suppress(Exception):
        connection[1].close()



class LeanCreateClient(ApiClient):
    """An `ApiClient` whose `create` POSTs through a `BindingTransport` (for Events)."""

    def __init__(self, config: ClientConfig, transport: BindingTransport) -> None:
        super().__init__(config)
        self._transport = transport

    async def create(self, ref: ResourceRef, body: Mapping[str, Any], *, tenant: str | None = None,
                     namespace: str | None = None) -> dict[str, Any]:
        metadata = body.get("metadata") or {}
        path = resource_path(ref, tenant=tenant or metadata.get("tenant") or None,
                             namespace=namespace or metadata.get("namespace") or None)
        answer = await self._transport.post(path, body)
        return answer if isinstance(answer, dict) else {}
