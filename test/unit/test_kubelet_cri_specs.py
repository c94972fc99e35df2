"""The CRI configs `kubelet.cri_specs` builds from pod JSON, and the CRI runtime's pure decisions.

Covers: sandbox metadata, labels/annotations (tenant), hostname rules (spec.hostname, none for
hostNetwork), log directory, per-pod cgroup parent, namespace modes, hostPort mappings; container
command/args semantics with ``$(VAR)`` expansion, literal-only envs, log path, labels, resources
(memory limit, CFS quota/period, shares as upstream's MilliCPUToShares), security context; the
PLEG's change detection. Leaves out: anything a runtime does with them (see
test/component/test_kubelet_cri_runtime.py) and the default pull policy (test_images.py).
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from cri.stubs import pb
from kubelet.cri_runtime import CriRuntime
from kubelet.cri_specs import (
    build_container_config,
    build_sandbox_config,
    expand_references,
    milli_cpu_to_quota,
    milli_cpu_to_shares,
)

UID = "0b7c6a3e-1111-2222-3333-444455556666"


def _pod(**spec: Any) -> dict[str, Any]:
    container = {"name": "app", "image": "busybox", "ports": [
        {"containerPort": 8080, "hostPort": 18080}, {"containerPort": 53, "protocol": "UDP"}]}
    return {"metadata": {"name": "web", "namespace": "prod", "tenant": "acme", "uid": UID,
                         "labels": {"app": "web"}, "annotations": {"note": "x"}},
            "spec": {"containers": [container], **spec}}


def test_sandbox_config_carries_identity_labels_and_paths() -> None:
    config = build_sandbox_config(_pod(), log_root=Path("/var/log/pods"), cgroup_parent="/kubepods/")
    metadata = config.metadata
    assert (metadata.name, metadata.namespace, metadata.uid, metadata.attempt) == ("web", "prod", UID, 0)
    assert config.hostname == "web"
    assert config.log_directory == f"/var/log/pods/prod_web_{UID}"
    assert dict(config.labels) == {"app": "web", "io.kubernetes.pod.name": "web",
                                   "io.kubernetes.pod.namespace": "prod", "io.kubernetes.pod.uid": UID,
                                   "arktos.futurewei.com/tenant": "acme"}
    assert config.annotations["arktos.futurewei.com/tenant"] == "acme" and config.annotations["note"] == "x"
    assert config.linux.cgroup_parent == f"/kubepods/pod{UID}"
    options = config.linux.security_context.namespace_options
    assert (options.network, options.pid, options.ipc) == (pb.POD, pb.CONTAINER, pb.POD)
    mappings = [(m.container_port, m.host_port, m.protocol) for m in config.port_mappings]
    assert mappings == [(8080, 18080, pb.TCP)]
    assert not config.linux.security_context.privileged


def test_sandbox_hostname_and_namespaces_follow_the_spec() -> None:
    assert build_sandbox_config(_pod(hostname="custom"), log_root=Path("/l")).hostname == "custom"
    host = build_sandbox_config(_pod(hostNetwork=True, shareProcessNamespace=True), log_root=Path("/l"))
    assert host.hostname == ""
    options = host.linux.security_context.namespace_options
    assert (options.network, options.pid) == (pb.NODE, pb.POD)
    assert build_sandbox_config(_pod(), log_root=Path("/l")).linux.cgroup_parent == ""


def test_container_config_command_args_env_and_log_path() -> None:
    container = {"name": "app", "image": "busybox:1.36", "command": ["sh", "-c"],
                 "args": ["echo $(GREETING) $(MISSING) $$(GREETING)"], "workingDir": "/tmp",
                 "env": [{"name": "GREETING", "value": "hi"},
                         {"name": "FROM_SECRET", "valueFrom": {"secretKeyRef": {"name": "s", "key": "k"}}}],
                 "stdin": True, "tty": True}
    config = build_container_config(_pod(), container, attempt=2, image_ref="sha256:abc")
    assert (config.metadata.name, config.metadata.attempt) == ("app", 2)
    assert (config.image.image, config.image.user_specified_image) == ("sha256:abc", "busybox:1.36")
    assert list(config.command) == ["sh", "-c"]
    assert list(config.args) == ["echo hi $(MISSING) $(GREETING)"]
    assert config.working_dir == "/tmp"
    assert [(kv.key, kv.value) for kv in config.envs] == [("GREETING", "hi")]
    assert config.log_path == "app/2.log"
    assert (config.stdin, config.tty) == (True, True)
    assert config.labels["io.kubernetes.container.name"] == "app"
    assert config.labels["io.kubernetes.pod.uid"] == UID
    assert config.linux.security_context.namespace_options.pid == pb.CONTAINER


def test_container_resources_as_upstream() -> None:
    def resources(spec: dict[str, Any]) -> pb.LinuxContainerResources:
        container = {"name": "app", "image": "busybox", "resources": spec}
        return build_container_config(_pod(), container, attempt=0, image_ref="").linux.resources

    limited = resources({"limits": {"memory": "64Mi", "cpu": "500m"}, "requests": {"cpu": "250m"}})
    assert limited.memory_limit_in_bytes == 67108864
    assert (limited.cpu_period, limited.cpu_quota, limited.cpu_shares) == (100000, 50000, 256)
    limit_only = resources({"limits": {"cpu": "2"}})
    assert (limit_only.cpu_quota, limit_only.cpu_shares) == (200000, 2048)
    best_effort = resources({})
    assert (best_effort.memory_limit_in_bytes, best_effort.cpu_quota, best_effort.cpu_shares) == (0, 0, 2)


def test_cpu_conversions_clamp() -> None:
    assert [milli_cpu_to_shares(m) for m in (0, 1, 1000, 10**9)] == [2, 2, 1024, 262144]
    assert [milli_cpu_to_quota(m) for m in (0, 1, 1500)] == [0, 1000, 150000]


def test_container_security_context() -> None:
    container = {"name": "app", "image": "busybox", "securityContext": {
        "privileged": True, "runAsUser": 1000, "capabilities": {"add": ["NET_ADMIN"], "drop": ["ALL"]},
        "allowPrivilegeEscalation": False}}
    security = build_container_config(_pod(securityContext={"runAsGroup": 7}), container, attempt=0,
                                      image_ref="").linux.security_context
    assert security.privileged and security.no_new_privs
    assert (security.run_as_user.value, security.run_as_group.value) == (1000, 7)
    assert list(security.capabilities.add_capabilities) == ["NET_ADMIN"]
    assert list(security.capabilities.drop_capabilities) == ["ALL"]


def test_expand_references() -> None:
    assert expand_references("$(A)-$(B)-$$-$(C", {"A": "1"}) == "1-$(B)-$-$(C"


def test_pleg_change_detection() -> None:
    before = {"c1": (pb.CONTAINER_RUNNING, "pod-a"), "c2": (pb.CONTAINER_RUNNING, "pod-b"),
              "c3": (pb.CONTAINER_RUNNING, "pod-c")}
    after = {"c1": (pb.CONTAINER_EXITED, "pod-a"), "c2": (pb.CONTAINER_RUNNING, "pod-b"),
             "c4": (pb.CONTAINER_CREATED, "pod-d"), "c5": (pb.CONTAINER_RUNNING, "pod-e")}
    assert CriRuntime._changed_pods(before, after) == ["pod-a", "pod-e", "pod-c"]
