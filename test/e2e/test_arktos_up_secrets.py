"""Secrets at rest and tenant readiness on a cluster from hack/arktos-up.sh, as a user drives it.

Covers: arktos-up generates CERT_DIR/encryption-config.yaml (mode 0600, an aesgcm key) and passes
it to the API server; the system admin creates tenant acme with cluster/kubectl.sh and waits for it
with ``kubectl wait --for=condition=Initialized``; acme's admin (hack/setup-tenant-user.sh) creates
a Secret at once; in the store file (ARKTOS_DATA_DIR/arktos.db, opened with sqlite3, and the raw
database and WAL bytes) the Secret is ciphertext with the ``k8s:enc:aesgcm:v1:`` prefix while
kubectl reads it back in plain; a restart reuses the file byte for byte and the Secret still
reads. Leaves out rotation and decryption failures (test/component/test_api_encryption.py).
"""

from __future__ import annotations

import base64
import os
import sqlite3
import subprocess
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest
from apiserver_process import REPO_ROOT, free_port
from test_arktos_up import KUBECTL_TIMEOUT_S, ArktosUp, kubectl_sh, network_pool_for

pytestmark = [pytest.mark.e2e, pytest.mark.slow]


@pytest.fixture
def env(tmp_path: Path) -> dict[str, str]:
    environment = dict(os.environ)
    environment.pop("KUBECONFIG", None)
    environment.update({
        "ARKTOS_DATA_DIR": str(tmp_path / "data"), "CERT_DIR": str(tmp_path / "certs"),
        "LOG_DIR": str(tmp_path / "logs"), "API_SECURE_PORT": str(free_port()), "API_PORT": str(free_port()),
        "API_HOST_IP": "127.0.0.1", "KUBECTL": str(REPO_ROOT / ".venv" / "bin" / "kubectl"),
        "HOSTNAME_OVERRIDE": "arktos-secrets-node", "KUBELET_PORT": str(free_port()),
        # This suite's own bridge and pod subnet, apart from every other containerd test.
        "CONTAINERD_BRIDGE": "arktos-en0", "CONTAINERD_POD_SUBNET": "10.160.0.0/16",
        "NETWORK_SERVICE_CIDR_POOL": network_pool_for("10.160.0.0/16"),
        "KUBE_PROXY_CHAIN_PREFIX": "AEN",
        "VM_RUNTIME_ENABLED": "false",
    })  # fmt: skip
    return environment


@pytest.fixture
def cluster(env: dict[str, str]) -> Iterator[ArktosUp]:
    up = ArktosUp(env)
    up.start()
    yield up
    assert up.interrupt() == 130, up.report()


def run(argv: list[str], env: dict[str, str], stdin: str = "") -> str:
    result = subprocess.run(argv, env=env, input=stdin, capture_output=True, text=True,
                            timeout=KUBECTL_TIMEOUT_S)
    assert result.returncode == 0, f"{argv}: {result.stderr}"
    return result.stdout


def test_a_tenants_secret_is_ciphertext_in_the_store_file(cluster: ArktosUp, env: dict[str, str]) -> None:
    config = Path(env["CERT_DIR"]) / "encryption-config.yaml"
    assert config.stat().st_mode & 0o777 == 0o600
    assert "aesgcm" in config.read_text()

    tenant = "apiVersion: v1\nkind: Tenant\nmetadata: {name: acme}\n"
    created = kubectl_sh(env, "create", "-f", "-", stdin=tenant)
    assert created.returncode == 0, created.stderr
    waited = kubectl_sh(env, "wait", "--for=condition=Initialized", "tenant/acme", "--timeout=30s")
    assert waited.returncode == 0, waited.stderr + cluster.report()
    issued = run(["bash", str(REPO_ROOT / "hack" / "setup-tenant-user.sh"), "acme", "admin"], env)
    tenant_admin = [env["KUBECTL"], f"--kubeconfig={issued.splitlines()[-1]}"]

    marker = f"pw-{uuid.uuid4().hex}"
    run([*tenant_admin, "create", "secret", "generic", "db", f"--from-literal=password={marker}"], env)
    read = run([*tenant_admin, "get", "secret", "db", "-o", "jsonpath={.data.password}"], env)
    assert base64.b64decode(read).decode() == marker

    data_dir = Path(env["ARKTOS_DATA_DIR"])
    with sqlite3.connect(data_dir / "arktos.db") as conn:
        (stored,) = conn.execute("SELECT value FROM kv_log WHERE name = ? ORDER BY id DESC LIMIT 1",
                                 ("/registry/secrets/acme/default/db",)).fetchone()
    assert bytes(stored).startswith(b"k8s:enc:aesgcm:v1:key-"), bytes(stored)[:40]
    raw = b"".join(p.read_bytes() for p in (data_dir / "arktos.db", data_dir / "arktos.db-wal") if p.exists())
    assert marker.encode() not in raw and base64.b64encode(marker.encode()) not in raw

    # A restart reuses the generated key: the Secret still reads back.
    key_file = config.read_bytes()
    assert cluster.interrupt() == 130, cluster.report()
    cluster.start()
    assert config.read_bytes() == key_file
    again = run([*tenant_admin, "get", "secret", "db", "-o", "jsonpath={.data.password}"], env)
    assert base64.b64decode(again).decode() == marker
