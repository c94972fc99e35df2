"""One HTTPS request from the API server to a kubelet, kept at the byte level.

Why this exists: logs, exec, attach and port-forward are served by the kubelet's streaming server;
the API server forwards the caller's request there (upstream's pkg/kubelet/client + the
UpgradeAwareHandler) presenting its own kubelet client certificate (``--kubelet-client-certificate``)
and, when ``--kubelet-certificate-authority`` is given, verifying the kubelet's serving certificate
(upstream verifies nothing without it). An HTTP library would hide what the proxy needs: the raw
connection after ``101 Switching Protocols`` (SPDY/3.1 is no upgrade any client library follows),
so this module writes the request head itself and reads the answer's head and body framing
(Content-Length, chunked, or until close).
"""

from __future__ import annotations

import asyncio
import logging
import ssl
from collections.abc import AsyncIterator, Sequence
from dataclasses import dataclass

log = logging.getLogger(__name__)

CONNECT_TIMEOUT_S = 10.0
_HEAD_LIMIT = 1 << 16
_READ_SIZE = 1 << 16
# No body follows these answers (RFC 9112 §6.3).
_BODYLESS = frozenset({101, 204, 304})


class KubeletUnavailable(Exception):
    """The kubelet could not be reached, refused TLS, or answered something that is not HTTP."""


@dataclass(frozen=True, slots=True)
class KubeletClientConfig:
    """The API server's flags for talking to kubelets (all optional, as upstream's)."""

    client_cert_file: str = ""
    client_key_file: str = ""
    certificate_authority_file: str = ""


@dataclass(frozen=True, slots=True)
class KubeletRequest:
    method: str
    target: str  # path and query, already encoded
    headers: Sequence[tuple[str, str]] = ()
    body: bytes = b""


class KubeletResponse:
    """The kubelet's status line and headers; the body (or, after a 101, the raw stream) follows."""

    def __init__(self, status: int, reason: str, headers: list[tuple[str, str]],
                 reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        self.status = status
        self.reason = reason
        self.headers = headers
        self.reader = reader
        self.writer = writer

    def header(self, name: str) -> str:
        """The first value of header ``name`` (case-insensitive), or ``""``."""
        wanted = name.lower()
        return next((value for key, value in self.headers if key.lower() == wanted), "")

    async def body_chunks(self) -> AsyncIterator[bytes]:
        """The body as it arrives, de-framed (chunked, Content-Length or until the kubelet closes)."""
        if self.status in _BODYLESS or 100 <= self.status < 200:
            return
        if "chunked" in self.header("Transfer-Encoding").lower():
            async for chunk in _chunked(self.reader):
                yield chunk
            return
        length = self.header("Content-Length")
        remaining = int(length) if length.isdigit() else -1
        while remaining != 0:
            chunk = await self.reader.read(_READ_SIZE if remaining < 0 else min(remaining, _READ_SIZE))
            if not chunk:
                return
            if remaining > 0:
                remaining -= len(chunk)
            yield chunk

    async def read_body(self, limit: int = 1 << 20) -> bytes:
        body = bytearray()
        async for chunk in self.body_chunks():
            body += chunk
            if len(body) > limit:
                break
        return bytes(body[:limit])

    def close(self) -> None:
        self.writer.close()


async def _chunked(reader: asyncio.StreamReader) -> AsyncIterator[bytes]:
    while True:
        size_line = await reader.readline()
        if not size_line:
            return
        try:
            size = int(size_line.split(b";", 1)[0].strip(), 16)
        except ValueError:
            return
        if size == 0:
            while (await reader.readline()).strip():  # trailers, if any
                pass
            return
        chunk = await reader.readexactly(size)
        await reader.readexactly(2)
        yield chunk


class KubeletClient:
    """Opens connections to kubelets with the API server's identity."""

    def __init__(self, config: KubeletClientConfig) -> None:
        self.config = config
        self._verifying = self._context(verify=bool(config.certificate_authority_file))
        self._insecure = self._context(verify=False)

    def _context(self, *, verify: bool) -> ssl.SSLContext:
        context = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
        context.minimum_version = ssl.TLSVersion.TLSv1_2
        if verify:
            context.load_verify_locations(cafile=self.config.certificate_authority_file)
        else:
            # Upstream's default without --kubelet-certificate-authority: the kubelet's serving
            # certificate is not checked (kubelets often serve a self-signed one).
            context.check_hostname = False
            context.verify_mode = ssl.CERT_NONE
        if self.config.client_cert_file:
            context.load_cert_chain(self.config.client_cert_file, self.config.client_key_file or None)
        context.set_alpn_protocols(["http/1.1"])
        return context

    async def send(self, host: str, port: int, request: KubeletRequest, *,
                   skip_verify: bool = False) -> KubeletResponse:
        """Send ``request`` to ``host:port`` and read the answer's head; raises KubeletUnavailable."""
        context = self._insecure if skip_verify else self._verifying
        where = f"{_bracketed(host)}:{port}"
        try:
            async with asyncio.timeout(CONNECT_TIMEOUT_S):
                reader, writer = await asyncio.open_connection(host, port, ssl=context, server_hostname=host,
                                                               limit=_HEAD_LIMIT)
        except (TimeoutError, OSError, ssl.SSLError) as e:
            raise KubeletUnavailable(f"error dialing backend: {_describe(e, where)}") from e
        try:
            writer.write(_request_head(where, request) + request.body)
            await writer.drain()
            return await _read_head(reader, writer)
        except (OSError, asyncio.IncompleteReadError, asyncio.LimitOverrunError, ValueError) as e:
            writer.close()
            raise KubeletUnavailable(f"error talking to the kubelet at {where}: "
                                     f"{_describe(e, where)}") from e


def _request_head(where: str, request: KubeletRequest) -> bytes:
    lines = [f"{request.method} {request.target} HTTP/1.1", f"Host: {where}"]
    lines += [f"{name}: {value}" for name, value in request.headers]
    upgrading = any(name.lower() == "upgrade" for name, _ in request.headers)
    if not upgrading:
        lines.append("Connection: close")  # one exchange per connection: no pool to keep healthy
    if request.body or request.method in ("POST", "PUT", "PATCH"):
        lines.append(f"Content-Length: {len(request.body)}")
    return ("\r\n".join(lines) + "\r\n\r\n").encode("latin-1")


async def _read_head(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> KubeletResponse:
    head = await reader.readuntil(b"\r\n\r\n")
    status_line, *header_lines = head.decode("latin-1").split("\r\n")
    version, _, rest = status_line.partition(" ")
    code, _, reason = rest.partition(" ")
    if not version.startswith("HTTP/") or not code.isdigit():
        raise ValueError(f"not an HTTP answer: {status_line[:80]!r}")
    headers: list[tuple[str, str]] = []
    for line in header_lines:
        if ":" in line:
            name, value = line.split(":", 1)
            headers.append((name.strip(), value.strip()))
    return KubeletResponse(int(code), reason, headers, reader, writer)


def _bracketed(host: str) -> str:
    return f"[{host}]" if ":" in host else host


def _describe(error: BaseException, where: str) -> str:
    if isinstance(error, TimeoutError):
        return f"dial tcp {where}: i/o timeout"
    if isinstance(error, ConnectionRefusedError):
        return f"dial tcp {where}: connect: connection refused"
    if isinstance(error, asyncio.IncompleteReadError):
        return "the kubelet closed the connection"
    return str(error) or type(error).__name__
