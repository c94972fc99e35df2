"""From a workload's pod template to pods, and the template hash that names revisions.

Every workload controller stamps pods out of ``spec.template`` the same way (upstream
``GetPodFromTemplate``): the template's labels, annotations and finalizers, a generated name
``<owner>-<5 random chars>`` (or a fixed name for StatefulSets), and a controller reference.
Deployments name their ReplicaSets and StatefulSets/DaemonSets label their pods with a hash of the
template (upstream ``ComputeHash``: FNV-32a over the template, salted with ``collisionCount``,
rendered with ``rand.SafeEncodeString``'s vowel-free alphabet). Upstream hashes Go's spew dump of
the struct; we hash canonical JSON (sorted keys), which is stable for the same template.
"""

from __future__ import annotations

import copy
from collections.abc import Mapping
from typing import Any

import orjson

from apis.wire_types import ObjectMeta, Pod, meta_of, pod_spec_of, pod_template_of
from controllers.workload_objects import owner_reference

_FNV32_OFFSET_BASIS = 0x811C9DC5
_FNV32_PRIME = 0x01000193
# upstream k8s.io/apimachinery/pkg/util/rand: no vowels, no look-alike characters.
_SAFE_ALPHABET = "bcdfghjklmnpqrstvwxz2456789"
POD_TEMPLATE_HASH_LABEL = "pod-template-hash"


def fnv1a_32(data: bytes, value: int = _FNV32_OFFSET_BASIS) -> int:
    for byte in data:
        value ^= byte
        value = (value * _FNV32_PRIME) & 0xFFFFFFFF
    return value


def safe_encode(text: str) -> str:
    """upstream ``rand.SafeEncodeString``: each byte picks a letter of the safe alphabet."""
    return "".join(_SAFE_ALPHABET[b % len(_SAFE_ALPHABET)] for b in text.encode())


def without_nulls(value: Any) -> Any:
    """A copy with null-valued object fields dropped: Go clients send ``creationTimestamp: null``
    (kubectl < 1.33 does, inside templates) where newer ones omit the field; upstream decodes
    both into the same struct, so they must compare and hash alike."""
    if isinstance(value, dict):
        return {k: without_nulls(v) for k, v in value.items() if v is not None}
    if isinstance(value, list):
        return [without_nulls(v) for v in value]
    return value


def template_hash(template: dict[str, Any], collision_count: int | None = None) -> str:
    """The ``pod-template-hash`` of a template (the label itself excluded, so a ReplicaSet's
    template hashes like the Deployment template it came from)."""
    canonical = _without_hash_label(template)
    value = fnv1a_32(orjson.dumps(canonical, option=orjson.OPT_SORT_KEYS))
    if collision_count:
        value = fnv1a_32(int(collision_count).to_bytes(4, "little", signed=False), value)
    return safe_encode(str(value))


def templates_equal_ignoring_hash(a: dict[str, Any], b: dict[str, Any]) -> bool:
    """upstream ``EqualIgnoreHash``: same template once the pod-template-hash label is removed."""
    return _without_hash_label(a) == _without_hash_label(b)


def _without_hash_label(template: dict[str, Any]) -> dict[str, Any]:
    copied: dict[str, Any] = without_nulls(template)
    metadata = copied.get("metadata")
    if isinstance(metadata, dict):
        labels = metadata.get("labels")
        if isinstance(labels, dict):
            labels.pop(POD_TEMPLATE_HASH_LABEL, None)
            if not labels:
                metadata.pop("labels")
        if not metadata:
            copied.pop("metadata")
    return copied


def pod_from_template(owner: Mapping[str, Any], *, api_version: str, kind: str,
                      template: Mapping[str, Any] | None = None, name: str | None = None,
                      extra_labels: dict[str, str] | None = None) -> Pod:
    """A Pod body for ``owner``: generated name ``<owner>-`` unless ``name`` is given."""
    template = template if template is not None else pod_template_of(owner)
    template_meta = meta_of(template)
    metadata: ObjectMeta = {
        "labels": {**(template_meta.get("labels") or {}), **(extra_labels or {})},
        "ownerReferences": [owner_reference(owner, api_version=api_version, kind=kind)],
    }
    if name:
        metadata["name"] = name
    else:
        metadata["generateName"] = f"{meta_of(owner).get('name', '')}-"
    if template_meta.get("annotations"):
        metadata["annotations"] = copy.deepcopy(template_meta["annotations"])
    if template_meta.get("finalizers"):
        metadata["finalizers"] = copy.deepcopy(template_meta["finalizers"])
    return {"apiVersion": "v1", "kind": "Pod", "metadata": metadata,
            "spec": copy.deepcopy(pod_spec_of(template))}
