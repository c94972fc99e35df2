"""RFC 7386 JSON merge patch (what `kubectl patch --type=merge` and custom resources use).

Covers recursive object merge, null deleting members (also inside new subtrees), arrays and scalars
replacing wholesale, a non-object patch being refused for whole objects, and no input mutation.
Leaves out: the RFC's non-object targets at the top level (Kubernetes objects are always objects).
"""

from __future__ import annotations

import copy
from typing import Any

import pytest

from server.patch import PatchError, apply_merge_patch


def test_rfc7386_appendix_a_examples() -> None:
    cases: list[tuple[dict[str, Any], dict[str, Any], dict[str, Any]]] = [
        ({"a": "b"}, {"a": "c"}, {"a": "c"}),
        ({"a": "b"}, {"b": "c"}, {"a": "b", "b": "c"}),
        ({"a": "b"}, {"a": None}, {}),
        ({"a": "b", "b": "c"}, {"a": None}, {"b": "c"}),
        ({"a": ["b"]}, {"a": "c"}, {"a": "c"}),
        ({"a": "c"}, {"a": ["b"]}, {"a": ["b"]}),
        ({"a": {"b": "c"}}, {"a": {"b": "d", "c": None}}, {"a": {"b": "d"}}),
        ({"a": [{"b": "c"}]}, {"a": [1]}, {"a": [1]}),
        ({"e": None}, {"a": 1}, {"e": None, "a": 1}),
        ({"a": "foo"}, {"a": {"bb": {"ccc": None}}}, {"a": {"bb": {}}}),
    ]
    for target, patch, expected in cases:
        assert apply_merge_patch(target, patch) == expected


def test_kubectl_patch_type_merge_replaces_lists() -> None:
    deploy = {"spec": {"template": {"spec": {"containers": [{"name": "a"}, {"name": "b"}]}}, "replicas": 1}}
    out = apply_merge_patch(deploy, {"spec": {"template": {"spec": {"containers": [{"name": "c"}]}}}})
    assert out == {"spec": {"template": {"spec": {"containers": [{"name": "c"}]}}, "replicas": 1}}


def test_non_object_patch_is_refused_for_objects() -> None:
    with pytest.raises(PatchError) as info:
        apply_merge_patch({"a": 1}, [1, 2])
    assert info.value.status == 400


def test_inputs_not_mutated() -> None:
    target = {"a": {"b": [1, {"c": 2}]}, "x": 1}
    patch = {"a": {"d": {"e": [3]}}, "x": None}
    target_before, patch_before = copy.deepcopy(target), copy.deepcopy(patch)
    out = apply_merge_patch(target, patch)
    out["a"]["b"][1]["c"] = 99
    out["a"]["d"]["e"].append(4)
    assert target == target_before and patch == patch_before
