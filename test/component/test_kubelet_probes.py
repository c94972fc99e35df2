"""Probes, image pulls and crash loops with ``python -m kubelet`` on a real containerd.

A private containerd (bridge ``arktos-kp0``, subnet ``10.94.0.0/16``, cgroup parent ``/arktos-kp``)
and the kubelet as a process against a real API server; every pod is created up front so they
progress side by side and the module stays well under 90 s. Containers wait on ``nc -l`` for the
test to connect before they change what their probes see, so every transition is observed without
racing the clock. Covers: an exec liveness probe that
starts failing gets the container killed and restarted (restartCount 1, Unhealthy "Liveness probe
failed: ..." and Killing "Container c failed liveness probe, will be restarted"); an httpGet
readiness probe (named port) against busybox httpd flips Ready False→True and back when the file
goes (Unhealthy "Readiness probe failed: HTTP probe failed with statuscode: 404"); tcpSocket
readiness, ready on an open port and not on a closed one (Ready names the unready container); a
startup probe holding ``started`` false and gating a liveness probe that would otherwise kill;
a missing image showing ErrImagePull then ImagePullBackOff with upstream's events; a crashing
container reaching CrashLoopBackOff. Leaves out HTTPS probes, gRPC probes and sidecars.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Iterator
from pathlib import Path
from typing import Any

import pytest
from apiserver_process import ApiServerProcess
from containerd_env import private_containerd
from kubelet_process import eventually, running_kubelet

from client.config import config_for_url
from client.events import EVENTS
from client.resources import ResourceRef
from client.rest import ApiClient
from cri.containerd_process import ContainerdProcess

pytestmark = pytest.mark.e2e

NODE = "kp-node"
PODS = ResourceRef("", "v1", "pods", "Pod")
CGROUP_ROOT = "/arktos-kp"
NS = "default"


def exec_probe(*cmd: str, **settings: int) -> dict[str, Any]:
    return {"exec": {"command": list(cmd)}, "periodSeconds": 1, **settings}


def pod(name: str, *containers: dict[str, Any], grace: int = 1) -> dict[str, Any]:
    return {"metadata": {"name": name}, "spec": {
        "nodeName": NODE, "terminationGracePeriodSeconds": grace, "containers": list(containers)}}


def busybox(name: str, script: str, **extra: Any) -> dict[str, Any]:
    return {"name": name, "image": "busybox:1.36", "command": ["sh", "-c", script], **extra}


SIGNAL_PORT = 9000
WAIT_FOR_SIGNAL = f"nc -l -p {SIGNAL_PORT} </dev/null"

PROBED_PODS = [
    pod("liveness", busybox("c", f"touch /tmp/healthy; {WAIT_FOR_SIGNAL}; rm /tmp/healthy; "
                                 f"{WAIT_FOR_SIGNAL}; exec sleep 600",
                            livenessProbe=exec_probe("cat", "/tmp/healthy", failureThreshold=1))),
    pod("readiness", busybox(
        "web", f"mkdir -p /www; httpd -p 8080 -h /www; {WAIT_FOR_SIGNAL}; echo ok > /www/ready.html; "
               f"{WAIT_FOR_SIGNAL}; rm /www/ready.html; exec sleep 600",
        ports=[{"name": "http", "containerPort": 8080}],
        readinessProbe={"httpGet": {"path": "/ready.html", "port": "http"}, "periodSeconds": 1})),
    pod("tcp",
        busybox("open", "mkdir -p /www; exec httpd -f -p 8081 -h /www",
                readinessProbe={"tcpSocket": {"port": 8081}, "periodSeconds": 1}),
        busybox("closed", "exec sleep 600",
                readinessProbe={"tcpSocket": {"port": 9999}, "periodSeconds": 1})),
    pod("startup", busybox("slow", f"{WAIT_FOR_SIGNAL}; touch /tmp/started; exec sleep 600",
                           startupProbe=exec_probe("cat", "/tmp/started", failureThreshold=30),
                           livenessProbe=exec_probe("cat", "/tmp/started", failureThreshold=1))),
    pod("noimage", {"name": "app", "image": "docker.io/library/nosuchimage:1",
                    "imagePullPolicy": "IfNotPresent"}),
    pod("crash", busybox("boom", "exit 3")),
]


@pytest.fixture(scope="module")
def containerd(tmp_path_factory: pytest.TempPathFactory) -> Iterator[ContainerdProcess]:
    with private_containerd(tmp_path_factory.mktemp("containerd-kp"), pod_subnet="10.94.0.0/16",
                            bridge_name="arktos-kp0", cgroup_parent=CGROUP_ROOT) as process:
        yield process


@pytest.fixture(scope="module")
def kubelet(apiserver: ApiServerProcess, containerd: ContainerdProcess,
            tmp_path_factory: pytest.TempPathFactory) -> Iterator[Path]:
    work = tmp_path_factory.mktemp("kubelet-kp")
    with running_kubelet(apiserver.url, NODE, f"containerRuntime,container,{containerd.endpoint}", work,
                         "--cgroup-root", CGROUP_ROOT) as running:
        yield running


@pytest.fixture
async def client(apiserver: ApiServerProcess) -> AsyncIterator[ApiClient]:
    async with ApiClient(config_for_url(apiserver.url)) as api:
        yield api


@pytest.fixture(scope="module")
def pods(apiserver: ApiServerProcess, kubelet: Path) -> Path:
    """Creates every pod once, before the first test, so they all run side by side."""
    async def create() -> None:
        async with ApiClient(config_for_url(apiserver.url)) as api:
            for body in PROBED_PODS:
                await api.create(PODS, body, namespace=NS)
    asyncio.run(create())
    return kubelet


def conditions(obj: dict[str, Any]) -> dict[str, dict[str, Any]]:
    return {c["type"]: c for c in (obj.get("status") or {}).get("conditions") or []}


def container(obj: dict[str, Any], name: str) -> dict[str, Any]:
    for status in (obj.get("status") or {}).get("containerStatuses") or []:
        if status["name"] == name:
            return dict(status)
    return {}


async def pod_when(client: ApiClient, name: str, test: Any, what: str, logs: Path) -> dict[str, Any]:
    async def check() -> dict[str, Any] | None:
        current = await client.get(PODS, name, namespace=NS)
        return current if test(current) else None
    return dict(await eventually(check, f"{name}: {what}", logs))


async def signal(pod_ip: str, logs: Path) -> None:
    """Lets a container past its ``nc -l``: connect once and hang up."""
    async def connect() -> bool:
        try:
            _, writer = await asyncio.wait_for(asyncio.open_connection(pod_ip, SIGNAL_PORT), 2)
        except (OSError, TimeoutError):
            return False
        writer.close()
        await writer.wait_closed()
        return True
    await eventually(connect, f"connect to {pod_ip}:{SIGNAL_PORT}", logs)


async def events_of(client: ApiClient, name: str) -> list[tuple[str, str, str]]:
    listed = await client.list(EVENTS, namespace=NS, field_selector=f"involvedObject.name={name}")
    return [(e["type"], e["reason"], e["message"]) for e in listed["items"]]


async def has_event(client: ApiClient, name: str, logs: Path, reason: str, prefix: str) -> None:
    async def check() -> bool:
        return any(r == reason and m.startswith(prefix) for _, r, m in await events_of(client, name))
    await eventually(check, f"{name}: event {reason} {prefix!r}", logs)


async def test_failing_liveness_probe_restarts_the_container(client: ApiClient, pods: Path) -> None:
    healthy = await pod_when(client, "liveness", lambda p: container(p, "c").get("ready"), "ready", pods)
    await asyncio.sleep(2)  # a few passing probes: nothing happens
    assert container(await client.get(PODS, "liveness", namespace=NS), "c")["restartCount"] == 0
    await signal(healthy["status"]["podIP"], pods)
    restarted = await pod_when(client, "liveness", lambda p: container(p, "c").get("restartCount") == 1
                               and container(p, "c").get("ready"), "restartCount 1", pods)
    last = container(restarted, "c")["lastState"]["terminated"]
    assert last["exitCode"] in (137, 143)
    await has_event(client, "liveness", pods, "Unhealthy",
                    "Liveness probe failed: cat: can't open '/tmp/healthy'")
    await has_event(client, "liveness", pods, "Killing",
                    "Container c failed liveness probe, will be restarted")


async def test_http_readiness_flips_ready(client: ApiClient, pods: Path) -> None:
    unready = await pod_when(client, "readiness", lambda p: p["status"].get("phase") == "Running", "Running",
                             pods)
    assert conditions(unready)["Ready"]["status"] == "False"
    assert not container(unready, "web")["ready"] and container(unready, "web")["started"]
    assert conditions(unready)["Ready"]["message"] == "containers with unready status: [web]"
    await signal(unready["status"]["podIP"], pods)
    ready = await pod_when(client, "readiness", lambda p: conditions(p)["Ready"]["status"] == "True",
                           "Ready", pods)
    assert conditions(ready)["ContainersReady"]["status"] == "True" and container(ready, "web")["ready"]
    await signal(ready["status"]["podIP"], pods)
    again = await pod_when(client, "readiness", lambda p: conditions(p)["Ready"]["status"] == "False",
                           "unready again", pods)
    assert conditions(again)["Ready"]["message"] == "containers with unready status: [web]"
    assert container(again, "web")["restartCount"] == 0  # readiness never restarts
    await has_event(client, "readiness", pods, "Unhealthy",
                    "Readiness probe failed: HTTP probe failed with statuscode: 404")


async def test_tcp_readiness(client: ApiClient, pods: Path) -> None:
    current = await pod_when(client, "tcp", lambda p: container(p, "open").get("ready"), "open ready", pods)
    assert not container(current, "closed")["ready"]
    assert conditions(current)["Ready"]["message"] == "containers with unready status: [closed]"
    ip = current["status"]["podIP"]
    assert ip.startswith("10.94.")
    await has_event(client, "tcp", pods, "Unhealthy",
                    f"Readiness probe failed: dial tcp {ip}:9999: connect: connection refused")


async def test_startup_probe_gates_liveness(client: ApiClient, pods: Path) -> None:
    waiting = await pod_when(client, "startup", lambda p: p["status"].get("phase") == "Running", "Running",
                             pods)
    assert container(waiting, "slow")["started"] is False and not container(waiting, "slow")["ready"]
    await asyncio.sleep(3)  # an ungated liveness probe (failureThreshold 1) would have killed it by now
    waiting = await client.get(PODS, "startup", namespace=NS)
    assert container(waiting, "slow")["started"] is False and container(waiting, "slow")["restartCount"] == 0
    await signal(waiting["status"]["podIP"], pods)
    started = await pod_when(client, "startup", lambda p: container(p, "slow").get("started"), "started",
                             pods)
    assert container(started, "slow")["ready"] and container(started, "slow")["restartCount"] == 0
    await has_event(client, "startup", pods, "Unhealthy", "Startup probe failed: cat: can't open")
    assert not any(r == "Killing" for _, r, _ in await events_of(client, "startup"))


async def test_missing_image_backs_off(client: ApiClient, pods: Path) -> None:
    def reason(p: dict[str, Any]) -> str:
        return str(((container(p, "app").get("state") or {}).get("waiting") or {}).get("reason", ""))

    failed = await pod_when(client, "noimage", lambda p: reason(p) == "ErrImagePull", "ErrImagePull", pods)
    assert "rpc error" in container(failed, "app")["state"]["waiting"]["message"]
    assert failed["status"]["phase"] == "Pending"
    backing_off = await pod_when(client, "noimage", lambda p: reason(p) == "ImagePullBackOff",
                                 "ImagePullBackOff", pods)
    assert container(backing_off, "app")["state"]["waiting"]["message"] == \
        'Back-off pulling image "docker.io/library/nosuchimage:1"'
    image = '"docker.io/library/nosuchimage:1"'
    await has_event(client, "noimage", pods, "Pulling", f"Pulling image {image}")
    await has_event(client, "noimage", pods, "Failed", f"Failed to pull image {image}: rpc error")
    await has_event(client, "noimage", pods, "Failed", "Error: ErrImagePull")
    await has_event(client, "noimage", pods, "BackOff", f"Back-off pulling image {image}")


async def test_crashing_container_crash_loops(client: ApiClient, pods: Path) -> None:
    looping = await pod_when(
        client, "crash",
        lambda p: ((container(p, "boom").get("state") or {}).get("waiting") or {}).get("reason")
        == "CrashLoopBackOff", "CrashLoopBackOff", pods)
    boom = container(looping, "boom")
    assert boom["restartCount"] >= 1 and boom["lastState"]["terminated"]["exitCode"] == 3
    assert looping["status"]["phase"] == "Running"
    await has_event(client, "crash", pods, "BackOff", "Back-off restarting failed container boom")
