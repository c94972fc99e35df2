"""Sending one request on to one partition, and its answer back, streamed.

Identity forwarding follows the contract (and upstream's front proxy, the aggregator's
``proxy-client`` + request-header authentication): a caller the gateway verified by client
certificate goes on the partition's front-proxy pool with ``X-Remote-User``, one
``X-Remote-Group`` per group and Arktos's ``X-Remote-Tenant``, its ``Authorization`` dropped (its
certificate already authenticated it, and upstream's authenticators try certificates before tokens);
a token or anonymous caller goes on the plain pool as it came. Any ``X-Remote-*`` header a client
sends is dropped first, always: otherwise a tenant could claim to be the admin. Hop-by-hop headers
(RFC 9110 §7.6.1) are not forwarded. Answers are relayed chunk by chunk as they arrive, so watches
and ``logs -f`` stream; a partition that cannot be reached becomes a 503 Status.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Coroutine, Mapping
from typing import Any

import aiohttp
from aiohttp import web
from multidict import CIMultiDict
from yarl import URL

from gateway.callers import Caller
from gateway.partitions import Partition
from gateway.status import BadRequest, PartitionUnavailable, RequestTooLarge

log = logging.getLogger(__name__)

REMOTE_HEADER_PREFIX = "x-remote-"
_HOP_BY_HOP = frozenset({"connection", "keep-alive", "proxy-connection", "te", "trailer", "transfer-encoding",
                         "upgrade", "proxy-authorization", "host", "content-length"})
_DROPPED_ANSWER_HEADERS = frozenset({"connection", "keep-alive", "transfer-encoding", "content-length",
                                     "date", "server"})
_STREAM_ENDINGS = (ConnectionResetError, aiohttp.ClientPayloadError, aiohttp.ClientConnectionError)
_IDEMPOTENT = frozenset({"GET", "HEAD", "OPTIONS", "PUT", "DELETE"})
# Answers up to this size (with a Content-Length) are read whole and sent in one write.
_SMALL_ANSWER = 1 << 16
# How often a quiet stream (a watch or a followed log with nothing new) checks its client is there.
_CLIENT_CHECK_S = 2.0


def forwarded_headers(headers: Mapping[str, str], caller: Caller, *,
                      keep: frozenset[str] = frozenset()) -> CIMultiDict[str]:
    """The request headers a partition gets; ``keep`` names hop-by-hop headers to keep (upgrades)."""
    out: CIMultiDict[str] = CIMultiDict()
    for name, value in headers.items():
        lowered = name.lower()
        if lowered.startswith(REMOTE_HEADER_PREFIX) or (lowered in _HOP_BY_HOP and lowered not in keep):
            continue
        if lowered == "authorization" and caller.kind == "certificate":
            continue
        out.add(name, value)
    if caller.kind == "certificate" and caller.subject is not None:
        out.add("X-Remote-User", caller.subject.user)
        for group in caller.subject.groups:
            out.add("X-Remote-Group", group)
        out.add("X-Remote-Tenant", caller.subject.tenant)
    return out


async def read_body(request: web.BaseRequest, *, limit: int) -> bytes:
    """The whole request body, refused past ``limit`` bytes as the API server refuses it (upstream's
    limitedReadBody: 413, "Request entity too large: limit is N")."""
    if not request.body_exists:
        return b""
    if request.content_length is not None and request.content_length > limit:
        raise RequestTooLarge(f"Request entity too large: limit is {limit}")
    data = bytearray()
    while chunk := await request.content.read(1 << 16):
        data += chunk
        if len(data) > limit:
            raise RequestTooLarge(f"Request entity too large: limit is {limit}")
    return bytes(data)


async def send(partition: Partition, caller: Caller, *, method: str, path_qs: str,
               headers: CIMultiDict[str], body: bytes) -> aiohttp.ClientResponse:
    """Open the exchange with ``partition``; retry once on a kept-alive connection the partition had
    closed meanwhile (only for idempotent methods: a POST might have been applied)."""
    session = partition.session(as_proxy=caller.kind == "certificate")
    url = URL(partition.url + path_qs, encoded=True)
    for attempt in (1, 2):
        try:
            return await session.request(method, url, headers=headers, data=body or None,
                                         allow_redirects=False, compress=False)
        except aiohttp.ServerDisconnectedError as e:
            if attempt == 2 or method not in _IDEMPOTENT:
                raise unavailable(partition, e) from e
        except (aiohttp.ClientError, OSError, TimeoutError) as e:
            raise unavailable(partition, e) from e
    raise AssertionError("unreachable")


def unavailable(partition: Partition, error: BaseException) -> PartitionUnavailable:
    log.warning("partition %s unreachable: %s", partition.name, error)
    return PartitionUnavailable(f"partition {partition.name} ({partition.url}) is unavailable: "
                                f"{error or type(error).__name__}")


def answer_headers(answer: aiohttp.ClientResponse) -> CIMultiDict[str]:
    out: CIMultiDict[str] = CIMultiDict()
    for name, value in answer.headers.items():
        if name.lower() not in _DROPPED_ANSWER_HEADERS:
            out.add(name, value)
    return out


async def client_gone(request: web.BaseRequest) -> None:
    """Returns once the client's connection is closed (aiohttp does not cancel handlers for that)."""
    while True:
        transport = request.transport
        if transport is None or transport.is_closing():
            return
        await asyncio.sleep(_CLIENT_CHECK_S)


