"""A pod's and its containers' ``securityContext`` as the runtime must apply it: CRI security contexts.

The node half of a pod's security settings (the API server's Pod Security admission decides what a
tenant may ask for; the kubelet applies whatever was admitted). Upstream's pieces, pure:

- ``securitycontext.DetermineEffectiveSecurityContext``: the pod's ``runAsUser``, ``runAsGroup``,
  ``runAsNonRoot`` and ``seLinuxOptions`` apply to every container unless the container sets its
  own; ``capabilities``, ``privileged``, ``readOnlyRootFilesystem``, ``allowPrivilegeEscalation``
  and ``procMount`` exist only per container;
- ``kuberuntime``'s ``determineEffectiveSecurityContext``: the CRI ``LinuxContainerSecurityContext``
  (the image's user when the spec names none, supplemental groups ``fsGroup`` first, ``no_new_privs``
  only for an explicit ``allowPrivilegeEscalation: false`` — ``AddNoNewPrivileges`` — and the
  default masked/readonly ``/proc`` paths unless ``procMount: Unmasked``; containerd 1.6 masks
  nothing the kubelet does not list);
- ``getSeccompProfile``: the container's ``seccompProfile``, else the pod's, else Unconfined (or
  RuntimeDefault with ``--seccomp-default``); Localhost profiles are files below
  ``<root-dir>/seccomp``;
- ``generatePodSandboxLinuxConfig``: the sandbox's user, groups, namespaces, ``sysctls``, privileged
  when any container is, and always the runtime's default seccomp profile (upstream issue #84623);
- ``verifyRunAsNonRoot`` with upstream's messages.

Errors are `SecurityContextError`; the CRI runtime turns them into ``CreateContainerConfigError``.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from typing import Any

from cri.stubs import pb

DEFAULT_SECCOMP_ROOT = "/var/lib/kubelet/seccomp"
MAX_USER_ID = 2**31 - 1  # validation.IsValidUserID: 0..MaxInt32

# securitycontext's defaultMaskedPaths/defaultReadonlyPaths (kept in sync with moby's defaults).
DEFAULT_MASKED_PATHS = (
    "/proc/asound", "/proc/acpi", "/proc/kcore", "/proc/keys", "/proc/latency_stats", "/proc/timer_list",
    "/proc/timer_stats", "/proc/sched_debug", "/proc/scsi", "/sys/firmware", "/sys/devices/virtual/powercap",
)
DEFAULT_READONLY_PATHS = ("/proc/bus", "/proc/fs", "/proc/irq", "/proc/sys", "/proc/sysrq-trigger")

# The pod-level fields a container inherits, and the fields a container's own context overrides.
_FROM_POD = ("seLinuxOptions", "runAsUser", "runAsGroup", "runAsNonRoot")
_CONTAINER_FIELDS = ("seLinuxOptions", "capabilities", "privileged", "runAsUser", "runAsGroup",
                     "runAsNonRoot", "readOnlyRootFilesystem", "allowPrivilegeEscalation", "procMount")
_SECCOMP_TYPES = {"RuntimeDefault": pb.SecurityProfile.RuntimeDefault,
                  "Unconfined": pb.SecurityProfile.Unconfined}


class SecurityContextError(ValueError):
    """The security context cannot be applied; the text is upstream's."""


@dataclass(frozen=True, slots=True)
class SecuritySettings:
    """The kubelet's own security flags: ``--seccomp-default`` and where Localhost profiles live."""

    seccomp_profile_root: str = DEFAULT_SECCOMP_ROOT
    seccomp_default: bool = False


@dataclass(frozen=True, slots=True)
class ImageUser:
    """Who the image runs as (CRI ``Image.uid``/``username``); neither set means root, as upstream's
    ``getImageUser`` assumes."""

    uid: int | None = 0
    username: str = ""

    @classmethod
    def of(cls, image: pb.Image | None) -> ImageUser:
        if image is not None and image.HasField("uid"):
            return cls(uid=int(image.uid.value))
        if image is not None and image.username:
            return cls(uid=None, username=str(image.username))
        return cls()


def _present(context: dict[str, Any] | None) -> dict[str, Any]:
    """The context without null fields (a JSON null is Go's nil pointer)."""
    return {k: v for k, v in (context or {}).items() if v is not None}


