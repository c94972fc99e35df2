"""The kubelet's sysctl admission (`kubelet.sysctl_admission`) and the pod sync rejecting a pod with it.

Covers: the safe sysctls admitted, others refused with upstream's texts, net/ipc sysctls refused on
pods sharing the node's network/IPC namespace, ``--allowed-unsafe-sysctls`` names and ``prefix*``
patterns, slash-separated names, entries not known to be namespaced refused at start-up (flag
parsing); a pod sync over a hollow runtime rejecting the pod (phase Failed, SysctlForbidden,
"Pod was rejected: ...", a Warning event, no sandbox made) and starting one with safe sysctls.
Leaves out the runtime writing them (test/component/test_kubelet_security.py).
"""

from __future__ import annotations

from typing import Any

import pytest
from kubelet_fakes import ScriptedRuntime, syncer_on

from kubelet.config import parse_args
from kubelet.sysctl_admission import SysctlAllowlist, SysctlConfigError, normalize


def pod(*sysctls: str, **spec: Any) -> dict[str, Any]:
    return {"metadata": {"name": "p", "namespace": "default", "uid": "uid-1"},
            "spec": {"nodeName": "n1", "containers": [{"name": "app", "image": "busybox:1.36"}],
                     "securityContext": {"sysctls": [{"name": n, "value": "1"} for n in sysctls]}, **spec},
            "status": {}}


@pytest.mark.parametrize(("allowed", "sysctls", "spec", "rejection"), [
    ((), ("kernel.shm_rmid_forced", "net.ipv4.ip_local_port_range", "net.ipv4.tcp_keepalive_time"), {}, None),
    ((), ("kernel.msgmax",), {}, 'forbidden sysctl: "kernel.msgmax" not allowlisted'),
    ((), ("net.core.somaxconn",), {}, 'forbidden sysctl: "net.core.somaxconn" not allowlisted'),
    ((), ("kernel.panic",), {}, 'forbidden sysctl: "kernel.panic" not allowlisted'),
    ((), ("net.ipv4.tcp_syncookies",), {"hostNetwork": True},
     'forbidden sysctl: "net.ipv4.tcp_syncookies" not allowed with host net enabled'),
    ((), ("kernel.shm_rmid_forced",), {"hostIPC": True},
     'forbidden sysctl: "kernel.shm_rmid_forced" not allowed with host ipc enabled'),
    (("kernel.msg*", "net.core.somaxconn"), ("kernel.msgmax", "net.core.somaxconn"), {}, None),
    (("kernel.msg*",), ("kernel.msgmax",), {"hostIPC": True},
     'forbidden sysctl: "kernel.msgmax" not allowed with host ipc enabled'),
    ((), ("net/ipv4/ip_local_port_range",), {}, None),
])
def test_rejection(allowed: tuple[str, ...], sysctls: tuple[str, ...], spec: dict[str, Any],
                   rejection: str | None) -> None:
    assert SysctlAllowlist(allowed).rejection(pod(*sysctls, **spec)) == rejection


def test_names_and_unknown_entries() -> None:
    assert normalize("net/ipv4/conf/eth0.100/forwarding") == "net.ipv4.conf.eth0/100.forwarding"
    assert normalize("net.ipv4.conf.eth0/100.forwarding") == "net.ipv4.conf.eth0/100.forwarding"
    with pytest.raises(SysctlConfigError) as caught:
        SysctlAllowlist(["kernel.panic"])
    assert str(caught.value) == 'the sysctl "kernel.panic" are not known to be namespaced'
    with pytest.raises(SystemExit):
        parse_args(["--master", "http://127.0.0.1:1", "--allowed-unsafe-sysctls", "vm.*"])
    config = parse_args(["--master", "http://127.0.0.1:1",
                         "--allowed-unsafe-sysctls", "kernel.msg*, net.core.*"])
    assert config.allowed_unsafe_sysctls == ("kernel.msg*", "net.core.*")


async def test_sync_rejects_a_pod_with_a_forbidden_sysctl() -> None:
    runtime = ScriptedRuntime()
    syncer, node, events, status = syncer_on(runtime)
    await syncer.sync_pod(node, pod("kernel.msgmax"))
    message = 'forbidden sysctl: "kernel.msgmax" not allowlisted'
    assert (status.latest["phase"], status.latest["reason"], status.latest["message"]) == (
        "Failed", "SysctlForbidden", f"Pod was rejected: {message}")
    assert ("Warning", "SysctlForbidden", message) in events.seen
    assert await runtime.list_sandboxes() == []

    safe = pod("net.ipv4.ip_local_port_range")
    safe["metadata"]["uid"] = "uid-2"  # another pod: a verdict on a pod is never revisited
    await syncer.sync_pod(node, safe)
    assert [s.pod.uid for s in await runtime.list_sandboxes()] == ["uid-2"]
