"""Unit tests for the VM pod plumbing that needs no qemu: the kubelet's CRI config for
``spec.virtualMachine`` (`kubelet.vm.specs`), the VM as a container and its ``virtualMachineStatus``
(`kubelet.vm.pods`), the runtime's VM sizing and guest settings (`vmruntime.qemu`,
`vmruntime.inventory`), the initramfs writer and the CRI log line format of the shim.
Leaves out: booting anything (test/component/test_vm_runtime.py does).
"""

from __future__ import annotations

import base64
import gzip
from typing import Any

import pytest

from cri import vm_annotations
from kubelet.cri_specs import CONTAINER_IMAGE_ANNOTATION, POD_UID_LABEL
from kubelet.runtime import ContainerInfo
from kubelet.vm.pods import vm_container, vm_status
from kubelet.vm.specs import build_vm_container_config
from vmruntime.guest import GuestConfig, config_archive
from vmruntime.images import normalize
from vmruntime.initramfs import directory, newc_archive, regular_file, symlink
from vmruntime.inventory import InvalidRequest, guest_config
from vmruntime.qemu import DEFAULT_MEMORY_MIB, MAX_VCPUS, vm_size
from vmruntime.shim import cri_log_line, exit_code_of


def _pod(**vm: Any) -> dict[str, Any]:
    spec = {"name": "vm1", "image": "cirros:0.5.1", **vm}
    return {"metadata": {"name": "p", "namespace": "ns", "uid": "u-1", "tenant": "t1"},
            "spec": {"virtualMachine": spec}}


def test_container_config_carries_vm_fields_as_annotations() -> None:
    user_data = base64.b64encode(b"#!/bin/sh\necho hi\n").decode()
    pod = _pod(publicKey="ssh-rsa AAA", keyPairName="kp", userData=user_data,
               cloudInitUserDataScript="echo x", powerSpec="Running",
               resources={"limits": {"cpu": "2", "memory": "512Mi"}})
    config = build_vm_container_config(pod, attempt=3, image_ref="sha256:abc")
    assert (config.metadata.name, config.metadata.attempt) == ("vm1", 3)
    assert (config.image.image, config.image.user_specified_image) == ("sha256:abc", "cirros:0.5.1")
    assert config.log_path == "vm1/3.log" and config.labels[POD_UID_LABEL] == "u-1"
    assert config.annotations[CONTAINER_IMAGE_ANNOTATION] == "cirros:0.5.1"
    assert config.annotations[vm_annotations.PUBLIC_KEY] == "ssh-rsa AAA"
    assert config.annotations[vm_annotations.KEY_PAIR_NAME] == "kp"
    assert config.annotations[vm_annotations.USER_DATA] == user_data
    assert config.annotations[vm_annotations.CLOUD_INIT_SCRIPT] == "echo x"
    resources = config.linux.resources
    assert resources.memory_limit_in_bytes == 512 * 1024 * 1024
    assert (resources.cpu_quota, resources.cpu_period) == (200_000, 100_000)
    assert not config.command and not config.envs


def test_absent_vm_fields_are_not_annotated() -> None:
    config = build_vm_container_config(_pod(), attempt=0, image_ref="")
    assert not any(k.startswith(vm_annotations.PREFIX) for k in config.annotations)
    assert config.image.image == "cirros:0.5.1"


def test_vm_container_defaults_pull_policy_like_the_api() -> None:
    assert vm_container(_pod()) == {"name": "vm1", "image": "cirros:0.5.1", "imagePullPolicy": "IfNotPresent",
                                    "resources": {}}
    assert vm_container(_pod(image="cirros"))["imagePullPolicy"] == "Always"
    assert vm_container(_pod(imagePullPolicy="Never"))["imagePullPolicy"] == "Never"


def _info(state: str, *, reason: str = "", exit_code: int = 0) -> ContainerInfo:
    return ContainerInfo(id="c1", sandbox_id="s1", pod_uid="u-1", name="vm1", attempt=2, state=state,  # type: ignore[arg-type]
                         image="cirros:0.5.1", image_ref="sha256:abc", created_at=1.0, reason=reason,
                         exit_code=exit_code)


