"""RFC 6902 JSON patch (``application/json-patch+json``), as the API server applies it.

Upstream applies JSON patches with evanphx/json-patch v4; we mirror its observable behaviour,
including the error texts clients see in the 422 Status (``add operation does not apply: doc is
missing path: "/spec/foo": missing value``), negative array indices, and two v4 leniencies:
``replace`` of an absent *object member* sets it, and ``test`` of an absent member against ``null``
passes. The input document and the operations are never mutated: the document is copied once and
every inserted value is copied from the patch.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from server.patch.document import PatchError, deep_copy_json, json_equal

_MISSING = ": missing value"
_INVALID_INDEX = ": invalid index referenced"
_NOT_FOUND = object()


def apply_json_patch(doc: dict[str, Any], ops: list[Any]) -> dict[str, Any]:
    """Apply the operations in order to a copy of ``doc``; all-or-nothing."""
    if not isinstance(ops, list):
        raise PatchError("json: cannot unmarshal object into Go value of type jsonpatch.Patch", status=400)
    root: Any = deep_copy_json(doc)
    holder: dict[str, Any] = {"": root}  # the pointer "" names the whole document
    for op in ops:
        if not isinstance(op, dict):
            raise PatchError("json: cannot unmarshal into Go value of type jsonpatch.Operation", status=400)
        kind = op.get("op")
        handler = _HANDLERS.get(kind) if isinstance(kind, str) else None
        if handler is None:
            raise PatchError(f"Unexpected kind: {kind if isinstance(kind, str) else 'unknown'}")
        handler(holder, op)
    result = holder.get("")
    if not isinstance(result, dict):
        raise PatchError("the patched document is not a JSON object")
    return result


def _decode_pointer(pointer: str) -> list[str]:
    # RFC 6901 §4: "~1" becomes "/" first, then "~0" becomes "~".
    return [part.replace("~1", "/").replace("~0", "~") for part in pointer.split("/")[1:]]


def _operation_path(op: dict[str, Any], field: str, verb: str) -> str:
    value = op.get(field)
    if not isinstance(value, str):
        noun = "path" if field == "path" else "from"
        raise PatchError(f"{verb} operation failed to decode {noun}{_MISSING}")
    return value


def _find_container(holder: dict[str, Any], path: str) -> tuple[Any, str] | None:
    """The container holding the last token of ``path`` and that token; None if a parent is missing."""
    if path == "":
        return holder, ""
    if not path.startswith("/"):
        return None
    parts = _decode_pointer(path)
    node: Any = holder.get("", _NOT_FOUND)  # an earlier operation may have removed the whole document
    if not isinstance(node, (dict, list)):
        return None
    for part in parts[:-1]:
        node = _child(node, part)
        if node is _NOT_FOUND or not isinstance(node, (dict, list)):
            return None
    return node, parts[-1]


def _child(node: Any, token: str) -> Any:
    if isinstance(node, dict):
        return node.get(token, _NOT_FOUND)
    if isinstance(node, list):
        index = _parse_index(token)
        if index is None or not -len(node) <= index < len(node):
            return _NOT_FOUND
        return node[index]
    return _NOT_FOUND


def _parse_index(token: str) -> int | None:
    try:
        return int(token)
    except ValueError:
        return None


def _array_index(array: list[Any], token: str, *, allow_end: bool) -> int:
    index = _parse_index(token)
    if index is None:
        raise PatchError(f'strconv.Atoi: parsing "{token}": invalid syntax')
    size = len(array) + (1 if allow_end else 0)
    # evanphx/json-patch v4 accepts negative indices counted from the end.
    if index >= size or index < -size:
        raise PatchError(f"Unable to access invalid index: {index}{_INVALID_INDEX}")
    return index + size if index < 0 else index


def _get(container: Any, key: str) -> Any:
    if isinstance(container, dict):
        return container.get(key, _NOT_FOUND)
    return container[_array_index(container, key, allow_end=False)]


def _insert(container: Any, key: str, value: Any) -> None:
    if isinstance(container, dict):
        container[key] = value
    elif key == "-":
        container.append(value)
    else:
        container.insert(_array_index(container, key, allow_end=True), value)


def _remove(container: Any, key: str) -> Any:
    if isinstance(container, dict):
        if key not in container:
            raise PatchError(f"Unable to remove nonexistent key: {key}{_MISSING}")
        return container.pop(key)
    return container.pop(_array_index(container, key, allow_end=False))


def _wrap(prefix: str, error: PatchError) -> PatchError:
    return PatchError(f"{prefix}: {error.message}")


def _add(holder: dict[str, Any], op: dict[str, Any]) -> None:
    path = _operation_path(op, "path", "add")
    found = _find_container(holder, path)
    if found is None:
        raise PatchError(f'add operation does not apply: doc is missing path: "{path}"{_MISSING}')
    container, key = found
    try:
        _insert(container, key, deep_copy_json(op.get("value")))
    except PatchError as e:
        raise _wrap(f"error in add for path: '{path}'", e) from e


def _remove_op(holder: dict[str, Any], op: dict[str, Any]) -> None:
    path = _operation_path(op, "path", "remove")
    found = _find_container(holder, path)
    if found is None:
        raise PatchError(f'remove operation does not apply: doc is missing path: "{path}"{_MISSING}')
    container, key = found
    try:
        _remove(container, key)
    except PatchError as e:
        raise _wrap(f"error in remove for path: '{path}'", e) from e


def _replace(holder: dict[str, Any], op: dict[str, Any]) -> None:
    path = _operation_path(op, "path", "replace")
    found = _find_container(holder, path)
    if found is None:
        raise PatchError(f"replace operation does not apply: doc is missing path: {path}{_MISSING}")
    container, key = found
    value = deep_copy_json(op.get("value"))
    if isinstance(container, dict):
        container[key] = value  # v4 leniency: an absent member is simply set
        return
    try:
        container[_array_index(container, key, allow_end=False)] = value
    except PatchError as e:
        raise PatchError(f"replace operation does not apply: doc is missing key: {path}{_MISSING}") from e


def _move(holder: dict[str, Any], op: dict[str, Any]) -> None:
    source = _operation_path(op, "from", "move")
    found = _find_container(holder, source)
    if found is None:
        raise PatchError(f"move operation does not apply: doc is missing from path: {source}{_MISSING}")
    container, key = found
    try:
        value = _remove(container, key)
    except PatchError as e:
        raise _wrap(f"error in move for path: '{key}'", e) from e
    path = _operation_path(op, "path", "move")
    found = _find_container(holder, path)
    if found is None:
        raise PatchError(f"move operation does not apply: doc is missing destination path: {path}{_MISSING}")
    target, target_key = found
    try:
        _insert(target, target_key, value)
    except PatchError as e:
        raise _wrap(f"error in move for path: '{path}'", e) from e


def _copy(holder: dict[str, Any], op: dict[str, Any]) -> None:
    source = _operation_path(op, "from", "copy")
    found = _find_container(holder, source)
    if found is None:
        raise PatchError(f"copy operation does not apply: doc is missing from path: {source}{_MISSING}")
    container, key = found
    try:
        value = _get(container, key)
    except PatchError as e:
        raise _wrap(f"error in copy for from: '{source}'", e) from e
    path = _operation_path(op, "path", "copy")
    found = _find_container(holder, path)
    if found is None:
        raise PatchError(f"copy operation does not apply: doc is missing destination path: {path}{_MISSING}")
    target, target_key = found
    try:
        _insert(target, target_key, None if value is _NOT_FOUND else deep_copy_json(value))
    except PatchError as e:
        raise _wrap("error while adding value during copy", e) from e


def _test(holder: dict[str, Any], op: dict[str, Any]) -> None:
    path = _operation_path(op, "path", "test")
    found = _find_container(holder, path)
    if found is None:
        raise PatchError(f"test operation does not apply: is missing path: {path}{_MISSING}")
    container, key = found
    try:
        actual = _get(container, key)
    except PatchError as e:
        raise _wrap(f"error in test for path: '{path}'", e) from e
    expected = op.get("value")
    if actual is _NOT_FOUND or actual is None:
        if expected is None:
            return
    elif json_equal(actual, expected):
        return
    raise PatchError(f"testing value {path} failed: test failed")


_HANDLERS: dict[str, Callable[[dict[str, Any], dict[str, Any]], None]] = {
    "add": _add,
    "remove": _remove_op,
    "replace": _replace,
    "move": _move,
    "copy": _copy,
    "test": _test,
}
