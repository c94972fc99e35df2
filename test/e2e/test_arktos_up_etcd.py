"""arktos-up's etcd and its settings checks, driven through hack/lib as arktos-up.sh drives them.

Covers: hack/lib/etcd.sh with ETCD_MEMBERS=3 starts three supervised members on loopback
(ETCD_CLIENT_PORT+2i), each in $ARKTOS_DATA_DIR/etcd/etcd-i with its log in $LOG_DIR/etcd-i.log,
and waits until all report healthy; a member killed with SIGKILL is started again by its
supervisor on the same data and rejoins (it serves a key written while it was gone); the stop
ends every member. arktos-up.sh refuses APISERVER_COUNT=2 on SQLite and an unknown
STORAGE_BACKEND, each with a message naming the variable, before starting any server. With
ETCD_SERVERS naming a running etcd, arktos-up starts no etcd (and one server, no HAProxy), the
server's --storage names that etcd and an object created through kubectl is stored in it.
Leaves out: several API servers behind HAProxy (test/e2e/test_several_apiservers.py), TLS towards
an external etcd (ETCD_CAFILE/CERTFILE/KEYFILE are passed as the server's --etcd-* flags, which
test/storage/test_etcd_failures.py covers).
"""

from __future__ import annotations

import base64
import json
import os
import subprocess
import time
import urllib.request
from pathlib import Path

import pytest
from apiserver_process import REPO_ROOT, free_port
from etcd_process import running_etcd
from recorded_process import cmdline
from several_cluster import free_port_run, running_several_cluster, several_cluster_env
from test_arktos_up import kubectl_sh

pytestmark = [pytest.mark.e2e]

SCRIPT = """
set -euo pipefail
source hack/lib/init.sh
arktos::process::init_run_dir
trap 'arktos::process::stop_all' EXIT
arktos::etcd::start
echo "ENDPOINTS $(arktos::etcd::endpoints)"
# Hold the members until the test closes our stdin.
read -r _
"""


def etcd_call(port: int, path: str, body: dict[str, object]) -> dict[str, object]:
    request = urllib.request.Request(f"http://127.0.0.1:{port}{path}", method="POST",
                                     data=json.dumps(body).encode())
    with urllib.request.urlopen(request, timeout=3) as answer:
        loaded: dict[str, object] = json.loads(answer.read())
        return loaded


def b64(text: str) -> str:
    return base64.b64encode(text.encode()).decode()


def put(port: int, key: str, value: str) -> bool:
    try:
        etcd_call(port, "/v3/kv/put", {"key": b64(key), "value": b64(value)})
    except OSError:
        return False
    return True


def pid_of(run_dir: Path, name: str) -> int:
    return int((run_dir / f"{name}.pid").read_text().split()[0])


def wait_for(what: str, check, timeout_s: float = 30.0) -> None:  # type: ignore[no-untyped-def]
    deadline = time.monotonic() + timeout_s
    while not check():
        assert time.monotonic() < deadline, f"{what} not within {timeout_s}s"
        time.sleep(0.2)


def serves(port: int, key: str) -> str | None:
    try:
        found = etcd_call(port, "/v3/kv/range", {"key": b64(key)})
    except OSError:
        return None
    kvs = found.get("kvs") or []
    assert isinstance(kvs, list)
    return base64.b64decode(kvs[0]["value"]).decode() if kvs else None


