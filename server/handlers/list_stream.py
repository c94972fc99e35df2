"""LIST responses that do not copy the world per request.

A JSON list is written from the watch cache's stored bytes of each object (encoded once per
revision, shared by every request), in chunks of `CHUNK_BYTES`, waiting for the client to take each
one (aiohttp drains the transport past 64 KiB): a 2 MB namespace listed 500 times at once holds
500 x a chunk, not 500 x 2 MB plus their TLS copies. The exact Content-Length is known up front,
so the body is sent plain, as upstream does for a list it encodes in one piece. The writer yields
to the event loop after each chunk, so a big list takes its turns among other requests (and holds
its flow-control seats for as long as it really runs) instead of the loop for its whole body.

Forms that have to be built whole (Table for ``kubectl get``, PartialObjectMetadataList, YAML) are
built and written inside a reservation of the shared LIST memory budget (server.flowcontrol.budget)
sized from the objects' bytes; a streamed list reserves its chunks. Either way the reservation is
held until the body is out, so the budget bounds what LISTs hold, whatever their concurrency.

If the request times out after the body started, the connection is closed (upstream's timeout
filter aborts such a response: a client must not take a truncated list for a whole one).
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable, Iterable, Iterator, Sequence

from aiohttp import web

from server.flowcontrol.budget import ByteBudget
from server.handlers import codec
from server.watchcache import CachedObject

# Small enough that what a TLS connection keeps after a list stays small: the encrypting side
# keeps buffers as big as the largest write it was given (measured with 250 streaming TLS clients:
# 190 KB per connection with 128 KiB chunks, 88 KB with 32 KiB).
CHUNK_BYTES = 32 * 1024
# What building a whole body holds per byte of the objects it shows: the Python objects of a Table
# or of metadata rows and their encoding; YAML decodes every object and dumps it again.
_BUILT_FACTOR = 2
_YAML_FACTOR = 8


def items_bytes(items: Sequence[CachedObject]) -> int:
    return sum(len(o.raw) for o in items)


async def stream_list(request: web.BaseRequest, head: bytes, items: Sequence[CachedObject], *,
                      budget: ByteBudget, media: codec.MediaType) -> web.StreamResponse:
    """The List ``head`` (its JSON without ``items``) with ``items`` as a JSON array."""
    prefix = head[:-1] + b',"items":['
    length = len(prefix) + items_bytes(items) + max(len(items) - 1, 0) + 2
    if media.yaml:
        return await respond_built(request, budget=budget, size=length * _YAML_FACTOR, build=lambda: (
            codec.respond_raw(b"".join((prefix, b",".join(o.raw for o in items), b"]}")), media)))
    if length <= CHUNK_BYTES or request.method == "HEAD":
        return web.Response(body=b"".join((prefix, b",".join(o.raw for o in items), b"]}")),
                            content_type=codec.JSON)
    response = web.StreamResponse(headers={"Content-Type": codec.JSON})
    response.content_length = length
    async with budget.reserve(2 * CHUNK_BYTES):
        await response.prepare(request)
        await _send(request, response, _chunks(prefix, items))
    return response


async def respond_built(request: web.BaseRequest, *, budget: ByteBudget, size: int,
                        build: Callable[[], web.Response]) -> web.Response:
    """Build a whole body within a budget reservation of ``size`` bytes and write it out (a small
    one is returned unwritten, as any other response)."""
    if size <= CHUNK_BYTES:
        return build()
    async with budget.reserve(size):
        response = build()
        await response.prepare(request)
        await _send(request, response, ())
    return response


def built_size(items: Sequence[CachedObject]) -> int:
    """The reservation for a Table or metadata list of ``items``."""
    return items_bytes(items) * _BUILT_FACTOR


async def _send(request: web.BaseRequest, response: web.StreamResponse, chunks: Iterable[bytes]) -> None:
    try:
        for chunk in chunks:
            await response.write(chunk)
            # Yield after every chunk, even when the socket took it all: one event loop serves
            # every client, and a 2 MB list sent in one go held it for the whole list (hundreds
            # of them in a row under a flood), so nobody else's request was even read meanwhile.
            await asyncio.sleep(0)
        await response.write_eof()
    except ConnectionResetError:
        pass  # the client went away: nothing is left to answer
    except asyncio.CancelledError:
        if request.transport is not None:
            request.transport.close()  # timed out mid-body: cut the response off
        raise


def _chunks(prefix: bytes, items: Sequence[CachedObject]) -> Iterator[bytes]:
    """The list body in pieces of about ``CHUNK_BYTES``, joined lazily: only the piece being sent
    exists at any time."""
    parts, size = [prefix], len(prefix)
    for index, item in enumerate(items):
        if index:
            parts.append(b",")
        parts.append(item.raw)
        size += len(item.raw) + 1
        if size >= CHUNK_BYTES:
            yield b"".join(parts)
            parts, size = [], 0
    parts.append(b"]}")
    yield b"".join(parts)
