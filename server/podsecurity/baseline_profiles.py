"""Baseline checks on what a container may ask of the kernel: capabilities and security profiles.

Each mirrors one upstream policy/check_*.go: capabilities_baseline (only the default capability
set may be added), appArmorProfile (no ``Unconfined``), seLinuxOptions (container types only, no
user or role; ``container_engine_t`` from 1.31), procMount (``Default`` only; relaxed for
user-namespaced pods from 1.35), seccompProfile_baseline (no ``Unconfined``: the alpha
annotations in 1.0, the field from 1.19) and sysctls (the namespaced "safe" set, grown by version).
"""

from __future__ import annotations

from collections.abc import Callable

from server.podsecurity.checks import (
    ALLOWED,
    Check,
    CheckResult,
    Obj,
    VersionedCheck,
    containers,
    dicts,
    forbidden,
    go_quote,
    host_users_disabled,
    join_quote,
    name_of,
    names_phrase,
    pluralize,
    security_context,
    sub,
)
from server.podsecurity.policy import BASELINE, v1

CAPABILITIES_BASELINE_ID = "capabilities_baseline"
PROC_MOUNT_ID = "procMount"
SECCOMP_BASELINE_ID = "seccompProfile_baseline"

DEFAULT_CAPABILITIES = frozenset({
    "AUDIT_WRITE", "CHOWN", "DAC_OVERRIDE", "FOWNER", "FSETID", "KILL", "MKNOD", "NET_BIND_SERVICE",
    "SETFCAP", "SETGID", "SETPCAP", "SETUID", "SYS_CHROOT",
})


def _set(context: Obj, field: str) -> bool:
    """Whether ``field`` is given (upstream: a non-nil pointer; JSON null is absent)."""
    return context.get(field) is not None


def capabilities_baseline(metadata: Obj, spec: Obj) -> CheckResult:
    bad: list[str] = []
    added: set[str] = set()
    for container in containers(spec):
        extra = {str(c) for c in sub(security_context(container), "capabilities").get("add") or ()
                 if str(c) not in DEFAULT_CAPABILITIES}
        if extra:
            bad.append(name_of(container))
            added |= extra
    if not bad:
        return ALLOWED
    return forbidden("non-default capabilities", f"{names_phrase(bad)} must not include "
                     f"{join_quote(sorted(added))} in securityContext.capabilities.add")


_APPARMOR_ANNOTATION_PREFIX = "container.apparmor.security.beta.kubernetes.io/"


def _apparmor_annotation_allowed(value: str) -> bool:
    return value in ("", "runtime/default") or value.startswith("localhost/")


def app_armor_profile(metadata: Obj, spec: Obj) -> CheckResult:
    setters: list[str] = []
    values: set[str] = set()
    pod_type = sub(security_context(spec), "appArmorProfile").get("type")
    if _set(security_context(spec), "appArmorProfile") and pod_type not in ("RuntimeDefault", "Localhost"):
        setters.append("pod")
        values.add(str(pod_type or ""))
    bad = []
    for container in containers(spec):
        context = security_context(container)
        kind = sub(context, "appArmorProfile").get("type")
        if _set(context, "appArmorProfile") and kind not in ("RuntimeDefault", "Localhost"):
            bad.append(name_of(container))
            values.add(str(kind or ""))
    if bad:
        setters.append(names_phrase(bad))
    annotations = sub(metadata, "annotations")
    refused = sorted(f"{key}={go_quote(value)}" for key, value in annotations.items()
                     if key.startswith(_APPARMOR_ANNOTATION_PREFIX)
                     and not _apparmor_annotation_allowed(str(value)))
    shown = sorted(values) + refused
    if refused:
        setters.append(pluralize("annotation", "annotations", len(refused)))
    if not setters:
        return ALLOWED
    return forbidden(pluralize("forbidden AppArmor profile", "forbidden AppArmor profiles", len(shown)),
                     f"{' and '.join(setters)} must not set AppArmor profile type to {join_quote(shown)}")


