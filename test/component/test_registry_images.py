"""The images from the registry, pulled by containerd through the CRI and run as pods.

Covers: the well-known names (``nginx``, ``python:3``, ``busybox``, ``gcr.io/google_containers/pause``,
``registry.k8s.io/pause:3.9``, ``docker.io/arktos/clusterdns:0.1``, a quay.io name) pull through the
hosts.toml mirror of the session registry, tags of one manifest giving one image; a name the registry
lacks fails with NotFound ("not found", what the kubelet turns into ErrImagePull); nginx serving its
default page on port 80 with its access log on the container's stdout; busybox's ``wget`` (GNU's),
``nc``, ``ping`` and ``nslookup`` working against those pods - nslookup asking a DNS server that the
python image runs with dnslib; the python image importing kubernetes and dnslib; the clusterdns
image's working directory and package. Leaves out: the kubelet (test_kubelet_cri_runtime.py covers
pull policies) and building (cached; test/unit covers layers and manifests).
"""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import AsyncIterator, Iterator
from pathlib import Path

import pytest
from containerd_env import cri_client, private_containerd

from cri.client import CriClient
from cri.containerd_process import ContainerdProcess
from cri.errors import NotFound
from cri.stubs import pb

pytestmark = pytest.mark.e2e

CGROUP_PARENT = "arktos-imgtest"
DNS_ANSWER = "10.1.2.3"


@pytest.fixture(scope="module")
def containerd(tmp_path_factory: pytest.TempPathFactory) -> Iterator[ContainerdProcess]:
    with private_containerd(tmp_path_factory.mktemp("containerd"), pod_subnet="10.171.0.0/16",
                            bridge_name="arktos-img0", cgroup_parent=CGROUP_PARENT, pulled=()) as process:
        yield process


@pytest.fixture
async def cri(containerd: ContainerdProcess) -> AsyncIterator[CriClient]:
    async with cri_client(containerd, call_timeout_s=120) as client:
        yield client


async def _run(cri: CriClient, tmp_path: Path, name: str, image: str,
               command: list[str] | None = None) -> tuple[str, str, Path]:
    """A one-container pod on the bridge network; (container id, pod IP, container log file)."""
    uid = str(uuid.uuid4())
    sandbox_config = pb.PodSandboxConfig(
        metadata=pb.PodSandboxMetadata(name=name, uid=uid, namespace="default", attempt=0),
        log_directory=str(tmp_path / f"default_{name}_{uid}"), hostname=name,
        linux=pb.LinuxPodSandboxConfig(cgroup_parent=f"/{CGROUP_PARENT}/pod{uid}"))
    sandbox_id = await cri.run_pod_sandbox(sandbox_config)
    await cri.pull_image(image, sandbox_config)
    config = pb.ContainerConfig(metadata=pb.ContainerMetadata(name=name, attempt=0),
                                image=pb.ImageSpec(image=image), command=command or [],
                                log_path=f"{name}.log")
    container_id = await cri.create_container(sandbox_id, config, sandbox_config)
    await cri.start_container(container_id)
    ip = (await cri.pod_sandbox_status(sandbox_id)).status.network.ip
    return container_id, ip, Path(sandbox_config.log_directory) / f"{name}.log"


async def _until(check: object, what: str, attempts: int = 50) -> None:
    for _ in range(attempts):
        if await check():  # type: ignore[operator]
            return
        await asyncio.sleep(0.1)
    raise AssertionError(f"{what} not seen after {attempts / 10:.0f}s")


async def test_well_known_names_pull_through_the_mirror(cri: CriClient) -> None:
    names = ["nginx", "python:3", "busybox", "gcr.io/google_containers/pause", "registry.k8s.io/pause:3.9",
             "docker.io/arktos/clusterdns:0.1", "quay.io/library/busybox:1.36"]
    refs = {name: await cri.pull_image(name, deadline=120) for name in names}
    for name in names:
        assert await cri.image_status(name) is not None, name
    assert refs["gcr.io/google_containers/pause"] == refs["registry.k8s.io/pause:3.9"]
    assert refs["busybox"] == refs["quay.io/library/busybox:1.36"]
    distinct = ("nginx", "python:3", "busybox", "docker.io/arktos/clusterdns:0.1")
    assert len({refs[name] for name in distinct}) == len(distinct)
    tags = {tag for image in await cri.list_images() for tag in image.repo_tags}
    assert {"docker.io/library/nginx:latest", "docker.io/library/python:3",
            "gcr.io/google_containers/pause:latest", "registry.k8s.io/pause:3.9"} <= tags


