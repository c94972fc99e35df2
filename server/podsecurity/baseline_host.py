"""Baseline checks that keep a pod off the host: namespaces, paths, ports, privileges, probe hosts.

Each mirrors one upstream policy/check_*.go (ID, first version, reason and detail texts):
hostNamespaces, hostPathVolumes, hostPorts, privileged, windowsHostProcess (all 1.0) and
hostProbesAndHostLifecycle (1.34). These are the checks that stop a tenant from reading the
node's disk, joining its network or PID namespace, binding its ports, or becoming root on it.
"""

from __future__ import annotations

from server.podsecurity.checks import (
    ALLOWED,
    Check,
    CheckResult,
    Obj,
    VersionedCheck,
    containers,
    dicts,
    forbidden,
    join_quote,
    name_of,
    names_phrase,
    pluralize,
    security_context,
    sub,
)
from server.podsecurity.policy import BASELINE, v1


def host_namespaces(metadata: Obj, spec: Obj) -> CheckResult:
    shared = [f"{field}=true" for field in ("hostNetwork", "hostPID", "hostIPC") if spec.get(field) is True]
    return forbidden("host namespaces", ", ".join(shared)) if shared else ALLOWED


HOST_PATH_VOLUMES_ID = "hostPathVolumes"


def host_path_volumes(metadata: Obj, spec: Obj) -> CheckResult:
    names = [str(v.get("name", "")) for v in dicts(spec.get("volumes")) if v.get("hostPath") is not None]
    if not names:
        return ALLOWED
    return forbidden("hostPath volumes", f"{pluralize('volume', 'volumes', len(names))} {join_quote(names)}")


def host_ports(metadata: Obj, spec: Obj) -> CheckResult:
    bad: list[str] = []
    ports: set[str] = set()
    for container in containers(spec):
        used = [p.get("hostPort") for p in dicts(container.get("ports")) if p.get("hostPort")]
        if used:
            bad.append(name_of(container))
            ports.update(str(port) for port in used)
    if not bad:
        return ALLOWED
    # Upstream sorts the ports as strings (sets.String.List()).
    uses = pluralize("uses", "use", len(bad))
    kind = pluralize("hostPort", "hostPorts", len(ports))
    return forbidden("hostPort", f"{names_phrase(bad)} {uses} {kind} {', '.join(sorted(ports))}")


def privileged(metadata: Obj, spec: Obj) -> CheckResult:
    bad = [name_of(c) for c in containers(spec) if security_context(c).get("privileged") is True]
    if not bad:
        return ALLOWED
    return forbidden("privileged", f"{names_phrase(bad)} must not set securityContext.privileged=true")


def windows_host_process(metadata: Obj, spec: Obj) -> CheckResult:
    setters = ["pod"] if sub(security_context(spec), "windowsOptions").get("hostProcess") is True else []
    bad = [name_of(c) for c in containers(spec)
           if sub(security_context(c), "windowsOptions").get("hostProcess") is True]
    if bad:
        setters.append(names_phrase(bad))
    if not setters:
        return ALLOWED
    return forbidden("hostProcess",
                     f"{' and '.join(setters)} must not set securityContext.windowsOptions.hostProcess=true")


def _handler_hosts(handler: Obj) -> list[str]:
    hosts = []
    for kind in ("httpGet", "tcpSocket"):
        host = sub(handler, kind).get("host")
        if host:
            hosts.append(str(host))
    return hosts


def host_probes_and_lifecycle(metadata: Obj, spec: Obj) -> CheckResult:
    """A probe or lifecycle handler aimed at another host would make the kubelet its proxy."""
    bad: set[str] = set()
    hosts: set[str] = set()
    for container in containers(spec):
        lifecycle = sub(container, "lifecycle")
        handlers = [sub(container, probe) for probe in ("livenessProbe", "readinessProbe", "startupProbe")]
        handlers += [sub(lifecycle, hook) for hook in ("postStart", "preStop")]
        for handler in handlers:
            found = _handler_hosts(handler)
            if found:
                bad.add(name_of(container))
                hosts.update(found)
    if not bad:
        return ALLOWED
    return forbidden("probe or lifecycle host", f"{names_phrase(sorted(bad))} "
                     f"{pluralize('uses', 'use', len(bad))} "
                     f"{pluralize('probe or lifecycle host', 'probe or lifecycle hosts', len(hosts))} "
                     f"{join_quote(sorted(hosts))}")


CHECKS = (
    Check("hostNamespaces", BASELINE, (VersionedCheck(v1(0), host_namespaces),)),
    Check(HOST_PATH_VOLUMES_ID, BASELINE, (VersionedCheck(v1(0), host_path_volumes),)),
    Check("hostPorts", BASELINE, (VersionedCheck(v1(0), host_ports),)),
    Check("privileged", BASELINE, (VersionedCheck(v1(0), privileged),)),
    Check("windowsHostProcess", BASELINE, (VersionedCheck(v1(0), windows_host_process),)),
    Check("hostProbesAndHostLifecycle", BASELINE, (VersionedCheck(v1(34), host_probes_and_lifecycle),)),
)
