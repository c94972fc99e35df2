"""The one taint/toleration rule (apis/tolerations.py), as a table of upstream's cases.

Covers: ``ToleratesTaint`` (effect matching incl. the empty effect, operator Exists/Equal/empty,
the empty key with Exists, operators that tolerate nothing), the JSON helpers giving the same
answers as the parsed forms, ``MatchToleration``, ``FindMatchingUntoleratedTaint`` with and without
an inclusion filter, and ``AddOrUpdateTolerationInPodSpec`` (add, replace, leave alone).
Leaves out: how the scheduler, the DaemonSet controller and the node lifecycle controller use the
rule (test_scheduler_filters.py, test_workload_pods_and_nodes.py, test_node_taints.py).
"""

from __future__ import annotations

from typing import Any

import pytest

from apis.tolerations import (
    Taint,
    first_untolerated,
    taint_of,
    taints_of,
    tolerates,
    toleration_of,
    tolerations_of,
    untolerated_taint,
    with_toleration,
)
from apis.wire_types import TolerationJSON

# (description, toleration, taint, tolerated) — the first six rows are upstream's
# TestTolerationToleratesTaint cases (k8s.io/api core/v1 toleration_test.go).
CASES: list[tuple[str, dict[str, Any], dict[str, Any], bool]] = [
    ("same key and effect, Exists, taint without value",
     {"key": "foo", "operator": "Exists", "effect": "NoSchedule"},
     {"key": "foo", "effect": "NoSchedule"}, True),
    ("same key and effect, Exists, taint with a value",
     {"key": "foo", "operator": "Exists", "effect": "NoSchedule"},
     {"key": "foo", "value": "bar", "effect": "NoSchedule"}, True),
    ("empty key with Exists matches every key",
     {"key": "", "operator": "Exists", "effect": "NoSchedule"},
     {"key": "foo", "value": "bar", "effect": "NoSchedule"}, True),
    ("same key, value and effect, Equal",
     {"key": "foo", "operator": "Equal", "value": "bar", "effect": "NoSchedule"},
     {"key": "foo", "value": "bar", "effect": "NoSchedule"}, True),
    ("same key and effect, Equal, different values",
     {"key": "foo", "operator": "Equal", "value": "value1", "effect": "NoSchedule"},
     {"key": "foo", "value": "value2", "effect": "NoSchedule"}, False),
    ("same key and value, Equal, different effects",
     {"key": "foo", "operator": "Equal", "value": "bar", "effect": "NoSchedule"},
     {"key": "foo", "value": "bar", "effect": "NoExecute"}, False),
    ("empty effect matches NoExecute",
     {"key": "foo", "operator": "Exists"}, {"key": "foo", "effect": "NoExecute"}, True),
    ("empty effect matches PreferNoSchedule",
     {"key": "foo", "operator": "Exists"}, {"key": "foo", "effect": "PreferNoSchedule"}, True),
    ("empty key, Exists, empty effect: every taint",
     {"operator": "Exists"}, {"key": "any", "value": "v", "effect": "NoExecute"}, True),
    ("different key, Exists", {"key": "foo", "operator": "Exists"}, {"key": "bar", "effect": "NoSchedule"},
     False),
    ("empty operator means Equal: same value", {"key": "foo", "value": "bar"},
     {"key": "foo", "value": "bar", "effect": "NoSchedule"}, True),
    ("empty operator means Equal: absent value equals empty value", {"key": "foo"},
     {"key": "foo", "effect": "NoSchedule"}, True),
    ("empty operator means Equal: different value", {"key": "foo", "value": "x"},
     {"key": "foo", "value": "y", "effect": "NoSchedule"}, False),
    # The API refuses an empty key with Equal; the rule itself still just compares values.
    ("empty key with Equal compares values", {"operator": "Equal", "value": ""},
     {"key": "foo", "effect": "NoSchedule"}, True),
    # Lt/Gt exist upstream only behind the alpha TaintTolerationComparisonOperators gate (off).
    ("comparison operator with the gate off", {"key": "sla", "operator": "Gt", "value": "750"},
     {"key": "sla", "value": "950", "effect": "NoSchedule"}, False),
    ("unknown operator tolerates nothing, even with equal values",
     {"key": "foo", "operator": "Bogus", "value": "bar"},
     {"key": "foo", "value": "bar", "effect": "NoSchedule"}, False),
]


@pytest.mark.parametrize(("toleration", "taint", "expected"), [c[1:] for c in CASES],
                         ids=[c[0] for c in CASES])
def test_tolerates_taint(toleration: dict[str, Any], taint: dict[str, Any], expected: bool) -> None:
    assert toleration_of(toleration).tolerates(taint_of(taint)) is expected
    assert tolerates(toleration, taint) is expected
    found = untolerated_taint([taint], [toleration])
    assert (found is None) is expected


def test_match_toleration_compares_key_effect_operator_and_value() -> None:
    base = toleration_of({"key": "k", "operator": "Equal", "value": "v", "effect": "NoSchedule"})
    assert base.matches(toleration_of({"key": "k", "operator": "Equal", "value": "v", "effect": "NoSchedule",
                                       "tolerationSeconds": 5}))
    assert not base.matches(toleration_of({"key": "k", "value": "v", "effect": "NoSchedule"}))  # "" != Equal
    assert not base.matches(toleration_of({"key": "k", "operator": "Equal", "value": "v"}))


def test_first_untolerated_keeps_order_and_filter() -> None:
    taints = taints_of([{"key": "soft", "effect": "PreferNoSchedule"}, {"key": "a", "effect": "NoSchedule"},
                        {"key": "b", "effect": "NoExecute"}, "not-an-object"])
    assert [t.key for t in taints] == ["soft", "a", "b"]
    tolerations = tolerations_of([{"key": "a", "operator": "Exists"}, None])
    assert first_untolerated(tolerations, taints) == Taint("soft", "", "PreferNoSchedule")
    hard = first_untolerated(tolerations, taints, lambda t: t.effect in ("NoSchedule", "NoExecute"))
    assert hard == Taint("b", "", "NoExecute")
    everything = tolerations_of([{"operator": "Exists"}])
    assert first_untolerated(everything, taints) is None
    assert untolerated_taint(None, None) is None


def test_with_toleration_adds_replaces_or_leaves_alone() -> None:
    not_ready: TolerationJSON = {"key": "node.kubernetes.io/not-ready", "operator": "Exists",
                                 "effect": "NoExecute"}
    other: TolerationJSON = {"key": "dedicated", "operator": "Equal", "value": "db"}
    assert with_toleration([other], not_ready) == [other, not_ready]
    bounded: TolerationJSON = {**not_ready, "tolerationSeconds": 60}
    assert with_toleration([bounded, other], not_ready) == [not_ready, other]
    same: TolerationJSON = {**not_ready, "value": ""}
    kept = [same, other]
    assert with_toleration(kept, not_ready) == kept
    equal_op: TolerationJSON = {"key": "node.kubernetes.io/not-ready", "operator": "Equal",
                                "effect": "NoExecute"}
    assert with_toleration([equal_op], not_ready) == [equal_op, not_ready]
    zero: TolerationJSON = {**not_ready, "tolerationSeconds": 0}
    assert with_toleration([zero], not_ready) == [not_ready]  # 0 (evict now) is not "forever"
