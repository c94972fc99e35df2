"""Issue 5's must-shows on a cluster started by hack/arktos-up.sh, driven by stock kubectl.

Covers, on one node (containerd + kubelet, TLS everywhere, the API server proxying to the kubelet's
streaming port): a 3-replica busybox httpd Deployment Running with pod IPs as isolated processes
(PID 1 in its own PID namespace, the memory limit visible in its cgroup); `logs` and `logs -f`;
`exec -- cat /etc/hostname` and `exec -i` fed through stdin; `port-forward` with an HTTP GET
through it; a hostPort reached on the node's IP; `cp` in and out; a liveness probe restarting
its container; CrashLoopBackOff; `delete` stopping containers within the grace period; postStart
and preStop hooks (writing to a hostPath); configMap and secret volumes; the kubelet killed and
restarted by arktos-up adopting the running pods.
The same exec, logs and port-forward through the official python client (`kubernetes.stream`) and
through stock kubectl 1.32. Leaves out: VM pods (test_arktos_up_vm.py).
"""

from __future__ import annotations

import base64
import os
import signal
import socket
import time
import urllib.request
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from kubectl_binaries import kubectl_binary
from test_arktos_up import ArktosUp
from workload_cluster import (
    Kubectl,
    container_status,
    module_tmp,  # noqa: F401 (fixture)
    phase_running,
    running_cluster,
    workload_cluster_env,
)

pytestmark = [pytest.mark.e2e, pytest.mark.slow]

NODE = "arktos-uw-node"
MEMORY_LIMIT = 64 * 1024 * 1024


@pytest.fixture(scope="module")
def cluster(module_tmp: Path) -> Iterator[ArktosUp]:  # noqa: F811
    env = workload_cluster_env(module_tmp, node=NODE, bridge="arktos-uw0", subnet="10.91.0.0/16")
    yield from running_cluster(env)


@pytest.fixture(scope="module")
def kubectl(cluster: ArktosUp) -> Kubectl:
    return Kubectl(cluster)


def _pod(name: str, *containers: dict[str, Any], **spec: Any) -> dict[str, Any]:
    return {"apiVersion": "v1", "kind": "Pod", "metadata": {"name": name, "namespace": "default"},
            "spec": {"containers": list(containers), **spec}}


def _restarts(kubectl: Kubectl, name: str) -> int:
    return int(container_status(kubectl.pod(name)).get("restartCount", 0))


@pytest.fixture(scope="module")
def web_pods(kubectl: Kubectl) -> list[str]:
    """`create deployment web --image=busybox --replicas=3 -- httpd -f -p 8080`, with a memory limit."""
    created = kubectl("create", "deployment", "web", "--image=busybox", "--replicas=3",
                      "--", "httpd", "-f", "-p", "8080")
    assert "deployment.apps/web created" in created.stdout
    kubectl("set", "resources", "deployment", "web", "--limits=memory=64Mi,cpu=250m")
    kubectl.wait("3 web pods Running with the limit", lambda: _web_ready(kubectl))
    return [p["metadata"]["name"] for p in _live(kubectl.pods("app=web"))]


def _live(pods: list[dict[str, Any]]) -> list[dict[str, Any]]:
    return [p for p in pods if not p["metadata"].get("deletionTimestamp")]


def _web_ready(kubectl: Kubectl) -> bool:
    pods = _live(kubectl.pods("app=web"))
    return len(pods) == 3 and len(kubectl.pods("app=web")) == 3 and all(
        phase_running(p) and p["status"].get("podIP")
        and p["spec"]["containers"][0].get("resources", {}).get("limits", {}).get("memory") == "64Mi"
        for p in pods)


def test_deployment_pods_run_isolated_with_pod_ips(kubectl: Kubectl, web_pods: list[str]) -> None:
    ips = set()
    for name in web_pods:
        pod = kubectl.pod(name)
        assert pod["spec"]["nodeName"] == NODE
        ips.add(pod["status"]["podIP"])
        assert pod["status"]["podIP"].startswith("10.91.")
        # Own PID namespace: the container's command is PID 1.
        cmdline = kubectl("exec", name, "--", "cat", "/proc/1/cmdline").stdout
        assert cmdline.split("\0")[0] == "httpd", cmdline
        limit = kubectl("exec", name, "--", "cat", "/sys/fs/cgroup/memory/memory.limit_in_bytes")
        assert int(limit.stdout.strip()) == MEMORY_LIMIT
    assert len(ips) == 3


