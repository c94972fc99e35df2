"""kubectl logs -f, exec, attach and port-forward through the gateway, spliced byte for byte.

Covers: stock kubectl 1.37 against `python -m gateway` in front of one partition (a real
`python -m server` with kubelet client flags and request-header authentication) whose pods run on a
scripted kubelet (pod_proxy_kubelet.py): `logs -f` lines arrive as the kubelet writes them (the
gateway streams, it does not buffer), `exec -i` over WebSocket v5 and over SPDY/3.1 (stdin, stdout,
stderr, exit code), `attach`, `port-forward` over the WebSocket tunnel and over SPDY, the python
client's exec stream, and an upgrade refused by the partition (unknown pod) relayed as its Status.
The admin's certificate identity reaches the partition as front-proxy headers. Leaves out several
partitions (test/e2e/test_gateway.py) and real containers (P5's e2e on arktos-up-scale-out.sh).
"""

from __future__ import annotations

import http.client
import json
import os
import subprocess
import sys
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
import yaml
from kubernetes import config as kube_config
from kubernetes.client import ApiClient, Configuration, CoreV1Api
from kubernetes.stream import stream as kubernetes_stream

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "e2e"))
from apiserver_process import ApiServerProcess, free_port, start_apiserver, stop_process
from gateway_cluster import gateway_command, requestheader_args, start_gateway
from pod_proxy_kubelet import (
    FOLLOW_INTERVAL_S,
    LOG_LINES,
    FakeKubelet,
    KubeletThread,
    http_through_port_forward,
    serving_context,
)

from tools.cluster_credentials import ensure_cluster_credentials

pytestmark = pytest.mark.slow

KUBECTL = Path(__file__).resolve().parents[2] / ".venv" / "bin" / "kubectl"
NS = "gws"
TIMEOUT_S = 30


@dataclass
class Streaming:
    server: ApiServerProcess
    kubelet: FakeKubelet
    gateway_port: int
    kubeconfig: Path
    cache_dir: Path

    def ok(self, method: str, path: str, body: Any) -> Any:
        connection = self.server.http_connection(timeout=TIMEOUT_S)
        try:
            connection.request(method, path, body=json.dumps(body).encode(),
                               headers={"Content-Type": "application/json"})
            response = connection.getresponse()
            raw = response.read()
        finally:
            connection.close()
        assert response.status in (200, 201), (method, path, response.status, raw[:300])
        return json.loads(raw)

    def argv(self, *args: str) -> list[str]:
        return [str(KUBECTL), f"--kubeconfig={self.kubeconfig}", f"--cache-dir={self.cache_dir}", "-n", NS,
                *args]

    def kubectl(self, *args: str, stdin: bytes | None = None,
                env: dict[str, str] | None = None) -> subprocess.CompletedProcess[bytes]:
        return subprocess.run(self.argv(*args), input=stdin, capture_output=True, timeout=TIMEOUT_S,
                              env={**os.environ, **(env or {})})


def _register(env: Streaming) -> None:
    env.ok("POST", "/api/v1/namespaces", {"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": NS}})
    node = env.ok("POST", "/api/v1/nodes",
                  {"apiVersion": "v1", "kind": "Node", "metadata": {"name": "gw-node"}})
    node["status"] = {"addresses": [{"type": "InternalIP", "address": "127.0.0.1"}],
                      "daemonEndpoints": {"kubeletEndpoint": {"Port": env.kubelet.port}}}
    env.ok("PUT", "/api/v1/nodes/gw-node/status", node)
    pod = env.ok("POST", f"/api/v1/namespaces/{NS}/pods", {
        "apiVersion": "v1", "kind": "Pod", "metadata": {"name": "p"},
        "spec": {"nodeName": "gw-node",
                 "containers": [{"name": "c", "image": "busybox", "ports": [{"containerPort": 8080}]}]}})
    pod["status"] = {"phase": "Running"}
    env.ok("PUT", f"/api/v1/namespaces/{NS}/pods/p/status", pod)


def _gateway_kubeconfig(admin_kubeconfig: Path, port: int) -> Path:
    """The admin kubeconfig aimed at the gateway (start_apiserver points CERT_DIR's at the server)."""
    document = yaml.safe_load(admin_kubeconfig.read_text())
    for cluster in document["clusters"]:
        cluster["cluster"]["server"] = f"https://127.0.0.1:{port}"
    path = admin_kubeconfig.with_name("gateway-admin.kubeconfig")
    path.write_text(yaml.safe_dump(document))
    return path


