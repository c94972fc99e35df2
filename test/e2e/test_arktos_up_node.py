"""hack/arktos-up.sh brings up a node that really runs pods (containerd + kubelet over TLS).

Covers: the script's ready banner comes only once Node ``arktos-up-node`` is Ready; with stock
kubectl (cluster/kubectl.sh, admin kubeconfig) a 2-replica busybox Deployment gets 2 pods Running
with pod IPs from the private bridge (which proves the node authorizer lets the kubelet, as
system:node:<name>, list/watch its pods across tenants, patch pods/status and register its Node);
deleting the Deployment removes the pods (the kubelet's final deletion); ``--image=nginx`` runs and
serves its welcome page on the pod IP; the images come from the
registry arktos-up started itself (REGISTRY empty, REGISTRY_PORT free: storage under ARKTOS_DATA_DIR,
the built images pushed there); Ctrl-C stops every process it started: API server, controller
manager, scheduler, kubelet, containerd and its shims, the registry.
Leaves out CONTAINER_RUNTIME_ENDPOINT (an external runtime), VM workloads and restarts.
"""

from __future__ import annotations

import json
import time
import urllib.request
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from apiserver_process import free_port
from recorded_process import live_processes_mentioning
from test_arktos_up import ArktosUp, arktos_up, cluster_env, kubectl_sh  # noqa: F401 (fixtures)

pytestmark = [pytest.mark.e2e, pytest.mark.slow]

WAIT_S = 40.0


def _pods(env: dict[str, str], app: str = "web") -> list[dict[str, Any]]:
    listed = kubectl_sh(env, "get", "pods", "-l", f"app={app}", "-o", "json")
    assert listed.returncode == 0, listed.stderr
    items: list[dict[str, Any]] = json.loads(listed.stdout)["items"]
    return items


def _wait(what: str, check: Callable[[], bool], up: ArktosUp) -> None:
    deadline = time.monotonic() + WAIT_S
    while not check():
        if time.monotonic() > deadline:
            raise AssertionError(f"{what} not reached in {WAIT_S}s:\n{up.report()}")
        time.sleep(0.5)


def _http_get(url: str) -> str:
    try:
        with urllib.request.urlopen(url, timeout=2) as response:
            return str(response.read().decode())
    except OSError:
        return ""


def _running_with_ip(env: dict[str, str], app: str = "web", count: int = 2) -> bool:
    pods = _pods(env, app)
    return len(pods) == count and all(
        p["status"].get("phase") == "Running" and p["status"].get("podIP")
        for p in pods
    )


def test_node_runs_a_deployment_and_ctrl_c_stops_everything(
    arktos_up: ArktosUp,  # noqa: F811
    cluster_env: dict[str, str],  # noqa: F811
) -> None:
    # Its own registry this time (the other arktos-up tests share the session's: REGISTRY set).
    cluster_env.update({"REGISTRY": "", "REGISTRY_PORT": str(free_port())})
    arktos_up.start()
    repositories = Path(cluster_env["ARKTOS_DATA_DIR"], "registry/storage/docker/registry/v2/repositories")
    assert {"library", "pause", "google_containers", "arktos"} <= {p.name for p in repositories.iterdir()}
    node = cluster_env["HOSTNAME_OVERRIDE"]
    ready = kubectl_sh(cluster_env, "get", "node", node, "-o",
                       'jsonpath={.status.conditions[?(@.type=="Ready")].status}')
    assert ready.returncode == 0 and ready.stdout == "True", ready.stderr + arktos_up.report()

    created = kubectl_sh(cluster_env, "create", "deployment", "web", "--image=busybox", "--replicas=2",
                         "--", "sleep", "3600")
    assert created.returncode == 0, created.stderr
    _wait("2 pods Running with IPs", lambda: _running_with_ip(cluster_env), arktos_up)
    for pod in _pods(cluster_env):
        assert pod["spec"]["nodeName"] == node
        assert str(pod["status"]["podIP"]).startswith("10.96.")

    created = kubectl_sh(cluster_env, "create", "deployment", "nginx", "--image=nginx")
    assert created.returncode == 0, created.stderr
    _wait("nginx Running", lambda: _running_with_ip(cluster_env, "nginx", 1), arktos_up)
    nginx_ip = _pods(cluster_env, "nginx")[0]["status"]["podIP"]
    _wait("nginx's welcome page", lambda: "Welcome to nginx!" in _http_get(f"http://{nginx_ip}/"), arktos_up)

    deleted = kubectl_sh(cluster_env, "delete", "deployment", "web", "nginx")
    assert deleted.returncode == 0, deleted.stderr
    _wait("pods gone", lambda: not _pods(cluster_env) and not _pods(cluster_env, "nginx"), arktos_up)

    data_dir = cluster_env["ARKTOS_DATA_DIR"]
    assert live_processes_mentioning(data_dir), "containerd should run under ARKTOS_DATA_DIR"
    assert arktos_up.interrupt() == 130, arktos_up.report()
    deadline = time.monotonic() + 10.0
    cert_dir = cluster_env["CERT_DIR"]
    while left := live_processes_mentioning(data_dir) + live_processes_mentioning(cert_dir):
        assert time.monotonic() < deadline, f"still running after Ctrl-C: {left}"
        time.sleep(0.2)
