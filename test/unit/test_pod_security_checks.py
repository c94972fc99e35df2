"""Every Pod Security check, table-driven with the cases (and expected texts) of upstream's
k8s.io/pod-security-admission/policy/check_*_test.go, the pods written as JSON.

Covers each baseline check (host namespaces, hostPath, hostPorts, privileged, Windows host
process, probe/lifecycle hosts, capabilities, AppArmor, SELinux, /proc mount, seccomp annotations
and field, sysctls per version) and each restricted one (privilege escalation, capabilities drop
ALL, volume types, runAsNonRoot, runAsUser 0, seccomp, /proc mount), with the Windows and
user-namespace exemptions of their later revisions. A check is picked by ID and policy version
through the same table the evaluator uses.
Leaves out: how checks combine per level and version (test_pod_security_policy.py) and admission.
"""

from __future__ import annotations

from typing import Any

import pytest

from server.podsecurity.checks import CheckResult, VersionedCheck
from server.podsecurity.evaluator import default_checks
from server.podsecurity.policy import Version, v1

CHECKS = {check.id: check for check in default_checks()}


def run(check_id: str, pod: dict[str, Any], version: Version = v1(37)) -> CheckResult:
    revisions = [r for r in CHECKS[check_id].versions if not version.older(r.minimum_version)]
    revision: VersionedCheck = revisions[-1]
    return revision.check(pod.get("metadata", {}), pod.get("spec", {}))


def c(name: str, **security: Any) -> dict[str, Any]:
    """A container with a securityContext (none when no fields are given)."""
    return {"name": name, "securityContext": security} if security else {"name": name}


def spec(*containers: dict[str, Any], **fields: Any) -> dict[str, Any]:
    return {"spec": {"containers": list(containers), **fields}}


def annotated(annotations: dict[str, str], *containers: dict[str, Any]) -> dict[str, Any]:
    return {"metadata": {"annotations": annotations}, "spec": {"containers": list(containers)}}


SELINUX_OK = [
    c(n, seLinuxOptions={"type": t})
    for n, t in (
        ("a", "container_t"),
        ("b", "container_init_t"),
        ("c", "container_kvm_t"),
        ("d", "container_engine_t"),
    )
]
RUNTIME_DEFAULT = {"type": "RuntimeDefault"}
UNCONFINED = {"type": "Unconfined"}

