"""Pod volumes on disk (`kubelet.volumes`, `kubelet.pod_inputs`) against a temp directory.

Covers the atomic writer (``..data`` swap, file symlinks, unchanged payloads not rewritten,
removed keys gone, path validation), configMap/secret items and modes, optional and missing
sources, downwardAPI and projected volumes (token requests cached and renewed), hostPath type
checks, emptyDir layout, subPath/subPathExpr/readOnly mounts, and `PodInputs` end to end with
refresh and cleanup; secret/downwardAPI/projected volumes and ``emptyDir.medium: Memory`` on a real
tmpfs (sized from sizeLimit, the pod's memory limit or the node's allocatable memory; kept when set
up again, gone after cleanup and orphan removal), configMaps on disk; fsGroup group ownership and
modes. Mounting needs root (as the kubelet does). Leaves out containers (the component tests mount
these into containerd).
"""

from __future__ import annotations

import os
import socket
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from kubelet_sources import MemorySource

from cri.stubs import pb
from kubelet.cri_specs import build_container_config
from kubelet.pod_inputs import PodInputs, VolumeMountError
from kubelet.runtime import ContainerInputs, Mount, RuntimeOperationError
from kubelet.volumes.atomic_writer import DATA_DIR, FileProjection, PayloadError, write_atomically
from kubelet.volumes.host_path import check_host_path
from kubelet.volumes.manager import pod_memory_limit, tmpfs_size
from kubelet.volumes.payloads import PayloadContext, VolumeError
from kubelet.volumes.tmpfs import is_tmpfs_mount, mounts_under, unmount_all_under
from kubelet.volumes.tmpfs import mounts as mount_table
from kubelet.volumes.tokens import ServiceAccountTokens

ALLOCATABLE = {"cpu": "2", "memory": "4Gi"}


@pytest.fixture(autouse=True)
def no_mounts_left(tmp_path: Path) -> Iterator[None]:
    """Tests that stop half way leave no tmpfs behind them on the machine."""
    yield
    unmount_all_under(tmp_path)


def read_text(path: str) -> str:
    return Path(path).read_text()


def lexists(path: Path) -> bool:
    return os.path.lexists(path)


def test_atomic_writer_swaps_data_and_links_files(tmp_path: Path) -> None:
    target = tmp_path / "vol"
    assert write_atomically(target, {"a": FileProjection(b"1"), "dir/b": FileProjection(b"2", 0o600)})
    first = os.readlink(target / DATA_DIR)
    assert first.startswith("..") and (target / first).is_dir()
    assert os.readlink(target / "a") == f"{DATA_DIR}/a" and os.readlink(target / "dir") == f"{DATA_DIR}/dir"
    assert (target / "a").read_bytes() == b"1" and (target / "dir" / "b").read_bytes() == b"2"
    assert (target / "dir" / "b").stat().st_mode & 0o777 == 0o600
    assert not write_atomically(target, {"a": FileProjection(b"1"), "dir/b": FileProjection(b"2", 0o600)})
    assert os.readlink(target / DATA_DIR) == first  # unchanged payload: nothing written

    assert write_atomically(target, {"a": FileProjection(b"new")})
    second = os.readlink(target / DATA_DIR)
    assert second != first and not (target / first).exists()
    assert (target / "a").read_bytes() == b"new" and not os.path.lexists(target / "dir")
    assert sorted(p.name for p in target.iterdir()) == sorted([DATA_DIR, second, "a"])


@pytest.mark.parametrize("path", ["/abs", "../up", "a/../b", "..hidden", ""])
def test_atomic_writer_refuses_bad_paths(tmp_path: Path, path: str) -> None:
    with pytest.raises(PayloadError):
        write_atomically(tmp_path / "vol", {path: FileProjection(b"x")})


def test_host_path_types(tmp_path: Path) -> None:
    made = tmp_path / "made"
    check_host_path(made, "DirectoryOrCreate")
    assert made.is_dir()
    check_host_path(tmp_path / "f", "FileOrCreate")
    assert (tmp_path / "f").is_file() and (tmp_path / "f").stat().st_mode & 0o777 == 0o644
    check_host_path(tmp_path / "whatever", "")
    with pytest.raises(VolumeError, match=f"hostPath type check failed: {made} is not a file"):
        check_host_path(made, "File")
    with pytest.raises(VolumeError, match="is not a directory"):
        check_host_path(tmp_path / "f", "DirectoryOrCreate")
    with pytest.raises(VolumeError, match="is not a directory"):
        check_host_path(tmp_path / "missing", "Directory")
    with socket.socket(socket.AF_UNIX) as sock:
        sock.bind(str(tmp_path / "s.sock"))
        check_host_path(tmp_path / "s.sock", "Socket")
    with pytest.raises(VolumeError, match="is not a socket file"):
        check_host_path(made, "Socket")
    with pytest.raises(VolumeError, match="Weird is an invalid volume type"):
        check_host_path(made, "Weird")