def effective_security_context(pod: dict[str, Any], container: dict[str, Any]) -> dict[str, Any]:
    """The container's effective securityContext: the pod's inheritable fields, then its own."""
    pod_context = _present((pod.get("spec") or {}).get("securityContext"))
    effective = {k: pod_context[k] for k in _FROM_POD if k in pod_context}
    own = _present(container.get("securityContext"))
    effective.update({k: own[k] for k in _CONTAINER_FIELDS if k in own})
    return effective


def _integer(value: Any, field: str) -> int:
    if isinstance(value, bool) or not isinstance(value, int):
        raise SecurityContextError(f"invalid {field}: {value!r} is not an integer")
    return value


def namespace_options(pod: dict[str, Any]) -> pb.NamespaceOption:
    """Network NODE for hostNetwork else POD; PID NODE for hostPID, POD with shareProcessNamespace,
    else CONTAINER; IPC NODE for hostIPC else POD (upstream ``NamespacesForPod``)."""
    spec = pod.get("spec") or {}
    if spec.get("hostPID"):
        pid = pb.NODE
    else:
        pid = pb.POD if spec.get("shareProcessNamespace") else pb.CONTAINER
    return pb.NamespaceOption(network=pb.NODE if spec.get("hostNetwork") else pb.POD, pid=pid,
                              ipc=pb.NODE if spec.get("hostIPC") else pb.POD)


def _pod_groups(pod: dict[str, Any]) -> list[int]:
    """``fsGroup`` first, then ``supplementalGroups``, in upstream's order."""
    pod_context = _present((pod.get("spec") or {}).get("securityContext"))
    groups = []
    if "fsGroup" in pod_context:
        groups.append(_integer(pod_context["fsGroup"], "fsGroup"))
    groups.extend(_integer(g, "supplementalGroups") for g in pod_context.get("supplementalGroups") or [])
    return groups


def seccomp_profile(pod: dict[str, Any], container: dict[str, Any],
                    settings: SecuritySettings) -> pb.SecurityProfile:
    """The container's ``seccompProfile``, else the pod's, else the kubelet's default."""
    own = _present(container.get("securityContext")).get("seccompProfile")
    chosen = own if own is not None else _present((pod.get("spec") or {}).get("securityContext")).get(
        "seccompProfile")
    if chosen is None:
        default = "RuntimeDefault" if settings.seccomp_default else "Unconfined"
        return pb.SecurityProfile(profile_type=_SECCOMP_TYPES[default])
    kind = str(chosen.get("type") or "")
    if kind == "Localhost":
        localhost = str(chosen.get("localhostProfile") or "")
        if not localhost:
            raise SecurityContextError("localhostProfile must be set if seccompProfile type is Localhost.")
        return pb.SecurityProfile(profile_type=pb.SecurityProfile.Localhost,
                                  localhost_ref=os.path.join(settings.seccomp_profile_root, localhost))
    # An unknown type is Unconfined, as upstream's fieldSeccompProfile falls through.
    return pb.SecurityProfile(profile_type=_SECCOMP_TYPES.get(kind, pb.SecurityProfile.Unconfined))


def proc_paths(effective: dict[str, Any]) -> tuple[tuple[str, ...], tuple[str, ...]]:
    """(masked, readonly) ``/proc`` paths: none for ``procMount: Unmasked``, else upstream's defaults."""
    if effective.get("procMount") == "Unmasked":
        return (), ()
    return DEFAULT_MASKED_PATHS, DEFAULT_READONLY_PATHS


def container_security_context(pod: dict[str, Any], container: dict[str, Any], *,
                                image_user: ImageUser | None = None,
                                settings: SecuritySettings | None = None) -> pb.LinuxContainerSecurityContext:
    """The CRI security context of one container; raises `SecurityContextError`."""
    effective = effective_security_context(pod, container)
    out = pb.LinuxContainerSecurityContext(
        namespace_options=namespace_options(pod), privileged=bool(effective.get("privileged")),
        readonly_rootfs=bool(effective.get("readOnlyRootFilesystem")),
        # AddNoNewPrivileges: only an explicit false sets no_new_privs; unset keeps the runtime's
        # default (the API refuses false together with privileged or CAP_SYS_ADMIN).
        no_new_privs=effective.get("allowPrivilegeEscalation") is False,
        seccomp=seccomp_profile(pod, container, settings or SecuritySettings()))
    if "runAsUser" in effective:
        out.run_as_user.value = _integer(effective["runAsUser"], "runAsUser")
    elif image_user is not None:
        if image_user.uid is not None:
            out.run_as_user.value = image_user.uid
        out.run_as_username = image_user.username
    if "runAsGroup" in effective:
        out.run_as_group.value = _integer(effective["runAsGroup"], "runAsGroup")
    capabilities = effective.get("capabilities") or {}
    out.capabilities.add_capabilities.extend(str(c) for c in capabilities.get("add") or [])
    out.capabilities.drop_capabilities.extend(str(c) for c in capabilities.get("drop") or [])
    out.supplemental_groups.extend(_pod_groups(pod))
    masked, readonly = proc_paths(effective)
    out.masked_paths.extend(masked)
    out.readonly_paths.extend(readonly)
    return out


