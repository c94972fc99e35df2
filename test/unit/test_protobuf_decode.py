"""Decoding Kubernetes protobuf request bodies (server/protobuf) into the JSON a JSON body gives.

Covers: real bodies captured from stock kubectl 1.37 (identical bytes from 1.32) for the typed
generators (create namespace/deployment/secret/configmap/service/serviceaccount/job/cronjob/
role/clusterrole/bindings/quota/priorityclass/pdb/ingress, auth can-i, create token), compared
with kubectl's own ``--dry-run=client -o json`` rendering of the same object; hand-encoded
messages (field numbers from upstream's generated.proto) for the Pod tree, Eviction with
DeleteOptions, Lease MicroTime, ControllerRevision raw JSON, packed and negative integers;
malformed input and unknown kinds; Go duration formatting. Leaves out: the decode cost (a
figure: bench/hot_paths_bench.py), the server's HTTP handling of the media type
(codec.decode_body) and kinds we have no table for. ``null`` values kubectl prints for nil
non-omitempty collections (``rules: null``) and for a zero ``creationTimestamp`` are ignored in
comparisons: we omit them.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from server.protobuf import ProtobufDecodeError, decode_kubernetes_protobuf, wire
from server.protobuf.decoder import go_duration_string
from server.protobuf.schema import unresolved_references

FIXTURES = Path(__file__).parent / "fixtures" / "protobuf"


# --- a tiny protobuf wire encoder for hand-made test vectors ---------------------------------

def _varint(value: int) -> bytes:
    value &= (1 << 64) - 1  # negative numbers as Go writes them: 10-byte two's complement
    out = bytearray()
    while True:
        byte = value & 0x7F
        value >>= 7
        if value:
            out.append(byte | 0x80)
        else:
            out.append(byte)
            return bytes(out)


def num(field: int, value: int) -> bytes:
    return _varint(field << 3) + _varint(value)


def raw(field: int, payload: bytes) -> bytes:
    return _varint(field << 3 | 2) + _varint(len(payload)) + payload


def text(field: int, value: str) -> bytes:
    return raw(field, value.encode())


def msg(field: int, *parts: bytes) -> bytes:
    return raw(field, b"".join(parts))


def entry(field: int, key: str, value_part: bytes) -> bytes:
    """A map<string, X> entry: {key=1, value=2}; value_part is already tagged as field 2."""
    return msg(field, text(1, key), value_part)


def envelope(api_version: str, kind: str, *parts: bytes) -> bytes:
    return b"k8s\x00" + msg(1, text(1, api_version), text(2, kind)) + raw(2, b"".join(parts))


def quantity(field: int, value: str) -> bytes:
    return msg(field, text(1, value))


def int_or_string(field: int, value: int | str) -> bytes:
    if isinstance(value, str):
        return msg(field, num(1, 1), num(2, 0), text(3, value))
    return msg(field, num(1, 0), num(2, value), text(3, ""))


def drop_nulls(value: Any) -> Any:
    if isinstance(value, dict):
        return {k: drop_nulls(v) for k, v in value.items() if v is not None}
    if isinstance(value, list):
        return [drop_nulls(v) for v in value]
    return value


# --- bodies captured from stock kubectl ------------------------------------------------------

CAPTURED = sorted(p.name.removesuffix(".kubectl.json") for p in FIXTURES.glob("*.kubectl.json"))


@pytest.mark.parametrize("name", CAPTURED)
def test_kubectl_body_decodes_to_what_kubectl_prints_as_json(name: str) -> None:
    body = (FIXTURES / f"{name}.bin").read_bytes()
    expected = json.loads((FIXTURES / f"{name}.kubectl.json").read_text())
    assert drop_nulls(decode_kubernetes_protobuf(body)) == drop_nulls(expected)


def test_captured_fixtures_cover_the_typed_generators() -> None:
    assert {"namespace", "deployment", "secret", "configmap", "service", "serviceaccount", "job",
            "cronjob", "role", "clusterrole", "rolebinding", "clusterrolebinding", "quota",
            "priorityclass", "pdb", "ingress"} <= set(CAPTURED)


def test_deployment_body_keeps_replicas_and_empty_structs() -> None:
    obj = decode_kubernetes_protobuf((FIXTURES / "deployment.bin").read_bytes())
    assert obj["spec"]["replicas"] == 3
    assert obj["spec"]["strategy"] == {}
    container = obj["spec"]["template"]["spec"]["containers"][0]
    assert container == {"name": "busybox", "image": "busybox", "resources": {},
                         "ports": [{"containerPort": 8080}]}
    # kubectl writes every Go string, even "", on the wire; omitempty ones must not reappear.
    assert "uid" not in obj["metadata"] and "creationTimestamp" not in obj["metadata"]


def test_can_i_body_is_a_self_subject_access_review() -> None:
    obj = decode_kubernetes_protobuf((FIXTURES / "cani.bin").read_bytes())
    assert obj == {
        "kind": "SelfSubjectAccessReview", "apiVersion": "authorization.k8s.io/v1", "metadata": {},
        "spec": {"resourceAttributes": {"namespace": "kube-system", "verb": "get",
                                        "resource": "pods", "subresource": "log"}},
        "status": {"allowed": False},
    }


def test_can_i_non_resource_and_list_bodies() -> None:
    non_resource = decode_kubernetes_protobuf((FIXTURES / "cani_nonres.bin").read_bytes())
    assert non_resource["spec"] == {"nonResourceAttributes": {"path": "/logs", "verb": "get"}}
    rules = decode_kubernetes_protobuf((FIXTURES / "canilist.bin").read_bytes())
    assert rules["kind"] == "SelfSubjectRulesReview"
    assert rules["spec"] == {"namespace": "default"}


def test_create_token_body_is_a_token_request() -> None:
    obj = decode_kubernetes_protobuf((FIXTURES / "token.bin").read_bytes())
    assert obj["apiVersion"] == "authentication.k8s.io/v1"
    assert obj["spec"] == {"audiences": ["a", "b"], "expirationSeconds": 3600}
    # Go prints the zero Time of a field without omitempty as null.
    assert obj["status"] == {"token": "", "expirationTimestamp": None}


# --- hand-encoded vectors --------------------------------------------------------------------

def _pod_metadata() -> bytes:
    return msg(
        1, text(1, "web-0"), text(3, "default"), num(10, 0),
        entry(11, "app", text(2, "web")), entry(12, "note", text(2, "")),
        msg(13, text(5, "apps/v1"), text(1, "ReplicaSet"), text(3, "web"), text(4, "u-1"),
            num(6, 1), num(7, 0)),
        text(14, "example.com/guard"),
        msg(17, text(1, "kubectl"), text(2, "Update"), text(3, "v1"), msg(4, num(1, 1795834920)),
            text(6, "FieldsV1"), msg(7, raw(1, b'{"f:metadata":{}}'))),
        msg(8, num(1, 1795834920), num(2, 5)),
    )


def _pod_spec() -> bytes:
    container = msg(
        2, text(1, "app"), text(2, "busybox"), text(3, "sh"), text(3, "-c"), text(5, ""),
        msg(6, num(3, 8080), text(4, "TCP"), text(1, "")),
        msg(7, text(1, "PASSWORD"), msg(3, msg(4, msg(1, text(1, "creds")), text(2, "pw")))),
        msg(7, text(1, "EMPTY"), text(2, "")),
        msg(8, entry(1, "cpu", quantity(2, "500m")), entry(2, "memory", quantity(2, "64Mi"))),
        msg(9, text(1, "config"), num(2, 1), text(3, "/etc/config")),
        msg(10, msg(1, msg(2, text(1, "/healthz"), int_or_string(2, "http"))), num(2, 5),
            num(3, 0)),
        msg(15, num(4, 0), num(5, 1), num(7, 0), msg(1, text(2, "ALL"))),
        num(16, 0),
    )
    volumes = (
        msg(1, text(1, "config"), msg(2, msg(19, msg(1, text(1, "app-config")), num(3, 420)))),
        msg(1, text(1, "scratch"), msg(2, msg(2, text(1, ""), quantity(2, "1Gi")))),
        msg(1, text(1, "token"), msg(2, msg(26, msg(1, msg(4, text(1, "api"), num(2, 3600),
                                                           text(3, "token")))))),
    )
    return msg(
        2, *volumes, container, text(3, "Always"), num(4, 0), text(6, "ClusterFirst"),
        entry(7, "disk", text(2, "ssd")), num(11, 0), num(21, 0),
        msg(22, text(1, "node.kubernetes.io/not-ready"), text(2, "Exists"), text(4, "NoExecute"),
            num(5, 300)),
        msg(18, msg(1, msg(1, msg(1, msg(1, text(1, "zone"), text(2, "In"), text(3, "a")))))),
        msg(33, num(1, 1), text(2, "kubernetes.io/hostname"), text(3, "DoNotSchedule"),
            msg(4, entry(1, "app", text(2, "web")))),
        msg(14, raw(4, _varint(1000) + _varint(2000)), num(2, 0)),
    )


def test_pod_tree_decodes_with_go_json_semantics() -> None:
    pod = decode_kubernetes_protobuf(envelope("v1", "Pod", _pod_metadata(), _pod_spec(), msg(3)))
    meta = pod["metadata"]
    assert meta["creationTimestamp"] == "2026-11-28T03:02:00Z"  # nanos dropped like metav1.Time
    assert meta["deletionGracePeriodSeconds"] == 0  # a pointer: zero is kept
    assert meta["labels"] == {"app": "web"} and meta["annotations"] == {"note": ""}
    assert meta["ownerReferences"] == [{"apiVersion": "apps/v1", "kind": "ReplicaSet", "name": "web",
                                        "uid": "u-1", "controller": True,
                                        "blockOwnerDeletion": False}]
    assert meta["managedFields"] == [{"manager": "kubectl", "operation": "Update", "apiVersion": "v1",
                                      "time": "2026-11-28T03:02:00Z", "fieldsType": "FieldsV1",
                                      "fieldsV1": {"f:metadata": {}}}]
    spec = pod["spec"]
    assert spec["volumes"] == [
        {"name": "config", "configMap": {"name": "app-config", "defaultMode": 420}},
        {"name": "scratch", "emptyDir": {"sizeLimit": "1Gi"}},
        {"name": "token", "projected": {"sources": [
            {"serviceAccountToken": {"audience": "api", "expirationSeconds": 3600, "path": "token"}}]}},
    ]
    assert spec["containers"] == [{
        "name": "app", "image": "busybox", "command": ["sh", "-c"],
        "ports": [{"containerPort": 8080, "protocol": "TCP"}],
        "env": [{"name": "PASSWORD", "valueFrom": {"secretKeyRef": {"name": "creds", "key": "pw"}}},
                {"name": "EMPTY"}],
        "resources": {"limits": {"cpu": "500m"}, "requests": {"memory": "64Mi"}},
        "volumeMounts": [{"name": "config", "readOnly": True, "mountPath": "/etc/config"}],
        "livenessProbe": {"httpGet": {"path": "/healthz", "port": "http"}, "initialDelaySeconds": 5},
        "securityContext": {"runAsUser": 0, "runAsNonRoot": True, "allowPrivilegeEscalation": False,
                            "capabilities": {"drop": ["ALL"]}},
    }]
    assert spec["restartPolicy"] == "Always" and spec["terminationGracePeriodSeconds"] == 0
    assert spec["automountServiceAccountToken"] is False and "hostNetwork" not in spec
    assert spec["nodeSelector"] == {"disk": "ssd"}
    assert spec["tolerations"] == [{"key": "node.kubernetes.io/not-ready", "operator": "Exists",
                                    "effect": "NoExecute", "tolerationSeconds": 300}]
    assert spec["affinity"] == {"nodeAffinity": {"requiredDuringSchedulingIgnoredDuringExecution": {
        "nodeSelectorTerms": [{"matchExpressions": [{"key": "zone", "operator": "In",
                                                     "values": ["a"]}]}]}}}
    assert spec["topologySpreadConstraints"] == [{
        "maxSkew": 1, "topologyKey": "kubernetes.io/hostname", "whenUnsatisfiable": "DoNotSchedule",
        "labelSelector": {"matchLabels": {"app": "web"}}}]
    assert spec["securityContext"] == {"supplementalGroups": [1000, 2000], "runAsUser": 0}
    assert pod["status"] == {}


def test_secret_and_configmap_bytes_are_base64() -> None:
    secret = decode_kubernetes_protobuf(envelope(
        "v1", "Secret", msg(1, text(1, "s")), entry(2, "key", raw(2, b"\x00\xffbin")),
        entry(2, "empty", b""), entry(4, "plain", text(2, "text")), text(3, "Opaque"), num(5, 1)))
    assert secret["data"] == {"key": "AP9iaW4=", "empty": ""}
    assert secret["stringData"] == {"plain": "text"}
    assert secret["type"] == "Opaque" and secret["immutable"] is True
    config_map = decode_kubernetes_protobuf(envelope(
        "v1", "ConfigMap", msg(1, text(1, "c")), entry(3, "blob", raw(2, b"hi"))))
    assert config_map["binaryData"] == {"blob": "aGk="}


def test_eviction_carries_delete_options_with_zero_grace_period() -> None:
    eviction = decode_kubernetes_protobuf(envelope(
        "policy/v1", "Eviction", msg(1, text(1, "web-0"), text(3, "default")),
        msg(2, num(1, 0), msg(2, text(1, "uid-1")), text(5, "All"))))
    assert eviction == {
        "kind": "Eviction", "apiVersion": "policy/v1",
        "metadata": {"name": "web-0", "namespace": "default"},
        "deleteOptions": {"gracePeriodSeconds": 0, "preconditions": {"uid": "uid-1"},
                          "dryRun": ["All"]},
    }


def test_delete_options_decode_in_any_group_version() -> None:
    options = decode_kubernetes_protobuf(envelope("apps/v1", "DeleteOptions", text(4, "Foreground")))
    assert options == {"kind": "DeleteOptions", "apiVersion": "apps/v1",
                       "propagationPolicy": "Foreground"}


def test_lease_micro_time_keeps_microseconds() -> None:
    lease = decode_kubernetes_protobuf(envelope(
        "coordination.k8s.io/v1", "Lease", msg(1, text(1, "node-1")),
        msg(2, text(1, "node-1"), num(2, 40), msg(4, num(1, 1795834920), num(2, 123456789)))))
    assert lease["spec"] == {"holderIdentity": "node-1", "leaseDurationSeconds": 40,
                             "renewTime": "2026-11-28T03:02:00.123456Z"}


def test_controller_revision_raw_extension_is_parsed_json() -> None:
    revision = decode_kubernetes_protobuf(envelope(
        "apps/v1", "ControllerRevision", msg(1, text(1, "r")),
        msg(2, raw(1, b'{"spec":{"replicas":2}}')), num(3, 0)))
    assert revision["data"] == {"spec": {"replicas": 2}} and revision["revision"] == 0


def test_negative_numbers_and_int_or_string_forms() -> None:
    budget = decode_kubernetes_protobuf(envelope(
        "policy/v1", "PodDisruptionBudget", msg(1, text(1, "p")),
        msg(2, int_or_string(1, 2), int_or_string(3, "10%")),
        msg(3, num(3, -1), num(4, 0), num(5, 0), num(6, 0))))
    assert budget["spec"] == {"minAvailable": 2, "maxUnavailable": "10%"}
    assert budget["status"] == {"disruptionsAllowed": -1, "currentHealthy": 0, "desiredHealthy": 0,
                                "expectedPods": 0}


def test_unknown_fields_are_skipped() -> None:
    namespace = decode_kubernetes_protobuf(envelope(
        "v1", "Namespace", msg(1, text(1, "x"), text(99, "future"), num(98, 7)), num(50, 1),
        msg(2, text(1, "kubernetes"))))
    assert namespace == {"kind": "Namespace", "apiVersion": "v1", "metadata": {"name": "x"},
                         "spec": {"finalizers": ["kubernetes"]}}


@pytest.mark.parametrize(("body", "message"), [
    (b'{"kind":"Namespace"}', "magic"),
    (envelope("v1", "Frobnicator", text(1, "x")), "no protobuf schema for v1/Frobnicator"),
    (envelope("example.com/v1", "Namespace"), "no protobuf schema for example.com/v1/Namespace"),
    (envelope("v1", "Namespace", msg(1, text(1, "x")))[:-2], "remain"),
    (envelope("v1", "Namespace", msg(1, num(1, 5))), "wire type"),
    (envelope("v1", "Namespace", msg(1, raw(1, b"\xff\xfe"))), "UTF-8"),
    (b"k8s\x00" + msg(1, text(1, "v1"), text(2, "Namespace")) + raw(2, b"") + text(3, "gzip"),
     "contentEncoding"),
    (b"k8s\x00\x0a\xff\xff\xff\xff\xff\xff\xff\xff\xff\xff\x01", "varint"),
])
def test_malformed_bodies_raise_a_clear_error(body: bytes, message: str) -> None:
    with pytest.raises(ProtobufDecodeError, match=message):
        decode_kubernetes_protobuf(body)


def test_decode_error_is_a_value_error() -> None:
    assert issubclass(ProtobufDecodeError, ValueError)


@pytest.mark.parametrize(("nanoseconds", "expected"), [
    (0, "0s"), (500, "500ns"), (1_500, "1.5µs"), (300_000_000, "300ms"), (1_500_000_000, "1.5s"),
    (90_000_000_000, "1m30s"), (3_600_000_000_000, "1h0m0s"), (-2_000_000_000, "-2s"),
])
def test_go_duration_string(nanoseconds: int, expected: str) -> None:
    assert go_duration_string(nanoseconds) == expected


def test_every_referenced_message_is_described() -> None:
    assert unresolved_references() == []


def test_varints_beyond_64_bits_are_truncated_as_go_truncates_them() -> None:
    """A 10-byte varint carries up to 70 bits; Go's unmarshallers keep the low 64 (found by
    fuzzing: the extra bits made integers orjson cannot encode)."""
    ten_bytes = bytes([0xFF] * 9 + [0x7F])
    assert wire.read_varint(ten_bytes, 0, len(ten_bytes)) == (2**64 - 1, 10)
