"""A precise, slow walk of an object against its OpenAPI definition.

The compiled validator (`server.schema.validation`) only says *that* an object is invalid and stops at
the first problem; the API server must list every cause with upstream-style paths
(``spec.containers[0].image``), and must word type mismatches the way upstream's Go JSON decoder
does (``json: cannot unmarshal string into Go struct field PodSpec.spec.containers of type
[]v1.Container``). This walk runs only on the failure path, plus the cheap unknown-field walk
that ``fieldValidation=Strict`` needs (upstream strict decoding: ``unknown field "spec.foo"``).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from apis.field_errors import FieldError, child, index, key, required, type_invalid
from apis.schemas import (
    INT_OR_STRING,
    INTEGER_RANGES,
    Schema,
    definitions,
    integer_range,
    ref_target,
    resolve,
)

Definitions = Mapping[str, Schema]

_JSON_TYPES: dict[str, tuple[type, ...]] = {
    "string": (str,),
    "integer": (int,),
    "number": (int, float),
    "boolean": (bool,),
    "object": (dict,),
    "array": (list,),
}


@dataclass(frozen=True, slots=True)
class _Where:
    """Where the walk is: the API path, the Go decoder's field path and its enclosing struct."""

    path: str  # spec.containers[0].image
    go_field: str  # spec.containers.image (the Go decoder prints no indices)
    go_struct: str  # Container

    def prop(self, name: str, struct: str) -> _Where:
        return _Where(child(self.path, name), child(self.go_field, name), struct)

    def item(self, position: int) -> _Where:
        return _Where(index(self.path, position), self.go_field, self.go_struct)

    def entry(self, name: str) -> _Where:
        return _Where(key(self.path, name), self.go_field, self.go_struct)


def _short_name(definition: str) -> str:
    return definition.rsplit(".", 1)[-1]


def _go_type(schema: Schema) -> str:
    """The Go type upstream's decoder names in its error (``[]v1.Container``, ``int32``)."""
    target = ref_target(schema)
    if target is not None:
        package, short = target.rsplit(".", 2)[-2:]
        return f"{package}.{short}"
    types = [t for t in _types(schema) if t != "null"]
    kind = types[0] if types else "object"
    if kind == "integer":
        return {"int32": "int32", "int64": "int64"}.get(schema.get("format", ""), "int")
    if kind == "array":
        items = schema.get("items")
        return "[]" + (_go_type(items) if isinstance(items, dict) else "interface {}")
    if kind == "object":
        values = schema.get("additionalProperties")
        return "map[string]" + (_go_type(values) if isinstance(values, dict) else "interface {}")
    return {"string": "string", "number": "float64", "boolean": "bool"}.get(kind, kind)


def _json_kind(value: Any) -> str:
    if isinstance(value, bool):
        return "bool"
    if isinstance(value, int | float):
        return "number"
    if isinstance(value, str):
        return "string"
    return "array" if isinstance(value, list) else "object"


def _types(schema: Schema) -> list[str]:
    declared = schema.get("type")
    if declared is None:
        return []
    return [declared] if isinstance(declared, str) else list(declared)


def _matches_type(schema: Schema, value: Any, defs: Definitions) -> bool:
    """Whether ``value`` has one of the schema's JSON types (``oneOf`` for IntOrString/Quantity)."""
    if "oneOf" in schema:
        return any(_matches_type(resolve(option, defs), value, defs) for option in schema["oneOf"])
    types = _types(schema)
    if not types:
        return True
    for name in types:
        accepted = _JSON_TYPES.get(name)
        if accepted is None:
            continue
        if isinstance(value, bool) and name != "boolean":
            continue  # JSON booleans are not numbers, although Python's bool is an int
        if isinstance(value, accepted):
            return True
    return False


def _number_text(value: int | float) -> str:
    """The number as the Go decoder echoes it (``number 1.5``; a huge integer, which JSON decoding
    turned into a float, in full)."""
    if isinstance(value, float) and value.is_integer():
        return f"number {int(value)}"
    return f"number {value}"


def _decode_error(schema: Schema, value: Any, where: _Where, defs: Definitions) -> FieldError:
    shown = _json_kind(value)
    resolved = resolve(schema, defs)
    if shown == "number" and "integer" in _types(resolved) and (
            isinstance(value, float) or integer_range(resolved) is not None):
        shown = _number_text(value)
    message = (
        f"json: cannot unmarshal {shown} into Go struct field {where.go_struct}.{where.go_field} "
        f"of type {_go_type(schema)}"
    )
    return type_invalid(where.path, message)


