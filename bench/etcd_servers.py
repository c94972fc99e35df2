"""etcd, one or several API servers on it, and HAProxy in front of several, for the etcd benchmarks.

The benchmarks measure what `STORAGE_BACKEND=etcd APISERVER_COUNT=N hack/arktos-up.sh` runs: a
local etcd (Debian's etcd-server, a temp data dir, free loopback ports), `python -m server
--storage etcd://...` processes, and for several of them HAProxy in TCP mode (etcd and HAProxy as
the tests start them: test/e2e/etcd_process.py, test/e2e/haproxy_process.py). Benchmarks speak
plain HTTP (the servers' loopback plain port), so TLS costs stay out of the comparison with the
SQLite figures, which are measured the same way.

CPU split on this 2-core machine (printed with the figures): one server runs alone on the first
core, etcd and the load generator on the second; two servers get one core each, and etcd, HAProxy
and the load generator float over both.
"""

from __future__ import annotations

import contextlib
import os
import sys
import tempfile
from collections.abc import Iterator
from pathlib import Path

from etcd_put_rate import pin
from server_process import LOAD_CPUS, REPO_ROOT, SERVER_CPUS, running_server

sys.path.insert(0, str(REPO_ROOT / "test" / "e2e"))
from etcd_process import running_etcd as etcd_member  # the tests' launchers
from haproxy_process import running_haproxy


@contextlib.contextmanager
def running_etcd(cpus: set[int] | None = None) -> Iterator[str]:
    """One etcd member (test/e2e/etcd_process.py, as bench/etcd_put_rate.py runs it), pinned to
    ``cpus`` (None: floats); yields its storage URL."""
    with tempfile.TemporaryDirectory() as scratch, etcd_member(Path(scratch)) as member:
        if cpus and member.process is not None:
            pin(member.process.pid, sorted(cpus))
        yield member.storage_url


def cpu_split(servers: int) -> tuple[list[set[int]], set[int] | None, str]:
    """Each server's CPUs, etcd's (None: floats) and the split as a sentence."""
    cpus = sorted(os.sched_getaffinity(0))
    if servers == 1:
        return [SERVER_CPUS], LOAD_CPUS, (f"1 API server on cpu {sorted(SERVER_CPUS)}, etcd and the load "
                                          f"generator on cpus {sorted(LOAD_CPUS)}")
    placed = [{cpus[i % len(cpus)]} for i in range(servers)]
    return placed, None, (f"{servers} API servers on cpus {[sorted(c) for c in placed]}, etcd, HAProxy and "
                          f"the load generator floating over cpus {cpus}")


@contextlib.contextmanager
def running_api_on_etcd(servers: int) -> Iterator[tuple[str, str]]:
    """etcd and ``servers`` API servers on it (behind HAProxy when several); yields (URL, CPU split)."""
    server_cpus, etcd_cpus, split = cpu_split(servers)
    with running_etcd(etcd_cpus) as endpoint, contextlib.ExitStack() as stack:
        urls = [stack.enter_context(running_server(storage=endpoint, cpus=cpus)).url
                for cpus in server_cpus]
        if servers == 1:
            yield urls[0], split
            return
        backends = [("127.0.0.1", int(url.rsplit(":", 1)[1])) for url in urls]
        with running_haproxy(backends) as port:
            yield f"http://127.0.0.1:{port}", split
