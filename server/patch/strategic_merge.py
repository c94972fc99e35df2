"""Strategic merge patch (``application/strategic-merge-patch+json``), the apply half.

What ``kubectl apply`` (client-side, 3-way), ``edit``, ``label``, ``annotate``, ``scale`` and
``patch`` send for built-in kinds. Mirrors k8s.io/apimachinery ``pkg/util/strategicpatch``
``StrategicMergeMapPatch`` with the options the API server uses (parallel deletion lists merged,
unmatched nulls ignored):

- maps merge recursively and ``null`` deletes a key; a field with strategy ``replace`` is replaced;
- lists with strategy ``merge`` merge elements by their merge key (lists of scalars: union), all
  other lists are replaced atomically;
- directives: ``$patch: replace|delete`` on a map or as a list element (``merge`` on a map is the
  default and accepted), ``$retainKeys``, ``$setElementOrder/<list>``,
  ``$deleteFromPrimitiveList/<list>``;
- merged lists are ordered as upstream orders them: patch items in ``$setElementOrder`` (else
  patch) order, server-only items interleaved by their position in the live list — which puts
  brand-new items *before* server-only ones, exactly like a real API server.

A patch value with no counterpart in the document is taken with its directives and nulls removed
(upstream's ``removeDirectives``/``discardNullValuesFromPatch``).
"""

from __future__ import annotations

import json
from typing import Any

from server.patch import document as doc_errors
from server.patch.document import PatchError, deep_copy_json
from server.patch.patch_meta import FieldMeta, SchemaNode, schema_for_definition

_DIRECTIVE = "$patch"
_RETAIN_KEYS = "$retainKeys"
_SET_ORDER = "$setElementOrder/"
_DELETE_FROM = "$deleteFromPrimitiveList/"
_NO_META = FieldMeta(schema=None)
_DROP = object()  # a fresh value that is itself a delete directive: leave the field out


def apply_strategic_merge_patch(
    doc: dict[str, Any], patch: dict[str, Any], definition: str
) -> dict[str, Any]:
    """Apply ``patch`` to a copy of ``doc`` using the metadata of OpenAPI ``definition``.

    An empty or unknown ``definition`` (custom resources) raises PatchError with status 415, as
    upstream refuses strategic merge for types it has no Go struct for.
    """
    schema = schema_for_definition(definition)
    if schema is None:
        raise PatchError(doc_errors.STRATEGIC_MERGE_UNSUPPORTED, status=415)
    if not isinstance(patch, dict):
        raise PatchError(doc_errors.BAD_JSON_DOC, status=400)
    merged = _merge_map(deep_copy_json(doc), patch, schema)
    return merged


def _merge_map(original: dict[str, Any], patch: dict[str, Any], schema: SchemaNode | None) -> dict[str, Any]:
    """Merge ``patch`` (read-only) into ``original`` (owned by us, mutated) and return the result."""
    if _DIRECTIVE in patch:
        directive = patch[_DIRECTIVE]
        if directive == "replace":
            return _fresh_map({k: v for k, v in patch.items() if k != _DIRECTIVE}, schema)
        if directive == "delete":
            return {}
        if directive != "merge":
            raise doc_errors.bad_patch_type(directive, patch)
    if _RETAIN_KEYS in patch:
        _apply_retain_keys(original, patch)
    ordered = _apply_set_element_orders(original, patch, schema)
    deletions: list[tuple[str, Any]] = []
    for key, value in patch.items():
        if key in ordered or key == _DIRECTIVE or key == _RETAIN_KEYS or key.startswith(_SET_ORDER):
            continue
        if key.startswith(_DELETE_FROM):
            deletions.append((key, value))
            continue
        if value is None:
            original.pop(key, None)
            continue
        meta = _field(schema, key)
        current = original.get(key, _DROP)
        if isinstance(current, dict) and isinstance(value, dict):
            if meta.strategy == "replace":
                _set_fresh(original, key, value, meta)
            else:
                original[key] = _merge_map(current, value, meta.schema)
        elif isinstance(current, list) and isinstance(value, list):
            original[key] = _merge_list(current, value, meta)
        else:
            # Absent, of another type, or a scalar: the patch value wins (minus its directives).
            _set_fresh(original, key, value, meta)
    for key, value in deletions:
        _delete_from_primitive_list(original, key, value)
    return original


def _field(schema: SchemaNode | None, key: str) -> FieldMeta:
    return schema.field(key) if schema is not None else _NO_META


