"""The API server's pods/log, exec, attach and portforward proxy, end to end through a TLS server.

Covers: a real `python -m server` (TLS, with --kubelet-client-certificate/-key and
--kubelet-certificate-authority from tools.cluster_credentials) in front of a scripted kubelet
(pod_proxy_kubelet.py: TLS with the kubelet serving cert, requiring the API server's client cert)
registered as Node InternalIP 127.0.0.1; stock kubectl 1.37 `logs` (options forwarded), `logs -f`
(lines arrive as written), `exec` over WebSocket v5 and SPDY/3.1 (stdin, stdout, stderr, exit
code, megabytes each way), `attach`, `cp` (tar over exec), `port-forward` over the WebSocket
tunnel and SPDY; the python client's kubernetes.stream exec and portforward (v4 channels); what
reaches the kubelet (tenant path, `stdin=1`, `port=`, the API server's identity, never the
caller's Authorization); authorization (a user who may only `get pods/exec` is refused a
WebSocket exec, upstream 1.35's create check); container defaulting (a VM pod's VM stands for
its container); and the error answers: unknown pod, unscheduled pod, container validation, log
option validation, missing node, unreachable kubelet, a kubelet certificate from another CA, a
kubelet error Status passed through, wrong methods.
Leaves out: the real kubelet streaming server and containers (the kubelet's own tests), `exec -t`
(terminal resize rides the same relayed bytes) and the 1.32 kubectl binary (checked by hand).
"""

from __future__ import annotations

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
from kubernetes import config as kube_config
from kubernetes.client import ApiClient, Configuration, CoreV1Api
from kubernetes.stream import portforward as kubernetes_portforward
from kubernetes.stream import stream as kubernetes_stream

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "e2e"))
from apiserver_process import ApiServerProcess, free_port, start_apiserver
from pod_proxy_kubelet import (
    CP_CONTENT,
    FOLLOW_INTERVAL_S,
    LOG_LINES,
    WAITING_MESSAGE,
    FakeKubelet,
    KubeletThread,
    http_through_port_forward,
    kubelet_thread,
    loopback_credentials,
    read_until_greeting,
    serving_context,
)

from pki.certificates import ensure_ca, ensure_serving_cert
from tools.token_file import ensure_token

KUBECTL = Path(__file__).resolve().parents[2] / ".venv" / "bin" / "kubectl"
NS = "pp"
TIMEOUT_S = 30


@dataclass
class Cluster:
    server: ApiServerProcess
    kubelet: FakeKubelet
    viewer_kubeconfig: Path
    cache_dir: Path

    def call(self, method: str, path: str, body: Any = None) -> tuple[int, Any]:
        connection = self.server.http_connection(timeout=TIMEOUT_S)
        try:
            data = json.dumps(body).encode() if body is not None else None
            connection.request(method, path, body=data, headers={"Content-Type": "application/json"})
            response = connection.getresponse()
            raw = response.read()
        finally:
            connection.close()
        try:
            return response.status, json.loads(raw) if raw else None
        except ValueError:
            return response.status, raw.decode(errors="replace")

    def ok(self, method: str, path: str, body: Any = None) -> Any:
        status, answer = self.call(method, path, body)
        assert status in (200, 201), (method, path, status, answer)
        return answer

    def kubectl(self, *args: str, kubeconfig: Path | None = None, stdin: bytes | None = None,
                env: dict[str, str] | None = None) -> subprocess.CompletedProcess[bytes]:
        return subprocess.run(self.argv(*args, kubeconfig=kubeconfig), input=stdin, capture_output=True,
                              timeout=TIMEOUT_S, env={**os.environ, **(env or {})})

    def argv(self, *args: str, kubeconfig: Path | None = None) -> list[str]:
        return [str(KUBECTL), f"--kubeconfig={kubeconfig or self.server.kubeconfig}",
                f"--cache-dir={self.cache_dir}", "-n", NS, *args]


def _node(name: str, port: int, addresses: list[dict[str, str]]) -> dict[str, Any]:
    return {"apiVersion": "v1", "kind": "Node", "metadata": {"name": name},
            "status": {"addresses": addresses, "daemonEndpoints": {"kubeletEndpoint": {"Port": port}}}}


