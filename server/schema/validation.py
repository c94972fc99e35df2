"""Validation of API objects on create and update: schema, names, and the key semantic rules.

The fast path is a validator compiled from the object's OpenAPI definition with fastjsonschema
(~0.05 ms per Pod, where an interpreting validator takes tens of milliseconds). It only answers
"valid or not", so on failure a precise walk (`server.schema.schema_walk`) collects every cause
with upstream's paths and messages. Each server owns its `Validators`: compiled lazily per
definition from the server's `SchemaSet`, and dropped when that set changes (a resource added or
removed at run time). The generated code is kept on disk by content hash, so a restart or a
second server reuses it without compiling.

How the server should answer (upstream's order: decode, then default, then validate), from
`inspect`'s report and then `rule_errors`:
- ``type_errors`` mean upstream's *decoder* would have refused the body: answer 400 BadRequest
  with ``<Kind> in version "<v>" cannot be handled as a <Kind>: <message>`` (the message is the
  Go decoder's ``json: cannot unmarshal ...``);
- otherwise the schema's ``errors`` and the rules' are a 422 Invalid Status's causes
  (``<field>: <message>``);
- ``unknown`` feeds ``fieldValidation=Strict`` (400, ``unknown field "spec.foo"``) and ``Warn``
  (a ``Warning`` header per field).
"""

from __future__ import annotations

import functools
import hashlib
import marshal
import os
import sys
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import fastjsonschema
import orjson

from apis.catalogue import Resource
from apis.field_errors import FieldError
from apis.schemas import (
    INT_OR_STRING,
    INTEGER_RANGES,
    Schema,
    definitions,
    integer_range,
    reachable_definitions,
)
from server.schema.name_rules import NameCheck, metadata_errors
from server.schema.schema_set import SchemaSet
from server.schema.schema_walk import schema_errors, unknown_field_paths
from server.schema.size_limits import size_errors

__all__ = ["SchemaReport", "Validators", "built_in_check", "rule_errors"]

# Keys the compiled validator has no use for. Formats are left to the decoder upstream (a bad
# date-time or base64 value is a decode error there) except the integer ones, which become
# bounds; apiVersion/kind are checked by the server against the request path before validation.
_DROPPED_KEYS = frozenset({"description", "format"})


def _with_bounds(schema: dict[str, Any], out: dict[str, Any]) -> None:
    """int32/int64 fields get their range, so an out-of-range number fails the fast check and
    the precise walk reports it as the Go decoder would."""
    bounds = integer_range(schema)
    if bounds is not None:
        out.setdefault("minimum", bounds[0])
        out.setdefault("maximum", bounds[1])


def _int_or_string(schema: dict[str, Any]) -> dict[str, Any]:
    low, high = INTEGER_RANGES["int32"]
    options = [{**option, "minimum": low, "maximum": high} if "integer" in str(option.get("type")) else option
               for option in schema.get("oneOf", ())]
    return {**schema, "oneOf": options}


def _for_validation(schema: Any, *, top_level: bool = False) -> Any:
    if isinstance(schema, list):
        return [_for_validation(item) for item in schema]
    if not isinstance(schema, dict):
        return schema
    out = {k: _for_validation(v) for k, v in schema.items() if k not in _DROPPED_KEYS and k != "properties"}
    _with_bounds(schema, out)
    if isinstance(schema.get("properties"), dict):
        properties = {name: _for_validation(sub) for name, sub in schema["properties"].items()}
        if top_level:
            for name in ("apiVersion", "kind"):
                if name in properties:
                    properties[name] = {k: v for k, v in properties[name].items() if k != "enum"}
        out["properties"] = properties
        # Closed objects: a field the schema does not declare fails the fast check, which sends
        # the object down the slow path that names unknown fields (the -strict flavour of
        # kubernetes-validate's schemas does the same).
        if "additionalProperties" not in schema and not schema.get("x-kubernetes-preserve-unknown-fields"):
            out["additionalProperties"] = False
    return out


def _compile(definition: str, defs: Mapping[str, Schema]) -> Callable[[Any], Any]:
    document: Schema = {
        "$defs": {
            name: _for_validation(_int_or_string(defs[name]) if name == INT_OR_STRING else defs[name],
                                  top_level=(name == definition))
            for name in reachable_definitions([definition], defs)
        },
        "$ref": f"#/$defs/{definition}",
    }
    return _load_validator(document)


@functools.cache
def built_in_check(definition: str) -> Callable[[Any], Any] | None:
    """The compiled (closed) check of a built-in definition, for bodies that are no served
    resource's objects (Binding, Eviction, Scale, ...): passing it means the precise walk finds
    nothing either. None for a definition that is not built in. Kept per process, as the built-in
    definitions it is compiled from are (read-only data, the same in every process)."""
    defs = definitions()
    return _compile(definition, defs) if definition in defs else None


