"""hack/arktos-up.sh and cluster/kubectl.sh as a user runs them.

Covers: arktos-up.sh with temp ARKTOS_DATA_DIR/CERT_DIR/LOG_DIR and a free API_SECURE_PORT
prints its ready line, serves TLS only (the plain API_PORT stays closed), writes the CA, serving
cert, service-account keys, known_tokens.csv and the admin/controller/scheduler/kubelet
kubeconfigs into CERT_DIR and `$LOG_DIR/kube-apiserver.log`; cluster/kubectl.sh drives that
cluster with the admin certificate; hack/setup-tenant-user.sh writes a tenant user's kubeconfig
(contexts `default` and `prefix`) and prints its path last; Ctrl-C (SIGINT to the foreground
process group) stops the script and the server; a second start on the same directories still has
every object and reuses every credential byte for byte; API_INSECURE_PORT_ENABLED=true opens the
plain port on loopback; kubectl.sh without a kubeconfig fails with a pointer to arktos-up.sh.
Leaves out: first-run installation of .venv (CI does it through `make`), the root-owned default
directories, and what tenant users may do (the tenancy tests).
"""

from __future__ import annotations

import ipaddress
import os
import queue
import signal
import socket
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

import pytest
import yaml
from apiserver_process import REPO_ROOT, admin_ssl_context, free_port, log_tail, probe, stop_process

from tools.cluster_credentials import ClusterCredentials

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
from registry_env import shared_registry

pytestmark = [pytest.mark.e2e]

READY_LINE = "cluster is ready"
START_TIMEOUT_S = 60.0
STOP_TIMEOUT_S = 20.0
KUBECTL_TIMEOUT_S = 30.0


def default_sigint() -> None:
    """The child starts with SIGINT at its default, as under a terminal: a runner that launched us
    in the background (SIGINT ignored, inherited) must not make arktos-up deaf to Ctrl-C."""
    signal.signal(signal.SIGINT, signal.SIG_DFL)


@dataclass
class ArktosUp:
    """One run of hack/arktos-up.sh in its own process group, its output collected by a thread."""

    env: dict[str, str]
    script: str = "arktos-up.sh"  # or arktos-up-scale-out.sh (test_arktos_up_scale_out.py)
    start_timeout_s: float = START_TIMEOUT_S
    report_log: str = "kube-apiserver.log"  # the log whose tail a failure report shows
    process: subprocess.Popen[str] | None = None
    lines: queue.Queue[str] = field(default_factory=queue.Queue)
    output: list[str] = field(default_factory=list)

    def start(self) -> None:
        self.output.clear()
        # Every cluster of the session pulls from the session's registry (none on port 5000 each).
        self.env.setdefault("REGISTRY", shared_registry())
        self.process = subprocess.Popen(
            ["bash", str(REPO_ROOT / "hack" / self.script)],
            env=self.env,
            cwd="/",
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            stdin=subprocess.DEVNULL,
            text=True,
            start_new_session=True,
            preexec_fn=default_sigint,
        )
        threading.Thread(target=self._pump, args=(self.process,), daemon=True).start()
        self.wait_for_line(READY_LINE)

    def _pump(self, process: subprocess.Popen[str]) -> None:
        assert process.stdout is not None
        for line in process.stdout:
            self.lines.put(line)

    def wait_for_line(self, needle: str) -> str:
        deadline = time.monotonic() + self.start_timeout_s
        while True:
            try:
                line = self.lines.get(timeout=max(0.0, deadline - time.monotonic()))
            except queue.Empty:
                raise AssertionError(
                    f"{self.script} printed no {needle!r} in {self.start_timeout_s}s:\n{self.report()}"
                ) from None
            self.output.append(line)
            if needle in line:
                return line

    def interrupt(self) -> int:
        """Ctrl-C: SIGINT to the whole foreground process group, as a terminal sends it."""
        assert self.process is not None
        os.killpg(self.process.pid, signal.SIGINT)
        try:
            return self.process.wait(timeout=STOP_TIMEOUT_S)
        except subprocess.TimeoutExpired:
            stop_process(self.process, sig=signal.SIGKILL)
            raise AssertionError(
                f"arktos-up.sh ignored Ctrl-C for {STOP_TIMEOUT_S}s:\n{self.report()}"
            ) from None

    def report(self) -> str:
        log = Path(self.env["LOG_DIR"]) / self.report_log
        return "".join(self.output) + f"\n--- {log} ---\n" + log_tail(log)


