"""The e2e suite's server as several API servers on one etcd behind HAProxy.

With ``ARKTOS_E2E_APISERVERS=N`` (N >= 2) the session's `apiserver` fixture (conftest.py) is this
instead of one server on SQLite: an etcd member (etcd_process.py), N `python -m server --storage
etcd://...` processes sharing one set of credentials, and HAProxy in TCP mode (haproxy_process.py)
on the port the admin kubeconfig names. Every kubectl and python-client test of the API e2e then
runs through the load balancer, each connection landing on either server, as the issue's "the
kubectl/python-client flows of the API e2e pass through the load balancer" asks:

    ARKTOS_E2E_APISERVERS=2 .venv/bin/python -m pytest test/e2e/test_kubectl_*.py \
        test/e2e/test_python_client.py

The object looks like an `ApiServerProcess` (url, kubeconfig, credentials, log of the first
server) so the tests need no change.
"""

from __future__ import annotations

import contextlib
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

from apiserver_process import E2E_NODE_NAME, ApiServerProcess, free_port
from etcd_process import running_etcd
from haproxy_process import running_haproxy

from tools.cluster_credentials import ensure_cluster_credentials


@dataclass
class BalancedApiServers(ApiServerProcess):
    """The balancer's port as ``port``; the first server's log as ``log_path``."""

    servers: list[ApiServerProcess] = field(default_factory=list)


@contextlib.contextmanager
def running_balanced_apiservers(workdir: Path, count: int) -> Iterator[BalancedApiServers]:
    port = free_port()
    credentials = ensure_cluster_credentials(workdir / "certs", server=f"https://127.0.0.1:{port}",
                                             hosts=["127.0.0.1"], node_name=E2E_NODE_NAME)
    with running_etcd(workdir / "etcd") as etcd, contextlib.ExitStack() as stack:
        servers = []
        for index in range(count):
            server = ApiServerProcess(port=free_port(), data_dir=workdir / f"server-{index}" / "data",
                                      log_path=workdir / f"server-{index}" / "kube-apiserver.log",
                                      kubeconfig=credentials.admin_kubeconfig, credentials=credentials,
                                      extra_args=("--storage", etcd.storage_url))
            servers.append(server.start())
            stack.callback(server.stop)
        with running_haproxy([("127.0.0.1", server.port) for server in servers], port=port):
            yield BalancedApiServers(port=port, data_dir=workdir, log_path=servers[0].log_path,
                                     kubeconfig=credentials.admin_kubeconfig, credentials=credentials,
                                     process=servers[0].process, servers=servers)