def _pod(name: str, node: str, containers: tuple[str, ...] = ("c",), *,
         annotations: dict[str, str] | None = None) -> dict[str, Any]:
    spec: dict[str, Any] = {"containers": [{"name": c, "image": "busybox", "ports": [{"containerPort": 8080}]}
                                           for c in containers]}
    if node:
        spec["nodeName"] = node
    return {"apiVersion": "v1", "kind": "Pod",
            "metadata": {"name": name, "annotations": annotations or {}}, "spec": spec}


def _vm_pod(name: str, node: str) -> dict[str, Any]:
    """An Arktos VM pod (ARKTOS.md §4): no containers; the VM's name stands for the container."""
    pod = _pod(name, node, ())
    pod["spec"]["virtualMachine"] = {"name": "guest", "image": "cirros", "keyPairName": "key",
                                     "resources": {"requests": {"cpu": "1", "memory": "64Mi"}}}
    return pod


def _register(cluster: Cluster, nodes: list[dict[str, Any]], pods: list[dict[str, Any]]) -> None:
    for node in nodes:
        created = cluster.ok("POST", "/api/v1/nodes", node)
        created["status"] = node["status"]
        cluster.ok("PUT", f"/api/v1/nodes/{node['metadata']['name']}/status", created)
    for pod in pods:
        created = cluster.ok("POST", f"/api/v1/namespaces/{NS}/pods", pod)
        created["status"] = {"phase": "Running"}
        cluster.ok("PUT", f"/api/v1/namespaces/{NS}/pods/{pod['metadata']['name']}/status", created)


def _viewer(cluster: Cluster, token: str, path: Path) -> Path:
    """User `viewer` may get pods, pods/log and pods/exec in NS, but create nothing."""
    cluster.ok("POST", f"/apis/rbac.authorization.k8s.io/v1/namespaces/{NS}/roles", {
        "apiVersion": "rbac.authorization.k8s.io/v1", "kind": "Role", "metadata": {"name": "viewer"},
        "rules": [{"apiGroups": [""], "resources": ["pods", "pods/log", "pods/exec"],
                   "verbs": ["get", "list"]}]})
    cluster.ok("POST", f"/apis/rbac.authorization.k8s.io/v1/namespaces/{NS}/rolebindings", {
        "apiVersion": "rbac.authorization.k8s.io/v1", "kind": "RoleBinding", "metadata": {"name": "viewer"},
        "roleRef": {"apiGroup": "rbac.authorization.k8s.io", "kind": "Role", "name": "viewer"},
        "subjects": [{"kind": "User", "name": "viewer", "apiGroup": "rbac.authorization.k8s.io"}]})
    assert cluster.server.credentials is not None
    ca = str(cluster.server.credentials.ca_cert)
    path.write_text(json.dumps({
        "apiVersion": "v1", "kind": "Config", "current-context": "viewer",
        "clusters": [{"name": "c", "cluster": {"server": cluster.server.url, "certificate-authority": ca}}],
        "users": [{"name": "viewer", "user": {"token": token}}],
        "contexts": [{"name": "viewer", "context": {"cluster": "c", "user": "viewer"}}]}))
    return path


