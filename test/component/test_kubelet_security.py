"""The kubelet really applies securityContext and keeps secrets off the disk, on a real containerd.

A private containerd (bridge ``arktos-sc0``, subnet ``10.110.0.0/16``, cgroup parent ``/arktos-sc``)
and ``python -m kubelet`` against a real API server; every pod is created up front and reports what
it sees from inside to its log (``/proc/self/status``, ``/proc/mounts``, ``id``, writes that must
fail), which the tests read from the CRI log files. Covers: a pod with ``runAsUser: 1000``,
``runAsGroup``, ``fsGroup``, ``readOnlyRootFilesystem``, ``allowPrivilegeEscalation: false``,
``capabilities.drop: [ALL]`` and ``seccompProfile: RuntimeDefault`` runs as uid 1000 with the
groups, on a read-only root while its emptyDir is writable (and group-owned), with CapEff 0,
NoNewPrivs 1 and Seccomp 2; its secret volume and its ``medium: Memory`` emptyDir are tmpfs mounts
(sizeLimit honoured) and the secret is readable through fsGroup; a root container with
``add: [NET_ADMIN]`` has it in CapEff, no seccomp filter by default, ``/proc/keys`` masked and a
read-only ``/proc/sys`` (even with NET_ADMIN), and sees the pod's sysctls; ``drop: [ALL]`` makes
``chown`` fail; a privileged container has every capability the node has, no seccomp filter and
nothing masked; a Localhost seccomp profile below ``<root-dir>/seccomp`` (one that refuses
``mkdir``) is applied; ``runAsNonRoot`` over the root busybox image waits in
CreateContainerConfigError with upstream's message and event; hostPID/hostIPC share the node's
namespaces; the secret's tmpfs is unmounted when its pod is deleted; across a kubelet restart a
running pod keeps its container and its one mount, and a pod deleted while the kubelet was down
has its containers, directory and mount removed by the restarted kubelet. Leaves out AppArmor and
SELinux (containerd runs without them here), and admission (the API server's Pod Security decides
what a tenant may ask for; this node honours what was admitted).
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import os
import re
from collections.abc import AsyncIterator, Iterator
from pathlib import Path
from typing import Any

import pytest
from apiserver_process import ApiServerProcess
from containerd_env import private_containerd
from kubelet_process import eventually, running_kubelet

from client.config import config_for_url
from client.errors import NotFound
from client.events import EVENTS
from client.resources import SECRETS, ResourceRef
from client.rest import ApiClient
from cri.client import CriClient
from cri.containerd_process import ContainerdProcess
from kubelet.cri_specs import POD_UID_LABEL
from kubelet.volumes.tmpfs import unmount_all_under

pytestmark = pytest.mark.e2e

NODE = "sc-node"
PODS = ResourceRef("", "v1", "pods", "Pod")
CGROUP_ROOT = "/arktos-sc"
NS = "default"
DONE = "report-done"
# Prints what a process in the container is and may do, one "key=value" or raw line each.
REPORT = r"""
echo "uid=$(id -u)"; echo "gid=$(id -g)"; echo "groups=$(id -G | tr ' ' ,)"
if touch /rootfile 2>/dev/null; then echo root-write=ok; else echo root-write=fail; fi
if touch /scratch/made 2>/dev/null; then echo scratch-write=ok; else echo scratch-write=fail; fi
echo "scratch-file-group=$(stat -c %g /scratch/made 2>/dev/null)"
grep -E '^(CapEff|NoNewPrivs|Seccomp):' /proc/self/status | tr -d '\t' | tr : =
grep -E ' /etc/secret | /fast ' /proc/mounts | sed 's/^/mount: /'
echo "secret=$(cat /etc/secret/password 2>/dev/null)"
"""


def busybox(name: str, script: str, **extra: Any) -> dict[str, Any]:
    return {"name": name, "image": "busybox:1.36", "command": ["sh", "-c", f"{script}\necho {DONE}\n"
                                                                          "exec sleep 3600"], **extra}


def pod(name: str, *containers: dict[str, Any], **spec: Any) -> dict[str, Any]:
    return {"metadata": {"name": name}, "spec": {
        "nodeName": NODE, "terminationGracePeriodSeconds": 1, "containers": list(containers), **spec}}


SECRET_VOLUME = {"name": "secret", "secret": {"secretName": "app-secret", "defaultMode": 0o400}}
RESTRICTED = pod(
    "restricted",
    busybox("app", REPORT, securityContext={
        "readOnlyRootFilesystem": True, "allowPrivilegeEscalation": False,
        "capabilities": {"drop": ["ALL"]}, "seccompProfile": {"type": "RuntimeDefault"}},
        volumeMounts=[{"name": "scratch", "mountPath": "/scratch"}, {"name": "fast", "mountPath": "/fast"},
                      {"name": "secret", "mountPath": "/etc/secret"}]),
    securityContext={"runAsUser": 1000, "runAsGroup": 3000, "fsGroup": 2000, "runAsNonRoot": True},
    volumes=[{"name": "scratch", "emptyDir": {}}, {"name": "fast", "emptyDir": {"medium": "Memory",
                                                                               "sizeLimit": "8Mi"}},
             SECRET_VOLUME])
CAPS = pod(
    "caps",
    busybox("netadmin", REPORT + "\n".join((
        # Masked paths are /dev/null (files) or an empty tmpfs (directories) mounted over them.
        'echo "keys-mounts=$(grep -c \' /proc/keys \' /proc/mounts)"',
        "if echo 0 >/proc/sys/net/ipv4/ip_forward 2>/dev/null; then echo proc-sys-write=ok;"
        " else echo proc-sys-write=fail; fi",
        'echo "port-range=$(cat /proc/sys/net/ipv4/ip_local_port_range | tr "\\t" -)"')),
        securityContext={"capabilities": {"add": ["NET_ADMIN"]}}),
    busybox("dropall", "touch /tmp/f\n"
                       "if chown 1 /tmp/f 2>/dev/null; then echo chown=ok; else echo chown=fail; fi\n"
                       "grep -E '^CapEff:' /proc/self/status | tr -d '\\t' | tr : =",
            securityContext={"capabilities": {"drop": ["ALL"]}}),
    busybox("privileged", "grep -E '^(CapEff|Seccomp):' /proc/self/status | tr -d '\\t' | tr : =\n"
                          'echo "keys-mounts=$(grep -c \' /proc/keys \' /proc/mounts)"',
            securityContext={"privileged": True}),
    securityContext={"sysctls": [{"name": "net.ipv4.ip_local_port_range", "value": "20000 30000"}]})
NONROOT = pod("nonroot", busybox("c", "true"), securityContext={"runAsNonRoot": True})
LOCALHOST = pod("localhost", busybox(
    "c", "if mkdir /tmp/d 2>/dev/null; then echo mkdir=ok; else echo mkdir=fail; fi\n"
         "grep -E '^Seccomp:' /proc/self/status | tr -d '\\t' | tr : =",
    securityContext={"seccompProfile": {"type": "Localhost", "localhostProfile": "profiles/no-mkdir.json"}}))
NO_MKDIR_PROFILE = {"defaultAction": "SCMP_ACT_ALLOW", "architectures": ["SCMP_ARCH_X86_64"],
                    "syscalls": [{"names": ["mkdir", "mkdirat"], "action": "SCMP_ACT_ERRNO"}]}
HOSTNS = pod("hostns", busybox("c", 'echo "pidns=$(readlink /proc/self/ns/pid)"\n'
                                    'echo "ipcns=$(readlink /proc/self/ns/ipc)"'),
             hostPID=True, hostIPC=True)
KEPT = pod("kept", busybox("c", "true", volumeMounts=[{"name": "secret", "mountPath": "/etc/secret"}]),
           volumes=[SECRET_VOLUME])
ORPHAN = pod("orphan", busybox("c", "true", volumeMounts=[{"name": "secret", "mountPath": "/etc/secret"}]),
             volumes=[SECRET_VOLUME])
ALL_PODS = [RESTRICTED, CAPS, LOCALHOST, NONROOT, HOSTNS, KEPT, ORPHAN]


class Node:
    """The kubelet of the module, which one test stops and starts again."""

    def __init__(self, api_url: str, endpoint: str, work: Path) -> None:
        self.args = (api_url, NODE, f"containerRuntime,container,{endpoint}", work,
                     "--cgroup-root", CGROUP_ROOT)
        self.work = work
        self._stack: contextlib.ExitStack | None = None

    @property
    def volumes_root(self) -> Path:
        return self.work / "root" / "pods"

    def start(self) -> None:
        self._stack = contextlib.ExitStack()
        self._stack.enter_context(running_kubelet(*self.args))

    def stop(self) -> None:
        if self._stack is not None:
            self._stack.close()
            self._stack = None


@pytest.fixture(scope="module")
def containerd(tmp_path_factory: pytest.TempPathFactory) -> Iterator[ContainerdProcess]:
    with private_containerd(tmp_path_factory.mktemp("containerd-sc"), pod_subnet="10.110.0.0/16",
                            bridge_name="arktos-sc0", cgroup_parent=CGROUP_ROOT) as process:
        yield process


@pytest.fixture(scope="module")
def node(apiserver: ApiServerProcess, containerd: ContainerdProcess,
         tmp_path_factory: pytest.TempPathFactory) -> Iterator[Node]:
    """The kubelet with every pod created; whatever the tests leave mounted is unmounted at the end."""
    work = tmp_path_factory.mktemp("kubelet-sc")
    running = Node(apiserver.url, containerd.endpoint, work)
    profile = work / "root" / "seccomp" / "profiles" / "no-mkdir.json"
    profile.parent.mkdir(parents=True)
    profile.write_text(json.dumps(NO_MKDIR_PROFILE))

    async def create() -> None:
        async with ApiClient(config_for_url(apiserver.url)) as api:
            secret = {"metadata": {"name": "app-secret"}, "stringData": {"password": "s3cret"}}
            await api.create(SECRETS, secret, namespace=NS)
            for body in ALL_PODS:
                await api.create(PODS, body, namespace=NS)

    running.start()
    try:
        asyncio.run(create())
        yield running
    finally:
        running.stop()
        unmount_all_under(work)


@pytest.fixture
async def client(apiserver: ApiServerProcess) -> AsyncIterator[ApiClient]:
    async with ApiClient(config_for_url(apiserver.url)) as api:
        yield api


async def running_pod(client: ApiClient, name: str, node: Node) -> dict[str, Any]:
    async def check() -> dict[str, Any] | None:
        current = await client.get(PODS, name, namespace=NS)
        return current if (current.get("status") or {}).get("phase") == "Running" else None
    return dict(await eventually(check, f"pod {name} Running", node.work))


def _log_lines(node: Node, uid: str, container: str) -> list[str]:
    lines = []
    for log in (node.work / "pods").glob(f"{NS}_*_{uid}/{container}/*.log"):
        for line in log.read_text(errors="replace").splitlines():
            parts = line.split(" ", 3)  # <time> <stream> <tag> <text>
            if len(parts) == 4:
                lines.append(parts[3])
    return lines


async def report(client: ApiClient, name: str, node: Node,
                 container: str) -> tuple[dict[str, str], list[str]]:
    """What ``container`` of pod ``name`` printed: its ``key=value`` pairs and every line."""
    uid = (await running_pod(client, name, node))["metadata"]["uid"]

    async def done() -> list[str] | None:
        lines = _log_lines(node, uid, container)
        return lines if DONE in lines else None

    lines = await eventually(done, f"{name}/{container} reported", node.work)
    pairs = dict(line.split("=", 1) for line in lines if re.fullmatch(r"[\w-]+=.*", line))
    return pairs, lines


def node_capabilities() -> str:
    """The bounding set of processes on this node: what a privileged container gets."""
    found = re.search(r"^CapBnd:\t(\w+)$", Path("/proc/self/status").read_text(), re.M)
    assert found is not None
    return found.group(1)


def host_mounts(node: Node, uid: str) -> list[str]:
    """Mount points below the pod's directory on the node, a stacked mount counted twice."""
    prefix = f"{(node.volumes_root / uid).resolve()}/"
    points = [line.split(" ")[4] for line in Path("/proc/self/mountinfo").read_text().splitlines()]
    return sorted(p for p in points if p.startswith(prefix))


