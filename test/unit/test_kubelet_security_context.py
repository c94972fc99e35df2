"""Pod and container securityContext → CRI security contexts (`kubelet.security_context`), as tables.

Covers: the effective context (pod fields a container inherits, container fields overriding them,
container-only fields); the container's CRI context — users from the spec or the image, groups
(fsGroup first), no_new_privs only for an explicit ``allowPrivilegeEscalation: false``, read-only
root, capabilities, masked/readonly ``/proc`` paths per ``procMount``, seccomp from container, pod or
the kubelet's default, Localhost profiles below the profile root; the sandbox's context (privileged
when any container is, RuntimeDefault seccomp, users, groups, sysctls, host namespaces, user
namespaces refused); ``verifyRunAsNonRoot`` with upstream's messages; the image user read from a
CRI ``Image``. Leaves out a runtime applying them (test/component/test_kubelet_security.py).
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from cri.stubs import pb
from kubelet.cri_specs import build_sandbox_config
from kubelet.security_context import (
    DEFAULT_MASKED_PATHS,
    DEFAULT_READONLY_PATHS,
    ImageUser,
    SecurityContextError,
    SecuritySettings,
    container_security_context,
    effective_security_context,
    sandbox_security_context,
    verify_run_as_non_root,
)

UID = "5e1f0c5a-0000-4000-8000-000000000001"


def pod_with(pod_context: dict[str, Any] | None = None, container_context: dict[str, Any] | None = None,
             **spec: Any) -> tuple[dict[str, Any], dict[str, Any]]:
    container: dict[str, Any] = {"name": "app", "image": "busybox"}
    if container_context is not None:
        container["securityContext"] = container_context
    pod_spec: dict[str, Any] = {"containers": [container], **spec}
    if pod_context is not None:
        pod_spec["securityContext"] = pod_context
    return {"metadata": {"name": "web", "namespace": "prod", "uid": UID}, "spec": pod_spec}, container


@pytest.mark.parametrize(("pod_context", "container_context", "effective"), [
    (None, None, {}),
    ({"runAsUser": 1000, "runAsGroup": 3000, "runAsNonRoot": True, "fsGroup": 2000,
      "supplementalGroups": [1], "sysctls": [], "seccompProfile": {"type": "RuntimeDefault"}},
     None, {"runAsUser": 1000, "runAsGroup": 3000, "runAsNonRoot": True}),
    ({"runAsUser": 1000, "runAsNonRoot": True}, {"runAsUser": 0, "runAsNonRoot": False},
     {"runAsUser": 0, "runAsNonRoot": False}),
    ({"runAsUser": 1000}, {"runAsUser": None, "privileged": True, "procMount": "Default"},
     {"runAsUser": 1000, "privileged": True, "procMount": "Default"}),
    (None, {"capabilities": {"drop": ["ALL"]}, "readOnlyRootFilesystem": True,
            "allowPrivilegeEscalation": False},
     {"capabilities": {"drop": ["ALL"]}, "readOnlyRootFilesystem": True, "allowPrivilegeEscalation": False}),
])
def test_effective_security_context(pod_context: dict[str, Any] | None,
                                    container_context: dict[str, Any] | None,
                                    effective: dict[str, Any]) -> None:
    pod, container = pod_with(pod_context, container_context)
    assert effective_security_context(pod, container) == effective


def _user(security: pb.LinuxContainerSecurityContext) -> tuple[int | None, str, int | None]:
    return (security.run_as_user.value if security.HasField("run_as_user") else None,
            security.run_as_username,
            security.run_as_group.value if security.HasField("run_as_group") else None)


@pytest.mark.parametrize(("pod_context", "container_context", "image", "user"), [
    (None, None, ImageUser(), (0, "", None)),                                # root image, as upstream
    (None, None, ImageUser(uid=101), (101, "", None)),                       # the image's numeric user
    (None, None, ImageUser(uid=None, username="nginx"), (None, "nginx", None)),
    ({"runAsUser": 1000, "runAsGroup": 3000}, None, ImageUser(uid=101), (1000, "", 3000)),
    ({"runAsUser": 1000, "runAsGroup": 3000}, {"runAsUser": 2000}, ImageUser(), (2000, "", 3000)),
    ({"runAsGroup": 3000}, None, ImageUser(uid=None, username="nginx"), (None, "nginx", 3000)),
])
def test_container_users(pod_context: dict[str, Any] | None, container_context: dict[str, Any] | None,
                         image: ImageUser, user: tuple[int | None, str, int | None]) -> None:
    pod, container = pod_with(pod_context, container_context)
    assert _user(container_security_context(pod, container, image_user=image)) == user


@pytest.mark.parametrize(("container_context", "no_new_privs"), [
    (None, False), ({"allowPrivilegeEscalation": True}, False), ({"allowPrivilegeEscalation": False}, True),
    ({"privileged": False}, False),  # unset stays the runtime's default, as AddNoNewPrivileges
])
def test_no_new_privs_only_for_explicit_false(container_context: dict[str, Any] | None,
                                              no_new_privs: bool) -> None:
    pod, container = pod_with(None, container_context)
    assert container_security_context(pod, container).no_new_privs is no_new_privs


def test_container_flags_groups_capabilities_and_proc_paths() -> None:
    pod, container = pod_with({"fsGroup": 2000, "supplementalGroups": [4000, 5000]},
                              {"privileged": False, "readOnlyRootFilesystem": True,
                               "capabilities": {"add": ["NET_ADMIN"], "drop": ["ALL"]}}, hostPID=True)
    security = container_security_context(pod, container)
    assert (security.privileged, security.readonly_rootfs) == (False, True)
    assert list(security.supplemental_groups) == [2000, 4000, 5000]
    assert list(security.capabilities.add_capabilities) == ["NET_ADMIN"]
    assert list(security.capabilities.drop_capabilities) == ["ALL"]
    assert (tuple(security.masked_paths), tuple(security.readonly_paths)) == (
        DEFAULT_MASKED_PATHS, DEFAULT_READONLY_PATHS)
    assert "/proc/kcore" in security.masked_paths and "/proc/sys" in security.readonly_paths
    assert security.namespace_options.pid == pb.NODE
    pod, unmasked = pod_with(None, {"procMount": "Unmasked"})
    security = container_security_context(pod, unmasked)
    assert (list(security.masked_paths), list(security.readonly_paths)) == ([], [])


@pytest.mark.parametrize(("pod_profile", "container_profile", "settings", "expected"), [
    (None, None, SecuritySettings(), (pb.SecurityProfile.Unconfined, "")),
    (None, None, SecuritySettings(seccomp_default=True), (pb.SecurityProfile.RuntimeDefault, "")),
    ({"type": "RuntimeDefault"}, None, SecuritySettings(), (pb.SecurityProfile.RuntimeDefault, "")),
    ({"type": "RuntimeDefault"}, {"type": "Unconfined"}, SecuritySettings(),
     (pb.SecurityProfile.Unconfined, "")),
    (None, {"type": "Localhost", "localhostProfile": "profiles/audit.json"},
     SecuritySettings(seccomp_profile_root="/var/lib/kubelet/seccomp"),
     (pb.SecurityProfile.Localhost, "/var/lib/kubelet/seccomp/profiles/audit.json")),
])
def test_seccomp_profile(pod_profile: dict[str, Any] | None, container_profile: dict[str, Any] | None,
                         settings: SecuritySettings, expected: tuple[int, str]) -> None:
    pod, container = pod_with(None if pod_profile is None else {"seccompProfile": pod_profile},
                              None if container_profile is None else {"seccompProfile": container_profile})
    seccomp = container_security_context(pod, container, settings=settings).seccomp
    assert (seccomp.profile_type, seccomp.localhost_ref) == expected


def test_localhost_seccomp_without_a_profile_is_refused() -> None:
    pod, container = pod_with(None, {"seccompProfile": {"type": "Localhost"}})
    with pytest.raises(SecurityContextError) as caught:
        container_security_context(pod, container)
    assert str(caught.value) == "localhostProfile must be set if seccompProfile type is Localhost."


def test_sandbox_security_context() -> None:
    pod, _ = pod_with({"runAsUser": 1000, "runAsGroup": 3000, "fsGroup": 2000, "supplementalGroups": [7],
                       "sysctls": [{"name": "net.ipv4.ip_local_port_range", "value": "20000 30000"},
                                   {"name": "kernel.shm_rmid_forced", "value": "1"}]},
                      hostNetwork=True, hostIPC=True,
                      initContainers=[{"name": "setup", "securityContext": {"privileged": True}}])
    config = build_sandbox_config(pod, log_root=Path("/logs"))
    security = config.linux.security_context
    assert security.privileged  # an init container is privileged
    assert security.seccomp.profile_type == pb.SecurityProfile.RuntimeDefault  # always, upstream #84623
    assert (security.run_as_user.value, security.run_as_group.value) == (1000, 3000)
    assert list(security.supplemental_groups) == [2000, 7]
    assert (security.namespace_options.network, security.namespace_options.ipc,
            security.namespace_options.pid) == (pb.NODE, pb.NODE, pb.CONTAINER)
    assert dict(config.linux.sysctls) == {"net.ipv4.ip_local_port_range": "20000 30000",
                                          "kernel.shm_rmid_forced": "1"}
    plain, _ = pod_with()
    bare = sandbox_security_context(plain)
    assert not bare.privileged and not bare.HasField("run_as_user") and not bare.supplemental_groups


def test_user_namespaces_are_refused() -> None:
    pod, _ = pod_with(hostUsers=False)
    with pytest.raises(SecurityContextError) as caught:
        sandbox_security_context(pod)
    assert str(caught.value) == 'RuntimeClass handler "" does not support user namespaces'


WHERE = f'(pod: "web_prod({UID})", container: app)'


@pytest.mark.parametrize(("pod_context", "container_context", "image", "message"), [
    ({"runAsNonRoot": True}, None, ImageUser(),
     f"container has runAsNonRoot and image will run as root {WHERE}"),
    ({"runAsNonRoot": True}, None, ImageUser(uid=None, username="nginx"),
     f"container has runAsNonRoot and image has non-numeric user (nginx), cannot verify user is non-root "
     f"{WHERE}"),
    (None, {"runAsNonRoot": True, "runAsUser": 0}, ImageUser(uid=1000),
     f"container's runAsUser breaks non-root policy {WHERE}"),
    ({"runAsNonRoot": True}, None, ImageUser(uid=2**31),
     f"container has runAsNonRoot and image has an invalid user id (2147483648). (Must be 1-(2147483647)): "
     f"must be between 0 and 2147483647, inclusive {WHERE}"),
    ({"runAsNonRoot": True}, None, ImageUser(uid=1000), None),
    ({"runAsNonRoot": True, "runAsUser": 1000}, None, ImageUser(), None),
    ({"runAsNonRoot": True}, {"runAsNonRoot": False}, ImageUser(), None),  # the container relaxes it
    (None, None, ImageUser(), None),
])
def test_verify_run_as_non_root(pod_context: dict[str, Any] | None, container_context: dict[str, Any] | None,
                                image: ImageUser, message: str | None) -> None:
    pod, container = pod_with(pod_context, container_context)
    if message is None:
        verify_run_as_non_root(pod, container, image)
        return
    with pytest.raises(SecurityContextError) as caught:
        verify_run_as_non_root(pod, container, image)
    assert str(caught.value) == message


@pytest.mark.parametrize(("image", "user"), [
    (None, ImageUser()),
    (pb.Image(id="sha256:a"), ImageUser()),  # no user in the image config: root
    (pb.Image(id="sha256:a", uid=pb.Int64Value(value=0)), ImageUser(uid=0)),
    (pb.Image(id="sha256:a", uid=pb.Int64Value(value=65534)), ImageUser(uid=65534)),
    (pb.Image(id="sha256:a", username="www-data"), ImageUser(uid=None, username="www-data")),
])
def test_image_user_from_cri(image: pb.Image | None, user: ImageUser) -> None:
    assert ImageUser.of(image) == user
