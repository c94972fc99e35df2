"""server.registry.rest.typed_bodies: the typed decoding check of subresource bodies, fast and slow.

Covers: for Binding, Eviction, Scale, CustomAction and TokenRequest bodies, the compiled check's
answer agrees with the precise walk's (a body that passes it has no decode error; a body the walk
refuses fails it), and `decoded_as` answers each body exactly as the walk alone does — the body
itself when it decodes, the Go decoder's message in a 400 when it does not, unknown fields
accepted. Leaves out the HTTP answer (test/component/test_api_subresources.py) and the served
resources' own validation (test_validation.py).
"""

from __future__ import annotations

from typing import Any

import fastjsonschema
import pytest

from server.errors import BadRequest
from server.registry.rest.typed_bodies import (
    BINDING,
    CUSTOM_ACTION,
    EVICTION,
    SCALE,
    TOKEN_REQUEST,
    decoded_as,
)
from server.schema.schema_walk import decode_errors
from server.schema.validation import built_in_check

CASES: list[tuple[tuple[str, str, str], Any]] = [
    (BINDING, {"apiVersion": "v1", "kind": "Binding", "metadata": {"name": "p"},
               "target": {"apiVersion": "v1", "kind": "Node", "name": "n1"}}),
    (BINDING, {"target": {"name": "n1"}}),
    (BINDING, {"target": {"name": "n1", "surplus": True}}),  # unknown: no decode error
    (BINDING, {"target": 5}),
    (BINDING, {"target": {"name": 5}}),
    (BINDING, {"metadata": {"labels": {"a": 1}}, "target": {"name": "n"}}),
    (BINDING, {"metadata": {"generation": 2**70}, "target": {"name": "n"}}),
    (BINDING, {"metadata": {"name": None}, "target": {"name": "n"}}),
    (BINDING, [1, 2]),
    (EVICTION, {"metadata": {"name": "p"}, "deleteOptions": {"gracePeriodSeconds": 3}}),
    (EVICTION, {"deleteOptions": {"gracePeriodSeconds": "3"}}),
    (SCALE, {"metadata": {"name": "d"}, "spec": {"replicas": 3}}),
    (SCALE, {"spec": {"replicas": 3.5}}),
    (SCALE, {"spec": {"replicas": "3"}}),
    (CUSTOM_ACTION, {"metadata": {"name": "a"}}),
    (TOKEN_REQUEST, {"spec": {"audiences": ["x"], "expirationSeconds": 600}}),
    (TOKEN_REQUEST, {"spec": {"audiences": "x"}}),
]


def walked(typed: tuple[str, str, str], body: Any) -> Any:
    """What `decoded_as` answered before it had a fast path: the walk's verdict alone."""
    kind, version, definition = typed
    errors = decode_errors(definition, body)
    if not errors and not isinstance(body, dict):
        errors = ["the body must be a JSON object"]
    if errors:
        return f'{kind} in version "{version}" cannot be handled as a {kind}: {errors[0]}'
    return body


@pytest.mark.parametrize(("typed", "body"), CASES)
def test_decoded_as_answers_what_the_walk_answers(typed: tuple[str, str, str], body: Any) -> None:
    expected = walked(typed, body)
    try:
        got: Any = decoded_as(body, *typed)
    except BadRequest as e:
        got = e.message
    assert got == expected


@pytest.mark.parametrize(("typed", "body"), CASES)
def test_the_compiled_check_passes_only_what_decodes(typed: tuple[str, str, str], body: Any) -> None:
    check = built_in_check(typed[2])
    assert check is not None
    try:
        check(body)
    except fastjsonschema.JsonSchemaValueException:
        return  # refused: the body goes to the walk
    assert isinstance(body, dict) and decode_errors(typed[2], body) == []


def test_a_definition_that_is_not_built_in_has_no_compiled_check() -> None:
    assert built_in_check("io.example.v1.NotBuiltIn") is None
    assert decoded_as({"x": 1}, "Thing", "v1", "io.example.v1.NotBuiltIn") == {"x": 1}
