"""Stock kubectl commands that write whole objects: create namespace, apply, diff, replace, edit,
create --dry-run=server.

Covers: client-side `apply` (create, then a second apply whose changed field lands and whose
removed fields disappear, while a field set by someone else survives: the three-way strategic
merge driven by the OpenAPI patch metadata), `diff` exit codes without touching the object,
`replace` (and its 409 on a stale resourceVersion), `edit` through a scripted EDITOR, and
server-side dry-run storing nothing. Every outcome is read back from the server with the
python client. Leaves out: server-side apply (managedFields), which the issue does not ask for.
"""

from __future__ import annotations

import json
import stat
import textwrap
from pathlib import Path

import pytest
from kubectl_runner import Kubectl
from kubernetes import client as k8s

pytestmark = [pytest.mark.e2e]

DEPLOYMENT_V1 = """\
apiVersion: apps/v1
kind: Deployment
metadata:
  name: web
  labels: {app: web, stage: beta}
spec:
  replicas: 2
  selector: {matchLabels: {app: web}}
  template:
    metadata: {labels: {app: web}}
    spec:
      containers:
      - name: app
        image: nginx:1.0
        env: [{name: A, value: "1"}, {name: B, value: "2"}]
      - name: sidecar
        image: busybox:1.0
"""

# replicas changed, label `stage` and env B removed, image of `app` changed.
DEPLOYMENT_V2 = """\
apiVersion: apps/v1
kind: Deployment
metadata:
  name: web
  labels: {app: web}
spec:
  replicas: 3
  selector: {matchLabels: {app: web}}
  template:
    metadata: {labels: {app: web}}
    spec:
      containers:
      - name: app
        image: nginx:2.0
        env: [{name: A, value: "1"}]
      - name: sidecar
        image: busybox:1.0
"""


def write(tmp_path: Path, name: str, text: str) -> str:
    path = tmp_path / name
    path.write_text(text)
    return str(path)


def test_create_namespace(kubectl: Kubectl, core_v1: k8s.CoreV1Api) -> None:
    # A typed-clientset command: the body is protobuf (Namespace), as for `create configmap`.
    name = f"created-by-{kubectl.label.replace('.', '-')}-ns"
    out = kubectl.run("create", "namespace", name).stdout
    assert f"namespace/{name} created" in out
    ns = core_v1.read_namespace(name)
    assert ns.metadata.uid and ns.metadata.creation_timestamp
    assert ns.status.phase == "Active"
    kubectl.run("delete", "namespace", name, "--wait=false")


def test_apply_creates_then_updates_with_three_way_merge(
    kubectl: Kubectl, namespace: str, apps_v1: k8s.AppsV1Api, tmp_path: Path
) -> None:
    out = kubectl.run("apply", "-n", namespace, "-f", write(tmp_path, "v1.yaml", DEPLOYMENT_V1)).stdout
    assert "deployment.apps/web created" in out
    created = apps_v1.read_namespaced_deployment("web", namespace)
    assert created.spec.replicas == 2
    assert "kubectl.kubernetes.io/last-applied-configuration" in created.metadata.annotations

    # A field the manifest never mentions must survive the next apply.
    kubectl.run("annotate", "-n", namespace, "deployment/web", "owner=ops")
    out = kubectl.run("apply", "-n", namespace, "-f", write(tmp_path, "v2.yaml", DEPLOYMENT_V2)).stdout
    assert "deployment.apps/web configured" in out

    updated = apps_v1.read_namespaced_deployment("web", namespace)
    assert updated.spec.replicas == 3
    assert updated.metadata.labels == {"app": "web"}, "label removed from the manifest must go"
    assert updated.metadata.annotations["owner"] == "ops", "field owned by someone else must stay"
    containers = {c.name: c for c in updated.spec.template.spec.containers}
    assert set(containers) == {"app", "sidecar"}
    assert containers["app"].image == "nginx:2.0"
    assert [(e.name, e.value) for e in containers["app"].env] == [("A", "1")]
    assert containers["sidecar"].image == "busybox:1.0"
    assert int(updated.metadata.resource_version) > int(created.metadata.resource_version)
    assert updated.metadata.generation > created.metadata.generation

    out = kubectl.run("apply", "-n", namespace, "-f", str(tmp_path / "v2.yaml")).stdout
    assert "deployment.apps/web unchanged" in out


def test_apply_configmap_changed_and_removed_keys(
    kubectl: Kubectl, namespace: str, core_v1: k8s.CoreV1Api, tmp_path: Path
) -> None:
    manifest = "apiVersion: v1\nkind: ConfigMap\nmetadata: {name: settings}\ndata: {a: one, b: two}\n"
    kubectl.run("apply", "-n", namespace, "-f", write(tmp_path, "cm1.yaml", manifest))
    kubectl.run(
        "apply",
        "-n",
        namespace,
        "-f",
        write(tmp_path, "cm2.yaml", manifest.replace("{a: one, b: two}", "{a: uno}")),
    )
    assert core_v1.read_namespaced_config_map("settings", namespace).data == {"a": "uno"}


