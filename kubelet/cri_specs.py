"""Translates a pod and its containers (API JSON) into CRI ``PodSandboxConfig``/``ContainerConfig``.

This is the part of upstream's ``kuberuntime`` manager that decides *what* the runtime is asked to
run (``generatePodSandboxConfig``, ``generateContainerConfig``, ``generateLinuxContainerConfig``);
`kubelet.cri_runtime` decides *when*. Keeping it pure (no I/O) lets it be unit tested without a
runtime. What it deliberately does not do yet:

- env sources (``valueFrom``, ``envFrom``, service variables) are resolved by the kubelet
  (`kubelet.pod_inputs`) and arrive as literals in ``ContainerInputs.env``; without inputs only
  entries with a literal ``value`` become CRI envs;
- volumes are prepared on the host by `kubelet.volumes`; their bind mounts arrive in
  ``ContainerInputs.mounts`` and are passed on with private propagation;
- security contexts (users, groups, capabilities, seccomp, ``/proc`` masking, sysctls, host
  namespaces) come from `kubelet.security_context`;
- the sandbox's DNS config is decided by the kubelet (`kubelet.pod_dns`) and passed in;
- no OOM score per QoS class (containerd runs with ``restrict_oom_score_adj`` here), no AppArmor
  (containerd runs with ``disable_apparmor``) or SELinux.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from apis.quantity import QuantityError, parse_quantity
from cri.stubs import pb
from kubelet.container_env import expand_references as expand_references  # re-exported
from kubelet.pod_hosts import kernel_hostname
from kubelet.runtime import ContainerInputs, SandboxDns, pod_ref
from kubelet.security_context import (
    ImageUser,
    SecuritySettings,
    all_containers,
    container_security_context,
    sandbox_security_context,
    sandbox_sysctls,
)

POD_NAME_LABEL = "io.kubernetes.pod.name"
POD_NAMESPACE_LABEL = "io.kubernetes.pod.namespace"
POD_UID_LABEL = "io.kubernetes.pod.uid"
CONTAINER_NAME_LABEL = "io.kubernetes.container.name"
TENANT_LABEL = "arktos.futurewei.com/tenant"
# The image as the pod spec names it: containerd reports the first repo tag of the image instead,
# and our busybox carries several tags.
CONTAINER_IMAGE_ANNOTATION = "arktos.futurewei.com/container-image"

# Upstream's pkg/kubelet/cm constants (helpers_linux.go): CFS period, and the share bounds.
CPU_PERIOD_US = 100_000
MIN_QUOTA_US = 1_000
MIN_SHARES = 2
MAX_SHARES = 262_144
SHARES_PER_CPU = 1024

_PROTOCOLS = {"TCP": pb.TCP, "UDP": pb.UDP, "SCTP": pb.SCTP}


def sandbox_log_directory(log_root: Path, pod: dict[str, Any]) -> Path:
    """``<log_root>/<namespace>_<name>_<uid>``, upstream's ``BuildPodLogsDirectory`` layout."""
    ref = pod_ref(pod)
    return log_root / f"{ref.namespace}_{ref.name}_{ref.uid}"


def pod_cgroup_parent(cgroup_parent: str, pod_uid: str) -> str:
    """The pod's own cgroup below the node's (cgroupfs driver: ``/kubepods/pod<uid>``); empty
    leaves the choice to the runtime."""
    if not cgroup_parent:
        return ""
    return f"{cgroup_parent.rstrip('/')}/pod{pod_uid}"


def _spec(pod: dict[str, Any]) -> dict[str, Any]:
    return pod.get("spec") or {}


def port_mappings(pod: dict[str, Any]) -> list[pb.PortMapping]:
    """Every container port that asks for a hostPort (upstream skips the others)."""
    mappings = []
    for container in all_containers(pod):
        for port in container.get("ports") or []:
            host_port = int(port.get("hostPort") or 0)
            if host_port <= 0:
                continue
            mappings.append(pb.PortMapping(
                protocol=_PROTOCOLS.get(str(port.get("protocol") or "TCP"), pb.TCP),
                container_port=int(port.get("containerPort") or 0), host_port=host_port,
                host_ip=str(port.get("hostIP") or "")))
    return mappings


def build_sandbox_config(pod: dict[str, Any], *, log_root: Path, cgroup_parent: str = "",
                         attempt: int = 0, dns: SandboxDns | None = None,
                         cluster_domain: str = "") -> pb.PodSandboxConfig:
    """Raises `kubelet.pod_hosts.HostnameError` (``setHostnameAsFQDN`` past 64 characters) and
    `kubelet.security_context.SecurityContextError`."""
    ref = pod_ref(pod)
    spec = _spec(pod)
    metadata = pod.get("metadata") or {}
    labels = {str(k): str(v) for k, v in (metadata.get("labels") or {}).items()}
    labels.update({POD_NAME_LABEL: ref.name, POD_NAMESPACE_LABEL: ref.namespace, POD_UID_LABEL: ref.uid,
                   TENANT_LABEL: ref.tenant})
    annotations = {str(k): str(v) for k, v in (metadata.get("annotations") or {}).items()}
    annotations[TENANT_LABEL] = ref.tenant
    config = pb.PodSandboxConfig(
        metadata=pb.PodSandboxMetadata(name=ref.name, namespace=ref.namespace, uid=ref.uid, attempt=attempt),
        log_directory=str(sandbox_log_directory(log_root, pod)),
        port_mappings=port_mappings(pod), labels=labels, annotations=annotations,
        linux=pb.LinuxPodSandboxConfig(cgroup_parent=pod_cgroup_parent(cgroup_parent, ref.uid),
                                       security_context=sandbox_security_context(pod),
                                       sysctls=sandbox_sysctls(pod)))
    if not spec.get("hostNetwork"):
        # Upstream leaves the hostname empty for host-network pods (the node's is used); containerd
        # refuses one there.
        config.hostname = kernel_hostname(pod, cluster_domain)
    if dns is not None:
        config.dns_config.CopyFrom(pb.DNSConfig(servers=dns.servers, searches=dns.searches,
                                                options=dns.options))
    return config


