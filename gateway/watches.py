"""Watches over several partitions: the partitions' event streams merged into one.

A watch of the tenants, of the nodes of every RP, or of the system admin's cross-tenant
collections opens one watch per partition, each from its own revision, and interleaves their events
as they come (no order holds across partitions, as none holds across resources upstream). The
resourceVersion a client resumes from must be composite (``gateway.versions``): the merged list's,
or a BOOKMARK's — the gateway rewrites every bookmark's resourceVersion to the composite of the
last revision seen on each partition; with ``sendInitialEvents`` only the last partition's
end-of-initial-events bookmark goes out. Ordinary events carry the object as its partition stored it
(its own resourceVersion, which updates through the gateway need); a watch started from such a
single-partition version cannot be resumed on the others and is answered 410 Expired, upon which
clients list again (client-go's reflector does). When any partition's stream ends (its
timeoutSeconds) or fails, the merged stream ends and the client watches again; when the client goes
away, the partitions' streams are closed at once (a quiet watch would otherwise hold them open).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Sequence
from typing import Any
from urllib.parse import urlencode

import aiohttp
import orjson
from aiohttp import web
from multidict import CIMultiDict

from gateway.callers import Caller
from gateway.forwarding import forwarded_headers, send, until_first_ends
from gateway.merging import SystemCopies, is_system_copy, json_accept
from gateway.partitions import Partition
from gateway.status import Expired
from gateway.versions import compose, decompose

log = logging.getLogger(__name__)

# The annotation of the bookmark that ends a watch's initial events (upstream's
# metav1.InitialEventsAnnotationKey, for sendInitialEvents=true).
INITIAL_EVENTS_END = "k8s.io/initial-events-end"


def start_versions(version: str, count: int) -> list[str]:
    """Each partition's start revision; 410 for a version only one partition could have issued."""
    composite = decompose(version, count)
    if composite is not None:
        return composite
    if version in ("", "0"):
        return [version] * count
    raise Expired(f"too old resource version: {version} (a watch across partitions resumes only "
                  "from the resourceVersion of a list or bookmark it answered)")


class _Merge:
    """Forwards events of several partition streams into one response."""

    def __init__(self, response: web.StreamResponse, versions: list[str], *,
                 system_copies: SystemCopies) -> None:
        self.response = response
        self.versions = versions
        self.system_copies = system_copies
        self.lock = asyncio.Lock()
        self.initial_ended: set[int] = set()

    def rewrite(self, index: int, line: bytes) -> bytes | None:
        event: dict[str, Any] = orjson.loads(line)
        obj = event.get("object") or {}
        metadata = obj.get("metadata") or {}
        version = metadata.get("resourceVersion")
        if version:
            self.versions[index] = str(version)
        if event.get("type") == "BOOKMARK":
            if (metadata.get("annotations") or {}).get(INITIAL_EVENTS_END) == "true":
                # sendInitialEvents: the client may act once every partition's initial events are in,
                # so one end-of-initial-events bookmark goes out, after the last partition's.
                self.initial_ended.add(index)
                if len(self.initial_ended) < len(self.versions):
                    return None
            metadata["resourceVersion"] = compose(self.versions)
            obj["metadata"] = metadata
            return orjson.dumps(event) + b"\n"
        if index > 0 and is_system_copy(obj, self.system_copies):
            return None
        return line + b"\n"

    async def pump(self, index: int, answer: aiohttp.ClientResponse) -> None:
        """Forward one partition's events. Lines are split here, not with ``readline``: an event
        carries a whole object (up to the 1.5 MiB upstream allows), past aiohttp's line limit."""
        pending = b""
        async for chunk in answer.content.iter_any():
            pending += chunk
            *lines, pending = pending.split(b"\n")
            for line in lines:
                if line.strip():
                    await self._write(self.rewrite(index, line))

    async def _write(self, out: bytes | None) -> None:
        if out is not None:
            async with self.lock:
                await self.response.write(out)


async def merged_watch(request: web.BaseRequest, partitions: Sequence[Partition], caller: Caller, *,
                       system_copies: SystemCopies) -> web.StreamResponse:
    versions = start_versions(request.query.get("resourceVersion", ""), len(partitions))
    headers = forwarded_headers(request.headers, caller)
    headers["Accept"] = json_accept(request.headers.get("Accept", ""))
    headers.popall("Accept-Encoding", None)
    answers = await _open_all(request, partitions, caller, headers, versions)
    try:
        failed = next((a for a in answers if a.status != 200), None)
        if failed is not None:
            return web.Response(status=failed.status, body=await failed.read(),
                                content_type=failed.content_type or "application/json")
        response = web.StreamResponse(status=200, headers={
            "Content-Type": answers[0].headers.get("Content-Type", "application/json")})
        await response.prepare(request)
        merge = _Merge(response, versions, system_copies=system_copies)
        await until_first_ends(request, {f"gateway-watch-{partitions[i].name}": merge.pump(i, answer)
                                         for i, answer in enumerate(answers)})
        with contextlib.suppress(ConnectionResetError):
            await response.write_eof()
        return response
    finally:
        for answer in answers:
            answer.close()


async def _open_all(request: web.BaseRequest, partitions: Sequence[Partition], caller: Caller,
                    headers: CIMultiDict[str], versions: list[str]) -> list[aiohttp.ClientResponse]:
    opened: list[aiohttp.ClientResponse] = []
    try:
        for index, partition in enumerate(partitions):
            params = [(k, v) for k, v in request.query.items() if k not in ("resourceVersion", "watch")]
            params.append(("watch", "true"))
            if versions[index]:
                params.append(("resourceVersion", versions[index]))
            path_qs = f"{request.path}?{urlencode(params)}"
            opened.append(await send(partition, caller, method="GET", path_qs=path_qs, headers=headers,
                                     body=b""))
    except BaseException:
        for answer in opened:
            answer.close()
        raise
    return opened
