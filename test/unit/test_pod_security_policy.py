"""From namespace labels to the checks a pod must pass, and the tenant floor on top.

Covers: upstream's PolicyToEvaluate cases (api/helpers_test.go: defaults, explicit enforce also
warning, pinned versions, bad values failing closed for enforce and open for warn); how the
evaluator orders checks (baseline IDs then restricted IDs, byte order), which baseline checks a
restricted revision overrides, clamping ``latest`` and future versions to the newest one, and
privileged evaluating nothing; the tenant floor (defaults per tenant, raising audit/warn, the
floor checked besides a pinned or lower namespace level, floor label validation); the warnings
for existing pods when a namespace is tightened (grouping, controller prioritising, the cap);
which pod updates are re-evaluated.
Leaves out: the individual checks (test_pod_security_checks.py) and requests (component tests).
"""

from __future__ import annotations

from typing import Any

import pytest

from server.podsecurity.checks import Check, CheckResult, VersionedCheck
from server.podsecurity.evaluator import DEFAULT_EVALUATOR, Evaluator, default_checks
from server.podsecurity.policy import LATEST, LevelVersion, Policy, policy_to_evaluate, uniform, v1
from server.registry.admission import pod_security_namespace
from server.registry.admission.pod_security import significant_pod_update
from server.registry.admission.pod_security_floor import floor_label_errors, namespace_policy, tenant_floor

PRIV = LevelVersion("privileged")
BASE = LevelVersion("baseline")
RESTRICTED = LevelVersion("restricted")


def labels(**values: str) -> dict[str, str]:
    return {f"pod-security.kubernetes.io/{k.replace('_', '-')}": v for k, v in values.items()}


@pytest.mark.parametrize(
    ("given", "enforce", "warn", "audit", "errors"),
    [
        (labels(enforce="baseline"), BASE, BASE, PRIV, 0),
        (labels(warn="restricted"), PRIV, RESTRICTED, PRIV, 0),
        (labels(audit="baseline"), PRIV, PRIV, BASE, 0),
        (labels(enforce="baseline", warn="restricted"), BASE, RESTRICTED, PRIV, 0),
        (
            labels(enforce="baseline", enforce_version="v1.22"),
            LevelVersion("baseline", v1(22)),
            LevelVersion("baseline", v1(22)),
            PRIV,
            0,
        ),
        (
            labels(enforce="baseline", enforce_version="v1.22", warn_version="latest"),
            LevelVersion("baseline", v1(22)),
            BASE,
            PRIV,
            0,
        ),
        (labels(enforce="baseline", warn_version="v1.23"), BASE, LevelVersion("baseline", v1(23)), PRIV, 0),
        (
            labels(
                enforce="baseline",
                enforce_version="v1.20",
                warn="restricted",
                warn_version="v1.21",
                audit="restricted",
                audit_version="v1.22",
            ),
            LevelVersion("baseline", v1(20)),
            LevelVersion("restricted", v1(21)),
            LevelVersion("restricted", v1(22)),
            0,
        ),
        (labels(enforce="baseline", warn="privileged"), BASE, PRIV, PRIV, 0),
        (labels(enforce="baseline", warn="foo"), BASE, PRIV, PRIV, 1),
        (labels(enforce="foo"), RESTRICTED, PRIV, PRIV, 1),
        (labels(enforce_version="1.25", audit="none"), LevelVersion("privileged", LATEST), PRIV, PRIV, 2),
    ],
)
def test_policy_to_evaluate_follows_upstream(
    given: dict[str, str], enforce: LevelVersion, warn: LevelVersion, audit: LevelVersion, errors: int
) -> None:
    policy, problems = policy_to_evaluate(given, uniform("privileged"))
    assert policy == Policy(enforce, audit, warn)
    assert len(problems) == errors


