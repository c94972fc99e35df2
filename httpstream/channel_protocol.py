"""The `channel.k8s.io` stream protocols: WebSocket framing, subprotocol choice, exit-status payloads.

Why this exists: exec/attach over WebSocket (kubectl ≥1.30 tries `v5.channel.k8s.io` first, the python
client speaks `v4.channel.k8s.io`) and over SPDY share the same vocabulary — numbered channels, a JSON
`Status` on the error channel, `{"Width","Height"}` resize messages.  Mirrors upstream
k8s.io/apimachinery/pkg/util/httpstream/wsstream (framing, negotiation) and
k8s.io/apimachinery/pkg/util/remotecommand (protocol names) plus the kubelet's exit-code Status.
"""

from __future__ import annotations

import json
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Final

STDIN_CHANNEL: Final = 0
STDOUT_CHANNEL: Final = 1
STDERR_CHANNEL: Final = 2
ERROR_CHANNEL: Final = 3
RESIZE_CHANNEL: Final = 4
# v5 only: a message on channel 255 whose payload is a channel number half-closes that stream (stdin EOF).
CLOSE_CHANNEL: Final = 255

CHANNEL_V1: Final = "channel.k8s.io"
CHANNEL_V2: Final = "v2.channel.k8s.io"
CHANNEL_V3: Final = "v3.channel.k8s.io"
CHANNEL_V4: Final = "v4.channel.k8s.io"
CHANNEL_V5: Final = "v5.channel.k8s.io"

# Most preferred first, as upstream's remotecommand server lists what it supports.
EXEC_PROTOCOLS_PREFERRED: Final[tuple[str, ...]] = (
    CHANNEL_V5, CHANNEL_V4, CHANNEL_V3, CHANNEL_V2, CHANNEL_V1)
# Over SPDY upstream stops at v4: v5's close-channel is a WebSocket-only concept.
SPDY_EXEC_PROTOCOLS_PREFERRED: Final[tuple[str, ...]] = (CHANNEL_V4, CHANNEL_V3, CHANNEL_V2, CHANNEL_V1)

PORTFORWARD_SPDY_PROTOCOL: Final = "portforward.k8s.io"
# KEP-4006: port-forward's SPDY frames tunnelled through binary WebSocket messages.
PORTFORWARD_TUNNEL_PROTOCOL: Final = "SPDY/3.1+portforward.k8s.io"
# The python client's channel-based port-forward WebSocket protocol.
PORTFORWARD_WEBSOCKET_PROTOCOLS_PREFERRED: Final[tuple[str, ...]] = (PORTFORWARD_TUNNEL_PROTOCOL, CHANNEL_V4)

STREAM_PROTOCOL_HEADER: Final = "X-Stream-Protocol-Version"


class ChannelFrameError(ValueError):
    """A WebSocket message that is not a valid channel frame."""


def split_protocol_header(values: Iterable[str]) -> list[str]:
    """Flatten repeated, comma-separated protocol headers into one ordered list of tokens."""
    tokens: list[str] = []
    for value in values:
        tokens.extend(token.strip() for token in value.split(",") if token.strip())
    return tokens


def negotiate_protocol(offered: Iterable[str],
                       preferred: Iterable[str] = EXEC_PROTOCOLS_PREFERRED) -> str | None:
    """The server's most preferred protocol the client offered, or None (upstream then answers 400/403).

    `offered` is the raw header values (`Sec-WebSocket-Protocol` or `X-Stream-Protocol-Version`); tokens the
    server does not know — such as kubectl's `base64url.bearer.authorization.k8s.io.<token>` — are ignored.
    """
    offered_tokens = set(split_protocol_header(offered))
    for protocol in preferred:
        if protocol in offered_tokens:
            return protocol
    return None


def encode_channel_frame(channel: int, payload: bytes) -> bytes:
    """One binary WebSocket message: the channel byte, then the payload (v1 to v5 binary framing)."""
    if not 0 <= channel <= 255:
        raise ChannelFrameError(f"channel {channel} out of range")
    return bytes((channel,)) + payload