# (check, pod, reason, detail)
REFUSED: list[tuple[str, dict[str, Any], str, str]] = [
    (
        "hostNamespaces",
        spec(hostNetwork=True, hostIPC=True, hostPID=True),
        "host namespaces",
        "hostNetwork=true, hostPID=true, hostIPC=true",
    ),
    (
        "hostPathVolumes",
        {
            "spec": {
                "volumes": [
                    {"name": "a", "hostPath": {}},
                    {"name": "b", "hostPath": {}},
                    {"name": "c", "emptyDir": {}},
                ]
            }
        },
        "hostPath volumes",
        'volumes "a", "b"',
    ),
    (
        "hostPorts",
        spec(
            {"name": "a", "ports": [{"hostPort": 0}]},
            {"name": "b", "ports": [{"hostPort": 0}, {"hostPort": 20}]},
        ),
        "hostPort",
        'container "b" uses hostPort 20',
    ),
    (
        "hostPorts",
        spec(
            {"name": "a", "ports": [{"hostPort": 0}]},
            {"name": "b", "ports": [{"hostPort": 0}, {"hostPort": 10}, {"hostPort": 20}]},
            {"name": "c", "ports": [{"hostPort": 0}, {"hostPort": 10}, {"hostPort": 30}]},
        ),
        "hostPort",
        'containers "b", "c" use hostPorts 10, 20, 30',
    ),
    (
        "privileged",
        spec(
            c("a"),
            {"name": "b", "securityContext": {}},
            c("c", privileged=False),
            c("d", privileged=True),
            c("e", privileged=True),
        ),
        "privileged",
        'containers "d", "e" must not set securityContext.privileged=true',
    ),
    (
        "windowsHostProcess",
        spec(
            c("a"),
            c("c", windowsOptions={}),
            c("d", windowsOptions={"hostProcess": False}),
            c("e", windowsOptions={"hostProcess": True}),
            c("f", windowsOptions={"hostProcess": True}),
            securityContext={"windowsOptions": {"hostProcess": True}},
        ),
        "hostProcess",
        'pod and containers "e", "f" must not set securityContext.windowsOptions.hostProcess=true',
    ),
    (
        "hostProbesAndHostLifecycle",
        spec(
            {
                "name": "a",
                "livenessProbe": {"httpGet": {"host": "127.0.0.1"}},
                "readinessProbe": {"tcpSocket": {"host": "::1"}},
                "startupProbe": {"httpGet": {"host": "localhost"}},
            }
        ),
        "probe or lifecycle host",
        'container "a" uses probe or lifecycle hosts "127.0.0.1", "::1", "localhost"',
    ),
    (
        "hostProbesAndHostLifecycle",
        spec({"name": "e", "lifecycle": {"preStop": {"httpGet": {"host": "another.invalid.host"}}}}),
        "probe or lifecycle host",
        'container "e" uses probe or lifecycle host "another.invalid.host"',
    ),
    (
        "hostProbesAndHostLifecycle",
        spec(
            {"name": "invalid2", "lifecycle": {"postStart": {"tcpSocket": {"host": "b.com"}}}},
            {"name": "invalid1", "livenessProbe": {"httpGet": {"host": "a.com"}}},
        ),
        "probe or lifecycle host",
        'containers "invalid1", "invalid2" use probe or lifecycle hosts "a.com", "b.com"',
    ),
    (
        "capabilities_baseline",
        spec(c("a", capabilities={"add": ["FOO", "BAR"]}), c("b", capabilities={"add": ["BAR", "BAZ"]})),
        "non-default capabilities",
        'containers "a", "b" must not include "BAR", "BAZ", "FOO" in securityContext.capabilities.add',
    ),
    (
        "appArmorProfile",
        {"spec": {"securityContext": {"appArmorProfile": UNCONFINED}}},
        "forbidden AppArmor profile",
        'pod must not set AppArmor profile type to "Unconfined"',
    ),
    (
        "appArmorProfile",
        {
            "spec": {
                "securityContext": {"appArmorProfile": RUNTIME_DEFAULT},
                "containers": [c("foo", appArmorProfile=UNCONFINED)],
            }
        },
        "forbidden AppArmor profile",
        'container "foo" must not set AppArmor profile type to "Unconfined"',
    ),
    (
        "appArmorProfile",
        {"spec": {"containers": [c("foo")], "initContainers": [c("bar", appArmorProfile=UNCONFINED)]}},
        "forbidden AppArmor profile",
        'container "bar" must not set AppArmor profile type to "Unconfined"',
    ),
    (
        "appArmorProfile",
        annotated(
            {
                f"container.apparmor.security.beta.kubernetes.io/{k}": v
                for k, v in (
                    ("", "bogus"),
                    ("a", ""),
                    ("b", "runtime/default"),
                    ("c", "localhost/"),
                    ("d", "localhost/foo"),
                    ("e", "unconfined"),
                    ("f", "unknown"),
                )
            }
        ),
        "forbidden AppArmor profiles",
        "annotations must not set AppArmor profile type to "
        '"container.apparmor.security.beta.kubernetes.io/="bogus"", '
        '"container.apparmor.security.beta.kubernetes.io/e="unconfined"", '
        '"container.apparmor.security.beta.kubernetes.io/f="unknown""',
    ),
    (
        "seLinuxOptions",
        spec(
            *SELINUX_OK,
            c("e", seLinuxOptions={"type": "bar"}),
            c("f", seLinuxOptions={"user": "bar"}),
            c("g", seLinuxOptions={"role": "baz"}),
            securityContext={"seLinuxOptions": {"type": "foo", "user": "bar", "role": "baz"}},
        ),
        "seLinuxOptions",
        'pod and containers "e", "f", "g" set forbidden securityContext.seLinuxOptions: '
        'types "bar", "foo"; user may not be set; role may not be set',
    ),
    (
        "seLinuxOptions",
        spec(*SELINUX_OK, securityContext={"seLinuxOptions": {"type": "foo", "user": "bar", "role": "baz"}}),
        "seLinuxOptions",
        'pod set forbidden securityContext.seLinuxOptions: type "foo"; user may not be set; '
        "role may not be set",
    ),
    (
        "seLinuxOptions",
        spec(securityContext={"seLinuxOptions": {"type": "bad"}}),
        "seLinuxOptions",
        'pod set forbidden securityContext.seLinuxOptions: type "bad"',
    ),
    (
        "seLinuxOptions",
        spec(securityContext={"seLinuxOptions": {"user": "bad"}}),
        "seLinuxOptions",
        "pod set forbidden securityContext.seLinuxOptions: user may not be set",
    ),
    (
        "procMount",
        spec(
            c("a"),
            c("c", procMount="Default"),
            c("d", procMount="Unmasked"),
            c("e", procMount="other"),
            hostUsers=True,
        ),
        "procMount",
        'containers "d", "e" must not set securityContext.procMount to "Unmasked", "other"',
    ),
    (
        "procMount_restricted",
        spec(c("d", procMount="Unmasked"), c("e", procMount="other"), hostUsers=False),
        "procMount",
        'containers "d", "e" must not set securityContext.procMount to "Unmasked", "other"',
    ),
    (
        "seccompProfile_baseline",
        {"spec": {"securityContext": {"seccompProfile": UNCONFINED}, "containers": [c("a")]}},
        "seccompProfile",
        'pod must not set securityContext.seccompProfile.type to "Unconfined"',
    ),
    (
        "seccompProfile_baseline",
        spec(
            c("a"),
            c("c", seccompProfile=UNCONFINED),
            c("d", seccompProfile=UNCONFINED),
            c("e", seccompProfile=RUNTIME_DEFAULT),
            securityContext={"seccompProfile": UNCONFINED},
        ),
        "seccompProfile",
        'pod and containers "c", "d" must not set securityContext.seccompProfile.type to "Unconfined"',
    ),
    (
        "sysctls",
        {
            "spec": {
                "securityContext": {"sysctls": [{"name": "a", "value": "a"}, {"name": "b", "value": "b"}]}
            }
        },
        "forbidden sysctls",
        "a, b",
    ),
    (
        "allowPrivilegeEscalation",
        spec(c("a"), c("c", allowPrivilegeEscalation=True), c("d", allowPrivilegeEscalation=False)),
        "allowPrivilegeEscalation != false",
        'containers "a", "c" must set securityContext.allowPrivilegeEscalation=false',
    ),
    (
        "allowPrivilegeEscalation",
        spec(c("a"), os={"name": "linux"}),
        "allowPrivilegeEscalation != false",
        'container "a" must set securityContext.allowPrivilegeEscalation=false',
    ),
    (
        "capabilities_restricted",
        spec(
            c("a", capabilities={"add": ["FOO", "BAR"]}),
            c("b", capabilities={"add": ["BAR", "BAZ"]}),
            c("c", capabilities={"add": ["NET_BIND_SERVICE", "CHOWN"], "drop": ["ALL", "FOO"]}),
        ),
        "unrestricted capabilities",
        'containers "a", "b" must set securityContext.capabilities.drop=["ALL"]; '
        'containers "a", "b", "c" must not include "BAR", "BAZ", "CHOWN", "FOO" in '
        "securityContext.capabilities.add",
    ),
    (
        "capabilities_restricted",
        spec(c("a"), os={"name": "linux"}),
        "unrestricted capabilities",
        'container "a" must set securityContext.capabilities.drop=["ALL"]',
    ),
    (
        "runAsNonRoot",
        spec(c("a")),
        "runAsNonRoot != true",
        'pod or container "a" must set securityContext.runAsNonRoot=true',
    ),
    (
        "runAsNonRoot",
        spec(c("a"), securityContext={"runAsNonRoot": False}),
        "runAsNonRoot != true",
        "pod must not set securityContext.runAsNonRoot=false",
    ),
    (
        "runAsNonRoot",
        spec(
            c("a"),
            c("c", runAsNonRoot=False),
            c("d", runAsNonRoot=False),
            c("e", runAsNonRoot=True),
            securityContext={"runAsNonRoot": True},
        ),
        "runAsNonRoot != true",
        'containers "c", "d" must not set securityContext.runAsNonRoot=false',
    ),
    (
        "runAsNonRoot",
        spec(c("a"), {"name": "b", "securityContext": {}}, c("d", runAsNonRoot=True)),
        "runAsNonRoot != true",
        'pod or containers "a", "b" must set securityContext.runAsNonRoot=true',
    ),
    (
        "runAsUser",
        spec(c("a"), securityContext={"runAsUser": 0}),
        "runAsUser=0",
        "pod must not set runAsUser=0",
    ),
    (
        "runAsUser",
        spec(
            c("a"),
            c("c", runAsUser=0),
            c("d", runAsUser=0),
            c("e", runAsUser=1),
            securityContext={"runAsUser": 1000},
        ),
        "runAsUser=0",
        'containers "c", "d" must not set runAsUser=0',
    ),
    (
        "seccompProfile_restricted",
        spec(c("a")),
        "seccompProfile",
        'pod or container "a" must set securityContext.seccompProfile.type to "RuntimeDefault" or '
        '"Localhost"',
    ),
    (
        "seccompProfile_restricted",
        spec(c("a"), securityContext={"seccompProfile": UNCONFINED}),
        "seccompProfile",
        'pod must not set securityContext.seccompProfile.type to "Unconfined"',
    ),
    (
        "seccompProfile_restricted",
        spec(
            c("a"),
            c("c", seccompProfile=UNCONFINED),
            c("d", seccompProfile=UNCONFINED),
            securityContext={"seccompProfile": RUNTIME_DEFAULT},
        ),
        "seccompProfile",
        'containers "c", "d" must not set securityContext.seccompProfile.type to "Unconfined"',
    ),
    (
        "seccompProfile_restricted",
        spec(c("a"), c("b"), c("d", seccompProfile=RUNTIME_DEFAULT)),
        "seccompProfile",
        'pod or containers "a", "b" must set securityContext.seccompProfile.type to "RuntimeDefault" or '
        '"Localhost"',
    ),
]


