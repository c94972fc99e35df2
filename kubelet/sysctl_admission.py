"""Which pod sysctls this node sets: upstream's kubelet sysctl admission (``SysctlForbidden``).

A pod's ``securityContext.sysctls`` are written into its sandbox's namespaces by the runtime
(`kubelet.security_context.sandbox_sysctls`). Upstream's kubelet first admits them against an
allowlist — the *safe* sysctls (namespaced, and isolated from other pods: ``SafeSysctlAllowlist``)
plus what the node's admin allows with ``--allowed-unsafe-sysctls`` (names or ``prefix*``
patterns, each known to be namespaced) — and refuses a pod naming any other one, or a net/ipc
sysctl on a pod sharing the node's network/IPC namespace, whose sysctls would be the node's. A
refused pod is rejected, never started: phase Failed, reason ``SysctlForbidden``, message
``Pod was rejected: forbidden sysctl: "<name>" not allowlisted``. The API server's Pod Security
admission (baseline) already holds tenants to the safe list; this is the node's own check.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

FORBIDDEN_REASON = "SysctlForbidden"

# SafeSysctlAllowlist as of 1.32 (the kernel-gated ones are all namespaced on this project's 6.x kernels).
SAFE_SYSCTLS = (
    "kernel.shm_rmid_forced", "net.ipv4.ip_local_port_range", "net.ipv4.tcp_syncookies",
    "net.ipv4.ping_group_range", "net.ipv4.ip_unprivileged_port_start", "net.ipv4.ip_local_reserved_ports",
    "net.ipv4.tcp_keepalive_time", "net.ipv4.tcp_fin_timeout", "net.ipv4.tcp_keepalive_intvl",
    "net.ipv4.tcp_keepalive_probes", "net.ipv4.tcp_rmem", "net.ipv4.tcp_wmem",
)
# utilsysctl's namespace table: exact names, then prefixes.
_NAMESPACED = {"kernel.sem": "ipc"}
_NAMESPACED_PREFIXES = (("kernel.shm", "ipc"), ("kernel.msg", "ipc"), ("fs.mqueue.", "ipc"), ("net.", "net"))


class SysctlConfigError(ValueError):
    """An ``--allowed-unsafe-sysctls`` entry that is not known to be namespaced."""


def normalize(name: str) -> str:
    """``net/ipv4/ip_forward`` → ``net.ipv4.ip_forward`` (upstream's NormalizeName: when the first
    separator is a slash, slashes and dots swap)."""
    for char in name:
        if char == ".":
            return name
        if char == "/":
            return name.translate(str.maketrans("./", "/."))
    return name


def namespace_of(name: str) -> str:
    """``ipc``, ``net``, or ``""`` for a sysctl not known to be namespaced."""
    if name in _NAMESPACED:
        return _NAMESPACED[name]
    for prefix, namespace in _NAMESPACED_PREFIXES:
        if name.startswith(prefix):
            return namespace
    return ""


class SysctlAllowlist:
    """The safe sysctls plus ``allowed_unsafe``; `rejection` says why a pod may not run here."""

    def __init__(self, allowed_unsafe: Iterable[str] = ()) -> None:
        self.names: dict[str, str] = {}
        self.prefixes: dict[str, str] = {}
        for entry in (*SAFE_SYSCTLS, *allowed_unsafe):
            entry = normalize(entry.strip())
            if not entry:
                continue
            prefixed = entry.endswith("*")
            key = entry[:-1] if prefixed else entry
            namespace = namespace_of(key)
            if not namespace:
                what = "sysctls" if prefixed else "sysctl"
                raise SysctlConfigError(f'the {what} "{entry}" are not known to be namespaced')
            (self.prefixes if prefixed else self.names)[key] = namespace

    def _check(self, name: str, *, host_network: bool, host_ipc: bool) -> str | None:
        name = normalize(name)
        namespace = self.names.get(name)
        if namespace is None:
            namespace = next((ns for prefix, ns in self.prefixes.items() if name.startswith(prefix)), None)
        if namespace is None:
            return f'"{name}" not allowlisted'
        if (namespace == "ipc" and host_ipc) or (namespace == "net" and host_network):
            return f'"{name}" not allowed with host {namespace} enabled'
        return None

    def rejection(self, pod: dict[str, Any]) -> str | None:
        """Upstream's admit message (``forbidden sysctl: ...``) for the pod's first refused sysctl."""
        spec = pod.get("spec") or {}
        for sysctl in (spec.get("securityContext") or {}).get("sysctls") or []:
            problem = self._check(str(sysctl.get("name") or ""), host_network=bool(spec.get("hostNetwork")),
                                  host_ipc=bool(spec.get("hostIPC")))
            if problem is not None:
                return f"forbidden sysctl: {problem}"
        return None