_SELINUX_TYPES_1_0 = frozenset({"", "container_t", "container_init_t", "container_kvm_t"})
_SELINUX_TYPES_1_31 = _SELINUX_TYPES_1_0 | {"container_engine_t"}


def _se_linux_options(allowed_types: frozenset[str]) -> Callable[[Obj, Obj], CheckResult]:
    def check(metadata: Obj, spec: Obj) -> CheckResult:
        types: set[str] = set()
        user = role = False

        def bad(options: Obj) -> bool:
            nonlocal user, role
            kind = str(options.get("type") or "")
            wrong = kind not in allowed_types
            if wrong:
                types.add(kind)
            user, role = user or bool(options.get("user")), role or bool(options.get("role"))
            return wrong or bool(options.get("user")) or bool(options.get("role"))

        setters = ["pod"] if _bad_options(security_context(spec), bad) else []
        names = [name_of(c) for c in containers(spec) if _bad_options(security_context(c), bad)]
        if names:
            setters.append(names_phrase(names))
        if not setters:
            return ALLOWED
        data = [f"{pluralize('type', 'types', len(types))} {join_quote(sorted(types))}"] if types else []
        if user:
            data.append("user may not be set")
        if role:
            data.append("role may not be set")
        return forbidden("seLinuxOptions", f"{' and '.join(setters)} set forbidden "
                                           f"securityContext.seLinuxOptions: {'; '.join(data)}")

    return check


def _bad_options(context: Obj, bad: Callable[[Obj], bool]) -> bool:
    return _set(context, "seLinuxOptions") and bad(sub(context, "seLinuxOptions"))


def proc_mount(metadata: Obj, spec: Obj) -> CheckResult:
    """Only the default (masked) /proc; shared with the restricted profile's unconditional form."""
    bad: list[str] = []
    kinds: set[str] = set()
    for container in containers(spec):
        context = security_context(container)
        if context.get("procMount") is not None and context["procMount"] != "Default":
            bad.append(name_of(container))
            kinds.add(str(context["procMount"]))
    if not bad:
        return ALLOWED
    return forbidden("procMount", f"{names_phrase(bad)} must not set securityContext.procMount to "
                                  f"{join_quote(sorted(kinds))}")


def proc_mount_1_35(metadata: Obj, spec: Obj) -> CheckResult:
    return ALLOWED if host_users_disabled(spec) else proc_mount(metadata, spec)


_SECCOMP_POD_ANNOTATION = "seccomp.security.alpha.kubernetes.io/pod"
_SECCOMP_CONTAINER_PREFIX = "container.seccomp.security.alpha.kubernetes.io/"
VALID_SECCOMP_TYPES = ("RuntimeDefault", "Localhost")


def _seccomp_annotation_allowed(value: str) -> bool:
    return value in ("runtime/default", "docker/default") or value.startswith("localhost/")


def seccomp_baseline_1_0(metadata: Obj, spec: Obj) -> CheckResult:
    annotations = sub(metadata, "annotations")
    keys = [_SECCOMP_POD_ANNOTATION] + [_SECCOMP_CONTAINER_PREFIX + name_of(c) for c in containers(spec)]
    refused = sorted({f"{key}={go_quote(annotations[key])}" for key in keys
                      if key in annotations and not _seccomp_annotation_allowed(str(annotations[key]))})
    if not refused:
        return ALLOWED
    return forbidden("seccompProfile",
                     f"forbidden {pluralize('annotation', 'annotations', len(refused))} {', '.join(refused)}")