@pytest.mark.parametrize(("info", "power", "state", "ready"), [
    (None, "nostate", "building", False),
    (_info("created"), "nostate", "building", False),
    (_info("running"), "running", "active", True),
    (_info("running", reason="Paused"), "paused", "paused", False),
    (_info("running", reason="Suspended"), "suspended", "suspended", False),
    (_info("exited"), "shutdown", "stopped", False),
    (_info("exited", exit_code=137), "crashed", "error", False),
])
def test_vm_status_maps_runtime_states(info: ContainerInfo | None, power: str, state: str,
                                      ready: bool) -> None:
    status = vm_status(_pod(resources={"limits": {"cpu": "1"}}), info)
    assert (status["powerState"], status["state"], status["ready"]) == (power, state, ready)
    assert status["name"] == "vm1" and status["image"] == "cirros:0.5.1"
    assert status["resources"] == {"limits": {"cpu": "1"}}
    if info is not None:
        assert (status["virtualMachineId"], status["imageId"]) == ("c1", "sha256:abc")
        assert status["restartCount"] == 2


def test_vm_size_from_resources_and_annotations() -> None:
    assert vm_size(cpu_quota=150_000, cpu_period=100_000, cpu_shares=0, memory_limit_bytes=0,
                   settings={}) == (size := vm_size(cpu_quota=0, cpu_period=0, cpu_shares=2048,
                                                    memory_limit_bytes=0, settings={}))
    assert (size.vcpus, size.memory_mib) == (2, DEFAULT_MEMORY_MIB)
    tiny = vm_size(cpu_quota=0, cpu_period=0, cpu_shares=2, memory_limit_bytes=16 << 20, settings={})
    assert tiny.vcpus == 1 and tiny.memory_mib >= 96
    explicit = vm_size(cpu_quota=0, cpu_period=0, cpu_shares=2, memory_limit_bytes=0,
                       settings={vm_annotations.VCPUS: "64", vm_annotations.MEMORY_MIB: "300"})
    assert (explicit.vcpus, explicit.memory_mib) == (MAX_VCPUS, 300)


def test_guest_config_decodes_and_bounds_user_data() -> None:
    config = guest_config("vm1", "host", {vm_annotations.USER_DATA: base64.b64encode(b"echo hi").decode(),
                                          vm_annotations.PUBLIC_KEY: "ssh-rsa K"})
    assert (config.user_data, config.public_key, config.hostname) == (b"echo hi", "ssh-rsa K", "host")
    with pytest.raises(InvalidRequest, match="base64"):
        guest_config("vm1", "", {vm_annotations.USER_DATA: "not base64!"})
    with pytest.raises(InvalidRequest, match="65535"):
        guest_config("vm1", "", {vm_annotations.USER_DATA: base64.b64encode(b"x" * 65536).decode()})


def _read_newc(archive: bytes) -> dict[str, tuple[int, bytes]]:
    """An independent reader of the newc format: name -> (mode, body)."""
    members: dict[str, tuple[int, bytes]] = {}
    offset = 0
    while True:
        header = archive[offset:offset + 110]
        assert header[:6] == b"070701"
        mode, size, name_size = (int(header[6 + 8 * i:14 + 8 * i], 16) for i in (1, 6, 11))
        name_start = offset + 110
        name = archive[name_start:name_start + name_size - 1].decode()
        body_start = (name_start + name_size + 3) // 4 * 4
        body = archive[body_start:body_start + size]
        offset = (body_start + size + 3) // 4 * 4
        if name == "TRAILER!!!":
            return members
        members[name] = (mode, body)


def test_newc_archive_round_trips() -> None:
    archive = newc_archive([directory("etc"), regular_file("etc/hello", b"world\n", 0o600),
                            symlink("etc/link", "hello")])
    members = _read_newc(archive)
    assert members["etc"][0] == 0o40755
    assert members["etc/hello"] == (0o100600, b"world\n")
    assert members["etc/link"] == (0o120777, b"hello")
    assert len(archive) % 4 == 0


def test_config_archive_holds_the_guest_files() -> None:
    raw = gzip.decompress(config_archive(GuestConfig(vm_name="vm1", public_key="ssh-rsa K",
                                                     user_data=b"#!/bin/sh\necho hi\n")))
    for name in (b"arktos/vm-name", b"arktos/hostname", b"arktos/authorized_keys", b"arktos/user-data"):
        assert name + b"\0" in raw
    assert b"arktos/cloud-init-script" not in raw and b"ssh-rsa K\n" in raw


def test_image_names_normalize_like_a_registry_would() -> None:
    assert normalize("docker.io/library/cirros:latest") == "cirros"
    assert normalize("cirros:0.5.1") == "cirros:0.5.1"


def test_cri_log_lines_and_exit_codes() -> None:
    line = cri_log_line("stdout", "arktos-vm: boot 1\r", now=1700000000.123456789)
    assert line.decode().startswith("2023-11-14T22:13:20.12345")
    assert line.decode().endswith("Z stdout F arktos-vm: boot 1\n")
    assert (exit_code_of(0), exit_code_of(-9), exit_code_of(3)) == (0, 137, 3)
