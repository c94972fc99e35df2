"""Which nodes a pod may run on: ``nodeSelector`` and node affinity, compiled into predicates.

The scheduler's NodeAffinity filter and the DaemonSet controller's "should this node run a daemon
pod" ask the same question, and upstream answers it once, in component-helpers'
``scheduling/corev1/nodeaffinity`` (``GetRequiredNodeAffinity(pod).Match(node)``): the node has
every ``nodeSelector`` label, and, when the pod has
``requiredDuringSchedulingIgnoredDuringExecution``, it matches one of its node selector terms.

A ``NodeSelector`` is an OR of terms; a term is an AND of ``matchExpressions`` over node labels
(operators In, NotIn, Exists, DoesNotExist, Gt, Lt) and ``matchFields`` over node fields (only
``metadata.name`` exists upstream). upstream's ``nodeaffinity.NewNodeSelector`` rules: a term
with no requirements matches nothing, and so does a term with an invalid requirement (it is
dropped rather than failing the whole pod). The requirement parsing is `apis.selectors`' own
(the same operators as label selectors, plus gt/lt).
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

from apis.selectors import SelectorError, make_requirement

_OPERATORS = {"In": "in", "NotIn": "notin", "Exists": "exists", "DoesNotExist": "!", "Gt": "gt", "Lt": "lt"}
NAME_FIELD = "metadata.name"

LabelMatcher = Callable[[Mapping[str, str]], bool]


@dataclass(frozen=True, slots=True)
class NodeSelectorTerm:
    labels: tuple[LabelMatcher, ...]
    fields: tuple[LabelMatcher, ...]  # over {"metadata.name": node name}

    def matches(self, labels: Mapping[str, str], fields: Mapping[str, str]) -> bool:
        return all(m(labels) for m in self.labels) and all(m(fields) for m in self.fields)


@dataclass(frozen=True, slots=True)
class NodeSelectorTerms:
    """An OR of terms; with no terms it matches no node."""

    terms: tuple[NodeSelectorTerm, ...]

    def matches(self, labels: Mapping[str, str], name: str) -> bool:
        fields = {NAME_FIELD: name}
        return any(term.matches(labels, fields) for term in self.terms)


@dataclass(frozen=True, slots=True)
class PreferredNodeTerm:
    weight: int
    term: NodeSelectorTerm


def _requirement(raw: Mapping[str, Any]) -> LabelMatcher | None:
    operator = _OPERATORS.get(str(raw.get("operator") or ""))
    if operator is None:
        return None
    values = [str(v) for v in raw.get("values") or []]
    try:
        return make_requirement(str(raw.get("key") or ""), operator, values).matches
    except SelectorError:
        return None


def _field_requirement(raw: Mapping[str, Any]) -> LabelMatcher | None:
    if raw.get("key") != NAME_FIELD or raw.get("operator") not in ("In", "NotIn"):
        return None
    values = frozenset(str(v) for v in raw.get("values") or [])
    if len(values) != 1:  # upstream allows exactly one value for metadata.name
        return None
    if raw.get("operator") == "In":
        return lambda fields: fields.get(NAME_FIELD) in values
    return lambda fields: fields.get(NAME_FIELD) not in values


def compile_term(raw: Mapping[str, Any]) -> NodeSelectorTerm | None:
    """The term, or None when it can match nothing (empty or invalid)."""
    expressions = raw.get("matchExpressions") or []
    fields = raw.get("matchFields") or []
    if not expressions and not fields:
        return None
    label_matchers = [_requirement(e) for e in expressions if isinstance(e, dict)]
    field_matchers = [_field_requirement(f) for f in fields if isinstance(f, dict)]
    if any(m is None for m in label_matchers) or any(m is None for m in field_matchers):
        return None
    return NodeSelectorTerm(tuple(m for m in label_matchers if m is not None),
                            tuple(m for m in field_matchers if m is not None))


@dataclass(frozen=True, slots=True)
class RequiredNodeAffinity:
    """upstream ``nodeaffinity.RequiredNodeAffinity``: the pod's ``nodeSelector`` labels AND its
    required node selector terms (None when it has none)."""

    node_selector: tuple[tuple[str, str], ...]
    terms: NodeSelectorTerms | None

    @property
    def empty(self) -> bool:
        """Every node matches."""
        return not self.node_selector and self.terms is None

    def matches(self, labels: Mapping[str, str], name: str) -> bool:
        for key, value in self.node_selector:
            if labels.get(key) != value:
                return False
        return self.terms is None or self.terms.matches(labels, name)


def required_node_affinity(spec: Mapping[str, Any]) -> RequiredNodeAffinity:
    """The required part of a pod spec's node placement (``nodeSelector``, required affinity)."""
    node_selector = tuple((str(k), str(v)) for k, v in (spec.get("nodeSelector") or {}).items())
    node_affinity = (spec.get("affinity") or {}).get("nodeAffinity") or {}
    terms: NodeSelectorTerms | None = None
    raw_required = node_affinity.get("requiredDuringSchedulingIgnoredDuringExecution")
    if isinstance(raw_required, dict):
        raw_terms = raw_required.get("nodeSelectorTerms") or []
        compiled = (compile_term(t) for t in raw_terms if isinstance(t, dict))
        terms = NodeSelectorTerms(tuple(t for t in compiled if t is not None))
    return RequiredNodeAffinity(node_selector, terms)


def preferred_node_terms(spec: Mapping[str, Any]) -> tuple[PreferredNodeTerm, ...]:
    """A pod spec's ``preferredDuringSchedulingIgnoredDuringExecution`` terms with a weight."""
    node_affinity = (spec.get("affinity") or {}).get("nodeAffinity") or {}
    preferred = []
    for item in node_affinity.get("preferredDuringSchedulingIgnoredDuringExecution") or []:
        if not isinstance(item, dict) or not int(item.get("weight") or 0):
            continue
        term = compile_term(item.get("preference") or {})
        if term is not None:
            preferred.append(PreferredNodeTerm(int(item["weight"]), term))
    return tuple(preferred)