@pytest.mark.slow
def test_three_supervised_members_and_one_killed_rejoins(tmp_path: Path) -> None:
    base = free_port_run(6)
    env = {**os.environ, "ARKTOS_DATA_DIR": str(tmp_path / "data"), "LOG_DIR": str(tmp_path / "logs"),
           "CERT_DIR": str(tmp_path / "certs"), "ETCD_MEMBERS": "3", "ETCD_CLIENT_PORT": str(base),
           "ETCD_RESTART_DELAY": "2"}
    (tmp_path / "logs").mkdir()
    run_dir = tmp_path / "data" / "run"
    shell = subprocess.Popen(["bash", "-c", SCRIPT], cwd=REPO_ROOT, env=env, stdin=subprocess.PIPE,
                             stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    try:
        assert shell.stdout is not None
        lines = []
        for line in shell.stdout:
            lines.append(line)
            if line.startswith("ENDPOINTS"):
                break
        expected = ",".join(f"127.0.0.1:{base + 2 * i}" for i in range(3))
        assert lines and lines[-1].split()[1] == expected, "".join(lines)
        for i in range(3):
            assert (tmp_path / "data" / "etcd" / f"etcd-{i}" / "member").is_dir()
            assert (tmp_path / "logs" / f"etcd-{i}.log").stat().st_size > 0
        members = etcd_call(base, "/v3/cluster/member/list", {})["members"]
        assert isinstance(members, list) and len(members) == 3

        killed = pid_of(run_dir, "etcd-1")
        os.kill(killed, 9)
        # etcd-1 may have led: the others elect a leader first (seconds on a loaded machine).
        wait_for("a write while etcd-1 is gone", lambda: put(base, "/while-gone", "written"))
        wait_for("etcd-1 started again", lambda: pid_of(run_dir, "etcd-1") != killed)
        wait_for("etcd-1 serving the write it missed", lambda: serves(base + 2, "/while-gone") == "written")
        print(f"etcd-1 (pid {killed}) killed; pid {pid_of(run_dir, 'etcd-1')} rejoined, serves /while-gone")
    finally:
        assert shell.stdin is not None
        shell.stdin.close()
        shell.wait(timeout=60)
    output = shell.stdout.read() if shell.stdout else ""
    assert "stopping etcd-0" in output, output
    for i in range(3):
        assert serves(base + 2 * i, "/while-gone") is None, f"etcd-{i} outlived the stop"


@pytest.mark.parametrize(("settings", "message"), [
    ({"APISERVER_COUNT": "2"}, "APISERVER_COUNT=2 needs STORAGE_BACKEND=etcd"),
    ({"STORAGE_BACKEND": "postgres"}, "STORAGE_BACKEND=postgres: expected sqlite or etcd"),
    ({"STORAGE_BACKEND": "etcd", "APISERVER_COUNT": "two"}, "APISERVER_COUNT=two is not a positive number"),
])
def test_arktos_up_refuses_settings_that_cannot_work(tmp_path: Path, settings: dict[str, str],
                                                     message: str) -> None:
    env = {**os.environ, "ARKTOS_DATA_DIR": str(tmp_path / "data"), "LOG_DIR": str(tmp_path / "logs"),
           "CERT_DIR": str(tmp_path / "certs"), "API_SECURE_PORT": str(free_port()), **settings}
    env.pop("KUBECONFIG", None)
    done = subprocess.run(["bash", str(REPO_ROOT / "hack" / "arktos-up.sh")], env=env, capture_output=True,
                          text=True, timeout=120, stdin=subprocess.DEVNULL)
    assert done.returncode != 0
    assert message in done.stderr, done.stdout + done.stderr
    assert "starting kube-apiserver" not in done.stdout


@pytest.mark.slow
def test_one_server_on_an_external_etcd_from_etcd_servers(tmp_path_factory: pytest.TempPathFactory) -> None:
    base = tmp_path_factory.mktemp("ext")  # short: containerd's socket paths must stay under 104 bytes
    with running_etcd(base / "etcd") as member:
        env = several_cluster_env(base / "cluster", servers=1)
        env["ETCD_SERVERS"] = member.client_url
        for up in running_several_cluster(env):
            done = kubectl_sh(env, "create", "configmap", "on-external-etcd", "--from-literal=k=v")
            assert done.returncode == 0, done.stderr
            server = up.component("kube-apiserver")
            assert server is not None
            flags = cmdline(server.pid)
            assert f"--storage {member.storage_url} " in flags, flags
            assert up.component("etcd") is None and up.component("haproxy") is None
            key = "/registry/configmaps/system/default/on-external-etcd"
            stored = etcd_call(member.client_port, "/v3/kv/range", {"key": b64(key)})
            assert stored.get("count") == "1", stored
            print(f"arktos-up used {member.client_url} (ETCD_SERVERS): {key} is in it")
