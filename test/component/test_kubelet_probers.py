"""The httpGet and tcpSocket probers against real sockets on loopback.

Covers: 2xx success with the body as output; a 5xx failing with "HTTP probe failed with
statuscode: 503"; the default User-Agent ``kube-probe/<version>`` and Accept, custom httpHeaders
(including Host); redirects followed on the same host, a redirect to another host ending as a
"Probe terminated redirects" warning (counted ok), and a redirect loop stopping after 10; a
refused connection spelled as Go does (``Get "...": dial tcp ...: connect: connection refused``);
an HTTP timeout; a named container port; tcpSocket success and refusal. Leaves out HTTPS (no
certificate machinery in this test) and probes inside containers (test_kubelet_probes.py).
"""

from __future__ import annotations

import asyncio
import socket
from collections.abc import AsyncIterator

import pytest
from aiohttp import web

from kubelet.probes.http_prober import USER_AGENT, probe_http
from kubelet.probes.outcome import ProbeError
from kubelet.probes.probers import probe_tcp, resolve_port


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@pytest.fixture
async def server() -> AsyncIterator[int]:
    seen: dict[str, str] = {}

    async def ok(request: web.Request) -> web.Response:
        seen.update(request.headers)
        return web.Response(text="healthy")

    async def broken(request: web.Request) -> web.Response:
        return web.Response(status=503, text="no")

    async def hop(request: web.Request) -> web.Response:
        raise web.HTTPFound("/ok")

    async def away(request: web.Request) -> web.Response:
        raise web.HTTPFound("http://127.0.0.2:1/elsewhere")

    async def loop(request: web.Request) -> web.Response:
        raise web.HTTPFound("/loop")

    async def slow(request: web.Request) -> web.Response:
        await asyncio.sleep(3)
        return web.Response(text="late")

    async def headers(request: web.Request) -> web.Response:
        return web.json_response(dict(request.headers))

    app = web.Application()
    app.add_routes([web.get("/ok", ok), web.get("/broken", broken), web.get("/hop", hop),
                    web.get("/away", away), web.get("/loop", loop), web.get("/slow", slow),
                    web.get("/headers", headers)])
    runner = web.AppRunner(app)
    await runner.setup()
    port = free_port()
    site = web.TCPSite(runner, "127.0.0.1", port)
    await site.start()
    try:
        yield port
    finally:
        await runner.cleanup()


async def get(port: int, path: str, **extra: object) -> tuple[str, str]:
    outcome = await probe_http({"path": path, **extra}, host="127.0.0.1", port=port, timeout_s=1)
    return outcome.result, outcome.output


async def test_status_codes_decide(server: int) -> None:
    assert await get(server, "/ok") == ("success", "healthy")
    assert await get(server, "/broken") == ("failure", "HTTP probe failed with statuscode: 503")


async def test_headers_sent(server: int) -> None:
    result, body = await get(server, "/headers", httpHeaders=[{"name": "X-Custom", "value": "yes"},
                                                              {"name": "Host", "value": "example.test"}])
    assert result == "success"
    assert f'"User-Agent": "{USER_AGENT}"' in body and '"Accept": "*/*"' in body
    assert '"X-Custom": "yes"' in body and '"Host": "example.test"' in body


async def test_redirects(server: int) -> None:
    assert await get(server, "/hop") == ("success", "healthy")
    result, output = await get(server, "/away")
    assert result == "warning" and output.startswith("Probe terminated redirects, Response body: ")
    assert await get(server, "/loop") == (
        "failure", f'Get "http://127.0.0.1:{server}/loop": stopped after 10 redirects')


async def test_transport_errors_read_like_go(server: int) -> None:
    closed = free_port()
    assert await get(closed, "/x") == ("failure", f'Get "http://127.0.0.1:{closed}/x": '
                                                  f"dial tcp 127.0.0.1:{closed}: connect: connection refused")
    result, output = await get(server, "/slow")
    assert result == "failure" and "context deadline exceeded" in output


async def test_tcp_socket(server: int) -> None:
    assert (await probe_tcp("127.0.0.1", server, 1)).result == "success"
    closed = free_port()
    refused = await probe_tcp("127.0.0.1", closed, 1)
    assert (refused.result, refused.output) == (
        "failure", f"dial tcp 127.0.0.1:{closed}: connect: connection refused")


def test_named_ports() -> None:
    container = {"ports": [{"name": "http", "containerPort": 8080}]}
    assert resolve_port("http", container) == 8080 and resolve_port(81, container) == 81
    with pytest.raises(ProbeError, match="port metrics not found"):
        resolve_port("metrics", container)