def _set_fresh(target: dict[str, Any], key: str, value: Any, meta: FieldMeta) -> None:
    fresh = _fresh(value, meta)
    if fresh is _DROP:
        target.pop(key, None)
    else:
        target[key] = fresh


def _fresh(value: Any, meta: FieldMeta) -> Any:
    """A patch value with nothing to merge into: copied, with directives and nulls removed."""
    if isinstance(value, dict):
        if value.get(_DIRECTIVE) == "delete":
            return _DROP
        return _fresh_map(value, meta.schema)
    if isinstance(value, list):
        return _merge_list([], value, meta)
    return value


def _fresh_map(value: dict[str, Any], schema: SchemaNode | None) -> dict[str, Any]:
    return _merge_map({}, {k: v for k, v in value.items() if k != _DIRECTIVE}, schema)


def _apply_retain_keys(original: dict[str, Any], patch: dict[str, Any]) -> None:
    """``$retainKeys``: drop every key of original not listed (used for union types such as volumes)."""
    keep = patch[_RETAIN_KEYS]
    if not isinstance(keep, list):
        raise PatchError(doc_errors.BAD_RETAIN_KEYS_FORMAT, status=400)
    allowed = {k for k in keep if isinstance(k, str)}
    for key, value in patch.items():
        if value is None or key.startswith(("$", _DELETE_FROM, _SET_ORDER)):
            continue
        if key not in allowed:
            raise PatchError(doc_errors.BAD_RETAIN_KEYS_FORMAT, status=400)
    for key in [k for k in original if k not in allowed]:
        del original[key]


def _apply_set_element_orders(
    original: dict[str, Any], patch: dict[str, Any], schema: SchemaNode | None
) -> set[str]:
    """Merge each list named by a ``$setElementOrder/<list>`` and order it; returns the lists done."""
    done: set[str] = set()
    for key, order in patch.items():
        if not key.startswith(_SET_ORDER):
            continue
        name = key[len(_SET_ORDER):]
        if not name or not isinstance(order, list):
            raise PatchError(doc_errors.BAD_SET_ELEMENT_ORDER_FORMAT, status=400)
        current, patch_list = original.get(name), patch.get(name)
        if patch_list is None and name in patch:
            continue  # the list itself is deleted; the ordinary pass removes it
        if (current is not None and not isinstance(current, list)) or (
            patch_list is not None and not isinstance(patch_list, list)
        ):
            raise PatchError(doc_errors.BAD_SET_ELEMENT_ORDER_FORMAT, status=400)
        meta = _field(schema, name)
        merge_key = meta.merge_key if meta.strategy == "merge" else ""
        if patch_list is not None:
            _check_order_consistent(patch_list, order, merge_key)
            merged = _merge_list(current if current is not None else [], patch_list, meta)
        elif current is not None:
            merged = current
        else:
            continue
        original[name] = _order(merged, order, current or [], merge_key)
        done.add(name)
    return done


def _check_order_consistent(patch_list: list[Any], order: list[Any], merge_key: str) -> None:
    """Patch items must appear in ``$setElementOrder`` in the same relative order (upstream check)."""
    if not merge_key and any(isinstance(e, dict) for e in patch_list):
        return  # an atomic list of objects has no identity to compare by
    wanted = [_identity(e, merge_key) for e in patch_list if not _is_directive_element(e)]
    position = 0
    keys = [_identity(e, merge_key) for e in order]
    for item in wanted:
        while position < len(keys) and keys[position] != item:
            position += 1
        if position >= len(keys):
            raise PatchError(
                f"The order in patch list:\n{doc_errors.go_repr(patch_list)}\n doesn't match "
                f"$setElementOrder list:\n{doc_errors.go_repr(order)}\n"
            )
        position += 1


def _is_directive_element(element: Any) -> bool:
    return isinstance(element, dict) and _DIRECTIVE in element


def _delete_from_primitive_list(original: dict[str, Any], key: str, value: Any) -> None:
    name = key[len(_DELETE_FROM):]
    if not name:
        raise PatchError(doc_errors.BAD_PRIMITIVE_LIST_FORMAT, status=400)
    if value is None:
        original.pop(name, None)
        return
    if not isinstance(value, list):
        raise PatchError(doc_errors.BAD_PRIMITIVE_LIST_FORMAT, status=400)
    current = original.get(name)
    if isinstance(current, list):
        doomed = {_hashable(v) for v in value}
        original[name] = [v for v in current if _hashable(v) not in doomed]


