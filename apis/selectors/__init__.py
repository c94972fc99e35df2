"""Label and field selectors, as the API server applies them to LIST and WATCH requests."""

from __future__ import annotations

from apis.selectors.fields import FieldSelector, FieldTerm, parse_field_selector
from apis.selectors.labels import (
    LabelSelector,
    Requirement,
    SelectorError,
    label_selector_from_meta,
    label_selector_from_set,
    make_requirement,
    parse_label_selector,
)

__all__ = [
    "FieldSelector",
    "FieldTerm",
    "LabelSelector",
    "Requirement",
    "SelectorError",
    "label_selector_from_meta",
    "label_selector_from_set",
    "make_requirement",
    "parse_field_selector",
    "parse_label_selector",
]