@pytest.fixture(scope="module")
def cluster(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Cluster]:
    workdir = tmp_path_factory.mktemp("pod-proxy")
    credentials = loopback_credentials(workdir / "certs")
    viewer_token = ensure_token(credentials.token_file, user="viewer", tenant="system")
    # A second kubelet whose serving certificate comes from another CA: the API server must refuse it.
    foreign_ca = ensure_ca(workdir / "foreign")
    ensure_serving_cert(foreign_ca, workdir / "foreign" / "k.crt", workdir / "foreign" / "k.key",
                        hosts=["127.0.0.1"])
    threads = [kubelet_thread(credentials),
               KubeletThread(serving_context(workdir / "foreign" / "k.crt", workdir / "foreign" / "k.key",
                                             credentials.ca_cert))]
    server: ApiServerProcess | None = None
    try:
        kubelet, foreign = (thread.start() for thread in threads)
        server = start_apiserver(workdir, tls=True, extra_args=(
            "--kubelet-client-certificate", str(credentials.kubelet_client_cert),
            "--kubelet-client-key", str(credentials.kubelet_client_key),
            "--kubelet-certificate-authority", str(credentials.ca_cert)))
        made = Cluster(server, kubelet, workdir / "viewer.kubeconfig", workdir / "kubectl-cache")
        made.ok("POST", "/api/v1/namespaces",
                {"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": NS}})
        loopback = [{"type": "InternalIP", "address": "127.0.0.1"}]
        _register(made, [_node("node-a", kubelet.port, loopback), _node("node-down", free_port(), loopback),
                         _node("node-foreign", foreign.port, loopback), _node("node-bare", kubelet.port, [])],
                  [_pod("p", "node-a"), _pod("multi", "node-a", ("a", "b")),
                   _pod("annotated", "node-a", ("a", "b"),
                        annotations={"kubectl.kubernetes.io/default-container": "b"}),
                   _pod("pending", ""), _pod("waiting", "node-a"), _pod("on-down", "node-down"),
                   _pod("on-foreign", "node-foreign"), _pod("on-bare", "node-bare"), _pod("orphan", "ghost"),
                   _vm_pod("vm", "node-a")])
        _viewer(made, viewer_token, made.viewer_kubeconfig)
        yield made
    finally:
        if server is not None:
            server.stop()
        for thread in threads:
            thread.stop()


# -- kubectl ---------------------------------------------------------------------------------------
def test_kubectl_logs_forwards_options_with_the_servers_identity(cluster: Cluster) -> None:
    result = cluster.kubectl("logs", "p", "--tail=2", "--timestamps", "--limit-bytes=100")
    assert result.returncode == 0, result.stderr
    assert result.stdout.decode().splitlines() == [f"c line {i}" for i in range(1, LOG_LINES + 1)]
    seen = cluster.kubelet.last("/containerLogs/")
    assert seen.path == f"/containerLogs/system/{NS}/p/c"
    assert dict(seen.query) == {"timestamps": "true", "tailLines": "2", "limitBytes": "100"}
    assert seen.client_cn == "kube-apiserver-kubelet-client"


def test_kubectl_logs_follow_sees_lines_as_they_are_written(cluster: Cluster) -> None:
    with subprocess.Popen(cluster.argv("logs", "-f", "p"), stdout=subprocess.PIPE,
                          stderr=subprocess.PIPE) as process:
        try:
            assert process.stdout is not None
            arrivals = []
            for _ in range(LOG_LINES):
                line = process.stdout.readline()
                arrivals.append((time.monotonic(), line.decode().strip()))
            assert [text for _, text in arrivals] == [f"c line {i}" for i in range(1, LOG_LINES + 1)]
            # Streamed, not buffered: the lines came as the kubelet wrote them, FOLLOW_INTERVAL_S apart.
            assert arrivals[-1][0] - arrivals[0][0] >= (LOG_LINES - 1) * FOLLOW_INTERVAL_S * 0.7
            assert process.wait(timeout=TIMEOUT_S) == 0
        finally:
            process.kill()
    assert dict(cluster.kubelet.last("/containerLogs/").query) == {"follow": "true"}


@pytest.mark.parametrize("websockets", ["true", "false"], ids=["websocket-v5", "spdy"])
def test_kubectl_exec_with_stdin_and_exit_code(cluster: Cluster, websockets: str) -> None:
    env = {"KUBECTL_REMOTE_COMMAND_WEBSOCKETS": websockets}
    result = cluster.kubectl("exec", "-i", "p", "--", "cat", "-", stdin=b"typed input\n", env=env)
    assert result.returncode == 0, result.stderr
    assert result.stdout == b"hello cat -\nTYPED INPUT\n"
    assert b"to stderr" in result.stderr
    seen = cluster.kubelet.last("/exec/")
    assert seen.path == f"/exec/system/{NS}/p/{_uid_of(cluster, 'p')}/c"  # the kubelet's uid route
    assert seen.query == [("stdin", "1"), ("stdout", "1"), ("stderr", "1"),
                          ("command", "cat"), ("command", "-")]
    assert seen.method == ("GET" if websockets == "true" else "POST")
    failed = cluster.kubectl("exec", "p", "--", "fail", env=env)
    assert failed.returncode == 3, failed.stderr


