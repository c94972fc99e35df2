"""Strategic-merge metadata looked up from the OpenAPI definitions we serve.

Upstream's strategic merge patch reads ``patchStrategy``/``patchMergeKey`` from Go struct tags
(k8s.io/apimachinery ``pkg/util/strategicpatch/meta.go``, ``PatchMetaFromStruct``). The published
OpenAPI mirrors those tags as ``x-kubernetes-patch-strategy`` and ``x-kubernetes-patch-merge-key``,
so walking the definitions gives the same answers: which lists merge (and by which key), which
maps are replaced, and which fields clear their siblings (``retainKeys``). Lists without a strategy
are atomic even when ``x-kubernetes-list-type`` says ``map`` — that list type is server-side apply's
business, not strategic merge's. Fields the schema does not describe get no metadata, which makes
strategic merge behave like a JSON merge patch below them.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from apis.schemas import definitions
from server.patch.document import PatchError


@dataclass(frozen=True, slots=True)
class FieldMeta:
    """How strategic merge treats one field of an object."""

    # The field's value schema: the object for maps, the element for lists; None if undescribed.
    schema: SchemaNode | None
    strategy: str = ""  # "merge", "replace" or "" (lists atomic, maps merged)
    merge_key: str = ""
    retain_keys: bool = False


_UNDESCRIBED = FieldMeta(schema=None)


class SchemaNode:
    """One resolved schema (object or array element) with its per-field metadata cached."""

    __slots__ = ("_fields", "_raw")

    def __init__(self, raw: dict[str, Any]) -> None:
        self._raw = raw
        self._fields: dict[str, FieldMeta] = {}

    def field(self, name: str) -> FieldMeta:
        meta = self._fields.get(name)
        if meta is None:
            meta = self._fields[name] = self._lookup(name)
        return meta

    def _lookup(self, name: str) -> FieldMeta:
        properties = self._raw.get("properties")
        prop = properties.get(name) if isinstance(properties, dict) else None
        if not isinstance(prop, dict):
            # Maps such as labels, annotations and ConfigMap data describe their values here.
            extra = self._raw.get("additionalProperties")
            return FieldMeta(schema=_node(extra)) if isinstance(extra, dict) else _UNDESCRIBED
        strategy, retain_keys = _parse_strategy(prop.get("x-kubernetes-patch-strategy", ""))
        resolved = _resolve(prop)
        items = resolved.get("items")
        value_schema = items if isinstance(items, dict) else resolved
        return FieldMeta(
            schema=_node(value_schema),
            strategy=strategy,
            merge_key=str(prop.get("x-kubernetes-patch-merge-key", "")),
            retain_keys=retain_keys,
        )


def _parse_strategy(text: Any) -> tuple[str, bool]:
    """Split ``merge,retainKeys`` the way upstream's extractRetainKeysPatchStrategy does."""
    parts = [p for p in str(text).split(",") if p]
    retain_keys = "retainKeys" in parts
    others = [p for p in parts if p != "retainKeys"]
    if len(others) > 1:
        raise PatchError(f"unexpected patch strategy: {text}")
    return (others[0] if others else ""), retain_keys


def _resolve(raw: dict[str, Any]) -> dict[str, Any]:
    """Follow ``$ref`` (also through a single-branch ``allOf``/``oneOf``/``anyOf``) to a concrete schema."""
    defs = definitions()
    for _ in range(32):  # definitions never nest refs this deep; the bound guards against cycles
        ref = raw.get("$ref")
        if isinstance(ref, str):
            raw = defs.get(ref.rsplit("/", 1)[-1], {})
            continue
        branch = _single_ref_branch(raw)
        if branch is None:
            return raw
        raw = branch
    return raw


def _single_ref_branch(raw: dict[str, Any]) -> dict[str, Any] | None:
    if "properties" in raw or "items" in raw:
        return None
    for combinator in ("allOf", "oneOf", "anyOf"):
        branches = raw.get(combinator)
        if isinstance(branches, list):
            for branch in branches:
                if isinstance(branch, dict) and ("$ref" in branch or "properties" in branch):
                    return branch
    return None


_NODES: dict[int, SchemaNode] = {}


def _node(raw: dict[str, Any]) -> SchemaNode:
    resolved = _resolve(raw)
    node = _NODES.get(id(resolved))
    if node is None:
        # Keyed by identity: the definitions stay loaded for the process's lifetime.
        node = _NODES[id(resolved)] = SchemaNode(resolved)
    return node


def schema_for_definition(name: str) -> SchemaNode | None:
    """The root node for an OpenAPI definition name, e.g. ``io.k8s.api.apps.v1.Deployment``."""
    raw = definitions().get(name) if name else None
    return _node(raw) if isinstance(raw, dict) else None