def test_label_errors_read_as_upstreams_field_errors() -> None:
    _, problems = policy_to_evaluate(labels(enforce="foo", warn_version="v2.0"), uniform("privileged"))
    assert [str(p) for p in problems] == [
        'metadata.labels[pod-security.kubernetes.io/enforce]: Invalid value: "foo": must be one of '
        "privileged, baseline, restricted",
        'metadata.labels[pod-security.kubernetes.io/warn-version]: Invalid value: "v2.0": must be "latest" '
        'or "v1.x"',
    ]


def _ids(evaluator: Evaluator, level_version: LevelVersion) -> list[str]:
    """The checks that ran, in order (each probe refuses with its own ID as the reason)."""
    return [r.reason for r in evaluator.evaluate(level_version, {}, {})]


def _probe(check_id: str) -> VersionedCheck:
    return VersionedCheck(v1(0), lambda _m, _s: CheckResult(False, check_id))


def test_checks_run_baseline_first_in_byte_order_and_overrides_apply() -> None:
    checks = [
        Check("seccompProfile_baseline", "baseline", (_probe("seccompProfile_baseline"),)),
        Check("seLinuxOptions", "baseline", (_probe("seLinuxOptions"),)),
        Check("hostPorts", "baseline", (_probe("hostPorts"),)),
        Check("hostPathVolumes", "baseline", (_probe("hostPathVolumes"),)),
        Check("runAsNonRoot", "restricted", (_probe("runAsNonRoot"),)),
        Check(
            "restrictedVolumes",
            "restricted",
            (
                VersionedCheck(
                    v1(0), lambda _m, _s: CheckResult(False, "restrictedVolumes"), ("hostPathVolumes",)
                ),
            ),
        ),
        Check("late", "restricted", (VersionedCheck(v1(5), lambda _m, _s: CheckResult(False, "late")),)),
    ]
    evaluator = Evaluator(checks)
    assert _ids(evaluator, BASE) == [
        "hostPathVolumes",
        "hostPorts",
        "seLinuxOptions",
        "seccompProfile_baseline",
    ]
    assert _ids(evaluator, RESTRICTED) == [
        "hostPorts",
        "seLinuxOptions",
        "seccompProfile_baseline",
        "late",
        "restrictedVolumes",
        "runAsNonRoot",
    ]
    assert "late" not in _ids(evaluator, LevelVersion("restricted", v1(4)))
    assert _ids(evaluator, LevelVersion("restricted", v1(99))) == _ids(evaluator, RESTRICTED)
    assert evaluator.evaluate(PRIV, {}, {}) == []


def test_the_default_checks_cover_every_version_up_to_the_newest() -> None:
    assert DEFAULT_EVALUATOR.max_version == max(c.versions[-1].minimum_version for c in default_checks())
    pod = {"containers": [{"name": "c", "image": "x"}]}
    assert DEFAULT_EVALUATOR.aggregate(BASE, {}, pod).allowed
    assert (
        DEFAULT_EVALUATOR.aggregate(LevelVersion("restricted", v1(0)), {}, pod).forbidden_reason()
        == "runAsNonRoot != true"
    )
    assert DEFAULT_EVALUATOR.aggregate(RESTRICTED, {}, pod).forbidden_reason() == (
        "allowPrivilegeEscalation != false, unrestricted capabilities, runAsNonRoot != true, seccompProfile"
    )


# -- the tenant floor -----------------------------------------------------------------------------

FLOOR = "pod-security.arktos.futurewei.com/enforce-floor"


def test_tenants_default_to_baseline_and_system_to_privileged() -> None:
    assert tenant_floor("acme", {}) == "baseline"
    assert tenant_floor("system", None) == "privileged"
    assert tenant_floor("acme", {FLOOR: "privileged"}) == "privileged"
    assert tenant_floor("system", {FLOOR: "restricted"}) == "restricted"
    assert tenant_floor("acme", {FLOOR: "bogus"}) == "baseline"
    assert namespace_policy("acme", {}, {}).policy == uniform("baseline")
    assert namespace_policy("system", {}, {}).policy == uniform("privileged")
    assert namespace_policy("acme", {FLOOR: "restricted"}, {}).policy == uniform("restricted")
    # A grant lowers the floor, not the default: unlabelled namespaces stay baseline.
    assert namespace_policy("acme", {FLOOR: "privileged"}, {}).policy == uniform("baseline")


