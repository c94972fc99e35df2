"""Request bodies decoded within the bounds upstream's decoders keep, before anything is built.

A YAML body is small on the wire but its aliases may expand it without limit ("billion laughs":
491 bytes became a 20 MB object). Upstream decodes YAML with go-yaml v2 (sigs.k8s.io/yaml),
which counts every value it decodes and every one that comes from expanding an alias, and
refuses the document ("yaml: document contains excessive aliasing") once more than 100 aliased
values make up more than an allowed share of more than 1000 decoded ones: 99% up to 400,000
values, falling to 10% at 4,000,000. The same count is kept here over the composed node graph,
*before* the Python objects are built, so a refused bomb costs a walk of at most a few thousand
nodes. An alias that contains itself is refused too ("anchor ... value contains itself").

Nesting is bounded for every body (`MAX_DEPTH`). Upstream allows 10,000 levels (go-yaml and
encoding/json); this server must serialise every stored object with orjson (≈250 levels) and walk
objects with recursive Python, so it allows 128 — far beyond any real Kubernetes object.

What YAML can express and JSON cannot is made JSON the way sigs.k8s.io/yaml does: non-string
keys become strings (``1`` → ``"1"``, ``true`` → ``"true"``), timestamps stay strings (go-yaml v2
decodes them into ``interface{}`` as strings), ``!!binary`` becomes its decoded text, integers
beyond 64 bits become floats (as Go's untyped decoding and orjson do); NaN and infinities are
refused, as Go's JSON encoder refuses them.
"""

from __future__ import annotations

import base64
import binascii
import math
from collections.abc import Hashable
from typing import Any

import yaml
from yaml.nodes import MappingNode, Node, ScalarNode, SequenceNode

MAX_DEPTH = 128
_ALIAS_FLOOR, _DECODE_FLOOR = 100, 1000  # go-yaml v2 decode.go
_RATIO_RANGE_LOW, _RATIO_RANGE_HIGH = 400_000, 4_000_000
_INT_TAG, _FLOAT_TAG = "tag:yaml.org,2002:int", "tag:yaml.org,2002:float"
# Collections PyYAML builds as Python types JSON has no form for (set, list of pairs).
_NON_JSON_COLLECTIONS = frozenset({"tag:yaml.org,2002:set", "tag:yaml.org,2002:omap",
                                   "tag:yaml.org,2002:pairs"})
_INT64_MAX = 2**63 - 1
_UINT64_MAX = 2**64 - 1


class DecodeLimitError(ValueError):
    """The body breaks a decoding bound; the message is the decoder's (``yaml: ...``)."""


def allowed_alias_ratio(decodes: int) -> float:
    """go-yaml v2's allowedAliasRatio: the share of decoded values aliases may account for."""
    if decodes <= _RATIO_RANGE_LOW:
        return 0.99
    if decodes >= _RATIO_RANGE_HIGH:
        return 0.10
    return 0.99 - 0.89 * (decodes - _RATIO_RANGE_LOW) / (_RATIO_RANGE_HIGH - _RATIO_RANGE_LOW)


class _JsonLoader(yaml.CSafeLoader):
    """The safe loader, building what JSON can hold: string keys (made as sigs.k8s.io/yaml makes
    them, before they can collide: ``1`` and ``true`` stay two keys), text for timestamps and
    ``!!binary``."""

    def construct_mapping(self, node: MappingNode, deep: bool = False) -> dict[Hashable, Any]:
        self.flatten_mapping(node)  # merge keys (<<), as SafeConstructor does
        mapping: dict[Hashable, Any] = {}
        for key_node, value_node in node.value:
            key = self.construct_object(key_node, deep=True)
            mapping[_key(key)] = self.construct_object(value_node, deep=deep)
        return mapping


def _timestamp_as_text(loader: _JsonLoader, node: ScalarNode) -> str:
    return str(loader.construct_scalar(node))


def _binary_as_text(loader: _JsonLoader, node: ScalarNode) -> str:
    try:
        return base64.b64decode(str(node.value).encode("ascii"), validate=False).decode("utf-8")
    except (binascii.Error, UnicodeError, ValueError) as e:
        raise yaml.constructor.ConstructorError(None, None, f"invalid !!binary value: {e}",
                                                node.start_mark) from e


_JsonLoader.add_constructor("tag:yaml.org,2002:timestamp", _timestamp_as_text)
_JsonLoader.add_constructor("tag:yaml.org,2002:binary", _binary_as_text)


