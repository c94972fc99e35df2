"""Restricted checks: hardening on top of baseline, each mirroring an upstream policy/check_*.go.

allowPrivilegeEscalation=false (1.8), capabilities drop ALL and add at most NET_BIND_SERVICE
(1.22, replacing the baseline capability check), an unconditional default /proc (1.35,
replacing the baseline one that user namespaces relax), only inline volume types that cannot
reach the host or a remote store (1.0, replacing the hostPath check), runAsNonRoot (1.0), no
runAsUser 0 (1.23) and a RuntimeDefault/Localhost seccomp profile (1.19, replacing the baseline
seccomp check). From 1.25 Windows pods skip the Linux-only checks; from 1.35 pods with
``hostUsers: false`` may run as "root" inside their user namespace.
"""

from __future__ import annotations

from collections.abc import Callable

from server.podsecurity.baseline_host import HOST_PATH_VOLUMES_ID
from server.podsecurity.baseline_profiles import (
    CAPABILITIES_BASELINE_ID,
    PROC_MOUNT_ID,
    SECCOMP_BASELINE_ID,
    proc_mount,
    seccomp_refusal,
    seccomp_setters,
)
from server.podsecurity.checks import (
    ALLOWED,
    Check,
    CheckFn,
    CheckResult,
    Obj,
    VersionedCheck,
    containers,
    dicts,
    forbidden,
    host_users_disabled,
    join_quote,
    name_of,
    names_phrase,
    pluralize,
    security_context,
    sub,
    windows,
)
from server.podsecurity.policy import RESTRICTED, v1


def _unless(skip: Callable[[Obj], bool], check: CheckFn) -> CheckFn:
    """``check``, but allowed outright for pods ``skip`` exempts (Windows pods, user namespaces)."""
    def guarded(metadata: Obj, spec: Obj) -> CheckResult:
        return ALLOWED if skip(spec) else check(metadata, spec)

    return guarded


def allow_privilege_escalation(metadata: Obj, spec: Obj) -> CheckResult:
    bad = [name_of(c) for c in containers(spec)
           if security_context(c).get("allowPrivilegeEscalation") is not False]
    if not bad:
        return ALLOWED
    return forbidden("allowPrivilegeEscalation != false",
                     f"{names_phrase(bad)} must set securityContext.allowPrivilegeEscalation=false")


def capabilities_restricted(metadata: Obj, spec: Obj) -> CheckResult:
    missing_drop: list[str] = []
    adding: list[str] = []
    added: set[str] = set()
    for container in containers(spec):
        capabilities = sub(security_context(container), "capabilities")
        if "ALL" not in [str(c) for c in capabilities.get("drop") or ()]:
            missing_drop.append(name_of(container))
        extra = {str(c) for c in capabilities.get("add") or () if c != "NET_BIND_SERVICE"}
        if extra:
            adding.append(name_of(container))
            added |= extra
    details = []
    if missing_drop:
        details.append(f'{names_phrase(missing_drop)} must set securityContext.capabilities.drop=["ALL"]')
    if adding:
        details.append(f"{names_phrase(adding)} must not include {join_quote(sorted(added))} in "
                       "securityContext.capabilities.add")
    return forbidden("unrestricted capabilities", "; ".join(details)) if details else ALLOWED


# Inline volume sources the restricted profile allows; anything else is named by its field.
_ALLOWED_VOLUMES = ("configMap", "csi", "downwardAPI", "emptyDir", "ephemeral", "image",
                    "persistentVolumeClaim", "projected", "secret")
_RESTRICTED_VOLUMES = ("hostPath", "gcePersistentDisk", "awsElasticBlockStore", "gitRepo", "nfs", "iscsi",
                       "glusterfs", "rbd", "flexVolume", "cinder", "cephfs", "flocker", "fc", "azureFile",
                       "vsphereVolume", "quobyte", "azureDisk", "photonPersistentDisk", "portworxVolume",
                       "scaleIO", "storageos")


