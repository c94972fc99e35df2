"""A tenant partition's pods/log reaching a kubelet whose Node lives in a resource partition
(``--resource-providers``, Arktos issue 1155), and the identity headers never reaching it.

Covers, with real servers sharing one CA (an RP holding the Node with a scripted kubelet's endpoint,
a TP holding the pod bound to it and no Node at all): ``GET pods/p/log`` on the TP, raw and with
stock kubectl, reaches the kubelet with the TP's kubelet client identity; a pod on a node in no RP
is 404 ``nodes "ghost" not found`` as on one server; with an unreachable RP in the list, a node
another RP holds is still found, and a node none holds is 503 naming the unreachable RP; a front
proxy's request (request-header authentication on the TP) is served as the named user and its
X-Remote-* headers are stripped before the kubelet, as are forged ones on a client-certificate
request.
Leaves out: exec/attach/port-forward through a TP (the same location, relayed by the code
test_pod_proxy.py covers), the cache's expiry (a TTL; the node's address is re-read after it),
and the gateway in front (gateway tests).
"""

from __future__ import annotations

import json
import shutil
import ssl
import subprocess
import sys
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "e2e"))
from apiserver_process import ApiServerProcess, free_port, start_apiserver
from component_http import https_call
from pod_proxy_kubelet import LOG_LINES, FakeKubelet, kubelet_thread, loopback_credentials

from tools.cluster_credentials import ClusterCredentials

KUBECTL = Path(__file__).resolve().parents[2] / ".venv" / "bin" / "kubectl"
NS = "pp"
TIMEOUT_S = 30
EXPECTED_LOG = "".join(f"c line {i}\n" for i in range(1, LOG_LINES + 1))


@dataclass
class Partitions:
    rp: ApiServerProcess
    tp: ApiServerProcess  # --resource-providers rp
    tp_unsure: ApiServerProcess  # --resource-providers rp,<nothing listening>
    kubelet: FakeKubelet
    credentials: ClusterCredentials
    workdir: Path


def _call(server: ApiServerProcess, method: str, path: str, body: Any = None, *,
          context: ssl.SSLContext | None = None,
          headers: Sequence[tuple[str, str]] = ()) -> tuple[int, bytes]:
    admin = server.ssl_context()
    assert admin is not None
    return https_call(server.port, context or admin, method, path, body=body, headers=headers)


def _ok(server: ApiServerProcess, method: str, path: str, body: Any = None) -> Any:
    status, raw = _call(server, method, path, body)
    assert status in (200, 201), (method, path, status, raw)
    return json.loads(raw)


def _put_status(server: ApiServerProcess, path: str, created: dict[str, Any], status: dict[str, Any]) -> None:
    created["status"] = status
    _ok(server, "PUT", f"{path}/status", created)


def _kubeconfig_copy(credentials: ClusterCredentials, target: Path) -> Path:
    """The admin kubeconfig as it is now (it names the server last started on these credentials)."""
    shutil.copy(credentials.admin_kubeconfig, target)
    return target


def _start_partition(workdir: Path, certs: Path, extra_args: Sequence[str] = ()) -> ApiServerProcess:
    """A server on the shared credentials (workdir/certs links to them: one CA for all partitions)."""
    workdir.mkdir()
    (workdir / "certs").symlink_to(certs)
    return start_apiserver(workdir, tls=True, extra_args=extra_args)


@pytest.fixture(scope="module")
def partitions(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Partitions]:
    workdir = tmp_path_factory.mktemp("partitions")
    credentials = loopback_credentials(workdir / "certs")
    thread = kubelet_thread(credentials)
    kubelet_args = ("--kubelet-client-certificate", str(credentials.kubelet_client_cert),
                    "--kubelet-client-key", str(credentials.kubelet_client_key),
                    "--kubelet-certificate-authority", str(credentials.ca_cert))
    servers: list[ApiServerProcess] = []
    try:
        kubelet = thread.start()
        servers.append(_start_partition(workdir / "rp0", credentials.cert_dir))
        rp_kubeconfig = _kubeconfig_copy(credentials, workdir / "rp0.kubeconfig")
        dead = (workdir / "dead.kubeconfig")
        dead.write_text(rp_kubeconfig.read_text().replace(f":{servers[0].port}", f":{free_port()}"))
        servers.append(_start_partition(workdir / "tp0", credentials.cert_dir, (
            *kubelet_args, "--resource-providers", str(rp_kubeconfig),
            "--requestheader-client-ca-file", str(credentials.front_proxy_ca_cert),
            "--requestheader-allowed-names", "front-proxy-client")))
        servers.append(_start_partition(workdir / "tp1", credentials.cert_dir, (
            *kubelet_args, "--resource-providers", f"{rp_kubeconfig},{dead}")))
        made = Partitions(*servers, kubelet=kubelet, credentials=credentials, workdir=workdir)
        node = _ok(made.rp, "POST", "/api/v1/nodes", {"apiVersion": "v1", "kind": "Node",
                                                        "metadata": {"name": "rp-node"}})
        _put_status(made.rp, "/api/v1/nodes/rp-node", node, {
            "addresses": [{"type": "InternalIP", "address": "127.0.0.1"}],
            "daemonEndpoints": {"kubeletEndpoint": {"Port": kubelet.port}}})
        for tp in (made.tp, made.tp_unsure):
            _ok(tp, "POST", "/api/v1/namespaces",
                {"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": NS}})
            for name, node_name in (("p", "rp-node"), ("orphan", "ghost")):
                _ok(tp, "POST", f"/api/v1/namespaces/{NS}/pods", {
                    "apiVersion": "v1", "kind": "Pod", "metadata": {"name": name},
                    "spec": {"nodeName": node_name, "containers": [{"name": "c", "image": "busybox"}]}})
        yield made
    finally:
        for server in servers:
            server.stop()
        thread.stop()