def network_pool_for(pod_subnet: str) -> str:
    """A cluster's NETWORK_SERVICE_CIDR_POOL (where each tenant network's Service /24 comes from),
    derived from its pod subnet 10.X.0.0/16, which every cluster test has its own: the X-th /20 of
    172.16.0.0/12 — apart from every test's pod subnet, service range and other clusters' pools."""
    second_octet = ipaddress.IPv4Network(pod_subnet).network_address.packed[1]
    return str(ipaddress.IPv4Network((int(ipaddress.IPv4Address("172.16.0.0")) + second_octet * 4096, 20)))


@pytest.fixture
def cluster_env(tmp_path: Path) -> dict[str, str]:
    env = dict(os.environ)
    env.pop("KUBECONFIG", None)
    env.update(
        {
            "ARKTOS_DATA_DIR": str(tmp_path / "data"),
            "CERT_DIR": str(tmp_path / "certs"),
            "LOG_DIR": str(tmp_path / "logs"),
            "API_SECURE_PORT": str(free_port()),
            "API_PORT": str(free_port()),
            "API_HOST_IP": "127.0.0.1",
            "KUBECTL": str(REPO_ROOT / ".venv" / "bin" / "kubectl"),
            # The node: its own name, and a bridge/subnet apart from the other containerd tests.
            "HOSTNAME_OVERRIDE": "arktos-up-node",
            "CONTAINERD_BRIDGE": "arktos-up0",
            "CONTAINERD_POD_SUBNET": "10.96.0.0/16",
            "NETWORK_SERVICE_CIDR_POOL": network_pool_for("10.96.0.0/16"),
            "KUBE_PROXY_CHAIN_PREFIX": "AUP",  # kube-proxy's chains, apart from other clusters'
        }
    )
    return env


@pytest.fixture
def arktos_up(cluster_env: dict[str, str]) -> Iterator[ArktosUp]:
    up = ArktosUp(cluster_env)
    yield up
    if up.process is not None and up.process.poll() is None:
        stop_process(up.process, sig=signal.SIGINT, timeout=STOP_TIMEOUT_S)


CREDENTIAL_FILES = [
    "ca.crt", "ca.key", "serving-kube-apiserver.crt", "serving-kube-apiserver.key", "sa.key", "sa.pub",
    "known_tokens.csv", "admin.kubeconfig", "controller.kubeconfig", "scheduler.kubeconfig",
    "kubelet.kubeconfig", "kube-proxy.kubeconfig", "encryption-config.yaml",
]  # fmt: skip


def proxy_chains(cluster_env: dict[str, str]) -> list[str]:
    """kube-proxy's chains of this cluster in the nat table."""
    prefix = cluster_env["KUBE_PROXY_CHAIN_PREFIX"] + "-"
    nat = subprocess.run(["iptables-save", "-t", "nat"], capture_output=True, text=True, check=True).stdout
    return [line[1:].split()[0] for line in nat.splitlines() if line.startswith(":" + prefix)]


def port_open(port: int) -> bool:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.settimeout(1.0)
        return sock.connect_ex(("127.0.0.1", port)) == 0


def credentials_of(env: dict[str, str]) -> ClusterCredentials:
    return ClusterCredentials(Path(env["CERT_DIR"]), admin_token="")


def snapshot(directory: Path) -> dict[str, bytes]:
    return {p.name: p.read_bytes() for p in sorted(directory.iterdir()) if p.is_file()}


KEEP_ME = "apiVersion: v1\nkind: ConfigMap\nmetadata: {name: keep-me, namespace: default}\ndata: {k: v}\n"


def kubectl_sh(env: dict[str, str], *args: str, stdin: str = "") -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [str(REPO_ROOT / "cluster" / "kubectl.sh"), *args],
        env=env,
        capture_output=True,
        text=True,
        timeout=KUBECTL_TIMEOUT_S,
        input=stdin,
    )