async def test_restricted_pod_runs_as_its_user_on_a_read_only_root(client: ApiClient, node: Node) -> None:
    seen, lines = await report(client, "restricted", node, "app")
    print("\n".join(lines))  # shown when an assertion fails
    assert (seen["uid"], seen["gid"]) == ("1000", "3000")
    assert {"2000", "3000"} <= set(seen["groups"].split(","))  # fsGroup is a supplemental group
    assert (seen["root-write"], seen["scratch-write"]) == ("fail", "ok")
    assert seen["scratch-file-group"] == "2000"  # setgid emptyDir: new files join the fsGroup
    assert (seen["CapEff"], seen["NoNewPrivs"], seen["Seccomp"]) == ("0000000000000000", "1", "2")
    mounts = {line.split()[2]: line for line in lines if line.startswith("mount: ")}
    assert mounts["/etc/secret"].split()[3] == "tmpfs" and mounts["/fast"].split()[3] == "tmpfs"
    assert "size=8192k" in mounts["/fast"]
    assert seen["secret"] == "s3cret"  # mode 0400 + fsGroup: group-readable for uid 1000


async def test_capabilities_seccomp_default_proc_masking_and_sysctls(client: ApiClient, node: Node) -> None:
    seen, _ = await report(client, "caps", node, "netadmin")
    assert seen["uid"] == "0"
    cap_net_admin = 1 << 12
    assert int(seen["CapEff"], 16) & cap_net_admin
    assert (seen["NoNewPrivs"], seen["Seccomp"]) == ("0", "0")  # nothing asked: runtime's unconfined default
    assert (seen["keys-mounts"], seen["proc-sys-write"]) == ("1", "fail")  # masked; read-only /proc/sys
    assert seen["port-range"] == "20000-30000"
    dropped, _ = await report(client, "caps", node, "dropall")
    assert (dropped["chown"], dropped["CapEff"]) == ("fail", "0000000000000000")
    privileged, _ = await report(client, "caps", node, "privileged")
    assert privileged["CapEff"] == node_capabilities()  # all the node has (root here lacks SYS_RESOURCE)
    assert (privileged["Seccomp"], privileged["keys-mounts"]) == ("0", "0")  # nothing masked, no filter


