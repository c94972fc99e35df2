"""``/portForward/{tenant}/{namespace}/{pod}``: TCP connections into a pod's network namespace.

Why this exists: ``kubectl port-forward`` (1.32+ over the KEP-4006 WebSocket tunnel
``SPDY/3.1+portforward.k8s.io``, older or with websockets disabled over SPDY ``portforward.k8s.io``) and the
python client (WebSocket channels ``v4.channel.k8s.io``, ports from the ``port``/``ports`` query) end here.
Upstream's kubelet asks CRI PortForward for a URL and proxies; we terminate the client's protocol
(`httpstream.portforward_session.PortForwardStreams`) and open one runtime stream pair per forwarded
connection (`cri.stream_client`), relaying bytes both ways and the runtime's error text back to the client.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging

from aiohttp import web

from cri.stream_client import CriPortForward, StreamUrlError, open_port_forward
from httpstream.channel_protocol import (
    CHANNEL_V4,
    PORTFORWARD_SPDY_PROTOCOL,
    PORTFORWARD_TUNNEL_PROTOCOL,
)
from httpstream.portforward_session import (
    ChannelPortForwardStreams,
    PortForwardStream,
    PortForwardStreams,
    parse_ports_query,
    spdy_portforward_streams,
    tunnelled_portforward_streams,
)
from kubelet.runtime import RuntimeOperationError
from kubelet.streaming.client_upgrades import accept_spdy, accept_websocket, negotiate
from kubelet.streaming.errors import StreamingError, bad_request
from kubelet.streaming.pod_directory import LocatedPod, PodDirectory, locate

log = logging.getLogger(__name__)

# The tunnel first (kubectl 1.32+), then the channel protocols upstream's wsstream port-forward serves.
WEBSOCKET_PROTOCOLS = (PORTFORWARD_TUNNEL_PROTOCOL, CHANNEL_V4, PORTFORWARD_SPDY_PROTOCOL)


async def bridge_connection(client: PortForwardStream, backend: CriPortForward) -> None:
    """One forwarded connection: client bytes → pod port, pod bytes → client, runtime errors → client."""
    try:
        pod = await backend.open_port(client.port)
    except StreamUrlError as exc:
        await client.write_error(str(exc))
        return

    async def upstream() -> None:
        while chunk := await client.read():
            await pod.write(chunk)
        await pod.close_write()

    async def downstream() -> None:
        while chunk := await pod.read():
            await client.write(chunk)
        await client.close_write()

    async def errors() -> None:
        if message := await pod.read_error():
            await client.write_error(message)

    sender = asyncio.create_task(upstream(), name=f"portforward-up-{client.port}")
    try:
        await asyncio.gather(downstream(), errors())
    except ConnectionError as exc:
        log.debug("port-forward connection to port %d ended: %s", client.port, exc)
    finally:
        sender.cancel()
        await asyncio.gather(sender, return_exceptions=True)
        if not (pod.data.remote_closed and pod.data.local_closed):
            with contextlib.suppress(ConnectionError):
                await pod.data.reset()  # abandon a half-open stream, as client-go does on close


async def serve_session(session: PortForwardStreams, backend: CriPortForward) -> None:
    """Bridge every request of the session; ends when the client closes the session."""
    bridges: set[asyncio.Task[None]] = set()
    try:
        async for request in session.requests():
            task = asyncio.create_task(bridge_connection(request, backend), name="portforward-bridge")
            bridges.add(task)
            task.add_done_callback(bridges.discard)
        # Channel sessions yield all their ports at once: wait for those bridges to finish.
        if bridges:
            await asyncio.gather(*bridges, return_exceptions=True)
    finally:
        for task in bridges:
            task.cancel()
        await asyncio.gather(*bridges, return_exceptions=True)
        await session.close()
        await backend.close()


def requested_ports(request: web.Request) -> list[int]:
    values = request.query.getall("port", []) + request.query.getall("ports", [])
    if not values:
        return []
    try:
        return parse_ports_query(values)
    except ValueError as exc:
        raise bad_request(str(exc)) from exc


async def _open_backend(located: LocatedPod, ports: list[int]) -> CriPortForward:
    runtime = located.streaming("port-forward")
    sandbox_id = await located.sandbox_id()
    try:
        return await open_port_forward(await runtime.port_forward_url(sandbox_id, ports))
    except (RuntimeOperationError, StreamUrlError) as exc:
        raise StreamingError(500, f"error forwarding ports of pod {located.name!r}: {exc}") from exc


async def port_forward(request: web.Request, directory: PodDirectory) -> web.StreamResponse:
    ports = requested_ports(request)
    info = request.match_info
    located = locate(directory, info["tenant"], info["namespace"], info["pod"], uid=info.get("uid", ""))
    located.streaming("port-forward")
    chosen = negotiate(request, websocket=WEBSOCKET_PROTOCOLS, spdy=(PORTFORWARD_SPDY_PROTOCOL,),
                       legacy=PORTFORWARD_SPDY_PROTOCOL)
    channel_style = chosen.transport == "websocket" and chosen.protocol != PORTFORWARD_TUNNEL_PROTOCOL
    if channel_style and not ports:
        raise bad_request("query parameter \"port\" is required")
    backend = await _open_backend(located, ports)
    try:
        if chosen.transport == "websocket":
            ws = await accept_websocket(request, chosen.protocol)
            session = (ChannelPortForwardStreams(ws, ports) if channel_style
                       else tunnelled_portforward_streams(ws))
            await serve_session(session, backend)
            return ws
        raw = await accept_spdy(request, chosen.protocol)
        try:
            await serve_session(spdy_portforward_streams(raw.reader, raw.writer), backend)
        finally:
            await raw.close()
        return raw.response
    finally:
        await backend.close()  # also when the client's upgrade failed before any session ran
