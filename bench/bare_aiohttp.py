"""The ceiling for single-object GETs: a bare aiohttp+uvloop handler answering a same-size body.

The API server answers a cached GET through aiohttp's low-level `web.Server` on uvloop (no
router, no middleware: server/app.py `build_server`). The same server class with one handler
that returns fixed bytes of the same length as the API's GET body, in its own process on the
same core, under the same wrk load, is what aiohttp itself allows; `bench/api_bench.py` prints
the API's GETs/s as a fraction of it (issue 11's target: >= 0.8). Run alone it serves until
killed:

    .venv/bin/python bench/bare_aiohttp.py --port PORT --body-bytes N
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import signal
import subprocess
import sys
import time
import urllib.error
import urllib.request
from collections.abc import Iterator

import uvloop
from aiohttp import web
from server_process import SERVER_CPUS, free_port, pin_to, stop_group

READY_TIMEOUT_S = 15.0


async def serve(port: int, body: bytes) -> None:
    async def handler(request: web.BaseRequest) -> web.Response:
        return web.Response(body=body, content_type="application/json")

    # As server/main.py sets it up: access log off, backlog 1024, plain HTTP on loopback.
    runner = web.ServerRunner(web.Server(handler, access_log=None), handle_signals=False)
    await runner.setup()
    await web.TCPSite(runner, "127.0.0.1", port, backlog=1024, reuse_address=True).start()
    stop = asyncio.Event()
    for sig in (signal.SIGINT, signal.SIGTERM):
        asyncio.get_running_loop().add_signal_handler(sig, stop.set)
    await stop.wait()
    await runner.cleanup()


def _wait_ready(url: str, process: subprocess.Popen[bytes]) -> None:
    deadline = time.monotonic() + READY_TIMEOUT_S
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise RuntimeError(f"bare aiohttp server exited ({process.returncode})")
        with contextlib.suppress(urllib.error.URLError, OSError), urllib.request.urlopen(url, timeout=2):
            return
        time.sleep(0.1)
    raise RuntimeError(f"bare aiohttp server not ready in {READY_TIMEOUT_S}s")


@contextlib.contextmanager
def running_bare_server(body_bytes: int) -> Iterator[str]:
    """The baseline on a free port, pinned to the API server's core; answers its URL."""
    port = free_port()
    process = subprocess.Popen(
        [sys.executable, __file__, "--port", str(port), "--body-bytes", str(body_bytes)],
        stdin=subprocess.DEVNULL, start_new_session=True, preexec_fn=lambda: pin_to(SERVER_CPUS))
    url = f"http://127.0.0.1:{port}/"
    try:
        _wait_ready(url, process)
        yield url
    finally:
        stop_group(process)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--port", type=int, required=True)
    parser.add_argument("--body-bytes", type=int, required=True)
    args = parser.parse_args()
    size = args.body_bytes
    body = b'{"pad":"' + b"x" * (size - 10) + b'"}' if size >= 10 else b"x" * size  # exactly `size` bytes
    uvloop.run(serve(args.port, body))


if __name__ == "__main__":
    main()
