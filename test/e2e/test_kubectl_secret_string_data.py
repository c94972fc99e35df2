"""Secret ``stringData`` is write-only: merged into ``data`` on every write, never stored or served.

Covers, with the official python client: create (stringData overriding a key data also has, UTF-8
text, data keys it does not name kept), replace and merge patch carrying stringData, a server-side
dry run answering the merged object; with stock kubectl 1.32 and 1.37: `create secret generic
--from-literal` (data), `create -f` of a manifest with stringData coming back as data only, and a
second `apply -f` of it changing nothing (`kubectl diff` exit 0). What is read back is the raw
JSON, so a stored or served `stringData` could not hide behind a typed model.
Leaves out: size limits on the merged data (the input-hardening tests) and the merge rule's
corner cases (test/unit/test_secret_string_data.py).
"""

from __future__ import annotations

import base64
import json
from pathlib import Path
from typing import Any

import pytest
from kubectl_runner import Kubectl
from kubernetes import client as k8s

pytestmark = [pytest.mark.e2e]

MANIFEST = """\
apiVersion: v1
kind: Secret
metadata:
  name: {name}
data:
  user: {old_user}
  keep: {keep}
stringData:
  user: admin
  password: "pässwörd"
"""


def b64(text: str) -> str:
    return base64.b64encode(text.encode()).decode()


def raw_secret(core_v1: k8s.CoreV1Api, namespace: str, name: str) -> dict[str, Any]:
    """The secret as the server serves it (raw JSON, not the typed model)."""
    response = core_v1.read_namespaced_secret(name, namespace, _preload_content=False)
    document: dict[str, Any] = json.loads(response.data)
    return document


def test_python_client_writes_merge_string_data_into_data(
        core_v1: k8s.CoreV1Api, namespace: str) -> None:
    body = k8s.V1Secret(metadata=k8s.V1ObjectMeta(name="creds"),
                        data={"user": b64("old"), "keep": b64("kept")},
                        string_data={"user": "admin", "note": "héllo"})
    created = core_v1.create_namespaced_secret(namespace, body)
    merged = {"user": b64("admin"), "keep": b64("kept"), "note": b64("héllo")}
    assert created.data == merged and created.string_data is None
    stored = raw_secret(core_v1, namespace, "creds")
    assert stored["data"] == merged and "stringData" not in stored

    stored_model = core_v1.read_namespaced_secret("creds", namespace)
    stored_model.string_data = {"keep": "changed"}
    replaced = core_v1.replace_namespaced_secret("creds", namespace, stored_model)
    assert replaced.data == {**merged, "keep": b64("changed")} and replaced.string_data is None

    core_v1.patch_namespaced_secret("creds", namespace, {"stringData": {"token": "t0k"}},
                                    _content_type="application/merge-patch+json")
    stored = raw_secret(core_v1, namespace, "creds")
    assert stored["data"] == {**merged, "keep": b64("changed"), "token": b64("t0k")}
    assert "stringData" not in stored

    dry = core_v1.create_namespaced_secret(
        namespace, k8s.V1Secret(metadata=k8s.V1ObjectMeta(name="dry"), string_data={"a": "b"}), dry_run="All")
    assert dry.data == {"a": b64("b")} and dry.string_data is None


def test_kubectl_secrets_come_back_as_data(
        kubectl: Kubectl, core_v1: k8s.CoreV1Api, namespace: str, tmp_path: Path) -> None:
    kubectl.run("create", "secret", "generic", "literal", "--from-literal=k=v", "-n", namespace)
    assert raw_secret(core_v1, namespace, "literal")["data"] == {"k": b64("v")}

    manifest = tmp_path / "secret.yaml"
    manifest.write_text(MANIFEST.format(name="manifest", old_user=b64("old"), keep=b64("kept")))
    kubectl.run("create", "-f", str(manifest), "-n", namespace)
    expected = {"user": b64("admin"), "password": b64("pässwörd"), "keep": b64("kept")}
    shown = kubectl.json("get", "secret", "manifest", "-n", namespace)
    assert shown["data"] == expected and "stringData" not in shown
    stored = raw_secret(core_v1, namespace, "manifest")
    assert stored["data"] == expected and "stringData" not in stored

    applied = tmp_path / "applied.yaml"
    applied.write_text(MANIFEST.format(name="applied", old_user=b64("old"), keep=b64("kept")))
    kubectl.run("apply", "-f", str(applied), "-n", namespace)
    kubectl.run("apply", "-f", str(applied), "-n", namespace)
    assert raw_secret(core_v1, namespace, "applied")["data"] == expected
    unchanged = kubectl.run("diff", "-f", str(applied), "-n", namespace, check=False)
    assert unchanged.returncode == 0, unchanged.stdout + unchanged.stderr
