"""Stock kubectl commands that change parts of objects: label, annotate, patch, scale.

Covers: label/annotate add, refuse to overwrite without --overwrite, overwrite, remove (`key-`);
`patch` with the three types — strategic (list of containers merged by name), merge (RFC 7386,
null removes) and json (RFC 6902 ops); `scale deployment` going through the scale subresource
(checked both on the Deployment and on `.../deployments/NAME/scale`). Each outcome is read back
from the server. Leaves out: apply-patch (server-side apply) and `scale` of statefulsets/RCs.
"""

from __future__ import annotations

import json

import pytest
from kubectl_runner import Kubectl
from kubernetes import client as k8s

pytestmark = [pytest.mark.e2e]


def make_configmap(core_v1: k8s.CoreV1Api, namespace: str, name: str = "target") -> None:
    core_v1.create_namespaced_config_map(
        namespace,
        k8s.V1ConfigMap(
            metadata=k8s.V1ObjectMeta(name=name, labels={"app": "demo"}), data={"a": "1", "b": "2"}
        ),
    )


def make_deployment(apps_v1: k8s.AppsV1Api, namespace: str, name: str = "web") -> None:
    apps_v1.create_namespaced_deployment(
        namespace,
        k8s.V1Deployment(
            metadata=k8s.V1ObjectMeta(name=name),
            spec=k8s.V1DeploymentSpec(
                replicas=1,
                selector=k8s.V1LabelSelector(match_labels={"app": name}),
                template=k8s.V1PodTemplateSpec(
                    metadata=k8s.V1ObjectMeta(labels={"app": name}),
                    spec=k8s.V1PodSpec(
                        containers=[
                            k8s.V1Container(name="app", image="nginx:1.0"),
                            k8s.V1Container(name="sidecar", image="busybox:1.0"),
                        ]
                    ),
                ),
            ),
        ),
    )


def test_label_add_overwrite_remove(kubectl: Kubectl, namespace: str, core_v1: k8s.CoreV1Api) -> None:
    make_configmap(core_v1, namespace)
    assert "configmap/target labeled" in kubectl.run("label", "-n", namespace, "cm/target", "tier=web").stdout
    assert core_v1.read_namespaced_config_map("target", namespace).metadata.labels == {
        "app": "demo",
        "tier": "web",
    }

    refused = kubectl.run("label", "-n", namespace, "cm/target", "tier=db", check=False)
    assert refused.returncode != 0 and "already has a value" in refused.stderr, refused.stderr

    kubectl.run("label", "-n", namespace, "cm/target", "tier=db", "--overwrite")
    assert core_v1.read_namespaced_config_map("target", namespace).metadata.labels["tier"] == "db"
    kubectl.run("label", "-n", namespace, "cm/target", "tier-")
    assert core_v1.read_namespaced_config_map("target", namespace).metadata.labels == {"app": "demo"}


def test_annotate_add_and_remove(kubectl: Kubectl, namespace: str, core_v1: k8s.CoreV1Api) -> None:
    make_configmap(core_v1, namespace)
    out = kubectl.run("annotate", "-n", namespace, "cm/target", "note=hello world", "owner=ops").stdout
    assert "configmap/target annotated" in out
    annotations = core_v1.read_namespaced_config_map("target", namespace).metadata.annotations
    assert annotations == {"note": "hello world", "owner": "ops"}
    kubectl.run("annotate", "-n", namespace, "cm/target", "note-")
    assert core_v1.read_namespaced_config_map("target", namespace).metadata.annotations == {"owner": "ops"}


def test_patch_strategic_merges_containers_by_name(
    kubectl: Kubectl, namespace: str, apps_v1: k8s.AppsV1Api
) -> None:
    make_deployment(apps_v1, namespace)
    patch = {"spec": {"template": {"spec": {"containers": [{"name": "app", "image": "nginx:2.0"}]}}}}
    out = kubectl.run("patch", "-n", namespace, "deployment/web", "-p", json.dumps(patch)).stdout
    assert "deployment.apps/web patched" in out
    containers = apps_v1.read_namespaced_deployment("web", namespace).spec.template.spec.containers
    assert [(c.name, c.image) for c in containers] == [("app", "nginx:2.0"), ("sidecar", "busybox:1.0")]


def test_patch_merge_replaces_lists_and_null_deletes(
    kubectl: Kubectl, namespace: str, core_v1: k8s.CoreV1Api
) -> None:
    make_configmap(core_v1, namespace)
    patch = {"data": {"a": "10", "b": None, "c": "3"}}
    kubectl.run("patch", "-n", namespace, "cm/target", "--type=merge", "-p", json.dumps(patch))
    assert core_v1.read_namespaced_config_map("target", namespace).data == {"a": "10", "c": "3"}


def test_patch_json_operations(kubectl: Kubectl, namespace: str, core_v1: k8s.CoreV1Api) -> None:
    make_configmap(core_v1, namespace)
    ops = [
        {"op": "replace", "path": "/data/a", "value": "one"},
        {"op": "remove", "path": "/data/b"},
        {"op": "add", "path": "/metadata/labels/extra", "value": "yes"},
    ]
    kubectl.run("patch", "-n", namespace, "cm/target", "--type=json", "-p", json.dumps(ops))
    stored = core_v1.read_namespaced_config_map("target", namespace)
    assert stored.data == {"a": "one"}
    assert stored.metadata.labels == {"app": "demo", "extra": "yes"}

    failing_test = [{"op": "test", "path": "/data/a", "value": "not-one"}]
    refused = kubectl.run(
        "patch", "-n", namespace, "cm/target", "--type=json", "-p", json.dumps(failing_test), check=False
    )
    assert refused.returncode != 0, "a failed json-patch `test` op must reject the patch"


def test_scale_deployment_uses_scale_subresource(
    kubectl: Kubectl, namespace: str, apps_v1: k8s.AppsV1Api
) -> None:
    make_deployment(apps_v1, namespace)
    result = kubectl.run("scale", "-n", namespace, "deployment/web", "--replicas=4", "-v=6")
    assert "deployment.apps/web scaled" in result.stdout
    assert "/deployments/web/scale" in result.stderr, (
        f"kubectl should use the scale subresource:\n{result.stderr}"
    )
    assert apps_v1.read_namespaced_deployment("web", namespace).spec.replicas == 4
    scale = apps_v1.read_namespaced_deployment_scale("web", namespace)
    assert scale.kind == "Scale" and scale.spec.replicas == 4

    precondition = kubectl.run(
        "scale", "-n", namespace, "deployment/web", "--current-replicas=1", "--replicas=2", check=False
    )
    assert precondition.returncode != 0, "--current-replicas mismatch must be refused"
    assert apps_v1.read_namespaced_deployment("web", namespace).spec.replicas == 4
