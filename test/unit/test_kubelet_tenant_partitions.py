"""The pure parts of the scale-out kubelet: the ``--tenant-server-kubeconfig`` flag, the streaming
server's pod lookup over pods of several tenant partitions, and orphan removal against the union of
every partition's pods.

Covers: the flag's comma list (order kept, blanks skipped, empty = no partitions, which means the
``--kubeconfig`` server), an unreadable kubeconfig in it stopping the start (exit 2, naming the
file); a pod name two partitions share is refused (409) unless its uid is named, a uid picks the
right one, a name only one partition has is found; orphan removal keeps every pod some partition
still binds and removes the rest from the runtimes. Leaves out the watches, writers
and API servers (test/component/test_kubelet_partitions.py and test_kubelet_partition_inputs.py).
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from kubelet.__main__ import main as kubelet_main
from kubelet.config import HOLLOW_ENDPOINTS, kubeconfig_list, parse_args, parse_runtime_endpoints
from kubelet.hollow import HollowRuntime
from kubelet.orphans import remove_orphans
from kubelet.pod_sync import NodeContext
from kubelet.runtime import Runtime
from kubelet.runtimes import build_registry
from kubelet.streaming.errors import StreamingError
from kubelet.streaming.pod_directory import RegistryPodDirectory, locate
from kubelet.tenant_partition import partition_name


@pytest.mark.parametrize(("flag", "expected"), [
    ("", ()),
    ("a.kubeconfig", ("a.kubeconfig",)),
    ("tp0.kubeconfig,tp1.kubeconfig", ("tp0.kubeconfig", "tp1.kubeconfig")),
    (" tp1.kubeconfig , ,tp0.kubeconfig,", ("tp1.kubeconfig", "tp0.kubeconfig")),
])
def test_the_tenant_server_flag_is_a_comma_list_in_order(flag: str, expected: tuple[str, ...]) -> None:
    assert kubeconfig_list(flag) == expected
    config = parse_args(["--kubeconfig", "rp.kubeconfig", "--tenant-server-kubeconfig", flag, "--hollow"])
    assert config.tenant_server_kubeconfigs == expected
    assert config.kubeconfig == "rp.kubeconfig"


def test_an_unreadable_tenant_kubeconfig_stops_the_start(tmp_path: Path,
                                                         caplog: pytest.LogCaptureFixture) -> None:
    missing = tmp_path / "tp1.kubeconfig"
    code = kubelet_main(["--master", "http://127.0.0.1:1", "--hollow", "--port", "0",
                         "--tenant-server-kubeconfig", f"{missing}"])
    assert code == 2
    assert f"cannot read kubeconfig {missing}" in caplog.text


def test_without_the_flag_there_are_no_tenant_partitions() -> None:
    assert parse_args(["--master", "http://127.0.0.1:1"]).tenant_server_kubeconfigs == ()
    assert [partition_name(i) for i in range(3)] == ["tp0", "tp1", "tp2"]


def _pod(name: str, uid: str, *, tenant: str = "system", node: str = "n1") -> dict[str, Any]:
    return {"metadata": {"name": name, "namespace": "default", "tenant": tenant, "uid": uid},
            "spec": {"nodeName": node, "containers": [{"name": "app"}]}}


def _directory(pods: list[dict[str, Any]]) -> RegistryPodDirectory:
    registry = build_registry(parse_runtime_endpoints(HOLLOW_ENDPOINTS),
                              {"hollow": lambda endpoint: HollowRuntime(endpoint.name)})
    return RegistryPodDirectory(lambda: pods, {"n1": registry})


def test_a_name_two_partitions_share_needs_its_uid() -> None:
    # tp0's and tp1's "web" in tenant system, as bound_pods() lists them: tp0's first.
    directory = _directory([_pod("web", "uid-tp0"), _pod("web", "uid-tp1"), _pod("db", "uid-db")])
    with pytest.raises(StreamingError) as refused:
        locate(directory, "system", "default", "web")
    assert refused.value.code == 409 and refused.value.reason == "Conflict"
    assert "2 tenant partitions" in refused.value.message
    assert locate(directory, "system", "default", "web", uid="uid-tp1").uid == "uid-tp1"
    assert locate(directory, "system", "default", "web", uid="uid-tp0").uid == "uid-tp0"
    assert locate(directory, "system", "default", "db").uid == "uid-db"
    with pytest.raises(StreamingError) as missing:
        locate(directory, "system", "default", "web", uid="uid-other")
    assert missing.value.code == 404


def test_pods_of_other_tenants_or_nodes_do_not_match() -> None:
    directory = _directory([_pod("web", "uid-a", tenant="acme"), _pod("web", "uid-b", node="elsewhere")])
    assert directory.find_pod("system", "default", "web") is None  # the system one is on no node here
    located = directory.find_pod("acme", "default", "web")
    assert located is not None and located.uid == "uid-a"


async def test_orphan_removal_keeps_every_pod_some_partition_binds() -> None:
    runtime = HollowRuntime("containerRuntime")
    registry = build_registry(parse_runtime_endpoints("containerRuntime,container,hollow://"),
                              {"hollow": lambda endpoint: runtime})
    for uid in ("uid-tp0", "uid-tp1", "uid-gone"):
        await runtime.run_sandbox(_pod(uid, uid))
    forgotten: list[str] = []

    async def forget(rt: Runtime, uid: str, node: NodeContext) -> None:
        forgotten.append(uid)
        for sandbox in await rt.list_sandboxes():
            if sandbox.pod.uid == uid:
                await rt.remove_sandbox(sandbox.id)

    node = NodeContext("n1", "192.0.2.1", registry)
    removed = await remove_orphans({"uid-tp0", "uid-tp1"}, [node], forget)
    assert removed == forgotten == ["uid-gone"]
    assert {s.pod.uid for s in await runtime.list_sandboxes()} == {"uid-tp0", "uid-tp1"}