async def _stream(request: web.BaseRequest, response: web.StreamResponse,
                  answer: aiohttp.ClientResponse) -> None:
    """Copy the answer's body as it arrives until it ends or the client leaves."""

    async def copy() -> None:
        async for chunk in answer.content.iter_any():
            await response.write(chunk)
        await response.write_eof()

    await until_first_ends(request, {"gateway-relay": copy()})


async def until_first_ends(request: web.BaseRequest, streams: dict[str, Coroutine[Any, Any, None]]) -> None:
    """Run ``streams`` (by task name) until one ends or the client leaves; then cancel the others.
    A closed connection on either side is a stream's ordinary end; anything else is logged."""
    tasks = [asyncio.create_task(stream, name=name) for name, stream in streams.items()]
    tasks.append(asyncio.create_task(client_gone(request), name="gateway-client-watch"))
    try:
        done, _ = await asyncio.wait(tasks, return_when=asyncio.FIRST_COMPLETED)
        for task in done:
            error = task.exception()
            if error is not None and not isinstance(error, _STREAM_ENDINGS):
                log.warning("stream %s failed: %r", task.get_name(), error)
    finally:
        for task in tasks:
            task.cancel()
        # The tasks' own outcomes (CancelledError included) are collected here; a cancellation of
        # this coroutine itself still propagates out of the gather.
        await asyncio.gather(*tasks, return_exceptions=True)


async def relay(request: web.BaseRequest, answer: aiohttp.ClientResponse) -> web.StreamResponse:
    """The partition's answer, small ones in one piece, others (watch, logs -f, big lists) streamed."""
    try:
        length = answer.content_length
        if length is not None and length <= _SMALL_ANSWER:
            body = await answer.read()
            return web.Response(status=answer.status, reason=answer.reason, headers=answer_headers(answer),
                                body=body)
        response = web.StreamResponse(status=answer.status, reason=answer.reason,
                                      headers=answer_headers(answer))
        if length is not None:
            response.content_length = length
        await response.prepare(request)
        await _stream(request, response, answer)
        return response
    finally:
        answer.release()


async def forward(request: web.BaseRequest, partition: Partition, caller: Caller, *,
                  body: bytes, path_qs: str | None = None) -> web.StreamResponse:
    """Forward ``request`` (its body already read) to ``partition`` and relay the answer."""
    if request.method == "CONNECT":
        raise BadRequest("CONNECT is not supported")
    answer = await send(partition, caller, method=request.method, path_qs=path_qs or request.raw_path,
                        headers=forwarded_headers(request.headers, caller), body=body)
    return await relay(request, answer)