def _cache_dir() -> Path:
    root = os.environ.get("ARKTOS_CACHE_DIR") or os.path.join(
        os.environ.get("XDG_CACHE_HOME") or os.path.expanduser("~/.cache"), "arktos")
    return Path(root) / "validators"


def _load_validator(document: Schema) -> Callable[[Any], Any]:
    """Generated validator code, compiled once and kept on disk as a marshalled code object.

    Generating (~1 s) and byte-compiling (~2 s) every built-in kind's validator dominates start-up;
    the marshalled code object loads in milliseconds. The key covers the schema and Python's
    version, so a new schema or interpreter never reads a stale validator.
    """
    digest = hashlib.sha256(orjson.dumps(document, option=orjson.OPT_SORT_KEYS)).hexdigest()
    path = _cache_dir() / f"{digest}-{sys.implementation.cache_tag}.bin"
    code = None
    try:
        code = marshal.loads(path.read_bytes())
    except (OSError, ValueError, EOFError, TypeError):
        source = fastjsonschema.compile_to_code(document)
        code = compile(source, f"<validator {digest[:12]}>", "exec")
        try:
            path.parent.mkdir(parents=True, exist_ok=True)
            partial = path.with_suffix(f".{os.getpid()}.tmp")
            partial.write_bytes(marshal.dumps(code))
            partial.replace(path)
        except OSError:
            pass  # a read-only home only costs speed
    namespace: dict[str, Any] = {}
    exec(code, namespace)
    validator: Callable[[Any], Any] = namespace["validate"]
    return validator


@dataclass(frozen=True, slots=True)
class SchemaReport:
    """What the schema says of a decoded body, before defaults are applied.

    ``type_errors`` are the Go decoder's messages (upstream answers 400 and looks no further);
    ``unknown`` are paths of undeclared fields (fieldValidation decides); ``errors`` are the rest
    of the schema's complaints (422).
    """

    type_errors: tuple[str, ...] = ()
    unknown: tuple[str, ...] = ()
    errors: tuple[FieldError, ...] = ()


_CLEAN = SchemaReport()
Rule = Callable[[dict[str, Any]], list[FieldError]]


class Validators:
    """The compiled validators of one server's schemas, by definition name."""

    def __init__(self, schemas: SchemaSet) -> None:
        self._schemas = schemas
        # resource -> (its definition, that definition's compiled validator)
        self._compiled: dict[Resource, tuple[str | None, Callable[[Any], Any] | None]] = {}
        self._revision = schemas.revision

    def definition_for(self, resource: Resource) -> str | None:
        return self._validator_of(resource)[0]

    def _validator_of(self, resource: Resource) -> tuple[str | None, Callable[[Any], Any] | None]:
        """The definition of ``resource`` and its compiled validator, as the schema set is now."""
        if self._revision != self._schemas.revision:
            self._compiled.clear()
            self._revision = self._schemas.revision
        try:
            return self._compiled[resource]
        except KeyError:
            definition = self._schemas.definition_for(resource)
            validator = None if definition is None else _compile(definition, self._schemas.definitions)
            found = self._compiled[resource] = (definition, validator)
            return found

    def inspect(self, resource: Resource, obj: dict[str, Any]) -> SchemaReport:
        """Check ``obj`` against its schema once: one compiled (closed) validator call when the
        object is fine, precise walks only when it is not. Never mutates obj."""
        definition, validator = self._validator_of(resource)
        if definition is None or validator is None:
            return _CLEAN
        try:
            validator(obj)
        except fastjsonschema.JsonSchemaValueException:
            pass
        else:
            return _CLEAN
        defs = self._schemas.definitions
        problems = schema_errors(definition, obj, defs)
        return SchemaReport(
            type_errors=tuple(e.message for e in problems if e.reason == "FieldValueTypeInvalid"),
            unknown=tuple(unknown_field_paths(definition, obj, defs)),
            errors=tuple(e for e in problems if e.reason != "FieldValueTypeInvalid"),
        )

    def precompile(self, resources: Iterable[Resource]) -> None:
        """Compile the validators of ``resources`` now (from the disk cache: milliseconds each;
        compiling one ~0.1-0.5 s). A server calls this in a worker thread at start-up so that
        no request pays for it on the event loop."""
        for resource in resources:
            self._validator_of(resource)


def rule_errors(obj: dict[str, Any], *, name_check: NameCheck, rules: Iterable[Rule]) -> list[FieldError]:
    """The checks beyond the schema (after defaults): the name by ``name_check``, metadata, the
    size limits and the resource's semantic ``rules``."""
    errors = [*metadata_errors(obj, name_check), *size_errors(obj)]
    for rule in rules:
        errors.extend(rule(obj))
    return errors
