"""What the three patch formats share: the exception they raise, its upstream texts, and
copying/comparing decoded JSON values without mutating anyone's input.

The API server turns a `PatchError` into a Kubernetes `Status`; the HTTP code travels on the
exception because upstream picks it per failure (k8s.io/apiserver `handlers/patch.go`):
JSON-patch application failures are 422, malformed strategic-merge directives are 400,
strategic merge on a type without Go struct metadata (custom resources) is 415.
The message texts mirror k8s.io/apimachinery `pkg/util/mergepatch/errors.go` and
evanphx/json-patch v4 so that clients (and humans comparing with a real cluster) see the same words.
"""

from __future__ import annotations

from typing import Any

BAD_JSON_DOC = "invalid JSON document"
NO_LIST_OF_LISTS = "lists of lists are not supported"
BAD_PRIMITIVE_LIST_FORMAT = "invalid patch format of primitive list"
BAD_RETAIN_KEYS_FORMAT = "invalid patch format of retainKeys"
BAD_SET_ELEMENT_ORDER_FORMAT = "invalid patch format of setElementOrder list"
# What upstream answers (415) for a strategic merge patch on a custom resource.
STRATEGIC_MERGE_UNSUPPORTED = (
    "the body of the request was in an unknown format - accepted media types include: "
    "application/json-patch+json, application/merge-patch+json, application/apply-patch+yaml"
)


class PatchError(ValueError):
    """A patch that cannot be applied; `status` is the HTTP code upstream answers with."""

    def __init__(self, message: str, *, status: int = 422) -> None:
        super().__init__(message)
        self.message = message
        self.status = status


def go_repr(value: Any) -> str:
    """Render a JSON value the way Go's ``%v`` prints ``interface{}`` (``map[a:1 b:[x y]]``).

    Upstream error messages embed patch fragments with ``%v``; matching the shape keeps our
    messages recognisable next to a real cluster's.
    """
    if isinstance(value, dict):
        inner = " ".join(f"{k}:{go_repr(value[k])}" for k in sorted(value))
        return f"map[{inner}]"
    if isinstance(value, list):
        return "[" + " ".join(go_repr(v) for v in value) + "]"
    if value is None:
        return "<nil>"
    if isinstance(value, bool):
        return "true" if value else "false"
    return str(value)


def no_merge_key(element: dict[str, Any], merge_key: str) -> PatchError:
    return PatchError(f"map: {go_repr(element)} does not contain declared merge key: {merge_key}")


def bad_patch_type(directive: Any, element: dict[str, Any]) -> PatchError:
    return PatchError(f"unknown patch type: {go_repr(directive)} in map: {go_repr(element)}")


def deep_copy_json(value: Any) -> Any:
    """Copy a decoded JSON value (dicts, lists, scalars) — several times faster than copy.deepcopy."""
    if isinstance(value, dict):
        return {k: deep_copy_json(v) if isinstance(v, (dict, list)) else v for k, v in value.items()}
    if isinstance(value, list):
        return [deep_copy_json(v) if isinstance(v, (dict, list)) else v for v in value]
    return value


def json_equal(left: Any, right: Any) -> bool:
    """Structural JSON equality: 1 == 1.0 but true != 1 (Python's == conflates bool and int)."""
    if isinstance(left, bool) or isinstance(right, bool):
        return isinstance(left, bool) and isinstance(right, bool) and left == right
    if isinstance(left, dict):
        if not isinstance(right, dict) or left.keys() != right.keys():
            return False
        return all(json_equal(v, right[k]) for k, v in left.items())
    if isinstance(left, list):
        if not isinstance(right, list) or len(left) != len(right):
            return False
        return all(json_equal(a, b) for a, b in zip(left, right, strict=True))
    if isinstance(left, (int, float)) and isinstance(right, (int, float)):
        return left == right
    return type(left) is type(right) and left == right
