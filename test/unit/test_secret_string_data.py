"""server.resources.strategies.merge_string_data: upstream's v1 Secret conversion of ``stringData``.

Covers a table: stringData values (UTF-8, base64-encoded) override data keys and add new ones,
data keys it does not name stay, an empty or null stringData just disappears, a Secret without
data gets one, and values of the wrong JSON type are left for validation; plus the Secret strategy
applying it on create and on update. Leaves out the HTTP path (test/e2e/test_secret_string_data.py).
"""

from __future__ import annotations

import base64
from typing import Any

import pytest

from server.resources.builtin import builtin_catalogue
from server.resources.strategies import merge_string_data


def b64(text: str) -> str:
    return base64.b64encode(text.encode()).decode()


@pytest.mark.parametrize(("secret", "expected"), [
    ({"data": {"a": b64("old"), "b": b64("kept")}, "stringData": {"a": "new", "c": "ünï"}},
     {"data": {"a": b64("new"), "b": b64("kept"), "c": b64("ünï")}}),
    ({"stringData": {"a": "x"}}, {"data": {"a": b64("x")}}),
    ({"data": None, "stringData": {"a": "x"}}, {"data": {"a": b64("x")}}),
    ({"data": {"a": b64("x")}, "stringData": {}}, {"data": {"a": b64("x")}}),
    ({"data": {"a": b64("x")}, "stringData": None}, {"data": {"a": b64("x")}}),
    ({"type": "Opaque"}, {"type": "Opaque"}),
    ({"stringData": {"a": 1}}, {"data": {}, "stringData": {"a": 1}}),
    ({"stringData": "text"}, {"data": {}, "stringData": "text"}),
])
def test_merge_string_data(secret: dict[str, Any], expected: dict[str, Any]) -> None:
    merge_string_data(secret)
    assert secret == expected


def test_the_secret_strategy_merges_on_create_and_update() -> None:
    secrets = builtin_catalogue().lookup("", "v1", "secrets")
    assert secrets is not None
    strategy = secrets.strategy(secrets)
    created = {"metadata": {"name": "s"}, "stringData": {"k": "v"}}
    strategy.prepare_for_create(created)
    assert created == {"metadata": {"name": "s"}, "data": {"k": b64("v")}}
    updated = {"metadata": {"name": "s"}, "data": {"k": b64("v")}, "stringData": {"k": "w"}}
    strategy.prepare_for_update(updated, created)
    assert updated == {"metadata": {"name": "s"}, "data": {"k": b64("w")}}
