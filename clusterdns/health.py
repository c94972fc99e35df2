"""Liveness and readiness over HTTP on CoreDNS's ports: ``GET /health`` on 8080 (the process
serves) and ``GET /ready`` on 8181 (200 once the first lists of Services, EndpointSlices and Pods
are loaded, 503 before). A few lines of HTTP/1.0 on asyncio streams: the image has no web
framework, and a probe needs nothing more.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable


def _response(status: str, body: bytes) -> bytes:
    return (f"HTTP/1.1 {status}\r\nContent-Type: text/plain; charset=utf-8\r\n"
            f"Content-Length: {len(body)}\r\nConnection: close\r\n\r\n").encode() + body


async def _serve_probe(path: str, check: Callable[[], bool], reader: asyncio.StreamReader,
                       writer: asyncio.StreamWriter) -> None:
    try:
        request_line = await asyncio.wait_for(reader.readline(), 5)
        while (await asyncio.wait_for(reader.readline(), 5)).strip():
            pass  # headers: not needed
        parts = request_line.decode("latin-1").split()
        if len(parts) < 2 or parts[1].split("?")[0] != path:
            writer.write(_response("404 Not Found", b"404 page not found\n"))
        elif check():
            writer.write(_response("200 OK", b"OK"))
        else:
            writer.write(_response("503 Service Unavailable", b"not ready: first lists not loaded\n"))
        await writer.drain()
    except (TimeoutError, ConnectionError):
        pass
    finally:
        writer.close()


async def start_probe(*, bind: str, port: int, path: str, check: Callable[[], bool]) -> asyncio.Server:
    return await asyncio.start_server(lambda r, w: _serve_probe(path, check, r, w), bind, port)
