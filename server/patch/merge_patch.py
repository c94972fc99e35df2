"""RFC 7386 JSON merge patch (``application/merge-patch+json``).

The format custom resources and ``kubectl patch --type=merge`` use: objects merge member by
member, ``null`` deletes a member, and anything that is not an object (arrays included) replaces
the target wholesale. Upstream applies it with evanphx/json-patch's ``MergePatch``; like it, a patch
that is not an object replaces the whole document — which the API server must then reject, since
a Kubernetes object is always a JSON object. Inputs are never mutated: untouched subtrees of the
document are shared only after one up-front copy, and values taken from the patch are copied.
"""

from __future__ import annotations

from typing import Any

from server.patch.document import PatchError, deep_copy_json


def apply_merge_patch(doc: dict[str, Any], patch: Any) -> dict[str, Any]:
    """Return ``doc`` with ``patch`` merged in (RFC 7386 §2)."""
    if not isinstance(patch, dict):
        # RFC 7386: a non-object patch replaces the target; an object cannot be replaced by it.
        raise PatchError(
            "the patched document is not a JSON object: a merge patch must be a JSON object", status=400
        )
    return _merge_object(deep_copy_json(doc) if isinstance(doc, dict) else {}, patch)


def _merge_object(target: dict[str, Any], patch: dict[str, Any]) -> dict[str, Any]:
    """Merge ``patch`` into ``target`` (which the caller owns) in place and return it."""
    for key, value in patch.items():
        if value is None:
            target.pop(key, None)
        elif isinstance(value, dict):
            current = target.get(key)
            target[key] = _merge_object(current if isinstance(current, dict) else {}, value)
        else:
            target[key] = deep_copy_json(value) if isinstance(value, list) else value
    return target