def test_diff_exit_codes_and_no_side_effect(
    kubectl: Kubectl, namespace: str, apps_v1: k8s.AppsV1Api, tmp_path: Path
) -> None:
    v1 = write(tmp_path, "v1.yaml", DEPLOYMENT_V1)
    kubectl.run("apply", "-n", namespace, "-f", v1)

    same = kubectl.run("diff", "-n", namespace, "-f", v1, check=False)
    assert same.returncode == 0, f"no difference expected:\n{same.stdout}\n{same.stderr}"
    assert same.stdout.strip() == ""

    changed = kubectl.run(
        "diff", "-n", namespace, "-f", write(tmp_path, "v2.yaml", DEPLOYMENT_V2), check=False
    )
    assert changed.returncode == 1, f"exit 1 expected for a difference:\n{changed.stdout}\n{changed.stderr}"
    assert "+        image: nginx:2.0" in changed.stdout
    assert "-        image: nginx:1.0" in changed.stdout
    assert apps_v1.read_namespaced_deployment("web", namespace).spec.replicas == 2, "diff must not write"


def make_configmap(core_v1: k8s.CoreV1Api, namespace: str, name: str, **data: str) -> None:
    core_v1.create_namespaced_config_map(
        namespace, k8s.V1ConfigMap(metadata=k8s.V1ObjectMeta(name=name), data=data)
    )


def test_replace_and_stale_replace_conflict(kubectl: Kubectl, namespace: str, core_v1: k8s.CoreV1Api) -> None:
    make_configmap(core_v1, namespace, "cfg", k="v1")
    obj = kubectl.json("get", "-n", namespace, "configmap", "cfg")
    obj["data"]["k"] = "v2"
    out = kubectl.run("replace", "-f", "-", stdin=json.dumps(obj)).stdout
    assert "configmap/cfg replaced" in out
    assert core_v1.read_namespaced_config_map("cfg", namespace).data == {"k": "v2"}

    obj["data"]["k"] = "v3"  # still carries the old resourceVersion
    stale = kubectl.run("replace", "-f", "-", stdin=json.dumps(obj), check=False)
    assert stale.returncode != 0
    assert "the object has been modified" in stale.stderr, stale.stderr
    assert core_v1.read_namespaced_config_map("cfg", namespace).data == {"k": "v2"}


def test_edit_through_editor_script(
    kubectl: Kubectl, namespace: str, core_v1: k8s.CoreV1Api, tmp_path: Path
) -> None:
    make_configmap(core_v1, namespace, "editable", k="before-edit")
    editor = tmp_path / "editor.sh"
    editor.write_text(
        textwrap.dedent("""\
        #!/bin/sh
        # kubectl passes the temp file as the last argument
        for f; do :; done
        sed -i 's/before-edit/after-edit/' "$f"
        """)
    )
    editor.chmod(editor.stat().st_mode | stat.S_IXUSR)
    out = kubectl.run(
        "edit", "-n", namespace, "configmap/editable", env={"EDITOR": str(editor), "KUBE_EDITOR": str(editor)}
    ).stdout
    assert "configmap/editable edited" in out
    assert core_v1.read_namespaced_config_map("editable", namespace).data == {"k": "after-edit"}


def test_create_from_file(kubectl: Kubectl, namespace: str, core_v1: k8s.CoreV1Api, tmp_path: Path) -> None:
    manifest = "apiVersion: v1\nkind: ConfigMap\nmetadata: {name: from-file}\ndata: {k: v}\n"
    out = kubectl.run("create", "-n", namespace, "-f", write(tmp_path, "cm.yaml", manifest)).stdout
    assert "configmap/from-file created" in out
    assert core_v1.read_namespaced_config_map("from-file", namespace).data == {"k": "v"}
    again = kubectl.run("create", "-n", namespace, "-f", str(tmp_path / "cm.yaml"), check=False)
    assert again.returncode != 0 and "AlreadyExists" in again.stderr, again.stderr


def test_create_file_dry_run_server_stores_nothing(
    kubectl: Kubectl, namespace: str, core_v1: k8s.CoreV1Api, tmp_path: Path
) -> None:
    manifest = "apiVersion: v1\nkind: ConfigMap\nmetadata: {name: dry}\ndata: {k: v}\n"
    obj = kubectl.json(
        "create", "-n", namespace, "-f", write(tmp_path, "dry.yaml", manifest), "--dry-run=server"
    )
    assert (
        obj["metadata"]["name"] == "dry"
        and obj["metadata"].get("uid")
        and obj["metadata"].get("creationTimestamp")
    )
    assert core_v1.list_namespaced_config_map(namespace).items == []


def test_create_generator_dry_run_server_stores_nothing(
    kubectl: Kubectl, namespace: str, core_v1: k8s.CoreV1Api
) -> None:
    # `kubectl create configmap` (like `create namespace`) goes through client-go's typed clientset,
    # which sends protobuf bodies (kubectl 1.32 and 1.37 alike); `create -f` sends JSON.
    obj = kubectl.json(
        "create", "configmap", "-n", namespace, "dry", "--from-literal=k=v", "--dry-run=server"
    )
    assert obj["metadata"]["name"] == "dry"
    assert obj["metadata"].get("uid"), "server-side dry run returns the object as it would be stored"
    assert obj["metadata"].get("creationTimestamp")
    with pytest.raises(k8s.ApiException) as missing:
        core_v1.read_namespaced_config_map("dry", namespace)
    assert missing.value.status == 404
    assert core_v1.list_namespaced_config_map(namespace).items == []