def test_exec_hostname_and_interactive_stdin(kubectl: Kubectl, web_pods: list[str]) -> None:
    name = web_pods[0]
    assert kubectl("exec", name, "--", "cat", "/etc/hostname").stdout.strip() == name
    echoed = kubectl("exec", "-i", name, "--", "sh", "-c", "tr a-z A-Z", stdin="hello from stdin\n")
    assert echoed.stdout == "HELLO FROM STDIN\n"
    failed = kubectl("exec", name, "--", "sh", "-c", "exit 3", check=False)
    assert failed.returncode == 3, failed.stderr


def test_logs_and_follow(kubectl: Kubectl) -> None:
    kubectl.apply({"apiVersion": "v1", "kind": "Pod", "metadata": {"name": "ticker", "namespace": "default"},
                   "spec": {"containers": [{"name": "c", "image": "busybox", "command": [
                       "sh", "-c", "i=0; while true; do echo tick $i; i=$((i+1)); sleep 1; done"]}]}})
    kubectl.wait("ticker running", lambda: phase_running(kubectl.pod("ticker")))
    kubectl.wait("ticker logged", lambda: "tick 1" in kubectl("logs", "ticker").stdout)
    assert kubectl("logs", "ticker", "--tail=1").stdout.count("\n") == 1
    follower = kubectl.popen("logs", "-f", "ticker", "--tail=1")
    try:
        assert follower.stdout is not None
        seen = [follower.stdout.readline() for _ in range(3)]
        numbers = [int(line.split()[1]) for line in seen]
        assert numbers == sorted(numbers) and numbers[-1] > numbers[0], seen
    finally:
        os.killpg(follower.pid, signal.SIGTERM)
        follower.wait(10)
    kubectl("delete", "pod", "ticker", "--grace-period=0", "--force")


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def test_port_forward_http_get(kubectl: Kubectl, web_pods: list[str]) -> None:
    name, port = web_pods[1], _free_port()
    forward = kubectl.popen("port-forward", f"pod/{name}", f"{port}:8080")
    try:
        assert forward.stdout is not None
        assert "Forwarding from 127.0.0.1" in forward.stdout.readline()
        with urllib.request.urlopen(f"http://127.0.0.1:{port}/etc/hostname", timeout=20) as reply:
            assert reply.status == 200
            assert reply.read().decode().strip() == name
    finally:
        os.killpg(forward.pid, signal.SIGTERM)
        forward.wait(10)


def test_host_port_reaches_the_pod(kubectl: Kubectl) -> None:
    web = {"name": "c", "image": "busybox", "command": ["httpd", "-f", "-p", "8080"],
           "ports": [{"containerPort": 8080, "hostPort": 18089}]}
    kubectl.apply(_pod("hostport", web))
    kubectl.wait("hostport running", lambda: phase_running(kubectl.pod("hostport")))
    node_ip = kubectl.pod("hostport")["status"]["hostIP"]
    with urllib.request.urlopen(f"http://{node_ip}:18089/etc/hostname", timeout=20) as reply:
        assert reply.read().decode().strip() == "hostport"
    kubectl("delete", "pod", "hostport", "--grace-period=0", "--force")


def test_cp_in_and_out(kubectl: Kubectl, web_pods: list[str], tmp_path: Path) -> None:
    name = web_pods[2]
    local = tmp_path / "in.txt"
    local.write_text("copied through tar over exec\n")
    kubectl("cp", str(local), f"default/{name}:/tmp/in.txt")
    assert kubectl("exec", name, "--", "cat", "/tmp/in.txt").stdout == local.read_text()
    kubectl("exec", name, "--", "sh", "-c", "echo made inside > /tmp/out.txt")
    out = tmp_path / "out.txt"
    kubectl("cp", f"default/{name}:/tmp/out.txt", str(out))
    assert out.read_text() == "made inside\n"


