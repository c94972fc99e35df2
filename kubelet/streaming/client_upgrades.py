"""Which transport the client asked for, and accepting it: WebSocket (a subprotocol) or SPDY/3.1.

Why this exists: exec, attach and port-forward all start the same way — upstream's kubelet first checks
for a WebSocket upgrade (wsstream.IsWebSocketRequest) and negotiates ``Sec-WebSocket-Protocol``, otherwise
it expects ``Upgrade: SPDY/3.1`` and negotiates ``X-Stream-Protocol-Version`` (httpstream.Handshake).
Negotiation happens before the runtime is asked for anything, so a refusal is still an ordinary HTTP error.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Literal

from aiohttp import web

from httpstream.channel_protocol import STREAM_PROTOCOL_HEADER, negotiate_protocol, split_protocol_header
from httpstream.upgrade_takeover import RawConnection, accept_upgrade, is_upgrade_request
from kubelet.streaming.errors import StreamingError, bad_request

Transport = Literal["websocket", "spdy"]


@dataclass(frozen=True, slots=True)
class Negotiated:
    transport: Transport
    protocol: str


def negotiate(request: web.Request, *, websocket: Sequence[str], spdy: Sequence[str],
              legacy: str | None = None) -> Negotiated:
    """The transport and protocol to use; `legacy` answers a client that offers no protocol at all."""
    if is_upgrade_request(request, "websocket"):
        header = "Sec-WebSocket-Protocol"
        preferred, transport = websocket, "websocket"
    elif is_upgrade_request(request):
        header = STREAM_PROTOCOL_HEADER
        preferred, transport = spdy, "spdy"
    else:
        raise bad_request("Upgrade request required")
    offered = request.headers.getall(header, [])
    protocol = negotiate_protocol(offered, preferred)
    if protocol is None:
        if legacy is not None and not split_protocol_header(offered):
            return Negotiated(transport, legacy)  # type: ignore[arg-type]
        # httpstream.Handshake answers 403 with both lists when nothing matches.
        raise StreamingError(403, f"unable to upgrade: unable to negotiate protocol: client supports "
                                  f"{split_protocol_header(offered)}, server supports {list(preferred)}")
    return Negotiated(transport, protocol)  # type: ignore[arg-type]


_MAX_WEBSOCKET_MESSAGE = 4 * 1024 * 1024


async def accept_websocket(request: web.Request, protocol: str) -> web.WebSocketResponse:
    # kubectl and client-go send stdin and forwarded bytes in frames of at most 32 KiB; a bound keeps
    # one client from making the kubelet buffer an arbitrarily large message.
    ws = web.WebSocketResponse(protocols=(protocol,), max_msg_size=_MAX_WEBSOCKET_MESSAGE)
    await ws.prepare(request)
    return ws


async def accept_spdy(request: web.Request, protocol: str) -> RawConnection:
    return await accept_upgrade(request, protocol_headers={STREAM_PROTOCOL_HEADER: protocol})