def test_kubectl_attach(cluster: Cluster) -> None:
    result = cluster.kubectl("attach", "p", "-c", "c")
    assert result.returncode == 0, result.stderr
    assert result.stdout == b"hello \n"
    seen = cluster.kubelet.last("/attach/")
    assert (seen.path, seen.query) == (f"/attach/system/{NS}/p/{_uid_of(cluster, 'p')}/c",
                                       [("stdout", "1"), ("stderr", "1")])


def test_kubectl_cp_from_a_pod(cluster: Cluster, tmp_path: Path) -> None:
    target = tmp_path / "copied.txt"
    result = cluster.kubectl("cp", f"{NS}/p:/data/file.txt", str(target))
    assert result.returncode == 0, result.stderr
    assert target.read_bytes() == CP_CONTENT


@pytest.mark.parametrize("websockets", ["true", "false"], ids=["websocket-tunnel", "spdy"])
def test_kubectl_port_forward_carries_http(cluster: Cluster, websockets: str) -> None:
    local = free_port()
    received = http_through_port_forward(cluster.argv("port-forward", "pod/p", f"{local}:8080"),
                                         local_port=local, websockets=websockets, timeout=TIMEOUT_S)
    assert received.startswith(b"HTTP/1.1 200 OK") and received.endswith(b"port 8080 says hi")
    assert cluster.kubelet.last("/portForward/").path == f"/portForward/system/{NS}/p/{_uid_of(cluster, 'p')}"


def _uid_of(cluster: Cluster, pod: str) -> str:
    uid = cluster.kubectl("get", "pod", pod, "-o", "jsonpath={.metadata.uid}").stdout.decode()
    assert len(uid) == 36, uid
    return uid


# -- the python client -----------------------------------------------------------------------------
@pytest.fixture
def python_api(cluster: Cluster) -> Iterator[CoreV1Api]:
    configuration = Configuration()
    kube_config.load_kube_config(config_file=str(cluster.server.kubeconfig),
                                 client_configuration=configuration)
    with ApiClient(configuration) as client:
        yield CoreV1Api(client)


def test_python_client_stream_exec(python_api: CoreV1Api) -> None:
    response = kubernetes_stream(python_api.connect_get_namespaced_pod_exec, "p", NS,
                                 command=["echo", "hi"], stdin=False, stdout=True, stderr=True, tty=False,
                                 _preload_content=False)
    try:
        response.run_forever(timeout=20)
        assert (response.read_stdout(), response.read_stderr(), response.returncode) == \
            ("hello echo hi\n", "to stderr\n", 0)
    finally:
        response.close()


def test_python_client_portforward(cluster: Cluster, python_api: CoreV1Api) -> None:
    forwarder = kubernetes_portforward(python_api.connect_get_namespaced_pod_portforward, "p", NS,
                                       ports="8080")
    try:
        sock = forwarder.socket(8080)
        sock.settimeout(20)
        sock.sendall(b"GET / HTTP/1.1\r\nHost: x\r\n\r\n")
        received = read_until_greeting(sock)
    finally:
        forwarder.close()
    assert received.endswith(b"port 8080 says hi")
    assert cluster.kubelet.last("/portForward/").query == [("port", "8080")]


# -- authorization ---------------------------------------------------------------------------------
def test_get_only_user_reads_logs_but_may_not_exec(cluster: Cluster) -> None:
    logs = cluster.kubectl("logs", "p", kubeconfig=cluster.viewer_kubeconfig)
    assert logs.returncode == 0, logs.stderr
    assert "authorization" not in {name.lower() for name in cluster.kubelet.last("/containerLogs/").headers}
    for websockets in ("true", "false"):
        result = cluster.kubectl("exec", "p", "--", "echo", kubeconfig=cluster.viewer_kubeconfig,
                                 env={"KUBECTL_REMOTE_COMMAND_WEBSOCKETS": websockets})
        assert result.returncode != 0
        assert b'User "viewer" cannot create resource "pods/exec"' in result.stderr, result.stderr