@pytest.mark.parametrize(
    ("check_id", "pod", "reason", "detail"), REFUSED, ids=[f"{case[0]}-{i}" for i, case in enumerate(REFUSED)]
)
def test_refusals_name_upstreams_reason_and_detail(
    check_id: str, pod: dict[str, Any], reason: str, detail: str
) -> None:
    assert run(check_id, pod) == CheckResult(False, reason, detail)


ALLOWED: list[tuple[str, dict[str, Any]]] = [
    ("hostNamespaces", spec(c("a"), hostNetwork=False)),
    ("hostPorts", spec({"name": "a", "ports": [{"containerPort": 80}]})),
    ("privileged", spec(c("a", privileged=False))),
    (
        "capabilities_baseline",
        spec(c("a", capabilities={"add": ["NET_BIND_SERVICE", "CHOWN"], "drop": ["ALL"]})),
    ),
    (
        "appArmorProfile",
        {
            "spec": {
                "securityContext": {"appArmorProfile": {"type": "Localhost"}},
                "containers": [c("a", appArmorProfile=RUNTIME_DEFAULT)],
            }
        },
    ),
    ("seLinuxOptions", spec(*SELINUX_OK)),
    ("procMount", spec(c("d", procMount="Unmasked"), hostUsers=False)),
    ("seccompProfile_baseline", spec(c("a", seccompProfile={"type": "Localhost"}))),
    (
        "sysctls",
        {"spec": {"securityContext": {"sysctls": [{"name": "net.ipv4.tcp_notsent_lowat", "value": "1"}]}}},
    ),
    ("allowPrivilegeEscalation", spec(c("a"), os={"name": "windows"})),
    ("capabilities_restricted", spec(c("a"), os={"name": "windows"})),
    (
        "restrictedVolumes",
        {
            "spec": {
                "volumes": [
                    {"name": n, s: {}}
                    for n, s in (
                        ("a", "configMap"),
                        ("b", "emptyDir"),
                        ("c", "secret"),
                        ("d", "persistentVolumeClaim"),
                        ("e", "projected"),
                        ("f", "downwardAPI"),
                        ("g", "csi"),
                        ("h", "ephemeral"),
                        ("i", "image"),
                    )
                ]
            }
        },
    ),
    ("runAsNonRoot", {"spec": {"hostUsers": False, "containers": [c("a")]}}),
    ("runAsUser", spec(c("a"), securityContext={"runAsUser": 1000})),
    ("runAsUser", spec(c("a", runAsUser=0), hostUsers=False)),
    ("seccompProfile_restricted", spec(c("a"), os={"name": "windows"})),
    ("seccompProfile_restricted", spec(c("a"), securityContext={"seccompProfile": RUNTIME_DEFAULT})),
]


