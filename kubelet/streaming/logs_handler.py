"""``GET /containerLogs/{tenant}/{namespace}/{pod}/{container}``: a container's CRI log, optionally followed.

Why this exists: it is what ``kubectl logs`` reaches through the API server.  Which attempt's file is read
follows upstream's ``validateContainerLogStatus``: the newest attempt, or with ``previous`` the one before
it; a container that never started answers 400 ``... is waiting to start: <reason>``.  With ``follow`` the
file is polled (no inotify) and the stream ends when that attempt stops running or the client goes away —
as upstream, a restart's new file is not followed (``kubectl logs -f`` reconnects for that).
"""

from __future__ import annotations

import asyncio
import collections
import contextlib
import time
from dataclasses import replace
from pathlib import Path

from aiohttp import web

from kubelet.runtime import ContainerInfo
from kubelet.streaming.errors import StreamingError, bad_request
from kubelet.streaming.log_files import (
    ByteBudget,
    CriLogParser,
    LogLine,
    LogOptions,
    parse_log_options,
    render_line,
    select_lines,
)
from kubelet.streaming.pod_directory import LocatedPod, PodDirectory, locate

FOLLOW_POLL_S = 0.2
# How often a follower asks the runtime whether the container still runs.
STATE_CHECK_S = 1.0
_READ_CHUNK = 1 << 20


def _read_from(path: Path, offset: int, limit: int = _READ_CHUNK) -> bytes:
    """At most ``limit`` bytes from ``offset``: a long log is streamed a chunk at a time."""
    with path.open("rb") as handle:
        handle.seek(offset)
        return handle.read(limit)


async def choose_attempt(located: LocatedPod, container: str, options: LogOptions) -> ContainerInfo:
    """The attempt whose log to read, or upstream's 400 explaining why there is none."""
    if container not in located.spec_container_names():
        raise bad_request(f'container "{container}" in pod "{located.name}" is not available')
    attempts = await located.attempts(container)
    if options.previous:
        if len(attempts) < 2:
            raise bad_request(
                f'previous terminated container "{container}" in pod "{located.name}" not found')
        return attempts[1]
    if not attempts:
        reason = located.waiting_reason(container)
        raise bad_request(f'container "{container}" in pod "{located.name}" is waiting to start: {reason}')
    return attempts[0]


class LogStreamer:
    """Writes one attempt's log to a prepared response, following it if asked."""

    def __init__(self, request: web.Request, response: web.StreamResponse, located: LocatedPod,
                 attempt: ContainerInfo, options: LogOptions) -> None:
        self.request = request
        self.response = response
        self.located = located
        self.attempt = attempt
        self.options = options
        self.parser = CriLogParser()
        self.budget = ByteBudget(options.limit_bytes)
        self.offset = 0

    async def _read_new(self) -> list[LogLine]:
        data = await asyncio.to_thread(_read_from, Path(self.attempt.log_path), self.offset)
        self.offset += len(data)
        return self.parser.feed(data)

    async def _send(self, lines: list[LogLine]) -> None:
        chunk = b"".join(render_line(line, self.options) for line in lines
                         if self.options.since_seconds is None or line.seconds >= self.options.since_seconds)
        chunk = self.budget.take(chunk)
        if chunk:
            await self.response.write(chunk)

    def _client_gone(self) -> bool:
        transport = self.request.transport
        return transport is None or transport.is_closing()

    async def _still_running(self) -> bool:
        for info in await self.located.runtime.list_containers(pod_uid=self.located.uid):
            if info.id == self.attempt.id:
                return info.state == "running"
        return False

    async def _send_existing(self) -> None:
        """What the file holds now, a chunk at a time; with ``tailLines`` only the last lines are
        kept in memory (a bounded deque), never the whole file."""
        tail = self.options.tail_lines
        kept: collections.deque[LogLine] = collections.deque(maxlen=tail if tail is not None else None)
        while not self.budget.exhausted:
            size_before = self.offset
            lines = select_lines(await self._read_new(), replace(self.options, tail_lines=None))
            if tail is None:
                await self._send(lines)
            else:
                kept.extend(lines)
            if self.offset - size_before < _READ_CHUNK:
                break  # reached the end of what is written so far
        if tail is not None:
            await self._send(list(kept))

    async def run(self) -> None:
        await self._send_existing()
        if not self.options.follow or self.options.previous or self.attempt.state != "running":
            return
        next_check = time.monotonic() + STATE_CHECK_S
        while not self.budget.exhausted and not self._client_gone():
            await asyncio.sleep(FOLLOW_POLL_S)
            lines = await self._read_new()
            if lines:
                await self._send(lines)
                continue
            if time.monotonic() >= next_check:
                next_check = time.monotonic() + STATE_CHECK_S
                if not await self._still_running():
                    # The attempt ended: what it wrote last is in the file now.
                    await self._send(await self._read_new())
                    return


async def container_logs(request: web.Request, directory: PodDirectory) -> web.StreamResponse:
    info = request.match_info
    options = parse_log_options(request.query, now=time.time())
    located = locate(directory, info["tenant"], info["namespace"], info["pod"], uid=info.get("uid", ""))
    attempt = await choose_attempt(located, info["container"], options)
    if not attempt.log_path or not await asyncio.to_thread(Path(attempt.log_path).is_file):
        raise StreamingError(500, f'failed to open log file "{attempt.log_path}" of container '
                                  f'"{info["container"]}" in pod "{located.name}"')
    response = web.StreamResponse(headers={"Content-Type": "text/plain; charset=utf-8"})
    response.enable_chunked_encoding()
    await response.prepare(request)
    with contextlib.suppress(ConnectionError):
        await LogStreamer(request, response, located, attempt, options).run()
        await response.write_eof()
    return response
