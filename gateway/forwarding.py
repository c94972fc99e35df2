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

import logging
from collections.abc import Mapping

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
_IDEMPOTENT = frozenset({"GET", "HEAD", "OPTIONS", "PUT", "DELETE"})
# Answers up to this size (with a Content-Length) are read whole and sent in one write.
_SMALL_ANSWER = 1 << 16


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
    """The whole request body, refused past ``limit`` bytes (the API server's own limit)."""
    if not request.body_exists:
        return b""
    if request.content_length is not None and request.content_length > limit:
        raise RequestTooLarge(f"the request body is larger than the limit of {limit} bytes")
    data = bytearray()
    while chunk := await request.content.read(1 << 16):
        data += chunk
        if len(data) > limit:
            raise RequestTooLarge(f"the request body is larger than the limit of {limit} bytes")
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
        try:
            async for chunk in answer.content.iter_any():
                await response.write(chunk)
        except (ConnectionResetError, aiohttp.ClientPayloadError, aiohttp.ClientConnectionError) as e:
            log.debug("relay ended early: %s", e)  # either side went away mid-stream
            return response
        await response.write_eof()
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