def test_liveness_probe_failure_restarts_the_container(kubectl: Kubectl) -> None:
    kubectl.apply({"apiVersion": "v1", "kind": "Pod", "metadata": {"name": "lively", "namespace": "default"},
                   "spec": {"containers": [{
                       "name": "c", "image": "busybox",
                       "command": ["sh", "-c", "touch /tmp/ok; sleep 4; rm /tmp/ok; sleep 3600"],
                       "livenessProbe": {"exec": {"command": ["cat", "/tmp/ok"]}, "periodSeconds": 1,
                                         "failureThreshold": 2},
                   }]}})
    kubectl.wait("lively restarted", lambda: _restarts(kubectl, "lively") >= 1)
    events = kubectl("get", "events", "--field-selector", "involvedObject.name=lively").stdout
    assert "Unhealthy" in events and "Liveness probe failed" in events, events
    kubectl("delete", "pod", "lively", "--grace-period=0", "--force")


def test_crashing_container_goes_to_crash_loop_back_off(kubectl: Kubectl) -> None:
    kubectl.apply({"apiVersion": "v1", "kind": "Pod", "metadata": {"name": "crasher", "namespace": "default"},
                   "spec": {"containers": [{"name": "c", "image": "busybox",
                                            "command": ["sh", "-c", "echo dying; exit 1"]}]}})

    def backing_off() -> bool:
        waiting = container_status(kubectl.pod("crasher")).get("state", {}).get("waiting", {})
        return bool(waiting.get("reason") == "CrashLoopBackOff")

    kubectl.wait("CrashLoopBackOff", backing_off)
    table = kubectl("get", "pod", "crasher").stdout
    assert "CrashLoopBackOff" in table
    assert "dying" in kubectl("logs", "crasher", "--previous").stdout
    kubectl("delete", "pod", "crasher", "--grace-period=0", "--force")


def test_configmap_and_secret_volumes_show_their_files(kubectl: Kubectl) -> None:
    kubectl("create", "configmap", "settings", "--from-literal=mode=fast")
    kubectl("create", "secret", "generic", "creds", "--from-literal=password=s3cret")
    kubectl.apply({"apiVersion": "v1", "kind": "Pod", "metadata": {"name": "mounts", "namespace": "default"},
                   "spec": {"containers": [{
                       "name": "c", "image": "busybox", "command": ["sleep", "3600"],
                       "volumeMounts": [{"name": "cfg", "mountPath": "/etc/cfg"},
                                        {"name": "sec", "mountPath": "/etc/sec", "readOnly": True}],
                   }], "volumes": [{"name": "cfg", "configMap": {"name": "settings"}},
                                   {"name": "sec", "secret": {"secretName": "creds"}}]}})
    kubectl.wait("mounts running", lambda: phase_running(kubectl.pod("mounts")))
    assert kubectl("exec", "mounts", "--", "cat", "/etc/cfg/mode").stdout == "fast"
    assert kubectl("exec", "mounts", "--", "cat", "/etc/sec/password").stdout == "s3cret"
    assert base64.b64decode(kubectl.json("get", "secret", "creds")["data"]["password"]) == b"s3cret"
    kubectl("delete", "pod", "mounts", "--grace-period=0", "--force")


def test_delete_stops_containers_within_the_grace_period(kubectl: Kubectl) -> None:
    ignores_term = {"name": "c", "image": "busybox", "command": ["sh", "-c", "trap '' TERM; sleep 3600"]}
    kubectl.apply(_pod("stubborn", ignores_term, terminationGracePeriodSeconds=3))
    kubectl.wait("stubborn running", lambda: phase_running(kubectl.pod("stubborn")))
    started = time.monotonic()
    kubectl("delete", "pod", "stubborn", "--wait=true", "--timeout=30s")
    took = time.monotonic() - started
    assert 2.5 <= took <= 15, f"deleted after {took:.1f}s with a 3 s grace period"


def test_post_start_and_pre_stop_hooks_run(kubectl: Kubectl, module_tmp: Path) -> None:  # noqa: F811
    host_dir = module_tmp / "hooks"
    host_dir.mkdir()
    hooked = {"name": "c", "image": "busybox", "command": ["sleep", "3600"],
              "volumeMounts": [{"name": "hooks", "mountPath": "/hooks"}],
              "lifecycle": {"postStart": {"exec": {"command": ["sh", "-c", "echo started > /hooks/post"]}},
                            "preStop": {"exec": {"command": ["sh", "-c", "echo stopping > /hooks/pre"]}}}}
    kubectl.apply(_pod("hooked", hooked, terminationGracePeriodSeconds=5, volumes=[
        {"name": "hooks", "hostPath": {"path": str(host_dir), "type": "Directory"}}]))
    kubectl.wait("hooked running", lambda: phase_running(kubectl.pod("hooked")))
    assert (host_dir / "post").read_text() == "started\n"
    assert not (host_dir / "pre").exists()
    kubectl("delete", "pod", "hooked", "--wait=true", "--timeout=30s")
    assert (host_dir / "pre").read_text() == "stopping\n"