async def test_localhost_seccomp_profile(client: ApiClient, node: Node) -> None:
    seen, _ = await report(client, "localhost", node, "c")
    assert (seen["mkdir"], seen["Seccomp"]) == ("fail", "2")


async def test_run_as_non_root_refuses_a_root_image(client: ApiClient, node: Node) -> None:
    async def config_error() -> dict[str, Any] | None:
        current = await client.get(PODS, "nonroot", namespace=NS)
        for status in (current.get("status") or {}).get("containerStatuses") or []:
            waiting = (status.get("state") or {}).get("waiting") or {}
            if waiting.get("reason") == "CreateContainerConfigError":
                return dict(waiting)
        return None

    waiting = await eventually(config_error, "nonroot: CreateContainerConfigError", node.work)
    uid = (await client.get(PODS, "nonroot", namespace=NS))["metadata"]["uid"]
    message = (f'container has runAsNonRoot and image will run as root (pod: "nonroot_{NS}({uid})", '
               "container: c)")
    assert waiting["message"] == message

    async def event() -> bool:
        listed = await client.list(EVENTS, namespace=NS, field_selector="involvedObject.name=nonroot")
        return any(e["reason"] == "Failed" and e["message"] == f"Error: {message}" for e in listed["items"])
    await eventually(event, "nonroot: Failed event", node.work)