@pytest.fixture(scope="module")
def streaming(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Streaming]:
    workdir = tmp_path_factory.mktemp("gateway-streaming")
    gateway_port = free_port()
    credentials = ensure_cluster_credentials(workdir / "certs", server="https://127.0.0.1:6443",
                                             hosts=["127.0.0.1"], node_name="gw-node", node_ips=["127.0.0.1"])
    thread = KubeletThread(serving_context(credentials.kubelet_serving_cert, credentials.kubelet_serving_key,
                                           credentials.ca_cert))
    server: ApiServerProcess | None = None
    gateway: subprocess.Popen[bytes] | None = None
    try:
        kubelet = thread.start()
        server = start_apiserver(workdir, tls=True, extra_args=(
            "--kubelet-client-certificate", str(credentials.kubelet_client_cert),
            "--kubelet-client-key", str(credentials.kubelet_client_key),
            "--kubelet-certificate-authority", str(credentials.ca_cert), *requestheader_args(credentials)))
        command = gateway_command(credentials, port=gateway_port, token_file=credentials.token_file,
                                  tps=[server], rps=[server])
        gateway = start_gateway(command, workdir / "gateway.log", url=f"https://127.0.0.1:{gateway_port}",
                                context=server.ssl_context())  # type: ignore[arg-type]
        env = Streaming(server, kubelet, gateway_port, _gateway_kubeconfig(credentials.admin_kubeconfig,
                                                                            gateway_port), workdir / "cache")
        _register(env)
        yield env
    finally:
        if gateway is not None:
            stop_process(gateway)
        if server is not None:
            server.stop()
        thread.stop()


def test_logs_follow_streams_through_the_gateway(streaming: Streaming) -> None:
    with subprocess.Popen(streaming.argv("logs", "-f", "p"), stdout=subprocess.PIPE,
                          stderr=subprocess.PIPE) as process:
        try:
            assert process.stdout is not None
            arrivals = [(time.monotonic(), process.stdout.readline().decode().strip())
                        for _ in range(LOG_LINES)]
            assert [text for _, text in arrivals] == [f"c line {i}" for i in range(1, LOG_LINES + 1)]
            assert arrivals[-1][0] - arrivals[0][0] >= (LOG_LINES - 1) * FOLLOW_INTERVAL_S * 0.7
            assert process.wait(timeout=TIMEOUT_S) == 0
        finally:
            process.kill()


@pytest.mark.parametrize("websockets", ["true", "false"], ids=["websocket-v5", "spdy"])
def test_exec_through_the_gateway(streaming: Streaming, websockets: str) -> None:
    env = {"KUBECTL_REMOTE_COMMAND_WEBSOCKETS": websockets}
    result = streaming.kubectl("exec", "-i", "p", "--", "cat", "-", stdin=b"typed input\n", env=env)
    assert result.returncode == 0, result.stderr
    assert result.stdout == b"hello cat -\nTYPED INPUT\n"
    assert b"to stderr" in result.stderr
    seen = streaming.kubelet.last("/exec/").path  # the API server names the pod's uid too (main)
    assert seen.startswith(f"/exec/system/{NS}/p/") and seen.endswith("/c"), seen
    assert streaming.kubectl("exec", "p", "--", "fail", env=env).returncode == 3


def test_attach_through_the_gateway(streaming: Streaming) -> None:
    result = streaming.kubectl("attach", "p", "-c", "c")
    assert result.returncode == 0, result.stderr
    assert result.stdout == b"hello \n"


@pytest.mark.parametrize("websockets", ["true", "false"], ids=["websocket-tunnel", "spdy"])
def test_port_forward_through_the_gateway(streaming: Streaming, websockets: str) -> None:
    local = free_port()
    received = http_through_port_forward(streaming.argv("port-forward", "pod/p", f"{local}:8080"),
                                         local_port=local, websockets=websockets, timeout=TIMEOUT_S)
    assert received.startswith(b"HTTP/1.1 200 OK") and received.endswith(b"port 8080 says hi")


def test_python_client_exec_through_the_gateway(streaming: Streaming) -> None:
    configuration = Configuration()
    kube_config.load_kube_config(config_file=str(streaming.kubeconfig), client_configuration=configuration)
    with ApiClient(configuration) as client:
        output = kubernetes_stream(CoreV1Api(client).connect_get_namespaced_pod_exec, "p", NS,
                                   command=["echo", "hi"], stdin=False, stdout=True, stderr=True, tty=False,
                                   _request_timeout=TIMEOUT_S)
    assert "hi" in output


def test_an_upgrade_the_partition_refuses_comes_back_as_its_status(streaming: Streaming) -> None:
    context = streaming.server.ssl_context()
    connection = http.client.HTTPSConnection("127.0.0.1", streaming.gateway_port, timeout=TIMEOUT_S,
                                             context=context)
    try:
        connection.request("POST", f"/api/v1/namespaces/{NS}/pods/missing/exec?command=ls&stdout=1",
                           headers={"Connection": "Upgrade", "Upgrade": "SPDY/3.1",
                                    "X-Stream-Protocol-Version": "v4.channel.k8s.io"})
        response = connection.getresponse()
        body = json.loads(response.read())
    finally:
        connection.close()
    assert response.status == 404 and body["kind"] == "Status" and body["reason"] == "NotFound", body
