"""Taints and tolerations: the one copy of "does this pod tolerate that taint".

The scheduler's filters, the DaemonSet controller and the node lifecycle controller's eviction all
ask the same question, and upstream answers it in one place: ``k8s.io/api`` core/v1
``Toleration.ToleratesTaint`` and ``MatchToleration``, and component-helpers'
``TolerationsTolerateTaint`` / ``FindMatchingUntoleratedTaint``. The rules:

- an empty toleration effect matches every effect, otherwise the effects must be equal;
- an empty toleration key matches every key (the API only lets it pair with ``Exists``);
- operator ``Exists`` matches any value; ``Equal`` — and the empty operator, which means Equal —
  compares values; any other operator tolerates nothing (``Lt``/``Gt`` exist upstream only behind
  the alpha TaintTolerationComparisonOperators gate, which is off by default).

The scheduler matches a pod against thousands of nodes, so it parses a pod's tolerations and a
node's taints once into the frozen dataclasses below; the controllers, which look at one pod or
node at a time, use the JSON helpers (`tolerates`, `untolerated_taint`), which parse on the fly.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from apis.wire_types import TaintJSON, TolerationJSON

NO_SCHEDULE = "NoSchedule"
PREFER_NO_SCHEDULE = "PreferNoSchedule"
NO_EXECUTE = "NoExecute"
OPERATOR_EXISTS = "Exists"
OPERATOR_EQUAL = "Equal"


@dataclass(frozen=True, slots=True)
class Taint:
    key: str
    value: str
    effect: str


@dataclass(frozen=True, slots=True)
class Toleration:
    key: str
    operator: str  # "" means Equal, as upstream (the API does not default it)
    value: str
    effect: str  # "" tolerates every effect

    def tolerates(self, taint: Taint) -> bool:
        """upstream ``Toleration.ToleratesTaint``."""
        if self.effect and self.effect != taint.effect:
            return False
        if self.key and self.key != taint.key:
            return False
        operator = self.operator
        if operator == OPERATOR_EXISTS:
            return True
        if operator in ("", OPERATOR_EQUAL):
            return self.value == taint.value
        return False

    def matches(self, other: Toleration) -> bool:
        """upstream ``Toleration.MatchToleration``: the same <key, effect, operator, value>."""
        return (self.key, self.effect, self.operator, self.value) == (
            other.key, other.effect, other.operator, other.value)


def taint_of(raw: Mapping[str, Any]) -> Taint:
    return Taint(str(raw.get("key") or ""), str(raw.get("value") or ""), str(raw.get("effect") or ""))


def toleration_of(raw: Mapping[str, Any]) -> Toleration:
    return Toleration(str(raw.get("key") or ""), str(raw.get("operator") or ""),
                      str(raw.get("value") or ""), str(raw.get("effect") or ""))


def taints_of(raw: Iterable[object] | None) -> tuple[Taint, ...]:
    """A node's ``spec.taints``, parsed; entries that are not objects are skipped."""
    return tuple(taint_of(t) for t in raw or () if isinstance(t, Mapping))


def tolerations_of(raw: Iterable[object] | None) -> tuple[Toleration, ...]:
    """A pod's ``spec.tolerations``, parsed; entries that are not objects are skipped."""
    return tuple(toleration_of(t) for t in raw or () if isinstance(t, Mapping))


def tolerated(tolerations: Iterable[Toleration], taint: Taint) -> bool:
    """upstream ``TolerationsTolerateTaint``: some toleration tolerates ``taint``."""
    return any(t.tolerates(taint) for t in tolerations)


def first_untolerated(tolerations: Sequence[Toleration], taints: Iterable[Taint],
                      include: Callable[[Taint], bool] | None = None) -> Taint | None:
    """upstream ``FindMatchingUntoleratedTaint``: the first taint (of those ``include`` keeps) that
    no toleration tolerates, or None."""
    for taint in taints:
        if (include is None or include(taint)) and not tolerated(tolerations, taint):
            return taint
    return None


def tolerates(toleration: TolerationJSON | Mapping[str, Any], taint: TaintJSON | Mapping[str, Any]) -> bool:
    """`Toleration.tolerates` on the JSON forms."""
    return toleration_of(toleration).tolerates(taint_of(taint))


def untolerated_taint(taints: Iterable[object] | None, tolerations: Iterable[object] | None,
                      include: Callable[[Taint], bool] | None = None) -> Taint | None:
    """`first_untolerated` on the JSON forms (a node's ``spec.taints``, a pod's ``spec.tolerations``)."""
    return first_untolerated(tolerations_of(tolerations), taints_of(taints), include)


def with_toleration(tolerations: Sequence[TolerationJSON],
                    toleration: TolerationJSON) -> list[TolerationJSON]:
    """upstream ``AddOrUpdateTolerationInPodSpec``: ``tolerations`` with ``toleration`` added, or put in
    place of the ones it matches (`Toleration.matches`); unchanged when an equal one is there."""
    wanted = toleration_of(toleration)
    result: list[TolerationJSON] = []
    replaced = False
    for existing in tolerations:
        if toleration_of(existing).matches(wanted):
            if _same(existing, toleration):
                return list(tolerations)
            result.append(toleration)
            replaced = True
            continue
        result.append(existing)
    if not replaced:
        result.append(toleration)
    return result


def _same(left: Mapping[str, Any], right: Mapping[str, Any]) -> bool:
    """Semantic equality of two tolerations, as Go compares the structs: an absent string is the
    empty one, but an absent ``tolerationSeconds`` (forever) is not 0 (evict at once)."""
    return (all((left.get(k) or "") == (right.get(k) or "") for k in ("key", "operator", "value", "effect"))
            and left.get("tolerationSeconds") == right.get("tolerationSeconds"))
