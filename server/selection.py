"""Which objects a LIST or a WATCH selects: one predicate for both.

Upstream's ``storage.SelectionPredicate`` (k8s.io/apiserver ``pkg/storage/selection_predicate.go``):
a label selector over ``metadata.labels`` and a field selector over the resource's selectable
fields, both required to match. The lister filters its pages with it and the watch cache filters
every event with it (an object that stops matching leaves a watcher as DELETED), so a list and the
watch that continues from it must agree on which objects they see — hence one predicate, not one
per path. An empty predicate selects everything; callers skip filtering then.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from apis.selectors import FieldSelector, LabelSelector


@dataclass(frozen=True, slots=True)
class SelectionPredicate:
    """Label AND field selector; ``None`` stands for "no selector" (an empty one is normalised
    to None by `of`, so `matches` does not ask it)."""

    label: LabelSelector | None = None
    field: FieldSelector | None = None

    @classmethod
    def of(cls, label: LabelSelector | None, field: FieldSelector | None) -> SelectionPredicate:
        return cls(None if label is None or label.empty else label,
                   None if field is None or field.empty else field)

    @property
    def empty(self) -> bool:
        """Selects every object (upstream ``SelectionPredicate.Empty``)."""
        return self.label is None and self.field is None

    def matches(self, obj: dict[str, Any]) -> bool:
        label = self.label
        if label is not None and not label.matches((obj.get("metadata") or {}).get("labels")):
            return False
        field = self.field
        return field is None or field.matches(obj)