async def test_a_name_the_registry_lacks_is_not_found(cri: CriClient) -> None:
    with pytest.raises(NotFound, match="not found"):
        await cri.pull_image("docker.io/library/nginx:0.0-nosuchtag", deadline=30)
    with pytest.raises(NotFound, match="not found"):
        await cri.pull_image("ghcr.io/nosuchorg/nosuchimage", deadline=30)


async def test_busybox_tools_reach_nginx_and_a_dns_server(cri: CriClient, tmp_path: Path) -> None:
    nginx_id, nginx_ip, nginx_log = await _run(cri, tmp_path, "web", "nginx")
    _, dns_ip, _ = await _run(cri, tmp_path, "dns", "python:3", [
        "python3", "-m", "dnslib.fixedresolver", "--response", f". 60 IN A {DNS_ANSWER}", "--port", "53"])
    client_id, _, _ = await _run(cri, tmp_path, "client", "busybox", ["sleep", "60"])

    async def sh(script: str) -> tuple[int, str]:
        result = await cri.exec_sync(client_id, ["sh", "-c", script], timeout_seconds=20)
        return result.exit_code, (result.stdout + result.stderr).decode(errors="replace")

    async def nginx_answers() -> bool:
        return (await sh(f"wget -q -T 2 -O - http://{nginx_ip}/"))[0] == 0

    await _until(nginx_answers, "nginx on port 80")
    code, page = await sh(f"wget -q -T 5 -O - http://{nginx_ip}/")
    assert code == 0 and "Welcome to nginx!" in page
    code, version = await sh("wget --version | head -1")
    assert code == 0 and "GNU Wget" in version  # not busybox's applet, which crashes here
    code, reply = await sh(f"printf 'GET / HTTP/1.0\\r\\n\\r\\n' | nc -w 5 {nginx_ip} 80")
    assert code == 0 and reply.startswith("HTTP/1.1 200 OK"), reply
    code, pinged = await sh(f"ping -c 1 -W 5 {nginx_ip}")
    assert code == 0 and "1 packets received" in pinged, pinged

    async def dns_answers() -> bool:
        code, answer = await sh(f"nslookup -timeout=1 web.example.test {dns_ip}")
        return code == 0 and DNS_ANSWER in answer

    await _until(dns_answers, "an A record from the dnslib server in the python image")

    async def access_logged() -> bool:
        return nginx_log.exists() and '"GET / HTTP/1.1" 200' in nginx_log.read_text()

    await _until(access_logged, "nginx's access log line on its stdout")
    status = (await cri.container_status(nginx_id)).status
    assert status.state == pb.CONTAINER_RUNNING


async def test_python_and_clusterdns_images(cri: CriClient, tmp_path: Path) -> None:
    python_id, _, _ = await _run(cri, tmp_path, "py", "python:3.11", ["sleep", "60"])
    imports = await cri.exec_sync(python_id, ["python", "-c", "import kubernetes, dnslib, yaml, ssl"],
                                  timeout_seconds=60)
    assert imports.exit_code == 0, imports.stderr
    dns_id, _, _ = await _run(cri, tmp_path, "clusterdns", "arktos/clusterdns:0.1", ["sleep", "60"])
    where = "import os, clusterdns; print(os.getcwd(), clusterdns.__file__)"
    probe = await cri.exec_sync(dns_id, ["python3", "-c", where],
                                timeout_seconds=60)
    assert probe.exit_code == 0, probe.stderr
    assert probe.stdout.decode().split() == ["/opt/arktos", "/opt/arktos/clusterdns/__init__.py"]
