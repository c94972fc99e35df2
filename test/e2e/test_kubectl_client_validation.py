"""kubectl's client-side validation, with default validation: kinds only ever created, and `kind: List`.

kubectl validates on the client when the server's OpenAPI v3 shows no PATCH taking
`fieldValidation` for a kind (reviews are only created) and for every `kind: List`; it then reads
the protobuf `/openapi/v2`. Covers, with stock kubectl 1.32 and 1.37: `kubectl create -f` of a
SubjectAccessReview and of a TokenReview answered by the server; a review with an unknown field
refused by kubectl's own validator naming the field and our schema's definition (so the check
really ran against our document); `kubectl replace -f` of a `List` of a Secret and a ConfigMap
as `kubectl get -o json` printed it (metadata.tenant and all) replacing both, and a `List` whose
item has an unknown field refused before anything is sent.
Leaves out: the protobuf encoding's details (test/unit/test_openapi_proto.py).
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import yaml
from kubectl_runner import Kubectl
from kubernetes import client as k8s

pytestmark = [pytest.mark.e2e]

SUBJECT_ACCESS_REVIEW = {
    "apiVersion": "authorization.k8s.io/v1",
    "kind": "SubjectAccessReview",
    "spec": {"user": "alice", "groups": ["devs"],
             "resourceAttributes": {"verb": "get", "resource": "pods", "namespace": "default"}},
}
TOKEN_REVIEW = {"apiVersion": "authentication.k8s.io/v1", "kind": "TokenReview",
                "spec": {"token": "not-a-token"}}


def _write(path: Path, document: object) -> str:
    path.write_text(yaml.safe_dump(document))
    return str(path)


def test_reviews_are_created_with_default_validation(kubectl: Kubectl, tmp_path: Path) -> None:
    review = json.loads(kubectl.run("create", "-f", _write(tmp_path / "sar.yaml", SUBJECT_ACCESS_REVIEW),
                                    "-o", "json").stdout)
    assert review["kind"] == "SubjectAccessReview" and review["status"]["allowed"] is False
    token = json.loads(kubectl.run("create", "-f", _write(tmp_path / "tr.yaml", TOKEN_REVIEW),
                                   "-o", "json").stdout)
    assert token["status"]["authenticated"] is False

    bad = {**SUBJECT_ACCESS_REVIEW, "spec": {**SUBJECT_ACCESS_REVIEW["spec"], "bogus": 1}}  # type: ignore[dict-item]
    refused = kubectl.run("create", "-f", _write(tmp_path / "bad.yaml", bad), check=False)
    assert refused.returncode == 1
    assert ('ValidationError(SubjectAccessReview.spec): unknown field "bogus" in '
            "io.k8s.api.authorization.v1.SubjectAccessReviewSpec") in refused.stderr, refused.stderr


def test_a_list_is_replaced_with_default_validation(
        kubectl: Kubectl, core_v1: k8s.CoreV1Api, namespace: str, tmp_path: Path) -> None:
    kubectl.run("create", "configmap", "settings", "--from-literal=mode=old", "-n", namespace)
    kubectl.run("create", "secret", "generic", "password", "--from-literal=p=old", "-n", namespace)
    listed = json.loads(kubectl.run("get", "configmap/settings", "secret/password", "-n", namespace,
                                    "-o", "json").stdout)
    assert listed["kind"] == "List" and len(listed["items"]) == 2
    configmap, secret = listed["items"]
    configmap["data"]["mode"] = "new"
    secret["metadata"].setdefault("labels", {})["rotated"] = "yes"
    replaced = kubectl.run("replace", "-f", _write(tmp_path / "list.yaml", listed))
    assert replaced.stdout.count("replaced") == 2, replaced.stdout
    assert core_v1.read_namespaced_config_map("settings", namespace).data == {"mode": "new"}
    assert core_v1.read_namespaced_secret("password", namespace).metadata.labels == {"rotated": "yes"}

    fresh = json.loads(kubectl.run("get", "configmap/settings", "secret/password", "-n", namespace,
                                   "-o", "json").stdout)
    fresh["items"][0]["data"]["mode"] = "never"
    fresh["items"][1]["bogus"] = True
    refused = kubectl.run("replace", "-f", _write(tmp_path / "bad-list.yaml", fresh), check=False)
    assert refused.returncode == 1
    assert 'ValidationError(Secret): unknown field "bogus" in io.k8s.api.core.v1.Secret' in refused.stderr, \
        refused.stderr
    assert core_v1.read_namespaced_config_map("settings", namespace).data == {"mode": "new"}