@pytest.mark.parametrize(
    ("check_id", "pod"), ALLOWED, ids=[f"{case[0]}-{i}" for i, case in enumerate(ALLOWED)]
)
def test_pods_within_the_rule_are_allowed(check_id: str, pod: dict[str, Any]) -> None:
    assert run(check_id, pod).allowed


def test_restricted_volumes_name_every_forbidden_type() -> None:
    kinds = [
        "hostPath",
        "gcePersistentDisk",
        "awsElasticBlockStore",
        "gitRepo",
        "nfs",
        "iscsi",
        "glusterfs",
        "rbd",
        "flexVolume",
        "cinder",
        "cephfs",
        "flocker",
        "fc",
        "azureFile",
        "vsphereVolume",
        "quobyte",
        "azureDisk",
        "photonPersistentDisk",
        "portworxVolume",
        "scaleIO",
        "storageos",
    ]
    volumes = [{"name": "a1", "emptyDir": {}}] + [
        {"name": f"b{i}", kind: {}} for i, kind in enumerate(kinds, 1)
    ]
    volumes.append({"name": "c1"})
    result = run("restrictedVolumes", {"spec": {"volumes": volumes}})
    names = ", ".join(f'"b{i}"' for i in range(1, 22))
    assert result == CheckResult(
        False,
        "restricted volume types",
        (
            f'volumes {names}, "c1" use restricted volume types "awsElasticBlockStore", "azureDisk", '
            '"azureFile", "cephfs", "cinder", "fc", "flexVolume", "flocker", "gcePersistentDisk", "gitRepo", '
            '"glusterfs", "hostPath", "iscsi", "nfs", "photonPersistentDisk", "portworxVolume", "quobyte", '
            '"rbd", "scaleIO", "storageos", '
            '"unknown", "vsphereVolume"'
        ),
    )


