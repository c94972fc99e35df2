"""RFC 6902 JSON patch as the API server applies it (evanphx/json-patch v4 behaviour and texts).

Covers add/remove/replace/move/copy/test, JSON pointer escaping (~0, ~1), `-` append and negative
indices, the upstream error messages for missing paths, failed tests and bad indices (status 422),
atomicity and that neither the document nor the operations are mutated.
Leaves out: decoding the request body (the handler's job) and patch size limits.
"""

from __future__ import annotations

import copy
from typing import Any

import pytest

from server.patch import PatchError, apply_json_patch


def doc() -> dict[str, Any]:
    return {
        "metadata": {"name": "p", "labels": {"a/b": "1", "c~d": "2"}},
        "spec": {"containers": [{"name": "app", "image": "x"}], "list": [1, 2, 3]},
    }


def test_add_member_and_array_element_and_append() -> None:
    out = apply_json_patch(
        doc(),
        [
            {"op": "add", "path": "/metadata/labels/new", "value": "v"},
            {"op": "add", "path": "/spec/list/0", "value": 0},
            {"op": "add", "path": "/spec/list/-", "value": 4},
        ],
    )
    assert out["metadata"]["labels"]["new"] == "v"
    assert out["spec"]["list"] == [0, 1, 2, 3, 4]


def test_pointer_escapes_address_slashes_and_tildes() -> None:
    out = apply_json_patch(
        doc(),
        [
            {"op": "replace", "path": "/metadata/labels/a~1b", "value": "x"},
            {"op": "remove", "path": "/metadata/labels/c~0d"},
        ],
    )
    assert out["metadata"]["labels"] == {"a/b": "x"}


def test_remove_replace_move_copy() -> None:
    out = apply_json_patch(
        doc(),
        [
            {"op": "replace", "path": "/spec/containers/0/image", "value": "y"},
            {"op": "copy", "from": "/spec/containers/0", "path": "/spec/containers/-"},
            {"op": "replace", "path": "/spec/containers/1/name", "value": "copy"},
            {"op": "move", "from": "/metadata/name", "path": "/metadata/generateName"},
            {"op": "remove", "path": "/spec/list/1"},
        ],
    )
    assert out["spec"]["containers"] == [{"name": "app", "image": "y"}, {"name": "copy", "image": "y"}]
    assert "name" not in out["metadata"] and out["metadata"]["generateName"] == "p"
    assert out["spec"]["list"] == [1, 3]


def test_negative_index_counts_from_the_end_as_v4_does() -> None:
    assert apply_json_patch(doc(), [{"op": "remove", "path": "/spec/list/-1"}])["spec"]["list"] == [1, 2]


def test_test_op_passes_then_fails_with_upstream_text() -> None:
    apply_json_patch(doc(), [{"op": "test", "path": "/spec/list", "value": [1, 2, 3.0]}])
    with pytest.raises(PatchError) as info:
        apply_json_patch(doc(), [{"op": "test", "path": "/metadata/name", "value": "q"}])
    assert str(info.value) == "testing value /metadata/name failed: test failed"
    assert info.value.status == 422


def test_test_op_distinguishes_booleans_from_numbers() -> None:
    with pytest.raises(PatchError):
        apply_json_patch({"a": 1}, [{"op": "test", "path": "/a", "value": True}])


def test_add_under_missing_parent_reports_missing_path() -> None:
    with pytest.raises(PatchError) as info:
        apply_json_patch(doc(), [{"op": "add", "path": "/spec/foo/bar", "value": 1}])
    assert (
        str(info.value) == 'add operation does not apply: doc is missing path: "/spec/foo/bar": missing value'
    )


def test_remove_missing_member() -> None:
    with pytest.raises(PatchError) as info:
        apply_json_patch(doc(), [{"op": "remove", "path": "/spec/foo"}])
    assert str(info.value) == (
        "error in remove for path: '/spec/foo': Unable to remove nonexistent key: foo: missing value"
    )


def test_replace_out_of_range_index() -> None:
    with pytest.raises(PatchError) as info:
        apply_json_patch(doc(), [{"op": "replace", "path": "/spec/list/9", "value": 1}])
    assert (
        str(info.value) == "replace operation does not apply: doc is missing key: /spec/list/9: missing value"
    )


def test_replace_of_absent_member_sets_it_like_v4() -> None:
    assert apply_json_patch(doc(), [{"op": "replace", "path": "/spec/x", "value": 1}])["spec"]["x"] == 1


def test_add_past_end_of_array() -> None:
    with pytest.raises(PatchError) as info:
        apply_json_patch(doc(), [{"op": "add", "path": "/spec/list/7", "value": 1}])
    assert "Unable to access invalid index: 7: invalid index referenced" in str(info.value)


def test_move_from_missing_path() -> None:
    with pytest.raises(PatchError, match="move operation does not apply: doc is missing from path: /nope/x"):
        apply_json_patch(doc(), [{"op": "move", "from": "/nope/x", "path": "/y"}])


def test_unknown_op() -> None:
    with pytest.raises(PatchError, match="Unexpected kind: frobnicate"):
        apply_json_patch(doc(), [{"op": "frobnicate", "path": "/x"}])


def test_failure_leaves_input_untouched_and_values_are_copied() -> None:
    original, value = doc(), {"deep": ["x"]}
    ops = [{"op": "add", "path": "/spec/new", "value": value}, {"op": "remove", "path": "/nope"}]
    before = copy.deepcopy(original)
    with pytest.raises(PatchError):
        apply_json_patch(original, ops)
    assert original == before
    out = apply_json_patch(original, ops[:1])
    out["spec"]["new"]["deep"].append("y")
    assert value == {"deep": ["x"]} and original == before


def test_whole_document_pointer() -> None:
    assert apply_json_patch(doc(), [{"op": "replace", "path": "", "value": {"a": 1}}]) == {"a": 1}


@pytest.mark.parametrize("ops", [
    [{"op": "move", "from": "", "path": "/x"}],
    [{"op": "remove", "path": ""}, {"op": "add", "path": "/a", "value": 1}],
])
def test_operations_after_the_whole_document_is_gone_fail_cleanly(ops: list[dict[str, object]]) -> None:
    """Found by fuzzing: moving or removing the root left later lookups a KeyError (a 500)."""
    with pytest.raises(PatchError):
        apply_json_patch(doc(), ops)
