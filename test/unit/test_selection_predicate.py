"""The one selection predicate of LIST and WATCH (server/selection.py, ListOptions.predicate).

Covers: empty selectors normalised away (an empty predicate selects everything and callers skip
filtering), label AND field matching, objects without metadata or labels, and that ListOptions
hands out that predicate. Leaves out: lists and watches over HTTP (test/component/test_api_list.py
and test_api_watch.py).
"""

from __future__ import annotations

from typing import Any

from apis.selectors import parse_field_selector, parse_label_selector
from apis.selectors.fields import POD_FIELDS
from server.registry.lister import ListOptions
from server.selection import SelectionPredicate

PODS = POD_FIELDS


def pod(name: str, labels: dict[str, str] | None = None, node: str = "") -> dict[str, Any]:
    metadata: dict[str, Any] = {"name": name, "namespace": "ns", "tenant": "system"}
    if labels is not None:
        metadata["labels"] = labels
    return {"metadata": metadata, "spec": {"nodeName": node}}


def test_empty_selectors_select_everything() -> None:
    empty = SelectionPredicate.of(parse_label_selector(""), parse_field_selector("", PODS))
    assert empty.empty and empty.label is None and empty.field is None
    assert SelectionPredicate.of(None, None).empty
    assert empty.matches({})


def test_label_and_field_must_both_match() -> None:
    predicate = SelectionPredicate.of(parse_label_selector("app=web"),
                                      parse_field_selector("spec.nodeName=n1", PODS))
    assert not predicate.empty
    assert predicate.matches(pod("a", {"app": "web"}, "n1"))
    assert not predicate.matches(pod("b", {"app": "web"}, "n2"))
    assert not predicate.matches(pod("c", {"app": "db"}, "n1"))
    assert not predicate.matches(pod("d", None, "n1"))  # no labels at all


def test_negative_label_selector_matches_objects_without_labels() -> None:
    predicate = SelectionPredicate.of(parse_label_selector("app!=web"), None)
    assert predicate.matches(pod("a"))
    assert predicate.matches({"spec": {}})  # no metadata
    assert not predicate.matches(pod("b", {"app": "web"}))


def test_list_options_hand_out_the_predicate() -> None:
    options = ListOptions(label_selector=parse_label_selector("tier in (a,b)"))
    assert options.predicate == SelectionPredicate.of(options.label_selector, None)
    assert options.predicate.matches(pod("x", {"tier": "b"}))
    assert ListOptions().predicate.empty