def decode_channel_frame(message: bytes) -> tuple[int, bytes]:
    """Split a binary WebSocket message into (channel, payload)."""
    if not message:
        raise ChannelFrameError("empty channel frame")
    return message[0], bytes(message[1:])


def encode_close_stream(channel: int) -> bytes:
    """The v5 message that half-closes `channel` (kubectl sends it for stdin EOF)."""
    return encode_channel_frame(CLOSE_CHANNEL, bytes((channel,)))


@dataclass(frozen=True, slots=True)
class TerminalSize:
    width: int
    height: int


def decode_resize(payload: bytes) -> TerminalSize:
    """Parse a resize message `{"Width":80,"Height":24}` (upstream remotecommand.TerminalSize)."""
    try:
        doc = json.loads(payload)
        return TerminalSize(width=int(doc["Width"]), height=int(doc["Height"]))
    except (ValueError, KeyError, TypeError) as exc:
        raise ChannelFrameError(f"bad resize message: {payload!r}") from exc


def encode_resize(size: TerminalSize) -> bytes:
    return json.dumps({"Width": size.width, "Height": size.height}).encode()


def success_status() -> bytes:
    """The error-channel payload for a command that exited 0 (v4+)."""
    return json.dumps({"metadata": {}, "status": "Success"}).encode()


def exit_code_status(exit_code: int, *, command: Iterable[str] = ()) -> bytes:
    """The error-channel payload for an exit code, as the kubelet writes it; kubectl exits with the code."""
    if exit_code == 0:
        return success_status()
    shown = " ".join(command)
    message = (f"command terminated with non-zero exit code: error executing command [{shown}], "
               f"exit code {exit_code}")
    return json.dumps({
        "metadata": {},
        "status": "Failure",
        "message": message,
        "reason": "NonZeroExitCode",
        "details": {"causes": [{"reason": "ExitCode", "message": str(exit_code)}]},
    }).encode()


def internal_error_status(message: str) -> bytes:
    """The error-channel payload for a failure that is not an exit code (upstream NewInternalError)."""
    return json.dumps({
        "metadata": {},
        "status": "Failure",
        "message": f"Internal error occurred: {message}",
        "reason": "InternalError",
        "details": {"causes": [{"message": message}]},
        "code": 500,
    }).encode()


def error_payload(protocol: str, *, exit_code: int | None, error: str | None,
                  command: Iterable[str] = ()) -> bytes:
    """What to write on the error channel: a JSON Status on v4/v5, plain text on the older protocols.

    Returns b"" when nothing is to be written (success on the text protocols).
    """
    json_status = protocol in (CHANNEL_V4, CHANNEL_V5)
    if error is not None:
        return internal_error_status(error) if json_status else error.encode()
    code = exit_code or 0
    if json_status:
        return exit_code_status(code, command=command)
    return b"" if code == 0 else f"command terminated with non-zero exit code: exit code {code}".encode()


@dataclass(frozen=True, slots=True)
class ExitOutcome:
    """The client-side reading of an error-channel Status: exit code, or a failure message."""

    exit_code: int
    message: str = ""


def decode_status(payload: bytes) -> ExitOutcome:
    """Interpret a v4/v5 error-channel Status the way client-go's remotecommand does."""
    if not payload:
        return ExitOutcome(0)
    try:
        doc = json.loads(payload)
    except ValueError:
        return ExitOutcome(1, payload.decode(errors="replace"))
    if doc.get("status") == "Success":
        return ExitOutcome(0)
    if doc.get("reason") == "NonZeroExitCode":
        for cause in (doc.get("details") or {}).get("causes") or []:
            if cause.get("reason") == "ExitCode":
                return ExitOutcome(int(cause.get("message", "1")), str(doc.get("message", "")))
    return ExitOutcome(1, str(doc.get("message", "")))
