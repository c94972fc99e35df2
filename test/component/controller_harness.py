"""Running controllers in-process against the component suite's server, for the controller tests.

The garbage collector, node lifecycle, pod GC and service-account tests drive one controller
class through `client.controller.ControllerRunner` inside the test's event loop (fast, and the
controller's settings — a 2 s grace period, a tiny threshold — are passed as objects, not flags);
the leader-election and root-CA tests run `python -m controllers` as a process instead, since the
flags and the process's exit status are what they check. Kept out of conftest.py so test modules
import it by a unique name.
"""

from __future__ import annotations

import asyncio
import contextlib
import inspect
import subprocess
import sys
import uuid
from collections.abc import AsyncIterator, Awaitable, Callable
from pathlib import Path
from typing import Any

from apiserver_process import REPO_ROOT

from client.config import config_for_url
from client.controller import Controller, ControllerRunner, RuntimeSettings
from client.errors import NotFound
from client.resources import NAMESPACES, ResourceRef
from client.rest import ApiClient
from controllers.options import ControllerOptions

WAIT_S = 20.0


@contextlib.asynccontextmanager
async def running(url: str, *classes: type[Controller],
                  options: ControllerOptions | None = None) -> AsyncIterator[ApiClient]:
    """Runs ``classes`` until the block ends; yields a separate client for the test's own calls."""
    async with ApiClient(config_for_url(url)) as controller_client, \
            ApiClient(config_for_url(url)) as test_client:
        settings = RuntimeSettings(controller_options=options or ControllerOptions(), reconcile_timeout_s=5.0)
        runner = ControllerRunner(controller_client, classes, settings)
        task = asyncio.create_task(runner.run())
        try:
            yield test_client
        finally:
            runner.stop()
            try:
                async with asyncio.timeout(10):
                    await task
            except TimeoutError:
                task.cancel()
                with contextlib.suppress(asyncio.CancelledError):
                    await task


async def eventually(check: Callable[[], Awaitable[Any] | Any], what: str, *, within: float = WAIT_S,
                     interval: float = 0.1) -> Any:
    """Polls ``check`` (a coroutine function or a plain one) until it answers something truthy
    (returned) or fails after ``within`` seconds."""
    deadline = asyncio.get_running_loop().time() + within
    last: Any = None
    while asyncio.get_running_loop().time() < deadline:
        last = check()
        if inspect.isawaitable(last):
            last = await last
        if last:
            return last
        await asyncio.sleep(interval)
    raise AssertionError(f"timed out after {within}s waiting for {what} (last: {last!r})")


async def get_or_none(client: ApiClient, ref: ResourceRef, name: str, *, tenant: str | None = "system",
                      namespace: str | None = None) -> dict[str, Any] | None:
    try:
        return await client.get(ref, name, tenant=tenant, namespace=namespace)
    except NotFound:
        return None


async def new_namespace(client: ApiClient, *, tenant: str = "system", prefix: str = "ctl") -> str:
    name = f"{prefix}-{uuid.uuid4().hex[:8]}"
    await client.create(NAMESPACES, {"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": name}},
                        tenant=tenant)
    return name


def start_controller_manager(url: str, log_path: Path, *args: str) -> subprocess.Popen[bytes]:
    """``python -m controllers --master URL ARGS...`` in its own process group, logging to ``log_path``."""
    log_path.parent.mkdir(parents=True, exist_ok=True)
    with log_path.open("ab") as log:
        return subprocess.Popen([sys.executable, "-m", "controllers", "--master", url, *args],
                                cwd=REPO_ROOT, stdout=log, stderr=subprocess.STDOUT,
                                stdin=subprocess.DEVNULL, start_new_session=True)