def make_pod(volumes: list[dict[str, Any]], mounts: list[dict[str, Any]],
             env: list[dict[str, Any]] | None = None) -> dict[str, Any]:
    container = {"name": "c", "volumeMounts": mounts, "env": env or [],
                 "resources": {"limits": {"memory": "64Mi"}}}
    return {"metadata": {"name": "p", "namespace": "ns", "uid": "uid-1", "labels": {"app": "x"}},
            "spec": {"serviceAccountName": "robot", "containers": [container], "volumes": volumes}}


def inputs_for(tmp_path: Path, source: MemorySource) -> PodInputs:
    return PodInputs(None, root_dir=tmp_path / "kubelet", node_allocatable=ALLOCATABLE, source=source)


async def mounts_of(inputs: PodInputs, pod: dict[str, Any]) -> dict[str, Mount]:
    result = await inputs.for_container(pod, pod["spec"]["containers"][0], host_ip="192.0.2.1", pod_ip="")
    return {m.container_path: m for m in result.mounts}


async def test_config_map_secret_and_downward_volumes(tmp_path: Path) -> None:
    source = MemorySource()
    source.add_config_map("ns", "cm", {"app.conf": "x=1", "other": "o"}, binary={"blob": b"\x00\x01"})
    source.add_secret("ns", "sec", {"user": "u", "pw": "p"})
    pod = make_pod([
        {"name": "conf", "configMap": {"name": "cm", "defaultMode": 0o640}},
        {"name": "keys", "secret": {"secretName": "sec", "items": [{"key": "pw", "path": "sub/password",
                                                                      "mode": 0o400}]}},
        {"name": "info", "downwardAPI": {"items": [
            {"path": "labels", "fieldRef": {"fieldPath": "metadata.labels"}},
            {"path": "mem", "resourceFieldRef": {"containerName": "c", "resource": "limits.memory",
                                                 "divisor": "1Mi"}}]}},
    ], [{"name": "conf", "mountPath": "/etc/app"}, {"name": "keys", "mountPath": "/keys"},
        {"name": "info", "mountPath": "/info"},
        {"name": "conf", "mountPath": "/one.conf", "subPath": "app.conf"}])
    inputs = inputs_for(tmp_path, source)
    mounts = await mounts_of(inputs, pod)
    volumes = tmp_path / "kubelet/pods/uid-1/volumes"
    conf = volumes / "kubernetes.io~configmap/conf"
    assert mounts["/etc/app"] == Mount("/etc/app", str(conf), read_only=True)
    assert (conf / "app.conf").read_text() == "x=1" and (conf / "blob").read_bytes() == b"\x00\x01"
    assert (conf / "app.conf").stat().st_mode & 0o777 == 0o640
    keys = volumes / "kubernetes.io~secret/keys"
    assert sorted(os.listdir(keys / DATA_DIR)) == ["sub"]
    # Secrets and downward API data live on a tmpfs of their own; configMaps on the node's disk.
    info = volumes / "kubernetes.io~downward-api/info"
    assert is_tmpfs_mount(keys) and is_tmpfs_mount(info) and not is_tmpfs_mount(conf)
    password = keys / "sub/password"
    assert password.read_text() == "p" and password.stat().st_mode & 0o777 == 0o400
    assert (info / "labels").read_text() == 'app="x"' and (info / "mem").read_text() == "64"
    sub = mounts["/one.conf"]
    assert sub.read_only and read_text(sub.host_path) == "x=1"
    assert sub.host_path.startswith(f"{conf}/")

    source.add_config_map("ns", "cm", {"app.conf": "x=2"})
    await inputs.refresh(pod)
    assert (conf / "app.conf").read_text() == "x=2" and not lexists(conf / "other")

    await inputs.cleanup("uid-1")
    assert not (tmp_path / "kubelet/pods/uid-1").exists()
    assert mounts_under(tmp_path) == []