# -- errors ----------------------------------------------------------------------------------------
ERRORS = [
    ("GET", "missing/log", 404, 'pods "missing" not found'),
    ("POST", "pending/exec?command=ls&stdout=true", 400, "pod pending does not have a host assigned"),
    ("GET", "multi/log", 400, "a container name must be specified for pod multi, choose one of: [a b]"),
    ("POST", "multi/exec?command=ls&stdout=true", 400, "a container name must be specified for pod multi"),
    ("GET", "p/log?container=zz", 400, "container zz is not valid for pod p"),
    ("GET", "p/log?tailLines=-1", 422, "tailLines: Invalid value: -1: must be greater than or equal to 0"),
    ("GET", "p/log?limitBytes=0", 422, "limitBytes: Invalid value: 0: must be greater than 0"),
    ("GET", "p/log?sinceSeconds=0", 422, "sinceSeconds: Invalid value: 0: must be greater than 0"),
    ("GET", "p/log?sinceSeconds=5&sinceTime=2024-01-01T00:00:00Z", 422, "at most one of `sinceTime`"),
    ("GET", "p/log?tailLines=x", 400, 'parsing "x": invalid syntax'),
    ("GET", "orphan/log", 404, 'nodes "ghost" not found'),
    ("GET", "on-bare/log", 503, "no preferred addresses found"),
    ("GET", "on-down/log", 503, "connection refused"),
    ("POST", "on-foreign/exec?command=ls&stdout=true", 503, "CERTIFICATE_VERIFY_FAILED"),
    ("GET", "waiting/log", 400, WAITING_MESSAGE),
    ("PUT", "p/exec", 405, ""),
    ("POST", "p/log", 405, ""),
]


@pytest.mark.parametrize(("method", "subpath", "code", "message"), ERRORS,
                         ids=[f"{m}-{p.split('?')[0]}-{c}" for m, p, c, _ in ERRORS])
def test_error_answers_are_statuses(cluster: Cluster, method: str, subpath: str, code: int,
                                    message: str) -> None:
    status, body = cluster.call(method, f"/api/v1/namespaces/{NS}/pods/{subpath}")
    assert status == code, body
    assert isinstance(body, dict) and body["kind"] == "Status" and body["code"] == code, body
    assert message in body["message"], body


def test_unscheduled_pod_has_an_empty_log(cluster: Cluster) -> None:
    assert cluster.call("GET", f"/api/v1/namespaces/{NS}/pods/pending/log") == (200, None)


def test_default_container_annotation_and_tenant_path(cluster: Cluster) -> None:
    status, body = cluster.call("GET", f"/api/v1/tenants/system/namespaces/{NS}/pods/annotated/log")
    assert status == 200 and body == "".join(f"b line {i}\n" for i in range(1, LOG_LINES + 1))
    assert cluster.kubelet.last("/containerLogs/").path == f"/containerLogs/system/{NS}/annotated/b"


def test_vm_pod_logs_address_the_vm(cluster: Cluster) -> None:
    status, body = cluster.call("GET", f"/api/v1/namespaces/{NS}/pods/vm/log")
    assert status == 200 and body.startswith("guest line 1"), body
    assert cluster.kubelet.last("/containerLogs/").path == f"/containerLogs/system/{NS}/vm/guest"


def test_attach_without_upgrade_gets_the_kubelets_answer(cluster: Cluster) -> None:
    status, body = cluster.call("POST", f"/api/v1/namespaces/{NS}/pods/p/attach?stdout=true&container=c")
    assert (status, body) == (400, "upgrade request required")
    assert cluster.kubelet.last("/attach/").query == [("stdout", "1")]



@pytest.mark.parametrize("websockets", ["true", "false"], ids=["websocket-v5", "spdy"])
def test_exec_relays_megabytes_both_ways(cluster: Cluster, websockets: str) -> None:
    payload = bytes(range(97, 123)) * (3 * 1024 * 1024 // 26)
    result = cluster.kubectl("exec", "-i", "p", "--", "cat", stdin=payload,
                             env={"KUBECTL_REMOTE_COMMAND_WEBSOCKETS": websockets})
    assert result.returncode == 0, result.stderr[-500:]
    assert result.stdout == b"hello cat\n" + payload.upper()
