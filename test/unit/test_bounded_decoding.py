"""server.handlers.bounded_decoding: YAML and JSON bodies decoded within upstream's bounds.

Covers: go-yaml v2's alias budget (the allowed share at its range ends; a bomb refused after
a few thousand nodes, quickly; legitimate anchors and merge keys kept), a self-containing
anchor, nesting beyond 128 levels in YAML (block and flow, also through an alias) and JSON,
and the conversions to JSON's types (non-string keys, timestamps, !!binary, !!set, 64-bit
overflow to float, NaN/inf refused, over-long integers). Leaves out: how the server words the
400 (test/component/test_api_limits.py).
"""

from __future__ import annotations

import time
from typing import Any

import orjson
import pytest
import yaml

from server.handlers.bounded_decoding import (
    MAX_DEPTH,
    DecodeLimitError,
    allowed_alias_ratio,
    check_depth,
    load_yaml,
)


def laughs(levels: int, width: int) -> bytes:
    lines = ['a0: &a0 "lol"']
    for level in range(1, levels):
        lines.append(f"a{level}: &a{level} [{', '.join([f'*a{level - 1}'] * width)}]")
    return "\n".join(lines).encode()


def test_alias_ratio_matches_go_yaml() -> None:
    assert allowed_alias_ratio(1000) == 0.99
    assert allowed_alias_ratio(400_000) == 0.99
    assert allowed_alias_ratio(4_000_000) == 0.10
    assert allowed_alias_ratio(2_200_000) == pytest.approx(0.545)


def test_billion_laughs_is_refused_before_it_expands() -> None:
    started = time.perf_counter()
    with pytest.raises(DecodeLimitError, match=r"^yaml: document contains excessive aliasing$"):
        load_yaml(laughs(9, 9))
    # Not a speed target (bench/hot_paths_bench.py has the figure, ~1 ms): expanding 9**9 values
    # takes minutes, so even a loaded machine refusing early stays far below this bound.
    assert time.perf_counter() - started < 10


def test_small_alias_use_is_kept() -> None:
    # 3 levels of 9: 729 strings, under go-yaml's floors (100 aliases over 1000 values).
    value = load_yaml(laughs(3, 9))
    assert len(value["a2"]) == 9 and value["a2"][0] == ["lol"] * 9
    merged = load_yaml(b"base: &b {x: 1}\nderived:\n  <<: *b\n  y: 2\n")
    assert merged["derived"] == {"x": 1, "y": 2}


def test_an_anchor_that_contains_itself_is_refused() -> None:
    with pytest.raises(DecodeLimitError, match="contains itself"):
        load_yaml(b"a: &x [1, *x]")


@pytest.mark.parametrize("doc", [
    b"- " * (MAX_DEPTH + 1) + b"x",
    b"[" * (MAX_DEPTH + 1) + b"]" * (MAX_DEPTH + 1),
    b"a: &deep " + b"[" * 100 + b"]" * 100 + b"\nb: " + b"[" * 40 + b"*deep" + b"]" * 40,
])
def test_nesting_beyond_the_limit_is_refused(doc: bytes) -> None:
    with pytest.raises(DecodeLimitError, match=f"exceeded max depth of {MAX_DEPTH}"):
        load_yaml(doc)


def test_nesting_at_the_limit_is_kept() -> None:
    value = load_yaml(b"[" * (MAX_DEPTH - 1) + b"1" + b"]" * (MAX_DEPTH - 1))
    orjson.dumps(value)  # storable


@pytest.mark.parametrize(("doc", "expected"), [
    (b"1: a\n2.5: b\n~: c\nyes: d", {"1": "a", "2.5": "b", "null": "c", "true": "d"}),
    (b"when: 2024-01-02T03:04:05Z", {"when": "2024-01-02T03:04:05Z"}),
    (b"b: !!binary aGVsbG8=", {"b": "hello"}),
    (b"s: !!set {x, y}", {"s": {"x": None, "y": None}}),
    (b"n: 123456789012345678901234567890", {"n": 1.2345678901234568e29}),
    (b"n: 18446744073709551615", {"n": 18446744073709551615}),
])
def test_yaml_becomes_json(doc: bytes, expected: Any) -> None:
    value = load_yaml(doc)
    assert value == expected
    orjson.dumps(value)


@pytest.mark.parametrize("doc", [b"n: .nan", b"n: -.inf", b"n: " + b"9" * 5000])
def test_values_json_cannot_hold_are_refused(doc: bytes) -> None:
    with pytest.raises(DecodeLimitError):
        load_yaml(doc)


def test_yaml_syntax_errors_stay_yaml_errors() -> None:
    with pytest.raises(yaml.YAMLError):
        load_yaml(b"a: [unclosed")


def test_json_depth() -> None:
    deep = orjson.loads(b"[" * 200 + b"]" * 200)
    with pytest.raises(DecodeLimitError, match=r"^json: exceeded max depth of 128$"):
        check_depth(deep, b"[" * 200)
    wide = [[1]] * 500  # many brackets, little depth
    check_depth(wide, orjson.dumps(wide))