async def test_missing_sources(tmp_path: Path) -> None:
    source = MemorySource()
    source.add_config_map("ns", "cm", {"a": "1"})
    optional = make_pod([{"name": "v", "configMap": {"name": "gone", "optional": True}},
                         {"name": "w", "configMap": {"name": "cm", "items": [{"key": "zz", "path": "z"}],
                                                     "optional": True}}],
                        [{"name": "v", "mountPath": "/v"}])
    mounts = await mounts_of(inputs_for(tmp_path, source), optional)
    assert os.listdir(mounts["/v"].host_path) == [DATA_DIR] or DATA_DIR in os.listdir(mounts["/v"].host_path)
    for volume, message in (({"configMap": {"name": "gone"}}, 'configmap "gone" not found'),
                            ({"secret": {"secretName": "gone"}}, 'secret "gone" not found'),
                            ({"configMap": {"name": "cm", "items": [{"key": "zz", "path": "z"}]}},
                             "configmap references non-existent config key: zz")):
        pod = make_pod([{"name": "v", **volume}], [])
        with pytest.raises(VolumeMountError) as caught:
            await mounts_of(inputs_for(tmp_path / "other", source), pod)
        assert caught.value.message == f'MountVolume.SetUp failed for volume "v" : {message}'
        assert caught.value.reason == "ContainerCreating" and caught.value.event_reason == "FailedMount"


async def test_projected_volume_with_token(tmp_path: Path) -> None:
    source = MemorySource()
    source.add_config_map("ns", "kube-root-ca.crt", {"ca.crt": "CA"})
    pod = make_pod([{"name": "api", "projected": {"defaultMode": 0o644, "sources": [
        {"serviceAccountToken": {"path": "token", "audience": "vault", "expirationSeconds": 7200}},
        {"configMap": {"name": "kube-root-ca.crt", "items": [{"key": "ca.crt", "path": "ca.crt"}]}},
        {"downwardAPI": {"items": [{"path": "namespace",
                                    "fieldRef": {"fieldPath": "metadata.namespace"}}]}}]}}],
        [{"name": "api", "mountPath": "/var/run/secrets/kubernetes.io/serviceaccount"}])
    inputs = inputs_for(tmp_path, source)
    mounts = await mounts_of(inputs, pod)
    directory = Path(mounts["/var/run/secrets/kubernetes.io/serviceaccount"].host_path)
    assert directory.parent.name == "kubernetes.io~projected"
    assert {f: (directory / f).read_text() for f in ("token", "ca.crt", "namespace")} == {
        "token": "token-1", "ca.crt": "CA", "namespace": "ns"}
    assert source.token_requests == [{"tenant": "", "namespace": "ns", "account": "robot",
                                      "audience": "vault", "seconds": 7200, "pod": "p"}]
    await inputs.refresh(pod)
    assert len(source.token_requests) == 1  # still fresh: cached


async def test_tokens_renew_after_eighty_percent_of_their_lifetime() -> None:
    source = MemorySource()
    clock = [1000.0]
    source.now = clock[0]
    tokens = ServiceAccountTokens(source, clock=lambda: clock[0])
    pod = make_pod([], [])
    assert await tokens.token(pod, audience="", expiration_seconds=3600) == "token-1"
    clock[0] += 0.79 * 3600
    assert await tokens.token(pod, audience="", expiration_seconds=3600) == "token-1"
    clock[0] += 0.02 * 3600
    source.now = clock[0]
    assert await tokens.token(pod, audience="", expiration_seconds=3600) == "token-2"
    tokens.forget_pod("uid-1")
    assert await tokens.token(pod, audience="", expiration_seconds=3600) == "token-3"


async def test_empty_dir_host_path_and_subpaths(tmp_path: Path) -> None:
    host = tmp_path / "host"
    pod = make_pod([{"name": "scratch", "emptyDir": {"medium": "Memory"}},
                    {"name": "data", "hostPath": {"path": str(host), "type": "DirectoryOrCreate"}}],
                   [{"name": "scratch", "mountPath": "/scratch"},
                    {"name": "scratch", "mountPath": "/logs", "subPathExpr": "logs/$(POD)", "readOnly": True},
                    {"name": "data", "mountPath": "/data", "subPath": "x/y"}],
                   env=[{"name": "POD", "valueFrom": {"fieldRef": {"fieldPath": "metadata.name"}}}])
    mounts = await mounts_of(inputs_for(tmp_path, MemorySource()), pod)
    scratch = tmp_path / "kubelet/pods/uid-1/volumes/kubernetes.io~empty-dir/scratch"
    assert mounts["/scratch"] == Mount("/scratch", str(scratch), read_only=False)
    assert scratch.stat().st_mode & 0o777 == 0o777
    assert mounts["/logs"] == Mount("/logs", str(scratch / "logs/p"), read_only=True)
    assert mounts["/data"] == Mount("/data", str(host / "x/y")) and (host / "x/y").is_dir()


