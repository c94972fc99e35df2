"""Our runtime.v1 proto subset keeps the public CRI wire format.

Covers: the stubs generate (and regenerate when missing), the services carry the RPCs the kubelet uses,
and a sample of field numbers matches upstream's ``k8s.io/cri-api`` ``api.proto`` exactly - a wrong
number would silently send a field the runtime reads as something else.
Leaves out: talking to a runtime (test/component/test_containerd_cri.py does).
"""

from __future__ import annotations

from pathlib import Path

import pytest

from cri import codegen
from cri.stubs import pb

# (message, field) -> public runtime.v1 field number
PUBLIC_NUMBERS = {
    ("PodSandboxConfig", "metadata"): 1, ("PodSandboxConfig", "hostname"): 2,
    ("PodSandboxConfig", "log_directory"): 3, ("PodSandboxConfig", "port_mappings"): 5,
    ("PodSandboxConfig", "annotations"): 7, ("PodSandboxConfig", "linux"): 8,
    ("LinuxSandboxSecurityContext", "run_as_group"): 8, ("LinuxSandboxSecurityContext", "privileged"): 6,
    ("LinuxContainerResources", "memory_limit_in_bytes"): 4, ("LinuxContainerResources", "unified"): 9,
    ("LinuxContainerResources", "memory_swap_limit_in_bytes"): 10,
    ("LinuxContainerSecurityContext", "run_as_group"): 12,
    ("LinuxContainerSecurityContext", "no_new_privs"): 11,
    ("ContainerConfig", "log_path"): 11, ("ContainerConfig", "tty"): 14, ("ContainerConfig", "linux"): 15,
    ("ImageSpec", "user_specified_image"): 18,
    ("ContainerStatus", "log_path"): 15, ("ContainerStatus", "image_id"): 17,
    ("ContainerStatus", "reason"): 10,
    ("Container", "image_id"): 10, ("PodSandboxStatus", "network"): 5, ("Namespace", "options"): 2,
    ("ExecSyncRequest", "timeout"): 3, ("AttachRequest", "tty"): 3, ("ExecRequest", "stdin"): 4,
    ("StatusResponse", "info"): 2, ("Image", "pinned"): 8, ("PullImageRequest", "sandbox_config"): 3,
}


@pytest.mark.parametrize(("message", "field"), sorted(PUBLIC_NUMBERS))
def test_field_numbers_match_public_cri(message: str, field: str) -> None:
    descriptor = pb.DESCRIPTOR.message_types_by_name[message]
    assert descriptor.fields_by_name[field].number == PUBLIC_NUMBERS[(message, field)]


def test_package_and_services_are_runtime_v1() -> None:
    assert pb.DESCRIPTOR.package == "runtime.v1"
    runtime = {m.name for m in pb.DESCRIPTOR.services_by_name["RuntimeService"].methods}
    images = {m.name for m in pb.DESCRIPTOR.services_by_name["ImageService"].methods}
    assert {"Version", "RunPodSandbox", "StopPodSandbox", "RemovePodSandbox", "PodSandboxStatus",
            "ListPodSandbox", "CreateContainer", "StartContainer", "StopContainer", "RemoveContainer",
            "ListContainers", "ContainerStatus", "ExecSync", "Exec", "Attach", "PortForward",
            "Status"} == runtime
    assert {"ListImages", "ImageStatus", "PullImage", "RemoveImage", "ImageFsInfo"} == images


def test_enum_values_match_public_cri() -> None:
    assert (pb.POD, pb.CONTAINER, pb.NODE, pb.TARGET) == (0, 1, 2, 3)
    states = (pb.CONTAINER_CREATED, pb.CONTAINER_RUNNING, pb.CONTAINER_EXITED, pb.CONTAINER_UNKNOWN)
    assert states == (0, 1, 2, 3)
    assert (pb.SANDBOX_READY, pb.SANDBOX_NOTREADY) == (0, 1)


def test_codegen_is_idempotent_and_regenerates(tmp_path: Path) -> None:
    """Regenerates into a scratch directory: the package's own stubs are never rewritten while
    other processes of the test run may be importing them."""
    assert codegen.stubs_are_current()
    before = (codegen.GENERATED_DIR / "runtime_pb2.py").read_bytes()
    out = codegen.generate(force=True, into=tmp_path / "_generated")
    assert (out / "runtime_pb2.py").read_bytes() == before
    grpc_module = (out / "runtime_pb2_grpc.py").read_text()
    assert "from . import runtime_pb2" in grpc_module  # importable as a package member