def _merge_list(original: list[Any], patch: list[Any], meta: FieldMeta) -> list[Any]:
    """Merge a patch list into an original list (owned by us) per the field's strategy."""
    if meta.strategy != "merge":
        return _atomic_list(patch, meta)
    if not original and not patch:
        return original
    has_maps = _element_kind(original, patch)
    if not has_maps:
        seen: set[Any] = set()
        merged: list[Any] = []
        for v in (*original, *patch):
            marker = _hashable(v)
            if marker not in seen:
                seen.add(marker)
                merged.append(v)
        return _order(merged, patch, original, "")
    if not meta.merge_key:
        raise PatchError("cannot merge lists without merge key for type map")
    return _merge_map_list(original, patch, meta)


def _atomic_list(patch: list[Any], meta: FieldMeta) -> list[Any]:
    out = []
    for element in patch:
        fresh = _fresh(element, meta)
        if fresh is not _DROP:
            out.append(fresh)
    return out


def _element_kind(original: list[Any], patch: list[Any]) -> bool:
    """True if the elements are objects; lists of lists are refused as upstream refuses them."""
    has_maps = False
    for element in (*original, *patch):
        if isinstance(element, list):
            raise PatchError(doc_errors.NO_LIST_OF_LISTS)
        if isinstance(element, dict):
            has_maps = True
    return has_maps


def _merge_map_list(original: list[Any], patch: list[Any], meta: FieldMeta) -> list[Any]:
    merge_key = meta.merge_key
    plain: list[dict[str, Any]] = []
    replace = False
    for element in patch:
        if not isinstance(element, dict):
            raise PatchError(f"expected a map, but received a {type(element).__name__}")
        directive = element.get(_DIRECTIVE)
        if directive is None:
            plain.append(element)
        elif directive == "delete":
            if merge_key not in element:
                raise doc_errors.no_merge_key(element, merge_key)
            doomed = _hashable(element[merge_key])
            original = [e for e in original if _identity(e, merge_key) != doomed]
        elif directive == "replace":
            replace = True  # keep scanning: other directive elements are dropped too
        elif directive == "merge":
            raise PatchError("merging lists cannot yet be specified in the patch")
        else:
            raise doc_errors.bad_patch_type(directive, element)
    if replace:
        return [_fresh_map(e, meta.schema) for e in plain]
    positions = {_identity(e, merge_key): i for i, e in reversed(list(enumerate(original)))}
    merged = list(original)
    for element in plain:
        if merge_key not in element:
            raise doc_errors.no_merge_key(element, merge_key)
        index = positions.get(_hashable(element[merge_key]))
        if index is not None and isinstance(merged[index], dict):
            merged[index] = _merge_map(merged[index], element, meta.schema)
        else:
            positions[_hashable(element[merge_key])] = len(merged)
            merged.append(_fresh_map(element, meta.schema))
    return _order(merged, plain, original, merge_key)


def _order(merged: list[Any], patch_order: list[Any], server_order: list[Any], merge_key: str) -> list[Any]:
    """Upstream's normalizeElementOrder + mergeSortedSlice.

    Items named by the patch come in patch order; the others ("server-only") keep their live order
    and are slotted in before a patch item only when both are in the live list and the server item
    came first there.
    """
    in_patch: dict[Any, int] = {}
    for i, element in enumerate(patch_order):
        in_patch.setdefault(_identity(element, merge_key), i)
    live: dict[Any, int] = {}
    for i, element in enumerate(server_order):
        live.setdefault(_identity(element, merge_key), i)
    patch_items: list[Any] = []
    server_items: list[Any] = []
    for element in merged:
        (patch_items if _identity(element, merge_key) in in_patch else server_items).append(element)
    patch_items.sort(key=lambda e: in_patch[_identity(e, merge_key)])
    server_items.sort(key=lambda e: live.get(_identity(e, merge_key), len(live)))
    out: list[Any] = []
    i = j = 0
    while i < len(server_items) and j < len(patch_items):
        left = live.get(_identity(server_items[i], merge_key))
        right = live.get(_identity(patch_items[j], merge_key))
        if left is not None and right is not None and left < right:
            out.append(server_items[i])
            i += 1
        else:
            out.append(patch_items[j])
            j += 1
    out.extend(server_items[i:])
    out.extend(patch_items[j:])
    return out


def _identity(element: Any, merge_key: str) -> Any:
    if merge_key:
        return _hashable(element.get(merge_key)) if isinstance(element, dict) else _hashable(element)
    return _hashable(element)


def _hashable(value: Any) -> Any:
    if isinstance(value, (dict, list)):
        return ("json", json.dumps(value, sort_keys=True))
    if isinstance(value, bool):
        return ("bool", value)  # keep true distinct from 1, as Go's interface comparison does
    return value
