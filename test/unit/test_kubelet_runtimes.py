"""``--container-runtime-endpoint`` parsing (ARKTOS.md §5) and how the registry routes pods.

Covers the bare-URL form, the multi-endpoint form, syntax errors, defaults per workload type,
VM/container routing, readiness following the first container runtime, and unknown URL schemes
becoming unavailable runtimes. Leaves out real CRI endpoints (no runtime client here).
"""

from __future__ import annotations

import pytest

from kubelet.config import EndpointSyntaxError, RuntimeEndpoint, parse_args, parse_runtime_endpoints
from kubelet.hollow import HollowRuntime
from kubelet.runtime import Runtime
from kubelet.runtimes import UnavailableRuntime, build_registry


def hollow(endpoint: RuntimeEndpoint) -> Runtime:
    return HollowRuntime(endpoint.name)


def test_a_bare_url_is_one_container_runtime() -> None:
    assert parse_runtime_endpoints("unix:///run/containerd/containerd.sock") == [
        RuntimeEndpoint("containerRuntime", "container", "unix:///run/containerd/containerd.sock")]


def test_the_arktos_form_keeps_flag_order() -> None:
    text = ("containerRuntime,container,unix:///run/containerd/containerd.sock;"
            "vmRuntime,vm,unix:///run/arktos-vm.sock")
    assert parse_runtime_endpoints(text) == [
        RuntimeEndpoint("containerRuntime", "container", "unix:///run/containerd/containerd.sock"),
        RuntimeEndpoint("vmRuntime", "vm", "unix:///run/arktos-vm.sock")]


@pytest.mark.parametrize("text", ["", "a,container", "a,gpu,unix:///x", "a,vm,unix:///x;a,vm,unix:///y",
                                  "a,vm,notaurl"])
def test_malformed_endpoints_are_refused(text: str) -> None:
    with pytest.raises(EndpointSyntaxError):
        parse_runtime_endpoints(text)


def test_first_endpoint_of_each_type_is_the_default_and_pods_route_by_workload() -> None:
    registry = build_registry(parse_runtime_endpoints(
        "vm1,vm,hollow://a;c1,container,hollow://b;c2,container,hollow://c;vm2,vm,hollow://d"),
        {"hollow": hollow})
    container, vm = registry.default("container"), registry.default("vm")
    assert container is not None and container.name == "c1"
    assert vm is not None and vm.name == "vm1"
    assert registry.for_pod({"spec": {"containers": [{"name": "x"}]}}) is container
    assert registry.for_pod({"spec": {"virtualMachine": {"name": "v"}}}) is vm
    assert registry.readiness_runtime() is container


def test_a_node_without_vm_runtime_has_no_route_for_vm_pods() -> None:
    registry = build_registry(parse_runtime_endpoints("hollow://"), {"hollow": hollow})
    assert registry.for_pod({"spec": {"virtualMachine": {"name": "v"}}}) is None
    assert registry.readiness_runtime().name == "containerRuntime"


async def test_an_endpoint_without_client_is_an_unready_runtime() -> None:
    registry = build_registry(parse_runtime_endpoints("unix:///run/containerd/containerd.sock"), {})
    runtime = registry.readiness_runtime()
    assert isinstance(runtime, UnavailableRuntime)
    health = await runtime.health()
    assert not health.ready and "unix://" in health.message


def test_hollow_flags_default_to_hollow_container_and_vm_runtimes() -> None:
    config = parse_args(["--master", "http://x", "--hostname-override", "Big", "--hollow", "--nodes", "3"])
    assert [e.workload_type for e in config.endpoints] == ["container", "vm"]
    assert config.node_names() == ["big-hollow-0", "big-hollow-1", "big-hollow-2"]
    single = parse_args(["--master", "http://x", "--hostname-override", "n"])
    assert single.node_names() == ["n"]
    assert single.endpoints[0].url == "unix:///run/containerd/containerd.sock"
