"""The kubelet's streaming server (logs, exec, port-forward) over a real containerd.

A private containerd (bridge ``arktos-ks0``, subnet ``10.95.0.0/16``) runs busybox pods that the tests
create through `CriRuntime`; `StreamingServer` serves them over HTTPS with client certificates from a
test CA. Covers: logs (tail, timestamps, limitBytes, follow seeing new lines and ending when the
container exits, previous after a restart, upstream's 400/404 texts); exec over WebSocket v5 (`cat
/etc/hostname`, stdin echo ended by the v5 close signal, a non-zero exit code) and over SPDY/3.1 (stdin
FIN, stderr, exit code); attach to a running process's stdout; port-forward to busybox httpd over the
KEP-4006 WebSocket tunnel, the v4 channel protocol and SPDY with an HTTP GET through each; every request
reviewed by a real API server (SubjectAccessReview): 401 without credentials, 403 with upstream's text for
a certificate RBAC does not allow; without a client CA, loopback callers only (401 otherwise); a 400 for a
runtime that cannot stream; and one real `Kubelet` against a real API server: the node reports the
server's port and a pod it started answers logs and exec. Leaves out: tty and resize (same bridge as
exec), the API server's proxy, kubectl itself.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import re
import ssl
import time
import uuid
from collections.abc import AsyncIterator, Awaitable, Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from urllib.parse import urlencode

import aiohttp
import pytest
from apiserver_process import ApiServerProcess, free_port
from containerd_env import private_containerd

from client.config import config_for_url
from client.resources import ResourceRef
from client.rest import ApiClient
from cri.containerd_process import ContainerdProcess
from httpstream.channel_protocol import CHANNEL_V5, PORTFORWARD_TUNNEL_PROTOCOL, encode_close_stream
from httpstream.spdy_connection import SpdyConnection
from httpstream.websocket_transport import WebSocketByteStream
from kubelet.config import KubeletConfig, RuntimeEndpoint
from kubelet.cri_runtime import CriRuntime
from kubelet.hollow import HollowRuntime
from kubelet.kubelet import Kubelet
from kubelet.machine import primary_ip
from kubelet.runtime import ContainerInfo, Runtime, SandboxInfo
from kubelet.streaming.access import AccessPolicy
from kubelet.streaming.authn import TokenAuthenticator
from kubelet.streaming.authz import WebhookAuthorizer
from kubelet.streaming.pod_directory import LocatedPod
from kubelet.streaming.reviews import ApiReviews
from kubelet.streaming.server import StreamingServer
from kubelet.streaming.tls import self_signed_serving_files, server_ssl_context
from pki.certificates import ensure_ca, issue_client_cert

pytestmark = pytest.mark.e2e

BUSYBOX = "docker.io/library/busybox:1.36"
CGROUP_PARENT = "/arktos-ks"
TENANT, NAMESPACE = "acme", "work"
PODS = ResourceRef("", "v1", "pods", "Pod")
NODES = ResourceRef("", "v1", "nodes", "Node")
WAIT_S = 20.0


@pytest.fixture(scope="module")
def containerd(tmp_path_factory: pytest.TempPathFactory) -> Iterator[ContainerdProcess]:
    with private_containerd(tmp_path_factory.mktemp("containerd-ks"), pod_subnet="10.95.0.0/16",
                            bridge_name="arktos-ks0", cgroup_parent=CGROUP_PARENT) as process:
        yield process


class Pods:
    """The test's pod set (what the kubelet's informer is to the real server) plus runtime helpers."""

    def __init__(self, runtime: CriRuntime) -> None:
        self.runtime = runtime
        self.pods: dict[tuple[str, str, str], LocatedPod] = {}

    def find_pod(self, tenant: str, namespace: str, name: str, *, uid: str = "") -> LocatedPod | None:
        return self.pods.get((tenant, namespace, name))

    def add(self, pod: dict[str, Any], runtime: Runtime | None = None) -> None:
        meta = pod["metadata"]
        key = (meta["tenant"], meta["namespace"], meta["name"])
        self.pods[key] = LocatedPod(pod, runtime or self.runtime)

    async def sandbox(self, name: str,
                      containers: list[dict[str, Any]]) -> tuple[dict[str, Any], SandboxInfo]:
        meta = {"name": name, "namespace": NAMESPACE, "tenant": TENANT, "uid": str(uuid.uuid4())}
        pod = {"metadata": meta,
               "spec": {"containers": containers, "restartPolicy": "Always"}}
        self.add(pod)
        return pod, await self.runtime.run_sandbox(pod)

    async def start(self, pod: dict[str, Any], sandbox: SandboxInfo, container: dict[str, Any], *,
                    attempt: int = 0) -> ContainerInfo:
        image = await self.runtime.ensure_image(BUSYBOX, "IfNotPresent")
        info = await self.runtime.create_container(sandbox, pod, container, attempt=attempt,
                                                   image_ref=image.image_ref)
        await self.runtime.start_container(info.id)
        return info

    async def run(self, name: str, script: str) -> dict[str, Any]:
        container = {"name": "c", "image": BUSYBOX, "command": ["sh", "-c", script]}
        pod, sandbox = await self.sandbox(name, [container])
        await self.start(pod, sandbox, container)
        return pod


@dataclass
class Clients:
    base: str
    admin: ssl.SSLContext  # O=system:masters: RBAC allows it everything
    stranger: ssl.SSLContext  # a verified certificate RBAC grants nothing
    anonymous: ssl.SSLContext  # trusts the server, presents nothing


def client_context(server_ca: Path, tmp: Path, pair: Any = None) -> ssl.SSLContext:
    context = ssl.create_default_context(cafile=str(server_ca))
    if pair is not None:
        cert, key = tmp / f"{uuid.uuid4().hex}.crt", tmp / f"{uuid.uuid4().hex}.key"
        cert.write_bytes(pair.certificate_pem())
        key.write_bytes(pair.private_key_pem())
        context.load_cert_chain(cert, key)
    return context


@pytest.fixture
async def reviews(apiserver: ApiServerProcess) -> AsyncIterator[ApiReviews]:
    """The kubelet's reviews, answered by the module's API server (its plain port: as an admin)."""
    async with ApiClient(config_for_url(apiserver.url)) as client:
        yield ApiReviews(client)


@pytest.fixture
async def stack(containerd: ContainerdProcess, reviews: ApiReviews,
                tmp_path: Path) -> AsyncIterator[tuple[Pods, Clients]]:
    runtime = CriRuntime("containerRuntime", containerd.endpoint, log_root=tmp_path / "logs",
                         cgroup_parent=CGROUP_PARENT, relist_s=0.5)
    pods = Pods(runtime)
    files = self_signed_serving_files(tmp_path / "pki", hostname="ks-node", hosts=["127.0.0.1"])
    client_ca = ensure_ca(tmp_path / "client-ca")
    context = server_ssl_context(files, client_ca_file=str(client_ca.cert_path))
    access = AccessPolicy(node="ks-node", client_ca_configured=True, tokens=TokenAuthenticator(reviews),
                          authorizer=WebhookAuthorizer(reviews))
    server = StreamingServer(pods, address="127.0.0.1", port=0, ssl_context=context, access=access)
    port = await server.start()
    server_ca = tmp_path / "pki" / "ca.crt"
    admin = issue_client_cert(client_ca, common_name="alice", organizations=["system:masters"])
    bob = issue_client_cert(client_ca, common_name="bob", organizations=["developers"])
    clients = Clients(f"https://127.0.0.1:{port}", client_context(server_ca, tmp_path, admin),
                      client_context(server_ca, tmp_path, bob), client_context(server_ca, tmp_path))
    try:
        yield pods, clients
    finally:
        await server.stop()
        for sandbox in await runtime.list_sandboxes():
            await runtime.remove_sandbox(sandbox.id)
        await runtime.aclose()


async def eventually(check: Callable[[], Awaitable[Any]], what: str, within: float = WAIT_S) -> Any:
    deadline = time.monotonic() + within
    while time.monotonic() < deadline:
        if answer := await check():
            return answer
        await asyncio.sleep(0.1)
    raise AssertionError(f"not within {within}s: {what}")


async def get(clients: Clients, path: str, context: ssl.SSLContext | None = None) -> tuple[int, str]:
    async with aiohttp.ClientSession(timeout=aiohttp.ClientTimeout(total=WAIT_S)) as session:
        async with session.get(clients.base + path, ssl=context or clients.admin) as response:
            return response.status, await response.text()


def logs_path(pod: str, container: str = "c", tenant: str = TENANT) -> str:
    return f"/containerLogs/{tenant}/{NAMESPACE}/{pod}/{container}"


async def test_logs_tail_timestamps_limit_and_follow(stack: tuple[Pods, Clients]) -> None:
    pods, clients = stack
    await pods.run("talker", "for i in 1 2 3 4 5; do echo line-$i; done; sleep 1.5; echo late-line; "
                             "sleep 300")
    path = logs_path("talker")

    async def five_lines() -> bool:
        return "line-5" in (await get(clients, path))[1]

    await eventually(five_lines, "the first five lines logged")
    assert await get(clients, path + "?tailLines=2") == (200, "line-4\nline-5\n")
    _, stamped = await get(clients, path + "?tailLines=1&timestamps=true")
    assert re.fullmatch(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d+Z line-5\n", stamped), stamped
    assert await get(clients, path + "?limitBytes=3") == (200, "lin")

    async with aiohttp.ClientSession() as session:
        follow = clients.base + path + "?follow=true&tailLines=1"
        async with session.get(follow, ssl=clients.admin) as response:
            seen = b""
            async with asyncio.timeout(WAIT_S):
                while b"late-line" not in seen:
                    seen += await response.content.readany()
    assert seen == b"line-5\nlate-line\n"


async def test_follow_stops_at_exit_and_previous_reads_the_last_attempt(stack: tuple[Pods, Clients]) -> None:
    pods, clients = stack
    first = {"name": "c", "image": BUSYBOX, "command": ["sh", "-c", "echo first-attempt; sleep 1; echo bye"]}
    pod, sandbox = await pods.sandbox("restarter", [first])
    await pods.start(pod, sandbox, first)
    status, body = await get(clients, logs_path("restarter") + "?previous=true")
    assert (status, json.loads(body)["message"]) == (
        400, 'previous terminated container "c" in pod "restarter" not found')
    # Follow ends by itself once the attempt exits (upstream stops at container exit).
    status, followed = await asyncio.wait_for(get(clients, logs_path("restarter") + "?follow=true"), 10)
    assert (status, followed) == (200, "first-attempt\nbye\n")

    second = {**first, "command": ["sh", "-c", "echo second-attempt; sleep 300"]}
    await pods.start(pod, sandbox, second, attempt=1)

    async def current() -> bool:
        return (await get(clients, logs_path("restarter")))[1] == "second-attempt\n"

    await eventually(current, "the new attempt's log")
    assert await get(clients, logs_path("restarter") + "?previous=true") == (200, "first-attempt\nbye\n")


async def test_log_errors_speak_upstream(stack: tuple[Pods, Clients]) -> None:
    pods, clients = stack
    pods.add({"metadata": {"name": "pending", "namespace": NAMESPACE, "tenant": TENANT, "uid": "u-pending"},
              "spec": {"containers": [{"name": "c", "image": BUSYBOX}]},
              "status": {"containerStatuses": [
                  {"name": "c", "state": {"waiting": {"reason": "ErrImagePull"}}}]}})
    status, body = await get(clients, logs_path("pending"))
    assert (status, json.loads(body)["message"]) == (
        400, 'container "c" in pod "pending" is waiting to start: ErrImagePull')
    status, body = await get(clients, logs_path("pending", "nope"))
    assert (status, json.loads(body)["message"]) == (
        400, 'container "nope" in pod "pending" is not available')
    status, body = await get(clients, logs_path("ghost"))
    assert status == 404 and json.loads(body)["reason"] == "NotFound"
    # The same pod name in another tenant is another pod.
    assert (await get(clients, logs_path("pending", tenant="other")))[0] == 404
    status, body = await get(clients, f"/exec/{TENANT}/{NAMESPACE}/ghost/c?command=true&stdout=1")
    assert status == 404 and json.loads(body)["kind"] == "Status"


async def websocket_exec(clients: Clients, pod: str, query: str, stdin: bytes | None = None,
                         ) -> tuple[bytes, bytes, dict[str, Any]]:
    """Exec over v5: send `stdin` then the close signal; collect stdout, stderr and the error Status."""
    out, err, error = b"", b"", b""
    url = f"{clients.base}/exec/{TENANT}/{NAMESPACE}/{pod}/c?{query}"
    async with aiohttp.ClientSession() as session:
        async with session.ws_connect(url, protocols=(CHANNEL_V5,), ssl=clients.admin) as ws:
            assert ws.protocol == CHANNEL_V5
            if stdin is not None:
                await ws.send_bytes(b"\x00" + stdin)
                await ws.send_bytes(encode_close_stream(0))
            async with asyncio.timeout(WAIT_S):
                async for message in ws:
                    if message.type != aiohttp.WSMsgType.BINARY:
                        break
                    channel, payload = message.data[0], message.data[1:]
                    out += payload if channel == 1 else b""
                    err += payload if channel == 2 else b""
                    error += payload if channel == 3 else b""
    return out, err, json.loads(error)


async def test_exec_over_websocket_v5(stack: tuple[Pods, Clients]) -> None:
    pods, clients = stack
    await pods.run("shell", "sleep 300")
    out, _, status = await websocket_exec(clients, "shell",
                                          "command=cat&command=/etc/hostname&stdout=1&stderr=1")
    assert (out, status["status"]) == (b"shell\n", "Success")
    out, _, status = await websocket_exec(clients, "shell", "command=cat&stdin=1&stdout=1&stderr=1",
                                          stdin=b"echo me\n")
    assert (out, status["status"]) == (b"echo me\n", "Success")  # cat ended: stdin EOF reached it
    query = urlencode([("command", "sh"), ("command", "-c"), ("command", "echo oops >&2; exit 7"),
                       ("stdout", "1"), ("stderr", "1")])
    out, err, status = await websocket_exec(clients, "shell", query)
    assert err == b"oops\n" and status["reason"] == "NonZeroExitCode"
    assert status["details"]["causes"] == [{"reason": "ExitCode", "message": "7"}]


async def test_attach_streams_the_running_process_output(stack: tuple[Pods, Clients]) -> None:
    pods, clients = stack
    await pods.run("ticker", "while true; do echo tick; sleep 0.2; done")
    url = f"{clients.base}/attach/{TENANT}/{NAMESPACE}/ticker/c?stdout=1&stderr=1"
    async with aiohttp.ClientSession() as session:
        async with session.ws_connect(url, protocols=(CHANNEL_V5,), ssl=clients.admin) as ws:
            received = b""
            async with asyncio.timeout(WAIT_S):
                while received.count(b"tick\n") < 2:
                    message = await ws.receive_bytes()
                    received += message[1:] if message[0] == 1 else b""


async def spdy_connect(clients: Clients, path: str, protocol: str) -> SpdyConnection:
    host, port = clients.base.removeprefix("https://").split(":")
    reader, writer = await asyncio.open_connection(host, int(port), ssl=clients.admin)
    writer.write(f"POST {path} HTTP/1.1\r\nHost: {host}\r\nConnection: Upgrade\r\nUpgrade: SPDY/3.1\r\n"
                 f"X-Stream-Protocol-Version: {protocol}\r\nContent-Length: 0\r\n\r\n".encode())
    head = (await asyncio.wait_for(reader.readuntil(b"\r\n\r\n"), WAIT_S)).decode()
    assert head.startswith("HTTP/1.1 101") and f"X-Stream-Protocol-Version: {protocol}" in head, head
    connection = SpdyConnection(reader, writer, server=False)
    connection.start()
    return connection


async def test_exec_over_spdy(stack: tuple[Pods, Clients]) -> None:
    pods, clients = stack
    await pods.run("spdy", "sleep 300")
    query = urlencode([("command", "sh"), ("command", "-c"), ("command", "cat; echo done >&2; exit 3"),
                       ("stdin", "1"), ("stdout", "1"), ("stderr", "1")])
    path = f"/exec/{TENANT}/{NAMESPACE}/spdy/c?{query}"
    connection = await spdy_connect(clients, path, "v4.channel.k8s.io")
    try:
        streams = {kind: await connection.create_stream({"streamtype": [kind]})
                   for kind in ("error", "stdin", "stdout", "stderr")}
        await streams["stdin"].write(b"through spdy\n")
        await streams["stdin"].close_write()
        async with asyncio.timeout(WAIT_S):
            out, err, error = await asyncio.gather(
                *(streams[k].read_all() for k in ("stdout", "stderr", "error")))
    finally:
        await connection.close()
    assert (out, err) == (b"through spdy\n", b"done\n")
    assert json.loads(error)["details"]["causes"] == [{"reason": "ExitCode", "message": "3"}]


HTTPD = "mkdir -p /www && echo hello-from-httpd > /www/index.html && exec httpd -f -p 8080 -h /www"
HTTP_GET = b"GET / HTTP/1.0\r\nHost: pod\r\n\r\n"


async def get_through_spdy(connection: SpdyConnection) -> bytes:
    headers = {"port": ["8080"], "requestid": ["0"]}
    error = await connection.create_stream({**headers, "streamtype": ["error"]})
    await error.close_write()
    data = await connection.create_stream({**headers, "streamtype": ["data"]})
    await data.write(HTTP_GET)
    async with asyncio.timeout(WAIT_S):
        return await data.read_all()


async def test_port_forward_over_tunnel_channels_and_spdy(stack: tuple[Pods, Clients]) -> None:
    pods, clients = stack
    await pods.run("web", HTTPD)
    path = f"/portForward/{TENANT}/{NAMESPACE}/web"
    async with aiohttp.ClientSession() as session:
        async def tunnel_get() -> bytes:
            async with session.ws_connect(clients.base + path, protocols=(PORTFORWARD_TUNNEL_PROTOCOL,),
                                          ssl=clients.admin) as ws:
                stream = WebSocketByteStream(ws)
                connection = SpdyConnection(stream, stream, server=False)
                connection.start()
                try:
                    return await get_through_spdy(connection)
                finally:
                    await connection.close()

        # httpd may take a moment to listen: the first attempts can come back empty or refused.
        response = await eventually(lambda: tunnel_get(), "an HTTP answer through the tunnel")
        assert response.startswith(b"HTTP/1.") and response.endswith(b"hello-from-httpd\n")

        async with session.ws_connect(clients.base + path + "?port=8080", protocols=("v4.channel.k8s.io",),
                                      ssl=clients.admin) as ws:
            received: dict[int, bytes] = {0: b"", 1: b""}
            firsts = [await ws.receive_bytes() for _ in range(2)]
            assert sorted(firsts) == [b"\x00\x90\x1f", b"\x01\x90\x1f"]  # port 8080, little-endian
            await ws.send_bytes(b"\x00" + HTTP_GET)
            async with asyncio.timeout(WAIT_S):
                while not received[0].endswith(b"hello-from-httpd\n"):
                    message = await ws.receive_bytes()
                    received[message[0]] += message[1:]

    connection = await spdy_connect(clients, path, "portforward.k8s.io")
    try:
        assert (await get_through_spdy(connection)).endswith(b"hello-from-httpd\n")
    finally:
        await connection.close()


async def test_access_is_reviewed_by_the_api_server(stack: tuple[Pods, Clients]) -> None:
    """containerLogs is nodes/proxy upstream (only /logs/ is nodes/log); bob holds no role for it."""
    _, clients = stack
    status, body = await get(clients, logs_path("any"), clients.stranger)
    assert (status, json.loads(body)["message"]) == (
        403, "Forbidden (user=bob, verb=get, resource=nodes, subresource=proxy)")
    assert (await get(clients, logs_path("any"), clients.anonymous))[0] == 401
    assert (await get(clients, "/healthz", clients.anonymous)) == (200, "ok")


async def test_without_a_client_ca_only_loopback_is_served(stack: tuple[Pods, Clients],
                                                          tmp_path: Path) -> None:
    pods, _ = stack
    files = self_signed_serving_files(tmp_path / "open-pki", hostname="ks-node", hosts=["127.0.0.1"])
    server = StreamingServer(pods, address="0.0.0.0", port=0, ssl_context=server_ssl_context(files),
                             access=AccessPolicy(node="ks-node", client_ca_configured=False))
    port = await server.start()
    trusting = ssl.create_default_context()
    trusting.check_hostname, trusting.verify_mode = False, ssl.CERT_NONE
    outside = primary_ip()
    assert outside != "127.0.0.1", "the machine needs a non-loopback address for this test"
    try:
        local = Clients(f"https://127.0.0.1:{port}", trusting, trusting, trusting)
        status, body = await get(local, logs_path("ghost"))
        assert (status, json.loads(body)["reason"]) == (404, "NotFound")  # past the access check
        remote = Clients(f"https://{outside}:{port}", trusting, trusting, trusting)
        status, body = await get(remote, logs_path("ghost"))
        assert (status, json.loads(body)["reason"]) == (401, "Unauthorized")  # no credential to review
    finally:
        await server.stop()


async def test_runtime_without_streaming_is_a_clear_400(stack: tuple[Pods, Clients]) -> None:
    pods, clients = stack
    pods.add({"metadata": {"name": "vm", "namespace": NAMESPACE, "tenant": TENANT, "uid": "u-vm"},
              "spec": {"virtualMachine": {"name": "vm", "image": "cirros"}}}, HollowRuntime("vmRuntime"))
    status, body = await get(clients, f"/exec/{TENANT}/{NAMESPACE}/vm/vm?command=true&stdout=1")
    assert (status, json.loads(body)["message"]) == (
        400, "exec is not supported by the vm runtime 'vmRuntime' that runs pod 'vm'")


async def test_a_real_kubelet_serves_its_pods(containerd: ContainerdProcess, apiserver: ApiServerProcess,
                                             tmp_path: Path) -> None:
    """Without --client-ca-file: a self-signed certificate under root_dir/pki, loopback clients only."""
    port = free_port()
    config = KubeletConfig(
        kubeconfig=None, master=apiserver.url, hostname="ks-node", node_ip="127.0.0.1",
        endpoints=(RuntimeEndpoint("containerRuntime", "container", containerd.endpoint),),
        pod_log_dir=str(tmp_path / "logs"), cgroup_root=CGROUP_PARENT, root_dir=str(tmp_path / "root"),
        address="127.0.0.1", port=port, node_status_update_frequency_s=1.0, lease_renew_interval_s=1.0)
    async with ApiClient(config_for_url(apiserver.url)) as client:
        kubelet = Kubelet(client, config, resync_s=2.0)
        task = asyncio.create_task(kubelet.run())
        try:
            await asyncio.wait_for(kubelet.registered.wait(), WAIT_S)
            node = await client.get(NODES, "ks-node")
            assert node["status"]["daemonEndpoints"]["kubeletEndpoint"]["Port"] == port
            await client.create(PODS, {"metadata": {"name": "hello"}, "spec": {
                "nodeName": "ks-node", "containers": [{"name": "c", "image": BUSYBOX, "command": [
                    "sh", "-c", "echo served-by-kubelet; exec sleep 300"]}]}}, namespace="default")
            server_ca = tmp_path / "root" / "pki" / "ca.crt"
            anonymous = client_context(server_ca, tmp_path)
            clients = Clients(f"https://127.0.0.1:{port}", anonymous, anonymous, anonymous)

            async def logged() -> bool:
                status, body = await get(clients, "/containerLogs/system/default/hello/c")
                return status == 200 and body == "served-by-kubelet\n"

            await eventually(logged, "the pod's log through the kubelet", within=40)
            url = f"{clients.base}/exec/system/default/hello/c?command=hostname&stdout=1"
            async with aiohttp.ClientSession() as session:
                async with session.ws_connect(url, protocols=(CHANNEL_V5,), ssl=anonymous) as ws:
                    frames = [m.data async for m in ws if m.type == aiohttp.WSMsgType.BINARY]
            assert b"\x01hello\n" in frames
        finally:
            task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await task
            for runtime in kubelet.nodes["ks-node"].context.registry.all():
                for sandbox in await runtime.list_sandboxes():
                    await runtime.remove_sandbox(sandbox.id)
            await kubelet.close()