async def test_host_namespaces_as_requested(client: ApiClient, node: Node) -> None:
    seen, _ = await report(client, "hostns", node, "c")
    assert seen["pidns"] == os.readlink("/proc/self/ns/pid")
    assert seen["ipcns"] == os.readlink("/proc/self/ns/ipc")


async def test_secret_tmpfs_is_unmounted_when_the_pod_is_deleted(client: ApiClient, node: Node) -> None:
    pod_uid = (await running_pod(client, "restricted", node))["metadata"]["uid"]
    assert sorted(Path(p).name for p in host_mounts(node, pod_uid)) == ["fast", "secret"]
    await client.delete(PODS, "restricted", namespace=NS)

    async def gone() -> bool:
        try:
            await client.get(PODS, "restricted", namespace=NS)
        except NotFound:
            return not (node.volumes_root / pod_uid).exists()
        return False

    await eventually(gone, "restricted deleted and its volumes removed", node.work)
    assert host_mounts(node, pod_uid) == []


async def test_restart_keeps_running_pods_mounts_and_cleans_up_deleted_ones(
        client: ApiClient, node: Node, containerd: ContainerdProcess) -> None:
    kept = await running_pod(client, "kept", node)
    orphan = await running_pod(client, "orphan", node)
    kept_uid, orphan_uid = kept["metadata"]["uid"], orphan["metadata"]["uid"]
    container_id = kept["status"]["containerStatuses"][0]["containerID"]
    assert len(host_mounts(node, kept_uid)) == 1 and len(host_mounts(node, orphan_uid)) == 1

    node.stop()
    await client.delete(PODS, "orphan", namespace=NS, grace_period_seconds=0)  # no kubelet sees it go
    assert len(host_mounts(node, orphan_uid)) == 1
    node.start()

    async def orphan_cleaned() -> bool:
        return not (node.volumes_root / orphan_uid).exists()

    await eventually(orphan_cleaned, "the orphan's volumes removed after the restart", node.work)
    assert host_mounts(node, orphan_uid) == []
    async with CriClient(containerd.endpoint) as cri:
        assert await cri.list_containers(label_selector={POD_UID_LABEL: orphan_uid}) == []
    await asyncio.sleep(2)  # a resync or two of the adopted pod: it must keep what it has
    current = await running_pod(client, "kept", node)
    assert current["status"]["containerStatuses"][0]["containerID"] == container_id
    assert current["status"]["containerStatuses"][0]["restartCount"] == 0
    assert len(host_mounts(node, kept_uid)) == 1