def milli_cpu_to_shares(milli_cpu: int) -> int:
    """Upstream ``MilliCPUToShares``: 1 CPU = 1024 shares, clamped to [2, 262144]."""
    if milli_cpu == 0:
        return MIN_SHARES
    shares = milli_cpu * SHARES_PER_CPU // 1000
    return max(MIN_SHARES, min(MAX_SHARES, shares))


def milli_cpu_to_quota(milli_cpu: int, period: int = CPU_PERIOD_US) -> int:
    """Upstream ``MilliCPUToQuota``: the CFS quota for a CPU limit (0: no limit; at least 1 ms)."""
    if milli_cpu == 0:
        return 0
    return max(MIN_QUOTA_US, milli_cpu * period // 1000)


def _quantity(resources: dict[str, Any], name: str) -> tuple[int, int] | None:
    """(milli value, integer value) of ``resources[name]``, None when absent or malformed."""
    if name not in resources:
        return None
    try:
        amount = parse_quantity(resources[name])
    except QuantityError:
        return None
    return amount.milli_value, amount.integer_value


def container_resources(container: dict[str, Any]) -> pb.LinuxContainerResources:
    resources = container.get("resources") or {}
    limits = resources.get("limits") or {}
    requests = resources.get("requests") or {}
    out = pb.LinuxContainerResources()
    memory = _quantity(limits, "memory")
    if memory is not None:
        out.memory_limit_in_bytes = memory[1]
    cpu_limit = _quantity(limits, "cpu")
    cpu_request = _quantity(requests, "cpu") or cpu_limit  # a limit alone implies the request
    out.cpu_shares = milli_cpu_to_shares(cpu_request[0] if cpu_request else 0)
    if cpu_limit is not None:
        out.cpu_period = CPU_PERIOD_US
        out.cpu_quota = milli_cpu_to_quota(cpu_limit[0])
    return out


def literal_envs(container: dict[str, Any]) -> list[pb.KeyValue]:
    """The env entries that carry a ``value`` (later duplicates win, as upstream's
    ``makeEnvironmentVariables``)."""
    values: dict[str, str] = {}
    for entry in container.get("env") or []:
        if "value" in entry and entry.get("name"):
            values[str(entry["name"])] = str(entry["value"] or "")
    return [pb.KeyValue(key=k, value=v) for k, v in values.items()]


def container_mounts(inputs: ContainerInputs | None) -> list[pb.Mount]:
    """The volumes' bind mounts; private propagation (upstream's default ``None`` mode)."""
    if inputs is None:
        return []
    return [pb.Mount(container_path=m.container_path, host_path=m.host_path, readonly=m.read_only,
                     propagation=pb.PROPAGATION_PRIVATE) for m in inputs.mounts]


def build_container_config(pod: dict[str, Any], container: dict[str, Any], *, attempt: int,
                           image_ref: str, inputs: ContainerInputs | None = None,
                           image_user: ImageUser | None = None,
                           security: SecuritySettings | None = None) -> pb.ContainerConfig:
    """``command`` overrides the image's entrypoint and ``args`` its cmd (the CRI's command/args
    mean exactly that); the log path is relative to the sandbox's log directory. ``image_user`` is
    who the image runs as (used when the spec names no ``runAsUser``); raises
    `kubelet.security_context.SecurityContextError`."""
    ref = pod_ref(pod)
    name = str(container.get("name", ""))
    image = str(container.get("image", ""))
    if inputs is None:
        envs = literal_envs(container)
    else:
        envs = [pb.KeyValue(key=k, value=v) for k, v in inputs.env]
    env_map = {kv.key: kv.value for kv in envs}
    return pb.ContainerConfig(
        metadata=pb.ContainerMetadata(name=name, attempt=attempt),
        image=pb.ImageSpec(image=image_ref or image, user_specified_image=image),
        command=[expand_references(str(c), env_map) for c in container.get("command") or []],
        args=[expand_references(str(a), env_map) for a in container.get("args") or []],
        working_dir=str(container.get("workingDir") or ""),
        envs=envs,
        mounts=container_mounts(inputs),
        labels={CONTAINER_NAME_LABEL: name, POD_UID_LABEL: ref.uid, POD_NAME_LABEL: ref.name,
                POD_NAMESPACE_LABEL: ref.namespace, TENANT_LABEL: ref.tenant},
        annotations={CONTAINER_IMAGE_ANNOTATION: image},
        log_path=f"{name}/{attempt}.log",
        stdin=bool(container.get("stdin")), stdin_once=bool(container.get("stdinOnce")),
        tty=bool(container.get("tty")),
        linux=pb.LinuxContainerConfig(resources=container_resources(container),
                                      security_context=container_security_context(
                                          pod, container, image_user=image_user, settings=security)))