def all_containers(pod: dict[str, Any]) -> list[dict[str, Any]]:
    """Init, regular and ephemeral containers (upstream's ``HasPrivilegedContainer`` looks at all)."""
    spec = pod.get("spec") or {}
    return [*(spec.get("initContainers") or []), *(spec.get("containers") or []),
            *(spec.get("ephemeralContainers") or [])]


def sandbox_security_context(pod: dict[str, Any]) -> pb.LinuxSandboxSecurityContext:
    """The sandbox's security context (``generatePodSandboxLinuxConfig``); raises
    `SecurityContextError` for what this node cannot do (``hostUsers: false``)."""
    spec = pod.get("spec") or {}
    if spec.get("hostUsers") is False:
        # containerd 1.6 has no user namespaces; upstream refuses a handler that lacks them.
        raise SecurityContextError('RuntimeClass handler "" does not support user namespaces')
    pod_context = _present(spec.get("securityContext"))
    out = pb.LinuxSandboxSecurityContext(
        namespace_options=namespace_options(pod),
        privileged=any(_present(c.get("securityContext")).get("privileged") for c in all_containers(pod)),
        seccomp=pb.SecurityProfile(profile_type=pb.SecurityProfile.RuntimeDefault))
    if "runAsUser" in pod_context:
        out.run_as_user.value = _integer(pod_context["runAsUser"], "runAsUser")
    if "runAsGroup" in pod_context:
        out.run_as_group.value = _integer(pod_context["runAsGroup"], "runAsGroup")
    out.supplemental_groups.extend(_pod_groups(pod))
    return out


def sandbox_sysctls(pod: dict[str, Any]) -> dict[str, str]:
    """``securityContext.sysctls`` (later duplicates win), set in the sandbox's namespaces."""
    pod_context = _present((pod.get("spec") or {}).get("securityContext"))
    return {str(s.get("name")): str(s.get("value", "")) for s in pod_context.get("sysctls") or []
            if s.get("name")}


def pod_description(pod: dict[str, Any]) -> str:
    """Upstream's ``format.Pod``: ``name_namespace(uid)``."""
    metadata = pod.get("metadata") or {}
    return f"{metadata.get('name', '')}_{metadata.get('namespace', '')}({metadata.get('uid', '')})"


def verify_run_as_non_root(pod: dict[str, Any], container: dict[str, Any], image_user: ImageUser) -> None:
    """Upstream's ``verifyRunAsNonRoot``: with ``runAsNonRoot: true`` the container must provably run
    as a non-zero uid, from its own ``runAsUser`` or the image's numeric user."""
    effective = effective_security_context(pod, container)
    if effective.get("runAsNonRoot") is not True:
        return
    where = f'(pod: "{pod_description(pod)}", container: {container.get("name", "")})'
    if "runAsUser" in effective:
        if effective["runAsUser"] == 0:
            raise SecurityContextError(f"container's runAsUser breaks non-root policy {where}")
        return
    if image_user.uid is None:
        if image_user.username:
            raise SecurityContextError(f"container has runAsNonRoot and image has non-numeric user "
                                       f"({image_user.username}), cannot verify user is non-root {where}")
        return
    if image_user.uid == 0:
        raise SecurityContextError(f"container has runAsNonRoot and image will run as root {where}")
    if not 0 <= image_user.uid <= MAX_USER_ID:
        raise SecurityContextError(
            f"container has runAsNonRoot and image has an invalid user id ({image_user.uid}). "
            f"(Must be 1-({MAX_USER_ID})): must be between 0 and {MAX_USER_ID}, inclusive {where}")
