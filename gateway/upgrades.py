"""exec, attach and port-forward through the gateway: upgrades spliced byte for byte after the 101.

kubectl asks for ``Connection: Upgrade`` with ``Upgrade: websocket`` (subprotocols
``v5.channel.k8s.io``, ``SPDY/3.1+portforward.k8s.io``) or ``Upgrade: SPDY/3.1``. The gateway
does not speak either: like upstream's UpgradeAwareHandler it sends the request head to the
partition on a connection of its own (an HTTP client library would hide the raw stream after a
SPDY 101), relays the partition's 101 with its headers, takes over the client's connection
(``httpstream.upgrade_takeover``) and copies bytes both ways until one side closes. Any other
answer (403, 404, a kubelet error as Status) is relayed as an ordinary response.
"""

from __future__ import annotations

import asyncio
import logging

from aiohttp import web
from multidict import CIMultiDict

from gateway.callers import Caller
from gateway.forwarding import forwarded_headers, unavailable
from gateway.partitions import Partition
from httpstream.upgrade_takeover import accept_upgrade, splice

log = logging.getLogger(__name__)

_CONNECT_TIMEOUT_S = 10.0
_HEAD_LIMIT = 1 << 16
_ERROR_BODY_LIMIT = 1 << 20
_UPGRADE_HEADERS = frozenset({"connection", "upgrade"})
_NOT_RELAYED = frozenset({"content-length", "transfer-encoding", "keep-alive", "date", "server"})


class _Answer:
    """The partition's status line and headers, with the streams the rest comes on."""

    def __init__(self, head: bytes, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        status_line, *lines = head.decode("latin-1").rstrip("\r\n").split("\r\n")
        _, _, rest = status_line.partition(" ")
        code, _, self.reason = rest.partition(" ")
        if not code.isdigit():
            raise ValueError(f"not an HTTP answer: {status_line[:80]!r}")
        self.status = int(code)
        self.headers: CIMultiDict[str] = CIMultiDict()
        for line in lines:
            name, sep, value = line.partition(":")
            if sep:
                self.headers.add(name.strip(), value.strip())
        self.reader = reader
        self.writer = writer

    def relayed_headers(self) -> dict[str, str]:
        out: dict[str, str] = {}
        for name, value in self.headers.items():
            if name.lower() not in _NOT_RELAYED:
                out[name] = f"{out[name]}, {value}" if name in out else value
        return out

    async def small_body(self) -> bytes:
        """A non-upgrade answer's body (Status errors): by Content-Length, chunked, or until close."""
        length = self.headers.get("Content-Length", "")
        if length.isdigit():
            return await self.reader.readexactly(min(int(length), _ERROR_BODY_LIMIT))
        if "chunked" not in self.headers.get("Transfer-Encoding", "").lower():
            return await self.reader.read(_ERROR_BODY_LIMIT)
        body = bytearray()
        while len(body) < _ERROR_BODY_LIMIT:
            size = int((await self.reader.readline()).split(b";")[0].strip() or b"0", 16)
            if size == 0:
                break
            body += await self.reader.readexactly(size + 2)
            del body[-2:]
        return bytes(body)


def _request_head(request: web.BaseRequest, partition: Partition, caller: Caller) -> bytes:
    host, port = partition.host_port
    lines = [f"{request.method} {request.raw_path} HTTP/1.1", f"Host: {host}:{port}"]
    headers = forwarded_headers(request.headers, caller, keep=_UPGRADE_HEADERS)
    lines += [f"{name}: {value}" for name, value in headers.items()]
    return ("\r\n".join(lines) + "\r\n\r\n").encode("latin-1")


async def _open(request: web.BaseRequest, partition: Partition, caller: Caller) -> _Answer:
    host, port = partition.host_port
    context = partition.proxy_context if caller.kind == "certificate" else partition.plain_context
    try:
        async with asyncio.timeout(_CONNECT_TIMEOUT_S):
            reader, writer = await asyncio.open_connection(
                host, port, ssl=context, server_hostname=host if context is not None else None,
                limit=_HEAD_LIMIT)
            writer.write(_request_head(request, partition, caller))
            await writer.drain()
            return _Answer(await reader.readuntil(b"\r\n\r\n"), reader, writer)
    except (OSError, TimeoutError, ValueError, asyncio.IncompleteReadError, asyncio.LimitOverrunError) as e:
        raise unavailable(partition, e) from e


async def forward_upgrade(request: web.BaseRequest, partition: Partition,
                          caller: Caller) -> web.StreamResponse:
    """Forward an upgrade request; after the partition's 101, relay bytes until either side closes."""
    answer = await _open(request, partition, caller)
    try:
        if answer.status != 101:
            body = await answer.small_body()
            return web.Response(status=answer.status, reason=answer.reason or None,
                                headers={k: v for k, v in answer.relayed_headers().items()
                                         if k.lower() not in _UPGRADE_HEADERS}, body=body)
        client = await accept_upgrade(request, protocol_headers=answer.relayed_headers(), upgrade=None)
        await splice(client, answer.reader, answer.writer, name="gateway-splice")
        return client.response
    finally:
        answer.writer.close()