def test_logs_through_the_tp_reach_the_rps_kubelet(partitions: Partitions) -> None:
    status, _ = _call(partitions.tp, "GET", "/api/v1/nodes/rp-node")
    assert status == 404  # the TP holds no node: the address can only have come from the RP
    status, body = _call(partitions.tp, "GET", f"/api/v1/namespaces/{NS}/pods/p/log")
    assert status == 200, body
    assert body.decode() == EXPECTED_LOG
    seen = partitions.kubelet.last("/containerLogs/")
    assert seen.path == f"/containerLogs/system/{NS}/p/c"
    assert seen.client_cn == "kube-apiserver-kubelet-client"


def test_kubectl_logs_through_the_tp(partitions: Partitions) -> None:
    kubeconfig = _kubeconfig_copy(partitions.credentials, partitions.workdir / "tp.kubeconfig")
    result = subprocess.run(
        [str(KUBECTL), f"--kubeconfig={kubeconfig}",
         f"--server={partitions.tp.url}", f"--cache-dir={partitions.workdir / 'kubectl-cache'}",
         "-n", NS, "logs", "p", "--tail=2"], capture_output=True, timeout=TIMEOUT_S)
    assert result.returncode == 0, result.stderr
    assert result.stdout.decode() == EXPECTED_LOG
    assert dict(partitions.kubelet.last("/containerLogs/").query) == {"tailLines": "2"}


def test_a_node_in_no_rp_is_not_found(partitions: Partitions) -> None:
    status, body = _call(partitions.tp, "GET", f"/api/v1/namespaces/{NS}/pods/orphan/log")
    assert status == 404, body
    answer = json.loads(body)
    assert (answer["reason"], answer["message"]) == ("NotFound", 'nodes "ghost" not found')


def test_an_unreachable_rp_fails_only_what_it_might_hold(partitions: Partitions) -> None:
    status, body = _call(partitions.tp_unsure, "GET", f"/api/v1/namespaces/{NS}/pods/p/log")
    assert status == 200, body
    assert body.decode() == EXPECTED_LOG
    status, body = _call(partitions.tp_unsure, "GET", f"/api/v1/namespaces/{NS}/pods/orphan/log")
    assert status == 503, body
    answer = json.loads(body)
    assert answer["reason"] == "ServiceUnavailable"
    assert "dead.kubeconfig" in answer["message"] and '"ghost"' in answer["message"]


def _with_cert(partitions: Partitions, cert: Path, key: Path) -> ssl.SSLContext:
    context = ssl.create_default_context(cafile=str(partitions.credentials.ca_cert))
    context.load_cert_chain(cert, key)
    return context


def test_identity_headers_never_reach_the_kubelet(partitions: Partitions) -> None:
    credentials = partitions.credentials
    proxy = _with_cert(partitions, credentials.front_proxy_client_cert, credentials.front_proxy_client_key)
    identity = [("X-Remote-User", "ops"), ("X-Remote-Group", "system:masters"),
                ("X-Remote-Tenant", "system"), ("X-Remote-Extra-Reason", "debug")]
    path = f"/api/v1/namespaces/{NS}/pods/p/log"
    status, body = _call(partitions.tp, "GET", path, context=proxy, headers=identity)
    assert status == 200, body
    sent = {name.lower() for name in partitions.kubelet.last("/containerLogs/").headers}
    assert not any(name.startswith("x-remote-") for name in sent), sent
    status, body = _call(partitions.tp, "GET", path, headers=identity)  # admin cert, forged headers
    assert status == 200, body
    sent = {name.lower() for name in partitions.kubelet.last("/containerLogs/").headers}
    assert not any(name.startswith("x-remote-") for name in sent), sent
    status, body = _call(partitions.tp, "GET", path, context=proxy, headers=[("X-Remote-User", "nobody")])
    assert status == 403, body  # the proxy's user, not the proxy, is authorized