async def test_bad_mounts_are_config_errors(tmp_path: Path) -> None:
    source = MemorySource()
    for mounts, message in (([{"name": "nope", "mountPath": "/x"}], 'cannot find volume "nope"'),
                            ([{"name": "s", "mountPath": "/x", "subPath": "../etc"}], "invalid subpath")):
        pod = make_pod([{"name": "s", "emptyDir": {}}], mounts)
        with pytest.raises(RuntimeOperationError, match=message) as caught:
            await mounts_of(inputs_for(tmp_path, source), pod)
        assert caught.value.reason == "CreateContainerConfigError"
    escape = make_pod([{"name": "s", "emptyDir": {}}], [{"name": "s", "mountPath": "/x", "subPath": "link"}])
    scratch = tmp_path / "kubelet/pods/uid-1/volumes/kubernetes.io~empty-dir/s"
    scratch.mkdir(parents=True, exist_ok=True)
    (scratch / "link").symlink_to("/etc")
    inputs = inputs_for(tmp_path, source)
    with pytest.raises(RuntimeOperationError, match="outside the volume"):
        await mounts_of(inputs, escape)


def test_container_config_carries_inputs() -> None:
    """`kubelet.cri_specs` passes resolved env and mounts on (private propagation); without inputs
    only literal env values are used."""
    pod = make_pod([], [])
    container = {"name": "c", "image": "busybox", "env": [{"name": "A", "value": "lit"}],
                 "command": ["echo", "$(B)"]}
    inputs = ContainerInputs(env=(("B", "resolved"),), mounts=(Mount("/data", "/host/data", read_only=True),))
    config = build_container_config(pod, container, attempt=0, image_ref="sha256:x", inputs=inputs)
    assert [(kv.key, kv.value) for kv in config.envs] == [("B", "resolved")]
    assert list(config.command) == ["echo", "resolved"]
    [mount] = config.mounts
    assert (mount.container_path, mount.host_path, mount.readonly, mount.propagation) == (
        "/data", "/host/data", True, pb.PROPAGATION_PRIVATE)
    plain = build_container_config(pod, container, attempt=0, image_ref="sha256:x")
    assert [(kv.key, kv.value) for kv in plain.envs] == [("A", "lit")] and not plain.mounts


def _context(pod: dict[str, Any], memory: str | None = "4Gi") -> PayloadContext:
    allocatable = {"memory": memory} if memory else {}
    return PayloadContext(pod=pod, source=MemorySource(), tokens=ServiceAccountTokens(MemorySource()),
                          allocatable=allocatable)


def _containers(limits: list[str | None]) -> list[dict[str, Any]]:
    return [{"name": f"c{i}", "resources": {"limits": {"memory": m}} if m else {}}
            for i, m in enumerate(limits)]


def _with_limits(regular: list[str | None], init: list[str | None] | None = None) -> dict[str, Any]:
    return {"spec": {"containers": _containers(regular), "initContainers": _containers(init or [])}}


@pytest.mark.parametrize(("regular", "init", "limit"), [
    (["64Mi", "32Mi"], [], 96 * 2**20),
    (["64Mi"], ["128Mi"], 128 * 2**20),
    (["64Mi", None], [], None),
    (["64Mi"], [None], None),
    ([], [], None),
])
def test_pod_memory_limit_as_resource_config_for_pod(regular: list[str | None], init: list[str | None],
                                                     limit: int | None) -> None:
    assert pod_memory_limit(_with_limits(regular, init)) == limit


