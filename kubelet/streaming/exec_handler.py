"""``/exec/{tenant}/{namespace}/{pod}/{container}`` and ``/attach/...``: interactive sessions in a container.

Why this exists: ``kubectl exec``/``attach`` (through the API server) land here over WebSocket
(``v5``/``v4``... ``channel.k8s.io``) or SPDY/3.1.  Upstream's kubelet asks the runtime for a streaming URL
(CRI Exec/Attach) and proxies the client to it; containerd's stream server speaks only SPDY up to v4, so we
terminate the client's protocol here (`httpstream.exec_session.ExecStreams`) and relay each stream to
the runtime's (`cri.stream_client`): stdin (EOF included: the v5 close signal or SPDY FIN becomes a FIN to
the runtime), stdout, stderr, resize, and finally the exit code on the error channel as upstream writes it.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Awaitable, Callable, Coroutine
from functools import partial
from typing import Any, Literal

from aiohttp import web

from cri.stream_client import CriExecSession, StreamUrlError, open_exec
from httpstream.channel_protocol import (
    CHANNEL_V1,
    EXEC_PROTOCOLS_PREFERRED,
    SPDY_EXEC_PROTOCOLS_PREFERRED,
)
from httpstream.exec_session import (
    ExecOptions,
    ExecStreams,
    StreamSetupError,
    accept_spdy_exec_streams,
    websocket_exec_streams,
)
from httpstream.spdy_connection import SpdyConnection
from kubelet.runtime import RuntimeOperationError
from kubelet.streaming.client_upgrades import accept_spdy, accept_websocket, negotiate
from kubelet.streaming.errors import StreamingError, bad_request
from kubelet.streaming.pod_directory import LocatedPod, PodDirectory, locate

log = logging.getLogger(__name__)

Verb = Literal["exec", "attach"]
# How often a session checks that its client's connection is still there.
CLIENT_CHECK_S = 1.0


def exec_options(request: web.Request, verb: Verb) -> ExecOptions:
    """Upstream's remotecommand.NewOptions: at least one stream; a tty merges stderr into stdout."""
    def flag(name: str) -> bool:
        return request.query.get(name, "").lower() in ("1", "true")

    stdin, stdout, stderr, tty = flag("stdin"), flag("stdout"), flag("stderr"), flag("tty")
    if not (stdin or stdout or stderr):
        raise bad_request("you must specify at least 1 of stdin, stdout, stderr")
    command = tuple(request.query.getall("command", [])) if verb == "exec" else ()
    if verb == "exec" and not command:
        raise bad_request("you must specify at least one command for the container")
    return ExecOptions(stdin=stdin, stdout=stdout, stderr=stderr and not tty, tty=tty, command=command)


async def _copy(read: Callable[[], Awaitable[bytes]], write: Callable[[bytes], Awaitable[None]]) -> None:
    while chunk := await read():
        await write(chunk)


async def _relay_until_exit(streams: ExecStreams, backend: CriExecSession) -> None:
    await asyncio.gather(_copy(backend.read_stdout, streams.write_stdout),
                         _copy(backend.read_stderr, streams.write_stderr))
    outcome = await backend.wait_exit()
    await streams.finish(outcome.exit_code, error=outcome.error)


async def _never() -> None:
    await asyncio.Future()


async def bridge_exec(streams: ExecStreams, backend: CriExecSession, *,
                      client_gone: Callable[[], Coroutine[Any, Any, object]] = _never) -> None:
    """Relay one session until the runtime reports the exit, or the client's connection is gone (then
    the runtime session is closed rather than kept for a process that may never end)."""
    async def feed_stdin() -> None:
        async for chunk in streams.stdin():
            await backend.write_stdin(chunk)
        await backend.close_stdin()

    async def feed_resizes() -> None:
        async for size in streams.resize_events():
            await backend.resize(size.width, size.height)

    watcher: asyncio.Task[object] = asyncio.create_task(client_gone(), name="exec-client-watch")
    helpers: list[asyncio.Task[Any]] = [watcher, asyncio.create_task(feed_resizes(), name="exec-resize")]
    if backend.has_stdin:
        helpers.append(asyncio.create_task(feed_stdin(), name="exec-stdin"))
    relay = asyncio.create_task(_relay_until_exit(streams, backend), name="exec-relay")
    try:
        await asyncio.wait([relay, watcher], return_when=asyncio.FIRST_COMPLETED)
        if relay.done():
            error = relay.exception()
            if error is None:
                return
            if not isinstance(error, ConnectionError):
                raise error
        log.debug("exec client went away before the command ended")
        with contextlib.suppress(ConnectionError):
            await streams.finish(None, error="connection lost")
    finally:
        relay.cancel()
        for helper in helpers:
            helper.cancel()
        await asyncio.gather(relay, *helpers, return_exceptions=True)
        await backend.close()


async def _websocket_gone(request: web.Request, ws: web.WebSocketResponse) -> None:
    # aiohttp has no "peer closed" event to await outside the receive loop the session owns.
    while not (ws.closed or request.transport is None or request.transport.is_closing()):  # noqa: ASYNC110
        await asyncio.sleep(CLIENT_CHECK_S)


async def _open_backend(request: web.Request, located: LocatedPod, verb: Verb,
                        options: ExecOptions) -> CriExecSession:
    info = request.match_info
    runtime = located.streaming(verb)
    container = await located.running_container(info["container"])
    try:
        if verb == "exec":
            url = await runtime.exec_url(container.id, options.command, stdin=options.stdin,
                                         stdout=options.stdout, stderr=options.stderr, tty=options.tty)
        else:
            url = await runtime.attach_url(container.id, stdin=options.stdin, stdout=options.stdout,
                                           stderr=options.stderr, tty=options.tty)
        return await open_exec(url, stdin=options.stdin, stdout=options.stdout, stderr=options.stderr,
                               tty=options.tty)
    except (RuntimeOperationError, StreamUrlError) as exc:
        raise StreamingError(500, f"error {verb}ing in container {info['container']!r}: {exc}") from exc


async def exec_or_attach(request: web.Request, directory: PodDirectory, verb: Verb) -> web.StreamResponse:
    options = exec_options(request, verb)
    info = request.match_info
    located = locate(directory, info["tenant"], info["namespace"], info["pod"], uid=info.get("uid", ""))
    located.streaming(verb)  # a runtime that cannot stream says so before any upgrade
    chosen = negotiate(request, websocket=EXEC_PROTOCOLS_PREFERRED, spdy=SPDY_EXEC_PROTOCOLS_PREFERRED,
                       legacy=CHANNEL_V1)
    backend = await _open_backend(request, located, verb, options)
    try:
        if chosen.transport == "websocket":
            ws = await accept_websocket(request, chosen.protocol)
            await bridge_exec(websocket_exec_streams(ws, options, chosen.protocol), backend,
                              client_gone=partial(_websocket_gone, request, ws))
            return ws
        raw = await accept_spdy(request, chosen.protocol)
        try:
            connection = SpdyConnection(raw.reader, raw.writer, server=True)
            connection.start()
            try:
                streams = await accept_spdy_exec_streams(connection, options, chosen.protocol)
            except StreamSetupError as exc:
                log.info("%s: client did not set up its streams: %s", verb, exc)
                await connection.close()
                return raw.response
            await bridge_exec(streams, backend, client_gone=connection.closed.wait)
        finally:
            await raw.close()
        return raw.response
    finally:
        with contextlib.suppress(ConnectionError):
            await backend.close()