def restricted_volumes(metadata: Obj, spec: Obj) -> CheckResult:
    bad: list[str] = []
    kinds: set[str] = set()
    for volume in dicts(spec.get("volumes")):
        if any(volume.get(source) is not None for source in _ALLOWED_VOLUMES):
            continue
        bad.append(str(volume.get("name", "")))
        kinds.add(next((s for s in _RESTRICTED_VOLUMES if volume.get(s) is not None), "unknown"))
    if not bad:
        return ALLOWED
    volumes = f"{pluralize('volume', 'volumes', len(bad))} {join_quote(bad)}"
    return forbidden("restricted volume types", f"{volumes} {pluralize('uses', 'use', len(bad))} "
                     f"{pluralize('restricted volume type', 'restricted volume types', len(kinds))} "
                     f"{join_quote(sorted(kinds))}")


def run_as_non_root(metadata: Obj, spec: Obj) -> CheckResult:
    pod_value = security_context(spec).get("runAsNonRoot")
    setters = ["pod"] if pod_value is False else []
    explicit_bad: list[str] = []
    implicit_bad: list[str] = []
    for container in containers(spec):
        value = security_context(container).get("runAsNonRoot")
        if value is False:
            explicit_bad.append(name_of(container))
        elif value is None and pod_value is not True:
            implicit_bad.append(name_of(container))
    if explicit_bad:
        setters.append(names_phrase(explicit_bad))
    if setters:
        return forbidden("runAsNonRoot != true",
                         f"{' and '.join(setters)} must not set securityContext.runAsNonRoot=false")
    if implicit_bad:
        return forbidden("runAsNonRoot != true",
                         f"pod or {names_phrase(implicit_bad)} must set securityContext.runAsNonRoot=true")
    return ALLOWED


def run_as_user(metadata: Obj, spec: Obj) -> CheckResult:
    setters = ["pod"] if _is_zero(security_context(spec).get("runAsUser")) else []
    bad = [name_of(c) for c in containers(spec) if _is_zero(security_context(c).get("runAsUser"))]
    if bad:
        setters.append(names_phrase(bad))
    if not setters:
        return ALLOWED
    return forbidden("runAsUser=0", f"{' and '.join(setters)} must not set runAsUser=0")


def _is_zero(value: object) -> bool:
    return isinstance(value, int) and not isinstance(value, bool) and value == 0


def seccomp_restricted(metadata: Obj, spec: Obj) -> CheckResult:
    setters, values, pod_valid, unset = seccomp_setters(spec)
    if setters:
        return seccomp_refusal(setters, values)
    if unset and not pod_valid:
        return forbidden("seccompProfile", f"pod or {names_phrase(unset)} must set securityContext."
                                           'seccompProfile.type to "RuntimeDefault" or "Localhost"')
    return ALLOWED


CHECKS = (
    Check("allowPrivilegeEscalation", RESTRICTED, (
        VersionedCheck(v1(8), allow_privilege_escalation),
        VersionedCheck(v1(25), _unless(windows, allow_privilege_escalation)))),
    Check("capabilities_restricted", RESTRICTED, (
        VersionedCheck(v1(22), capabilities_restricted, (CAPABILITIES_BASELINE_ID,)),
        VersionedCheck(v1(25), _unless(windows, capabilities_restricted), (CAPABILITIES_BASELINE_ID,)))),
    Check("procMount_restricted", RESTRICTED, (VersionedCheck(v1(35), proc_mount, (PROC_MOUNT_ID,)),)),
    Check("restrictedVolumes", RESTRICTED, (
        VersionedCheck(v1(0), restricted_volumes, (HOST_PATH_VOLUMES_ID,)),)),
    Check("runAsNonRoot", RESTRICTED, (
        VersionedCheck(v1(0), run_as_non_root),
        VersionedCheck(v1(35), _unless(host_users_disabled, run_as_non_root)))),
    Check("runAsUser", RESTRICTED, (
        VersionedCheck(v1(23), run_as_user),
        VersionedCheck(v1(35), _unless(host_users_disabled, run_as_user)))),
    Check("seccompProfile_restricted", RESTRICTED, (
        VersionedCheck(v1(19), seccomp_restricted, (SECCOMP_BASELINE_ID,)),
        VersionedCheck(v1(25), _unless(windows, seccomp_restricted), (SECCOMP_BASELINE_ID,)))),
)