def test_the_floor_is_enforced_besides_a_weaker_or_pinned_namespace_level() -> None:
    lowered = namespace_policy(
        "acme", {}, labels(enforce="privileged", warn="privileged", audit="privileged")
    )
    assert lowered.below_floor()
    assert lowered.enforced() == [PRIV, BASE]
    assert (lowered.policy.warn, lowered.policy.audit) == (BASE, BASE)
    pinned = namespace_policy("acme", {}, labels(enforce="restricted", enforce_version="v1.0"))
    assert not pinned.below_floor()
    assert pinned.enforced() == [LevelVersion("restricted", v1(0)), BASE]
    assert namespace_policy("acme", {}, labels(enforce="restricted")).enforced() == [RESTRICTED]
    assert namespace_policy("system", {}, labels(enforce="privileged")).enforced() == [PRIV]


def test_floor_label_values_are_validated() -> None:
    assert floor_label_errors({FLOOR: "baseline"}) == []
    assert floor_label_errors({}) == []
    assert [str(e) for e in floor_label_errors({FLOOR: "Privileged"})] == [
        f'metadata.labels[{FLOOR}]: Unsupported value: "Privileged": supported values: "privileged", '
        '"baseline", "restricted"'
    ]


# -- namespace tightening and pod updates ---------------------------------------------------------


def _pod(name: str, *, host_pid: bool = False, controller: str = "") -> dict[str, Any]:
    metadata: dict[str, Any] = {"name": name}
    if controller:
        metadata["ownerReferences"] = [
            {"uid": controller, "controller": True, "kind": "ReplicaSet", "name": "rs"}
        ]
    return {"metadata": metadata, "spec": {"hostPID": host_pid, "containers": [{"name": "c", "image": "x"}]}}


def test_existing_pods_are_grouped_by_reason() -> None:
    pods = [_pod("web-2", host_pid=True), _pod("web-1", host_pid=True), _pod("db", host_pid=True), _pod("ok")]
    warnings = pod_security_namespace.existing_pod_warnings(DEFAULT_EVALUATOR, "dev", BASE, pods)
    assert warnings == [
        'existing pods in namespace "dev" violate the new PodSecurity enforce level "baseline:latest"',
        "db (and 2 other pods): host namespaces",
    ]


def test_one_pod_per_controller_is_checked_first_and_the_count_is_capped(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    pods = [_pod("a1", controller="a"), _pod("a2", controller="a"), _pod("b1", controller="b"), _pod("solo")]
    assert [p["metadata"]["name"] for p in pod_security_namespace.prioritized(pods)] == [
        "a1",
        "b1",
        "solo",
        "a2",
    ]
    monkeypatch.setattr(pod_security_namespace, "MAX_PODS_TO_CHECK", 2)
    warnings = pod_security_namespace.existing_pod_warnings(DEFAULT_EVALUATOR, "dev", BASE, pods)
    assert warnings == ["new PodSecurity enforce level only checked against the first 2 of 4 existing pods"]


@pytest.mark.parametrize(
    ("change", "significant"),
    [
        ({"metadata": {"labels": {"a": "b"}}}, False),
        ({"spec": {"containers": [{"name": "c", "image": "y"}]}}, True),
        ({"spec": {"containers": [{"name": "c", "image": "x"}, {"name": "d", "image": "x"}]}}, True),
        (
            {
                "spec": {
                    "containers": [{"name": "c", "image": "x"}],
                    "ephemeralContainers": [{"name": "e", "image": "x"}],
                }
            },
            True,
        ),
        ({"spec": {"containers": [{"name": "c", "image": "x"}], "activeDeadlineSeconds": 5}}, False),
    ],
)
def test_only_image_and_container_changes_are_significant(change: dict[str, Any], significant: bool) -> None:
    old = {"metadata": {"name": "p"}, "spec": {"containers": [{"name": "c", "image": "x"}]}}
    new = {**old, **change}
    assert significant_pod_update(new, old) is significant