@pytest.mark.slow
def test_up_serve_interrupt_restart_keeps_objects(arktos_up: ArktosUp, cluster_env: dict[str, str]) -> None:
    arktos_up.start()
    url = f"https://127.0.0.1:{cluster_env['API_SECURE_PORT']}"
    cert_dir = Path(cluster_env["CERT_DIR"])
    kubeconfig = cert_dir / "admin.kubeconfig"
    for name in CREDENTIAL_FILES:
        assert (cert_dir / name).is_file(), name
    assert f"server: {url}" in kubeconfig.read_text()
    assert "current-context: default" in kubeconfig.read_text()
    assert "client-certificate-data" in kubeconfig.read_text()
    assert (Path(cluster_env["LOG_DIR"]) / "kube-apiserver.log").exists()
    assert f"export KUBECONFIG={kubeconfig}" in "".join(arktos_up.output)
    tls = admin_ssl_context(credentials_of(cluster_env))
    assert probe(f"{url}/readyz", context=tls), arktos_up.report()
    assert not port_open(int(cluster_env["API_PORT"])), "the plain port must be off unless asked for"
    credentials = snapshot(cert_dir)
    # kube-proxy runs next to the kubelet: its first sync writes the cluster's chains.
    deadline = time.monotonic() + 30
    while "AUP-SERVICES" not in proxy_chains(cluster_env) and time.monotonic() < deadline:
        time.sleep(0.5)
    assert "AUP-SERVICES" in proxy_chains(cluster_env), arktos_up.report()

    created = kubectl_sh(cluster_env, "apply", "-f", "-", stdin=KEEP_ME)
    assert created.returncode == 0, created.stderr
    listed = kubectl_sh(cluster_env, "get", "namespaces", "-o", "name")
    assert "namespace/default" in listed.stdout.split(), listed.stdout + listed.stderr

    assert arktos_up.interrupt() == 130, arktos_up.report()  # the shell convention for SIGINT
    outlived = probe(f"{url}/readyz", context=tls)
    assert not outlived, f"the API server outlived arktos-up.sh:\n{arktos_up.report()}"
    assert proxy_chains(cluster_env) == [], "the stop removes kube-proxy's chains"

    arktos_up.start()
    assert snapshot(cert_dir) == credentials, "a restart must reuse every certificate, key and kubeconfig"
    kept = kubectl_sh(cluster_env, "get", "configmap", "keep-me", "-o", "jsonpath={.data.k}")
    assert kept.returncode == 0 and kept.stdout == "v", kept.stderr + arktos_up.report()
    assert arktos_up.interrupt() == 130


@pytest.mark.slow
def test_setup_tenant_user_and_opt_in_plain_port(arktos_up: ArktosUp, cluster_env: dict[str, str]) -> None:
    cluster_env["API_INSECURE_PORT_ENABLED"] = "true"
    arktos_up.start()
    assert probe(f"http://127.0.0.1:{cluster_env['API_PORT']}/readyz"), arktos_up.report()

    made = subprocess.run(
        ["bash", str(REPO_ROOT / "hack" / "setup-tenant-user.sh"), "acme", "alice", "devs", "ops"],
        env=cluster_env, capture_output=True, text=True, timeout=KUBECTL_TIMEOUT_S,
    )  # fmt: skip
    assert made.returncode == 0, made.stderr
    path = Path(made.stdout.splitlines()[-1])
    assert path == Path(cluster_env["CERT_DIR"]) / "acme-alice.kubeconfig"
    assert path.stat().st_mode & 0o077 == 0
    config = yaml.safe_load(path.read_text())
    url = f"https://127.0.0.1:{cluster_env['API_SECURE_PORT']}"
    servers = {c["name"]: c["cluster"]["server"] for c in config["clusters"]}
    contexts = {c["name"]: servers[c["context"]["cluster"]] for c in config["contexts"]}
    assert contexts == {"default": url, "prefix": f"{url}/tenants/acme"}
    assert config["current-context"] == "default"

    refused = subprocess.run(
        ["bash", str(REPO_ROOT / "hack" / "setup-tenant-user.sh"), "Not_A_Label", "bob"],
        env=cluster_env, capture_output=True, text=True, timeout=KUBECTL_TIMEOUT_S,
    )  # fmt: skip
    assert refused.returncode != 0 and "DNS label" in refused.stderr
    assert arktos_up.interrupt() == 130


def test_kubectl_sh_without_kubeconfig_explains(cluster_env: dict[str, str]) -> None:
    result = kubectl_sh(cluster_env, "get", "pods")
    assert result.returncode != 0
    assert "admin.kubeconfig not found" in result.stderr and "arktos-up.sh" in result.stderr
