"""Fixtures for the component suite: a real API server process driven with raw HTTP.

Component tests sit between the unit tests (no sockets) and the e2e tests (stock kubectl and the
python client): they start `python -m server` on a free loopback port with a temp data dir and
speak HTTP to it with aiohttp, so they can assert the exact status codes, Status bodies and
stream framing upstream Kubernetes produces. The process lifecycle (free port, readiness wait,
bounded stop) is reused from `test/e2e/apiserver_process.py`.

One server is shared per test module (`apiserver`); modules that need server flags (a short watch
history, fast compaction) build their own with `server_factory`. Each test gets a fresh namespace,
so tests sharing a server never see each other's objects.
"""

from __future__ import annotations

import sys
import uuid
from collections.abc import AsyncIterator, Iterator
from pathlib import Path

import aiohttp
import pytest

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "e2e"))
from apiserver_process import ApiServerProcess, ServerFactory, log_tail, start_apiserver
from component_http import REQUEST_TIMEOUT_S, Api

_LOG_OFFSET = pytest.StashKey[int]()



@pytest.hookimpl(wrapper=True)
def pytest_runtest_makereport(item: pytest.Item, call: pytest.CallInfo[None]) -> object:
    """Attach the server log written during a failed test to its report."""
    report = yield
    servers = [v for v in getattr(item, "funcargs", {}).values() if isinstance(v, ApiServerProcess)]
    for server in servers:
        if report.when == "setup" and report.passed:
            item.stash[_LOG_OFFSET] = server.log_size()
        elif report.failed:
            offset = item.stash.get(_LOG_OFFSET, 0)
            report.sections.append(("apiserver log during this test",
                                    log_tail(server.log_path, offset=offset)))
    return report


@pytest.fixture(scope="module")
def server_factory(tmp_path_factory: pytest.TempPathFactory) -> Iterator[ServerFactory]:
    """Starts servers with extra flags for this module; stops all of them at its end."""
    started: list[ApiServerProcess] = []

    def start(*extra_args: str) -> ApiServerProcess:
        for attempt in range(3):
            try:
                server = start_apiserver(tmp_path_factory.mktemp("apiserver"), extra_args=extra_args)
            except RuntimeError as e:
                # The free port can be taken between choosing and binding it: pick another.
                if "address already in use" not in str(e).lower() or attempt == 2:
                    raise
                continue
            started.append(server)
            return server
        raise AssertionError("unreachable")

    try:
        yield start
    finally:
        for server in started:
            server.stop()


@pytest.fixture(scope="module")
def apiserver(server_factory: ServerFactory) -> ApiServerProcess:
    """The module's shared server with default flags."""
    return server_factory()


@pytest.fixture
async def api(apiserver: ApiServerProcess) -> AsyncIterator[Api]:
    timeout = aiohttp.ClientTimeout(total=REQUEST_TIMEOUT_S)
    async with aiohttp.ClientSession(timeout=timeout) as session:
        yield Api(session, apiserver.url)


@pytest.fixture
async def namespace(api: Api) -> str:
    """A fresh namespace for one test (left in place: the module's server goes away anyway)."""
    name = f"ct-{uuid.uuid4().hex[:10]}"
    await api.ok("POST", "/api/v1/namespaces",
                 {"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": name}})
    return name