def seccomp_setters(spec: Obj) -> tuple[list[str], set[str], bool, list[str]]:
    """(pod/containers setting a bad type, the bad types, pod sets a valid type, containers
    without their own type) — shared with the restricted seccomp check."""
    setters: list[str] = []
    values: set[str] = set()
    pod_context = security_context(spec)
    pod_valid = False
    if _set(pod_context, "seccompProfile"):
        kind = sub(pod_context, "seccompProfile").get("type")
        pod_valid = kind in VALID_SECCOMP_TYPES
        if not pod_valid:
            setters.append("pod")
            values.add(str(kind or ""))
    bad: list[str] = []
    unset: list[str] = []
    for container in containers(spec):
        context = security_context(container)
        if not _set(context, "seccompProfile"):
            unset.append(name_of(container))
            continue
        kind = sub(context, "seccompProfile").get("type")
        if kind not in VALID_SECCOMP_TYPES:
            bad.append(name_of(container))
            values.add(str(kind or ""))
    if bad:
        setters.append(names_phrase(bad))
    return setters, values, pod_valid, unset


def seccomp_refusal(setters: list[str], values: set[str]) -> CheckResult:
    return forbidden("seccompProfile", f"{' and '.join(setters)} must not set "
                                       f"securityContext.seccompProfile.type to {join_quote(sorted(values))}")


def seccomp_baseline_1_19(metadata: Obj, spec: Obj) -> CheckResult:
    setters, values, _, _ = seccomp_setters(spec)
    return seccomp_refusal(setters, values) if setters else ALLOWED


_SYSCTLS_1_0 = frozenset({"kernel.shm_rmid_forced", "net.ipv4.ip_local_port_range", "net.ipv4.tcp_syncookies",
                          "net.ipv4.ping_group_range", "net.ipv4.ip_unprivileged_port_start"})
_SYSCTLS_1_27 = _SYSCTLS_1_0 | {"net.ipv4.ip_local_reserved_ports"}
_SYSCTLS_1_29 = _SYSCTLS_1_27 | {"net.ipv4.tcp_keepalive_time", "net.ipv4.tcp_fin_timeout",
                                 "net.ipv4.tcp_keepalive_intvl", "net.ipv4.tcp_keepalive_probes"}
_SYSCTLS_1_32 = _SYSCTLS_1_29 | {"net.ipv4.tcp_rmem", "net.ipv4.tcp_wmem"}
_SYSCTLS_1_37 = _SYSCTLS_1_32 | {"net.ipv4.tcp_slow_start_after_idle", "net.ipv4.tcp_notsent_lowat"}


def _sysctls(allowed: frozenset[str]) -> Callable[[Obj, Obj], CheckResult]:
    def check(metadata: Obj, spec: Obj) -> CheckResult:
        names = [str(s.get("name", "")) for s in dicts(security_context(spec).get("sysctls"))]
        refused = [name for name in names if name not in allowed]
        return forbidden("forbidden sysctls", ", ".join(refused)) if refused else ALLOWED

    return check


CHECKS = (
    Check(CAPABILITIES_BASELINE_ID, BASELINE, (VersionedCheck(v1(0), capabilities_baseline),)),
    Check("appArmorProfile", BASELINE, (VersionedCheck(v1(0), app_armor_profile),)),
    Check("seLinuxOptions", BASELINE, (VersionedCheck(v1(0), _se_linux_options(_SELINUX_TYPES_1_0)),
                                       VersionedCheck(v1(31), _se_linux_options(_SELINUX_TYPES_1_31)))),
    Check(PROC_MOUNT_ID, BASELINE, (VersionedCheck(v1(0), proc_mount),
                                    VersionedCheck(v1(35), proc_mount_1_35))),
    Check(SECCOMP_BASELINE_ID, BASELINE, (VersionedCheck(v1(0), seccomp_baseline_1_0),
                                          VersionedCheck(v1(19), seccomp_baseline_1_19))),
    Check("sysctls", BASELINE, tuple(VersionedCheck(v1(minor), _sysctls(allowed)) for minor, allowed in (
        (0, _SYSCTLS_1_0), (27, _SYSCTLS_1_27), (29, _SYSCTLS_1_29), (32, _SYSCTLS_1_32),
        (37, _SYSCTLS_1_37)))),
)