def _out_of_range(schema: Schema, value: Any) -> bool:
    if isinstance(value, bool) or not isinstance(value, int):
        return False
    bounds = integer_range(schema)
    return bounds is not None and not bounds[0] <= value <= bounds[1]


def _int_or_string_error(value: Any, where: _Where) -> FieldError | None:
    """IntOrString decodes its number into an int32 on its own (no struct field in the text)."""
    low, high = INTEGER_RANGES["int32"]
    if isinstance(value, bool) or not isinstance(value, int | float) or (
            isinstance(value, int) and low <= value <= high):
        return None
    message = f"json: cannot unmarshal {_number_text(value)} into Go value of type int32"
    return type_invalid(where.path, message)


def _walk(schema: Schema, value: Any, where: _Where, out: list[FieldError], defs: Definitions) -> None:
    if value is None:
        return  # the Go decoder leaves null fields at their zero value; `required` catches the rest
    resolved = resolve(schema, defs)
    if not _matches_type(resolved, value, defs) or _out_of_range(resolved, value):
        out.append(_decode_error(schema, value, where, defs))
        return
    target = ref_target(schema)
    if target == INT_OR_STRING:
        error = _int_or_string_error(value, where)
        if error is not None:
            out.append(error)
        return
    struct = _short_name(target) if target is not None else where.go_struct
    if isinstance(value, dict):
        properties = resolved.get("properties")
        if properties is not None:
            for name in resolved.get("required", ()):
                if value.get(name) is None:
                    out.append(required(child(where.path, name)))
            for name, field_value in value.items():
                sub = properties.get(name)
                if sub is not None:
                    _walk(sub, field_value, where.prop(name, struct), out, defs)
        values = resolved.get("additionalProperties")
        if isinstance(values, dict):
            for name, field_value in value.items():
                _walk(values, field_value, where.entry(name), out, defs)
    elif isinstance(value, list):
        items = resolved.get("items")
        if isinstance(items, dict):
            for position, element in enumerate(value):
                _walk(items, element, where.item(position), out, defs)


def schema_errors(definition: str, obj: Any, defs: Definitions | None = None) -> list[FieldError]:
    """Every type mismatch and missing required field of ``obj`` against ``definition`` (one of
    ``defs``, by default the shared definitions)."""
    defs = definitions() if defs is None else defs
    out: list[FieldError] = []
    root = {"$ref": f"#/$defs/{definition}"}
    if definition in defs:
        _walk(root, obj, _Where("", "", _short_name(definition)), out, defs)
    return out


def _unknown(schema: Schema, value: Any, path: str, out: list[str], defs: Definitions) -> None:
    resolved = resolve(schema, defs)
    if resolved.get("x-kubernetes-preserve-unknown-fields"):
        return
    if isinstance(value, dict):
        properties = resolved.get("properties")
        values = resolved.get("additionalProperties")
        if properties is not None:
            for name, field_value in value.items():
                sub = properties.get(name)
                if sub is None:
                    out.append(child(path, name))
                else:
                    _unknown(sub, field_value, child(path, name), out, defs)
        elif isinstance(values, dict):
            for name, field_value in value.items():
                _unknown(values, field_value, key(path, name), out, defs)
    elif isinstance(value, list):
        items = resolved.get("items")
        if isinstance(items, dict):
            for position, element in enumerate(value):
                _unknown(items, element, index(path, position), out, defs)


def unknown_field_paths(definition: str, obj: Any, defs: Definitions | None = None) -> list[str]:
    """Paths of fields in ``obj`` that ``definition`` does not declare (``spec.containers[0].bar``)."""
    defs = definitions() if defs is None else defs
    out: list[str] = []
    if definition in defs:
        _unknown({"$ref": f"#/$defs/{definition}"}, obj, "", out, defs)
    return out


def decode_errors(definition: str, obj: Any) -> list[str]:
    """The Go decoder's messages for ``obj`` decoded into ``definition``'s type (empty when it
    decodes): what upstream answers 400 with before it looks at the object any further."""
    if definition not in definitions():
        return []
    root = {"$ref": f"#/$defs/{definition}"}
    if not isinstance(obj, dict):
        return [f"json: cannot unmarshal {_json_kind(obj)} into Go value of type {_go_type(root)}"]
    return [e.message for e in schema_errors(definition, obj) if e.reason == "FieldValueTypeInvalid"]
