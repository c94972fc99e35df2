"""The OpenAPI definitions every other module validates, defaults, patches and serves against.

They are the upstream Kubernetes definitions shipped by the ``kubernetes-validate`` package
(never hand-copied), for the Kubernetes version we serve, plus Arktos's additions
(`apis.arktos_schemas`). The file is JSON-Schema flavoured: nullable types as
``["string", "null"]``, IntOrString/Quantity as ``oneOf``, refs as ``#/$defs/<name>``; the
conversions for what kubectl expects live in `server.schema.openapi`.

The returned dictionaries are shared and cached: callers must treat them as read-only.
"""

from __future__ import annotations

import functools
import importlib.resources
from collections.abc import Iterable, Iterator, Mapping
from typing import Any

import orjson

from apis.arktos_schemas import add_arktos_definitions

Schema = dict[str, Any]

SERVED_KUBERNETES_VERSION = "1.32"
REF_PREFIX = "#/$defs/"
GVK_EXTENSION = "x-kubernetes-group-version-kind"
INT_OR_STRING = "io.k8s.apimachinery.pkg.util.intstr.IntOrString"
QUANTITY = "io.k8s.apimachinery.pkg.api.resource.Quantity"
# What Go's decoder can hold for each integer ``format``: a number outside it is refused as
# upstream's typed decoding refuses it (IntOrString's integer is an int32 too).
INTEGER_RANGES: dict[str, tuple[int, int]] = {"int32": (-(2**31), 2**31 - 1),
                                               "int64": (-(2**63), 2**63 - 1)}


@functools.cache
def definitions() -> dict[str, Schema]:
    """Every definition by name (``io.k8s.api.core.v1.Pod``): upstream ``$defs`` plus Arktos's."""
    folder = f"v{SERVED_KUBERNETES_VERSION}.0-local"
    source = importlib.resources.files("kubernetes_validate").joinpath(
        "kubernetes-json-schema", folder, "_definitions.json"
    )
    defs: dict[str, Schema] = orjson.loads(source.read_bytes())["$defs"]
    add_arktos_definitions(defs)
    return defs


@functools.cache
def _definitions_by_gvk() -> dict[tuple[str, str, str], str]:
    index: dict[tuple[str, str, str], str] = {}
    for name, schema in definitions().items():
        for gvk in schema.get(GVK_EXTENSION, ()):
            # A few meta kinds (DeleteOptions, WatchEvent) list every group; the first wins.
            index.setdefault((gvk["group"], gvk["version"], gvk["kind"]), name)
    return index


def definition_name(group: str, version: str, kind: str) -> str | None:
    """The definition whose ``x-kubernetes-group-version-kind`` names this kind, if any."""
    return _definitions_by_gvk().get((group, version, kind))


def integer_range(schema: Schema) -> tuple[int, int] | None:
    """The range of an integer schema's ``format`` (int32/int64), None for other schemas."""
    declared = schema.get("type")
    types = [declared] if isinstance(declared, str) else declared or []
    return INTEGER_RANGES.get(schema.get("format", "")) if "integer" in types else None


def ref_target(schema: Schema) -> str | None:
    """The definition name a ``{"$ref": "#/$defs/<name>"}`` schema points to, else None."""
    ref = schema.get("$ref")
    if isinstance(ref, str) and ref.startswith(REF_PREFIX):
        return ref[len(REF_PREFIX):]
    return None


def resolve(schema: Schema, defs: Mapping[str, Schema] | None = None) -> Schema:
    """Follow ``$ref`` chains to the schema that carries the actual type (in ``defs``, by default
    the shared definitions)."""
    defs = definitions() if defs is None else defs
    while (target := ref_target(schema)) is not None:
        schema = defs[target]
    return schema


def _referenced_names(schema: Any) -> Iterator[str]:
    if isinstance(schema, dict):
        target = ref_target(schema)
        if target is not None:
            yield target
        for value in schema.values():
            yield from _referenced_names(value)
    elif isinstance(schema, list):
        for value in schema:
            yield from _referenced_names(value)


def reachable_definitions(roots: Iterable[str], defs: Mapping[str, Schema] | None = None) -> list[str]:
    """Names of ``roots`` and of every definition they reference, transitively (sorted)."""
    defs = definitions() if defs is None else defs
    seen: set[str] = set()
    pending = [name for name in roots if name in defs]
    while pending:
        name = pending.pop()
        if name in seen:
            continue
        seen.add(name)
        pending.extend(n for n in _referenced_names(defs[name]) if n not in seen)
    return sorted(seen)