def test_seccomp_annotations_are_checked_by_the_1_0_revision() -> None:
    pod = annotated(
        {
            "seccomp.security.alpha.kubernetes.io/pod": "unconfined",
            "container.seccomp.security.alpha.kubernetes.io/a": "unconfined",
            "container.seccomp.security.alpha.kubernetes.io/b": "unknown",
        },
        c("a"),
        c("b"),
        c("c"),
    )
    assert run("seccompProfile_baseline", pod, v1(18)) == CheckResult(
        False,
        "seccompProfile",
        (
            'forbidden annotations container.seccomp.security.alpha.kubernetes.io/a="unconfined", '
            'container.seccomp.security.alpha.kubernetes.io/b="unknown", '
            'seccomp.security.alpha.kubernetes.io/pod="unconfined"'
        ),
    )
    assert run("seccompProfile_baseline", pod).allowed  # from 1.19 the field is checked instead


@pytest.mark.parametrize(
    ("name", "first_allowed"),
    [
        ("net.ipv4.ip_local_reserved_ports", 27),
        ("net.ipv4.tcp_keepalive_time", 29),
        ("net.ipv4.tcp_fin_timeout", 29),
        ("net.ipv4.tcp_rmem", 32),
        ("net.ipv4.tcp_wmem", 32),
        ("net.ipv4.tcp_slow_start_after_idle", 37),
    ],
)
def test_sysctls_allowed_grow_with_the_policy_version(name: str, first_allowed: int) -> None:
    pod = {"spec": {"securityContext": {"sysctls": [{"name": name, "value": "1"}]}}}
    assert run("sysctls", pod, v1(first_allowed - 1)) == CheckResult(False, "forbidden sysctls", name)
    assert run("sysctls", pod, v1(first_allowed)).allowed


def test_se_linux_container_engine_type_is_allowed_from_1_31() -> None:
    pod = spec(c("d", seLinuxOptions={"type": "container_engine_t"}))
    assert not run("seLinuxOptions", pod, v1(30)).allowed
    assert run("seLinuxOptions", pod, v1(31)).allowed


def test_user_namespaces_relax_checks_only_from_1_35() -> None:
    pod = spec(c("a", runAsUser=0, procMount="Unmasked"), hostUsers=False)
    assert not run("runAsUser", pod, v1(34)).allowed and run("runAsUser", pod, v1(35)).allowed
    assert not run("procMount", pod, v1(34)).allowed and run("procMount", pod, v1(35)).allowed
    assert not run("procMount_restricted", pod, v1(35)).allowed
