"""Stock kubectl deletion: by name, by label, --all, --wait, and `wait --for=delete`.

Covers: each form removes exactly the objects it names (others stay); `--wait` returns only once
the object is gone; a finalizer holds an object with deletionTimestamp set until it is removed,
and `kubectl wait --for=delete` returns when that happens (and times out while it does not);
`--dry-run=server` (dryRun in the DeleteOptions body) deletes nothing, by name or by label.
Leaves out: cascading deletion of dependents (garbage collector, a later issue) and
--grace-period on pods (needs a kubelet).
"""

from __future__ import annotations

import time

import pytest
from kubectl_runner import Kubectl
from kubernetes import client as k8s

pytestmark = [pytest.mark.e2e]

# kubernetes 37.x sends a dict PATCH body as json-patch unless told otherwise.
MERGE_PATCH = "application/merge-patch+json"


def make_configmaps(
    core_v1: k8s.CoreV1Api,
    namespace: str,
    names: list[str],
    *,
    labels: dict[str, str],
    finalizers: list[str] | None = None,
) -> None:
    for name in names:
        core_v1.create_namespaced_config_map(
            namespace,
            k8s.V1ConfigMap(
                metadata=k8s.V1ObjectMeta(name=name, labels=labels, finalizers=finalizers), data={"k": "v"}
            ),
        )


def stored_names(core_v1: k8s.CoreV1Api, namespace: str) -> list[str]:
    return sorted(
        str(cm.metadata.name) for cm in core_v1.list_namespaced_config_map(namespace).items if cm.metadata
    )


def test_delete_by_name(kubectl: Kubectl, namespace: str, core_v1: k8s.CoreV1Api) -> None:
    make_configmaps(core_v1, namespace, ["a", "b"], labels={"x": "y"})
    out = kubectl.run("delete", "-n", namespace, "configmap", "a").stdout
    assert 'configmap "a" deleted' in out
    assert stored_names(core_v1, namespace) == ["b"]
    missing = kubectl.run("delete", "-n", namespace, "configmap", "a", check=False)
    assert missing.returncode != 0 and "NotFound" in missing.stderr, missing.stderr


def test_delete_dry_run_server_deletes_nothing(
    kubectl: Kubectl, namespace: str, core_v1: k8s.CoreV1Api
) -> None:
    make_configmaps(core_v1, namespace, ["a", "b"], labels={"x": "y"})
    before = {cm.metadata.name: cm.metadata.resource_version
              for cm in core_v1.list_namespaced_config_map(namespace).items if cm.metadata}
    out = kubectl.run("delete", "-n", namespace, "configmap", "a", "--dry-run=server").stdout
    assert 'configmap "a" deleted' in out and "(server dry run)" in out, out
    out = kubectl.run("delete", "-n", namespace, "configmaps", "-l", "x=y", "--dry-run=server").stdout
    assert out.count("(server dry run)") == 2
    after = {cm.metadata.name: cm.metadata.resource_version
             for cm in core_v1.list_namespaced_config_map(namespace).items if cm.metadata}
    assert after == before


def test_delete_by_label(kubectl: Kubectl, namespace: str, core_v1: k8s.CoreV1Api) -> None:
    make_configmaps(core_v1, namespace, ["red-1", "red-2"], labels={"color": "red"})
    make_configmaps(core_v1, namespace, ["blue-1"], labels={"color": "blue"})
    kubectl.run("delete", "-n", namespace, "configmaps", "-l", "color=red")
    assert stored_names(core_v1, namespace) == ["blue-1"]


def test_delete_all(kubectl: Kubectl, namespace: str, core_v1: k8s.CoreV1Api) -> None:
    make_configmaps(core_v1, namespace, ["one", "two", "three"], labels={})
    out = kubectl.run("delete", "-n", namespace, "configmaps", "--all").stdout
    assert out.count("deleted") == 3
    assert stored_names(core_v1, namespace) == []


def test_delete_wait_returns_after_object_is_gone(
    kubectl: Kubectl, namespace: str, core_v1: k8s.CoreV1Api
) -> None:
    make_configmaps(core_v1, namespace, ["waited"], labels={})
    kubectl.run("delete", "-n", namespace, "configmap", "waited", "--wait=true", "--timeout=20s")
    assert stored_names(core_v1, namespace) == []


def test_finalizer_holds_object_until_wait_for_delete(
    kubectl: Kubectl, namespace: str, core_v1: k8s.CoreV1Api
) -> None:
    make_configmaps(core_v1, namespace, ["held"], labels={}, finalizers=["example.com/hold"])
    kubectl.run("delete", "-n", namespace, "configmap", "held", "--wait=false")
    held = core_v1.read_namespaced_config_map("held", namespace)
    assert held.metadata.deletion_timestamp is not None, (
        "a finalizer must keep the object, marked for deletion"
    )

    timed_out = kubectl.run(
        "wait", "-n", namespace, "--for=delete", "configmap/held", "--timeout=2s", check=False
    )
    assert timed_out.returncode != 0, "wait must not return while the finalizer holds the object"

    waiter = kubectl.popen("wait", "-n", namespace, "--for=delete", "configmap/held", "--timeout=30s")
    try:
        time.sleep(1.0)
        assert waiter.poll() is None, "wait returned before the object went"
        core_v1.patch_namespaced_config_map(
            "held", namespace, {"metadata": {"finalizers": None}}, _content_type=MERGE_PATCH
        )
        out, err = waiter.communicate(timeout=30)
        assert waiter.returncode == 0, f"wait --for=delete failed: {out}\n{err}"
    finally:
        if waiter.poll() is None:
            waiter.kill()
            waiter.wait(timeout=10)
    assert stored_names(core_v1, namespace) == []