class _Budget:
    """Counts decoded and aliased values over the node graph as go-yaml v2 does."""

    def __init__(self) -> None:
        self.decodes = 0
        self.aliases = 0
        self.needs_conversion = False

    def _count(self, in_alias: bool) -> None:
        self.decodes += 1
        if in_alias:
            self.aliases += 1
        if (self.aliases > _ALIAS_FLOOR and self.decodes > _DECODE_FLOOR
                and self.aliases / self.decodes > allowed_alias_ratio(self.decodes)):
            raise DecodeLimitError("yaml: document contains excessive aliasing")

    def walk(self, root: Node) -> None:
        """Visit every value as decoding would, alias expansions included (iteratively)."""
        seen: set[int] = set()
        on_path: set[int] = set()
        stack: list[tuple[Node, int, bool, bool]] = [(root, 1, False, False)]
        while stack:
            node, depth, in_alias, leaving = stack.pop()
            if leaving:
                on_path.discard(id(node))
                continue
            if id(node) in on_path:
                line = node.start_mark.line + 1
                raise DecodeLimitError(f"yaml: anchor value contains itself (line {line})")
            if id(node) in seen:  # a second visit is an alias: the alias, then its expansion
                self._count(in_alias)
                in_alias = True
            seen.add(id(node))
            self._count(in_alias)
            if depth > MAX_DEPTH:
                raise DecodeLimitError(f"yaml: exceeded max depth of {MAX_DEPTH}")
            if isinstance(node, ScalarNode):
                self._note_scalar(node)
                continue
            on_path.add(id(node))
            stack.append((node, depth, in_alias, True))
            children = _children(node)
            if isinstance(node, MappingNode):
                self._note_keys(node)
            elif node.tag in _NON_JSON_COLLECTIONS:
                self.needs_conversion = True
            stack.extend((child, depth + 1, in_alias, False) for child in reversed(children))

    def _note_scalar(self, node: ScalarNode) -> None:
        value = str(node.value)
        if (node.tag == _INT_TAG and len(value) > 18) or (
                node.tag == _FLOAT_TAG and value.lstrip("+-").startswith(".")):
            self.needs_conversion = True  # maybe beyond 64 bits, or .inf/.nan

    def _note_keys(self, node: MappingNode) -> None:
        if node.tag in _NON_JSON_COLLECTIONS:
            self.needs_conversion = True


def _children(node: Node) -> list[Node]:
    if isinstance(node, SequenceNode):
        return list(node.value)
    if isinstance(node, MappingNode):
        return [part for pair in node.value for part in pair]
    return []


def load_yaml(data: bytes) -> Any:
    """One YAML document as JSON-compatible data; raises `DecodeLimitError` or ``yaml.YAMLError``."""
    loader = _JsonLoader(data)
    try:
        node = loader.get_single_node()
        if node is None:
            return None
        budget = _Budget()
        budget.walk(node)
        value = loader.construct_document(node)
    except ValueError as e:  # e.g. an integer with more digits than Python converts
        if isinstance(e, DecodeLimitError):
            raise
        raise DecodeLimitError(f"yaml: {e}") from e
    finally:
        loader.dispose()
    return _as_json(value, 1) if budget.needs_conversion else value


def _key(key: Any) -> str:
    if isinstance(key, str):
        return key
    if isinstance(key, bool):
        return "true" if key else "false"
    if key is None:
        return "null"
    if isinstance(key, int | float):
        return str(_as_json(key, 1))
    raise DecodeLimitError(f"yaml: invalid map key: {type(key).__name__}")


def _as_json(value: Any, depth: int) -> Any:
    """Rebuild ``value`` with JSON's types (depth is already bounded by the walk)."""
    if isinstance(value, dict):
        return {_key(k): _as_json(v, depth + 1) for k, v in value.items()}
    if isinstance(value, set | frozenset):  # go-yaml: a !!set is a map of nulls
        return {_key(k): None for k in value}
    if isinstance(value, list | tuple):
        return [_as_json(v, depth + 1) for v in value]
    if isinstance(value, bool) or value is None or isinstance(value, str):
        return value
    if isinstance(value, int):
        return value if -_INT64_MAX - 1 <= value <= _UINT64_MAX else float(value)
    if isinstance(value, float) and not math.isfinite(value):
        raise DecodeLimitError(f"json: unsupported value: {value}")
    return value


def check_depth(value: Any, data: bytes) -> None:
    """Refuse a decoded JSON body nested deeper than `MAX_DEPTH` (cheap when it cannot be)."""
    if data.count(b"{") + data.count(b"[") <= MAX_DEPTH:
        return
    stack: list[tuple[Any, int]] = [(value, 1)]
    while stack:
        item, depth = stack.pop()
        if depth > MAX_DEPTH:
            raise DecodeLimitError(f"json: exceeded max depth of {MAX_DEPTH}")
        if isinstance(item, dict):
            stack.extend((child, depth + 1) for child in item.values() if isinstance(child, dict | list))
        elif isinstance(item, list):
            stack.extend((child, depth + 1) for child in item if isinstance(child, dict | list))
