"""Which checks run for a level and version, in which order: upstream's policy/registry.go.

For every policy version from v1.0 to the newest version any check names, each check contributes
the revision whose minimum version is the latest one not after it. ``restricted`` runs its own
checks plus the baseline ones its revisions do not override. Checks run in the order of their
IDs (baseline first, then restricted; byte order, as upstream sorts them), so messages are stable.
A version newer than the newest known one, and ``latest``, evaluate as the newest.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence

from server.podsecurity import baseline_host, baseline_profiles, restricted
from server.podsecurity.checks import (
    AggregateResult,
    Check,
    CheckFn,
    CheckResult,
    Obj,
    VersionedCheck,
    aggregate,
)
from server.podsecurity.policy import BASELINE, PRIVILEGED, LevelVersion, Version, v1


class Evaluator:
    """Evaluates pods against any level and version, from a fixed list of checks."""

    def __init__(self, checks: Sequence[Check]) -> None:
        self.max_version = max(c.versions[-1].minimum_version for c in checks)
        ordered = (sorted(c.id for c in checks if c.level == BASELINE)
                   + sorted(c.id for c in checks if c.level != BASELINE))
        by_id = {c.id: c for c in checks}
        self._baseline: dict[Version, tuple[CheckFn, ...]] = {}
        self._restricted: dict[Version, tuple[CheckFn, ...]] = {}
        for minor in range(self.max_version.minor + 1):
            version = v1(minor)
            active = {cid: revision for cid in ordered
                      if (revision := _revision_at(by_id[cid], version)) is not None}
            overridden = {o for cid, r in active.items() if by_id[cid].level != BASELINE for o in r.overrides}
            self._baseline[version] = tuple(r.check for cid, r in active.items()
                                            if by_id[cid].level == BASELINE)
            self._restricted[version] = tuple(r.check for cid, r in active.items() if cid not in overridden)

    def evaluate(self, level_version: LevelVersion, metadata: Obj, spec: Obj) -> list[CheckResult]:
        if level_version.level == PRIVILEGED:
            return []
        version = min(level_version.version, self.max_version)
        table = self._baseline if level_version.level == BASELINE else self._restricted
        return [check(metadata, spec) for check in table[version]]

    def aggregate(self, level_version: LevelVersion, metadata: Obj, spec: Obj) -> AggregateResult:
        return aggregate(self.evaluate(level_version, metadata, spec))


def _revision_at(check: Check, version: Version) -> VersionedCheck | None:
    applicable = [r for r in check.versions if not version.older(r.minimum_version)]
    return applicable[-1] if applicable else None


def default_checks() -> Iterable[Check]:
    return (*baseline_host.CHECKS, *baseline_profiles.CHECKS, *restricted.CHECKS)


DEFAULT_EVALUATOR = Evaluator(tuple(default_checks()))
