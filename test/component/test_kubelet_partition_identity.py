"""The scale-out kubelet with its real node identity: three TLS-only API servers (tp0, tp1, rp0) sharing
one cluster CA and service-account key pair, as the partitions of one cluster share ``CERT_DIR``, and
``python -m kubelet`` holding ``system:node:<name>`` client certificates for each of them.

Covers what the node authorizer of a *tenant* partition lets a kubelet do although its Node lives in
another server: watch its pods with ``spec.nodeName=<node>``, read the Secret a pod mounts, request
the pod's service-account token, write pod status and Events — a pod in each TP with a secret volume
and a projected token reaches Running with both files on disk, its Events in its own TP; the Node and
its Lease are created in the RP under the same identity and in no TP. Leaves out hollow multi-node
processes (they watch every bound pod, which a node identity may not: they run as admin) and the
streaming port (test_kubelet_partition_inputs.py).
"""

from __future__ import annotations

import base64
from collections.abc import Iterator
from dataclasses import dataclass
from functools import partial
from pathlib import Path

import pytest
from apiserver_process import E2E_NODE_NAME, ApiServerProcess, free_port, log_tail
from kubelet_env import conditions, eventually
from partitions_env import kubelet_process, pod_body, pod_event_reasons, running

from client.config import load_kubeconfig
from client.errors import NotFound
from client.resources import SECRETS
from client.rest import ApiClient
from kubelet.node import NODES
from kubelet.pod_sources import SERVICE_ACCOUNTS
from kubelet.status_writer import PODS
from tools.cluster_credentials import ClusterCredentials, ensure_cluster_credentials

pytestmark = pytest.mark.slow

NODE = E2E_NODE_NAME  # the node the credentials' kubelet.kubeconfig names


@dataclass(frozen=True)
class Partition:
    server: ApiServerProcess
    kubelet_kubeconfig: Path  # system:node:<NODE> for this server


@pytest.fixture(scope="module")
def tls_partitions(tmp_path_factory: pytest.TempPathFactory) -> Iterator[dict[str, Partition]]:
    workdir = tmp_path_factory.mktemp("tls-partitions")
    credentials = ensure_cluster_credentials(workdir / "certs", server="https://127.0.0.1:1",
                                             hosts=["127.0.0.1"], node_name=NODE)
    started: dict[str, Partition] = {}
    try:
        for name in ("tp0", "tp1", "rp0"):
            started[name] = _start(workdir / name, credentials)
        yield started
    finally:
        for partition in started.values():
            partition.server.stop()


def _start(directory: Path, credentials: ClusterCredentials) -> Partition:
    port = free_port()
    url = f"https://127.0.0.1:{port}"
    directory.mkdir(parents=True)
    kubeconfigs = {}
    for file in ("admin.kubeconfig", "kubelet.kubeconfig"):
        text = (credentials.cert_dir / file).read_text().replace("https://127.0.0.1:1", url)
        (directory / file).write_text(text)
        kubeconfigs[file] = directory / file
    server = ApiServerProcess(port=port, data_dir=directory / "data",
                              log_path=directory / "kube-apiserver.log",
                              kubeconfig=kubeconfigs["admin.kubeconfig"], credentials=credentials)
    return Partition(server.start(), kubeconfigs["kubelet.kubeconfig"])


@pytest.fixture
def node_kubelet(tls_partitions: dict[str, Partition], tmp_path: Path) -> Iterator[Path]:
    root = tmp_path / "root"
    tenants = ",".join(str(tls_partitions[tp].kubelet_kubeconfig) for tp in ("tp0", "tp1"))
    with kubelet_process(["--kubeconfig", str(tls_partitions["rp0"].kubelet_kubeconfig),
                          "--tenant-server-kubeconfig", tenants, "--hostname-override", NODE,
                          "--container-runtime-endpoint", "containerRuntime,container,hollow://",
                          "--port", "0", "--root-dir", str(root), "--pod-log-dir", str(tmp_path / "logs"),
                          "--node-status-update-frequency", "1"], tmp_path / "kubelet.log",
                         root_dir=root) as log_path:
        yield log_path


def _admin(partition: Partition) -> ApiClient:
    return ApiClient(load_kubeconfig(partition.server.kubeconfig))


def _reader(who: str) -> dict[str, object]:
    return pod_body(f"reader-{who}", NODE, serviceAccountName="reader", automountServiceAccountToken=False,
                    volumes=[{"name": "creds", "secret": {"secretName": "creds"}},
                             {"name": "token", "projected": {"sources": [
                                 {"serviceAccountToken": {"path": "token"}}]}}])


async def test_a_node_identity_runs_pods_of_every_tp_and_registers_only_in_the_rp(
        tls_partitions: dict[str, Partition], node_kubelet: Path, tmp_path: Path) -> None:
    async with _admin(tls_partitions["tp0"]) as tp0, _admin(tls_partitions["tp1"]) as tp1, \
            _admin(tls_partitions["rp0"]) as rp0:
        try:
            async def node_ready() -> bool:
                try:
                    return conditions(await rp0.get(NODES, NODE)).get("Ready") == "True"
                except NotFound:
                    return False

            await eventually(node_ready, "the Node Ready in the RP", within=30)
            for name, tp in (("tp0", tp0), ("tp1", tp1)):
                with pytest.raises(NotFound):
                    await tp.get(NODES, NODE)
                data = {"who": base64.b64encode(name.encode()).decode()}
                secret = {"metadata": {"name": "creds"}, "data": data}
                await tp.create(SECRETS, secret, tenant="system", namespace="default")
                await tp.create(SERVICE_ACCOUNTS, {"metadata": {"name": "reader"}}, tenant="system",
                                namespace="default")
                await tp.create(PODS, _reader(name), tenant="system", namespace="default")
            for name, tp in (("tp0", tp0), ("tp1", tp1)):
                pod = await eventually(partial(running, tp, f"reader-{name}"),
                                       f"{name}'s reader Running under the node identity", within=30)
                volumes = tmp_path / "root" / "pods" / pod["metadata"]["uid"] / "volumes"
                assert (volumes / "kubernetes.io~secret" / "creds" / "who").read_text() == name
                assert (volumes / "kubernetes.io~projected" / "token" / "token").read_text().count(".") == 2
                assert "Started" in await pod_event_reasons(tp, pod["metadata"]["uid"])
        except AssertionError as e:
            raise AssertionError(f"{e}\nkubelet:\n{log_tail(node_kubelet)}") from None
