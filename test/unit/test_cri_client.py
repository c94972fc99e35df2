"""The CRI client against an in-process fake runtime over a unix socket.

Covers: endpoint forms (``unix://``, ``unix:``, bare path), requests reaching the runtime with our fields,
replies unpacked into plain values, gRPC errors translated to ``NotFound``/``Unavailable``/``CriError``,
and ImageStatus answering None for a missing image. Leaves out: a real runtime (component tests).
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import grpc
import grpc.aio
import pytest

from cri.client import CriClient, grpc_target
from cri.errors import CriError, NotFound, Unavailable
from cri.stubs import pb, pb_grpc


class FakeRuntime(pb_grpc.RuntimeServiceServicer, pb_grpc.ImageServiceServicer):
    def __init__(self) -> None:
        self.seen: list[Any] = []

    async def Version(self, request: Any, context: Any) -> Any:
        self.seen.append(request)
        return pb.VersionResponse(version="0.1.0", runtime_name="fake", runtime_version="1",
                                  runtime_api_version="v1")

    async def ContainerStatus(self, request: Any, context: Any) -> Any:
        await context.abort(grpc.StatusCode.NOT_FOUND, f"container {request.container_id} not found")

    async def StartContainer(self, request: Any, context: Any) -> Any:
        await context.abort(grpc.StatusCode.FAILED_PRECONDITION, "container is in exited state")

    async def ExecSync(self, request: Any, context: Any) -> Any:
        self.seen.append(request)
        return pb.ExecSyncResponse(stdout=" ".join(request.cmd).encode(), exit_code=7)

    async def ImageStatus(self, request: Any, context: Any) -> Any:
        if request.image.image == "busybox":
            return pb.ImageStatusResponse(image=pb.Image(id="sha256:abc", repo_tags=["busybox:latest"]))
        return pb.ImageStatusResponse()


@pytest.fixture
async def fake(tmp_path: Path) -> AsyncIterator[tuple[FakeRuntime, str]]:
    runtime = FakeRuntime()
    server = grpc.aio.server()
    pb_grpc.add_RuntimeServiceServicer_to_server(runtime, server)
    pb_grpc.add_ImageServiceServicer_to_server(runtime, server)
    sock = tmp_path / "cri.sock"
    server.add_insecure_port(f"unix://{sock}")
    await server.start()
    yield runtime, f"unix://{sock}"
    await server.stop(0)


def test_grpc_target_forms() -> None:
    assert grpc_target("unix:///run/c.sock") == "unix:///run/c.sock"
    assert grpc_target("unix:/run/c.sock") == "unix:///run/c.sock"
    assert grpc_target("/run/c.sock") == "unix:///run/c.sock"
    assert grpc_target("127.0.0.1:9000") == "127.0.0.1:9000"


async def test_calls_and_replies(fake: tuple[FakeRuntime, str]) -> None:
    runtime, endpoint = fake
    async with CriClient(endpoint) as cri:
        version = await cri.version()
        assert (version.runtime_name, version.runtime_api_version) == ("fake", "v1")
        assert runtime.seen[0].version == "v1"
        result = await cri.exec_sync("c1", ["cat", "/etc/hostname"], timeout_seconds=3)
        assert (result.stdout, result.exit_code) == (b"cat /etc/hostname", 7)
        assert runtime.seen[1].timeout == 3
        image = await cri.image_status("busybox")
        assert image is not None and image.id == "sha256:abc"
        assert await cri.image_status("nosuch") is None


async def test_errors_are_translated(fake: tuple[FakeRuntime, str]) -> None:
    _, endpoint = fake
    async with CriClient(endpoint) as cri:
        with pytest.raises(NotFound) as missing:
            await cri.container_status("c9")
        assert missing.value.code == "NOT_FOUND" and "c9" in missing.value.message
        with pytest.raises(CriError) as failed:
            await cri.start_container("c1")
        assert type(failed.value) is CriError and failed.value.code == "FAILED_PRECONDITION"
        with pytest.raises(CriError) as unimplemented:
            await cri.list_images()
        assert unimplemented.value.code == "UNIMPLEMENTED"


async def test_unreachable_runtime_is_unavailable(tmp_path: Path) -> None:
    async with CriClient(f"unix://{tmp_path}/nobody.sock") as cri:
        with pytest.raises(Unavailable):
            await cri.version()