def test_kubelet_killed_and_restarted_adopts_running_pods(kubectl: Kubectl, web_pods: list[str]) -> None:
    before = {n: container_status(kubectl.pod(n))["containerID"] for n in web_pods}
    pid = _kubelet_pid(kubectl.env["CERT_DIR"])
    os.kill(pid, signal.SIGKILL)
    kubectl.up.wait_for_line("restarting kubelet")
    cert_dir = kubectl.env["CERT_DIR"]
    kubectl.wait("a new kubelet", lambda: _kubelet_pid(cert_dir, missing_ok=True) not in (0, pid))
    time.sleep(3)  # a resync pass of the new kubelet
    for name, container_id in before.items():
        status = container_status(kubectl.pod(name))
        assert status["containerID"] == container_id, "the restarted kubelet must adopt, not recreate"
        assert status.get("restartCount", 0) == 0
    kubectl("exec", web_pods[0], "--", "true")


def _kubelet_pid(cert_dir: str, *, missing_ok: bool = False) -> int:
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            cmdline = (entry / "cmdline").read_bytes().split(b"\0")
        except OSError:
            continue
        if b"kubelet" in cmdline and any(cert_dir.encode() in arg for arg in cmdline):
            return int(entry.name)
    if missing_ok:
        return 0
    raise AssertionError("no kubelet process found")


def _python_client(env: dict[str, str]) -> Any:
    from kubernetes import client, config

    api_client = config.new_client_from_config(str(Path(env["CERT_DIR"]) / "admin.kubeconfig"))
    return client.CoreV1Api(api_client)


def test_python_client_exec_logs_and_port_forward(kubectl: Kubectl, web_pods: list[str]) -> None:
    from kubernetes.stream import portforward, stream

    core = _python_client(kubectl.env)
    name = web_pods[0]
    out = stream(core.connect_get_namespaced_pod_exec, name, "default", command=["cat", "/etc/hostname"],
                 stderr=True, stdin=False, stdout=True, tty=False)
    assert out.strip() == name
    kubectl("exec", name, "--", "sh", "-c", "echo logged-line > /proc/1/fd/1")
    assert "logged-line" in core.read_namespaced_pod_log(name, "default")
    forward = portforward(core.connect_get_namespaced_pod_portforward, name, "default", ports="8080")
    try:
        sock = forward.socket(8080)
        sock.settimeout(20)
        sock.sendall(b"GET /etc/hostname HTTP/1.0\r\nHost: x\r\n\r\n")
        reply = b""
        while chunk := sock.recv(4096):
            reply += chunk
        assert reply.startswith(b"HTTP/1.") and b" 200 " in reply.split(b"\r\n", 1)[0], reply[:200]
        assert reply.rstrip().endswith(name.encode())
    finally:
        forward.close()


def test_kubectl_132_exec_logs_and_port_forward(kubectl: Kubectl, web_pods: list[str]) -> None:
    """The same streams with stock kubectl 1.32 (SPDY for exec where 1.37 speaks WebSocket v5)."""
    old = Kubectl(kubectl.up)
    old.env = {**kubectl.env, "KUBECTL": kubectl_binary("kubectl-1.32")}
    name = web_pods[0]
    echoed = old("exec", "-i", name, "--", "sh", "-c", "tr a-z A-Z", stdin="from kubectl 1.32\n")
    assert echoed.stdout == "FROM KUBECTL 1.32\n"
    assert old("exec", name, "--", "sh", "-c", "exit 4", check=False).returncode == 4
    old("logs", name, "--tail=5")
    port = _free_port()
    forward = old.popen("port-forward", f"pod/{name}", f"{port}:8080")
    try:
        assert forward.stdout is not None
        assert "Forwarding from 127.0.0.1" in forward.stdout.readline()
        with urllib.request.urlopen(f"http://127.0.0.1:{port}/etc/hostname", timeout=20) as reply:
            assert reply.read().decode().strip() == name
    finally:
        os.killpg(forward.pid, signal.SIGTERM)
        forward.wait(10)
