"""SQLite is single-server and says so: a second API server on the same file refuses to start.

Covers, with two real server processes: while one server has the SQLite file open, a second one
pointed at the same file exits at start-up with a message naming the holder's pid and pointing at
etcd, and the first keeps serving; once the first has stopped, a server on the file starts again
(a lock, not a marker left behind: the kernel drops it however the holder ends, kill -9 included).

Leaves out: several servers on etcd (the multi-server e2e suite).
"""

from __future__ import annotations

import os
import signal
from pathlib import Path

import pytest
from apiserver_process import ApiServerProcess, start_apiserver
from component_http import Api, configmap


async def test_a_second_server_on_the_same_sqlite_file_refuses_to_start(
        api: Api, apiserver: ApiServerProcess, tmp_path: Path) -> None:
    database = apiserver.data_dir / "arktos.db"
    assert apiserver.process is not None
    with pytest.raises(RuntimeError) as refused:
        start_apiserver(tmp_path / "second", extra_args=("--storage", f"sqlite://{database}"))
    message = str(refused.value)
    assert "exited with status 1" in message, message
    holder = apiserver.process.pid
    assert f"the SQLite store {database} is in use by another API server (pid {holder})" in message
    assert "run several on etcd" in message
    await api.ok("POST", "/api/v1/namespaces/default/configmaps", configmap("still-served"))


def test_the_file_is_free_again_once_its_server_is_killed(tmp_path: Path) -> None:
    first = start_apiserver(tmp_path / "first")
    assert first.process is not None
    os.killpg(first.process.pid, signal.SIGKILL)
    first.process.wait(timeout=10)
    database = first.data_dir / "arktos.db"
    second = start_apiserver(tmp_path / "second", extra_args=("--storage", f"sqlite://{database}"))
    second.stop()
