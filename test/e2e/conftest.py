"""Fixtures for the end-to-end suite: a real API server process, stock kubectl, the python client.

One server (`python -m server` on a free loopback port, SQLite in a temp dir, serving TLS only
with a CA and admin certificate made by `tools.cluster_credentials`, as arktos-up.sh does) is
shared by the session; kubectl and the python client reach it through its admin kubeconfig
(CN=system:admin, O=system:masters); each test gets its own namespace so tests never see each
other's objects. The `kubectl` fixture runs each test with both stock binaries `make` installs:
kubectl 1.32 (.venv/kubectl-1.32) and 1.37 (.venv/bin); a missing one fails the test with the
reason (kubectl_binaries.py). When a test fails, the server log lines written during that test
are attached to the report.
"""

from __future__ import annotations

import os
import uuid
from collections.abc import Generator, Iterator

import pytest
from apiserver_process import ApiServerProcess, log_tail, start_apiserver
from balanced_apiservers import running_balanced_apiservers
from kubectl_binaries import KUBECTL_LABELS, kubectl_binary
from kubectl_runner import Kubectl
from kubernetes import client as k8s
from kubernetes import config as k8s_config
from tenancy_env import tenancy_env, tenancy_kubectl  # noqa: F401  (fixtures of the tenancy tests)

_LOG_OFFSET = pytest.StashKey[int]()


@pytest.hookimpl(wrapper=True)
def pytest_runtest_makereport(
    item: pytest.Item, call: pytest.CallInfo[None]
) -> Generator[None, pytest.TestReport, pytest.TestReport]:
    report = yield
    server = getattr(item, "funcargs", {}).get("apiserver")
    if isinstance(server, ApiServerProcess):
        if report.when == "setup" and report.passed:
            item.stash[_LOG_OFFSET] = server.log_size()
        elif report.failed:
            offset = item.stash.get(_LOG_OFFSET, 0)
            report.sections.append(
                ("kube-apiserver log during this test", log_tail(server.log_path, offset=offset))
            )
    return report


@pytest.fixture(scope="session")
def apiserver(tmp_path_factory: pytest.TempPathFactory) -> Iterator[ApiServerProcess]:
    """The shared server: started once, stopped (SIGTERM, then SIGKILL) at the end of the session.
    ARKTOS_E2E_APISERVERS=N (N >= 2): N servers on one etcd behind HAProxy instead
    (balanced_apiservers.py)."""
    count = int(os.environ.get("ARKTOS_E2E_APISERVERS") or 1)
    if count > 1:
        with running_balanced_apiservers(tmp_path_factory.mktemp("balanced"), count) as balanced:
            yield balanced
        return
    server = start_apiserver(tmp_path_factory.mktemp("apiserver"), tls=True)
    try:
        yield server
    finally:
        server.stop()


@pytest.fixture(scope="session")
def api_client(apiserver: ApiServerProcess) -> Iterator[k8s.ApiClient]:
    """The official client configured from the admin kubeconfig, as a user would load it."""
    with k8s_config.new_client_from_config(config_file=str(apiserver.kubeconfig)) as api:
        yield api


@pytest.fixture(scope="session")
def core_v1(api_client: k8s.ApiClient) -> k8s.CoreV1Api:
    return k8s.CoreV1Api(api_client)


@pytest.fixture(scope="session")
def apps_v1(api_client: k8s.ApiClient) -> k8s.AppsV1Api:
    return k8s.AppsV1Api(api_client)


@pytest.fixture
def namespace(core_v1: k8s.CoreV1Api) -> Iterator[str]:
    """A fresh namespace for one test, deleted afterwards (best effort: the suite's server goes too)."""
    name = f"e2e-{uuid.uuid4().hex[:10]}"
    core_v1.create_namespace(k8s.V1Namespace(metadata=k8s.V1ObjectMeta(name=name)), _request_timeout=10)
    yield name
    try:
        core_v1.delete_namespace(name, _request_timeout=10)
    except k8s.ApiException:
        pass


@pytest.fixture(params=KUBECTL_LABELS)
def kubectl(
    request: pytest.FixtureRequest, apiserver: ApiServerProcess, tmp_path_factory: pytest.TempPathFactory
) -> Kubectl:
    """Stock kubectl bound to the shared server; the test runs once per binary."""
    label: str = request.param
    binary = kubectl_binary(label)
    cache_dir = tmp_path_factory.getbasetemp() / f"kube-cache-{label}"
    return Kubectl(binary=binary, kubeconfig=apiserver.kubeconfig, cache_dir=cache_dir, label=label)