@pytest.mark.parametrize(("pod_limits", "size_limit", "allocatable", "size"), [
    ([None], None, "4Gi", 4 * 2**30),          # only the node's allocatable memory bounds it
    (["64Mi"], None, "4Gi", 64 * 2**20),        # the pod's limit is smaller
    (["64Mi"], "16Mi", "4Gi", 16 * 2**20),      # the volume's sizeLimit is smaller still
    (["64Mi"], "1Gi", "4Gi", 64 * 2**20),       # a bigger sizeLimit does not raise it
    ([None], "8Gi", "4Gi", 4 * 2**30),          # nor past allocatable
    ([None], None, None, 0),                    # nothing known: the kernel's default
])
def test_tmpfs_size_as_calculate_empty_dir_memory_size(pod_limits: list[str | None], size_limit: str | None,
                                                       allocatable: str | None, size: int) -> None:
    assert tmpfs_size(_context(_with_limits(pod_limits), allocatable), size_limit) == size


def _mount_count(path: Path) -> int:
    """Mounts stacked on ``path`` (a second setup must not mount over the first)."""
    return sum(1 for line in Path("/proc/self/mountinfo").read_text().splitlines()
               if line.split(" ")[4] == str(path))


async def test_memory_volumes_survive_a_second_setup_and_orphans_are_unmounted(tmp_path: Path) -> None:
    source = MemorySource()
    source.add_secret("ns", "sec", {"pw": "p"})
    pod = make_pod([{"name": "keys", "secret": {"secretName": "sec"}},
                    {"name": "fast", "emptyDir": {"medium": "Memory", "sizeLimit": "16Mi"}}],
                   [{"name": "keys", "mountPath": "/keys"}, {"name": "fast", "mountPath": "/fast"}])
    first = inputs_for(tmp_path, source)
    found = await mounts_of(first, pod)
    keys, fast = Path(found["/keys"].host_path), Path(found["/fast"].host_path)
    assert mount_table()[keys] == "tmpfs" and mount_table()[fast] == "tmpfs"
    statvfs = os.statvfs(fast)
    assert statvfs.f_blocks * statvfs.f_frsize == 16 * 2**20  # sizeLimit below the pod's 64Mi limit
    (fast / "state").write_text("kept")

    restarted = inputs_for(tmp_path, source)  # a new kubelet process adopting the running pod
    source.add_secret("ns", "sec", {"pw": "rotated"})
    await restarted.refresh(pod)
    assert (_mount_count(keys), _mount_count(fast)) == (1, 1)
    assert (keys / "pw").read_text() == "rotated" and (fast / "state").read_text() == "kept"

    other = make_pod([{"name": "keys", "secret": {"secretName": "sec"}}], [])
    other["metadata"]["uid"] = "uid-2"
    await restarted.prepare_volumes(other)
    assert await restarted.remove_orphans({"uid-2"}) == ["uid-1"]
    assert not (tmp_path / "kubelet/pods/uid-1").exists() and not is_tmpfs_mount(keys)
    assert [p.name for p in mounts_under(tmp_path)] == ["keys"]  # uid-2's stays
    await restarted.cleanup("uid-2")
    assert mounts_under(tmp_path) == []


async def test_fs_group_owns_volumes(tmp_path: Path) -> None:
    source = MemorySource()
    source.add_secret("ns", "sec", {"pw": "p"})
    pod = make_pod([{"name": "keys", "secret": {"secretName": "sec", "defaultMode": 0o400}},
                    {"name": "scratch", "emptyDir": {}},
                    {"name": "host", "hostPath": {"path": str(tmp_path)}}],
                   [{"name": "keys", "mountPath": "/keys"}, {"name": "scratch", "mountPath": "/s"}])
    pod["spec"]["securityContext"] = {"fsGroup": 2345}
    inputs = inputs_for(tmp_path, source)
    found = await mounts_of(inputs, pod)
    keys, scratch = Path(found["/keys"].host_path), Path(found["/s"].host_path)
    password, directory, empty = os.stat(keys / "pw"), os.stat(keys), os.stat(scratch)
    # Read-only volumes: group-readable (0400 | 0440); directories setgid and group-searchable.
    assert (password.st_gid, password.st_mode & 0o7777) == (2345, 0o440)
    assert directory.st_gid == 2345 and directory.st_mode & 0o2110 == 0o2110
    # emptyDir: group-writable, setgid so files made later inherit the group.
    assert (empty.st_gid, empty.st_mode & 0o7777) == (2345, 0o2777)
    assert os.stat(tmp_path).st_gid != 2345  # hostPath is the host's: never changed
    data = os.readlink(keys / DATA_DIR)
    await inputs.refresh(pod)
    assert os.readlink(keys / DATA_DIR) == data  # the widened mode is not a change to rewrite
