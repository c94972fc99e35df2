"""Levels, policy versions and the namespace labels that select them.

Upstream's k8s.io/pod-security-admission/api: a namespace's ``pod-security.kubernetes.io/
{enforce,audit,warn}`` labels name a level (privileged < baseline < restricted) and the
``-version`` labels a policy version (``latest`` or ``v1.N``); a mode without a label takes the
default. An unparseable level enforces ``restricted`` (fail closed) but audits and warns at
``privileged`` (fail open), and an explicit enforce level stricter than the warn level also warns
at it, unless a warn label says otherwise (``PolicyToEvaluate``).
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass, replace
from typing import Literal

from apis.field_errors import FieldError, invalid

Level = Literal["privileged", "baseline", "restricted"]
PRIVILEGED: Level = "privileged"
BASELINE: Level = "baseline"
RESTRICTED: Level = "restricted"
LEVELS: tuple[Level, ...] = (PRIVILEGED, BASELINE, RESTRICTED)

LABEL_PREFIX = "pod-security.kubernetes.io/"
ENFORCE_LABEL = LABEL_PREFIX + "enforce"
ENFORCE_VERSION_LABEL = LABEL_PREFIX + "enforce-version"
AUDIT_LABEL = LABEL_PREFIX + "audit"
AUDIT_VERSION_LABEL = LABEL_PREFIX + "audit-version"
WARN_LABEL = LABEL_PREFIX + "warn"
WARN_VERSION_LABEL = LABEL_PREFIX + "warn-version"
# Audit annotation keys (upstream api.AuditAnnotationPrefix + key).
ENFORCE_POLICY_ANNOTATION = LABEL_PREFIX + "enforce-policy"
AUDIT_VIOLATIONS_ANNOTATION = LABEL_PREFIX + "audit-violations"

_VERSION = re.compile(r"^v1\.(0|[1-9][0-9]*)$")


@dataclass(frozen=True, slots=True, order=True)
class Version:
    """A policy version: ``v1.minor``, or ``latest`` (newer than any numbered version)."""

    latest: bool = False
    minor: int = 0

    def __str__(self) -> str:
        return "latest" if self.latest else f"v1.{self.minor}"

    def older(self, other: Version) -> bool:
        return self < other


LATEST = Version(latest=True)


def v1(minor: int) -> Version:
    return Version(minor=minor)


@dataclass(frozen=True, slots=True)
class LevelVersion:
    level: Level
    version: Version = LATEST

    def __str__(self) -> str:
        return f"{self.level}:{self.version}"


@dataclass(frozen=True, slots=True)
class Policy:
    enforce: LevelVersion
    audit: LevelVersion
    warn: LevelVersion

    @property
    def fully_privileged(self) -> bool:
        return PRIVILEGED == self.enforce.level == self.audit.level == self.warn.level


def uniform(level: Level) -> Policy:
    """The same level, at ``latest``, for every mode."""
    return Policy(LevelVersion(level), LevelVersion(level), LevelVersion(level))


def compare_levels(a: str, b: str) -> int:
    """-1, 0 or 1 as ``a`` is less strict than, as strict as, or stricter than ``b``."""
    rank: dict[str, int] = {PRIVILEGED: 0, BASELINE: 1, RESTRICTED: 2}
    return (rank.get(a, 1) > rank.get(b, 1)) - (rank.get(a, 1) < rank.get(b, 1))


def parse_level(value: str) -> Level | None:
    for level in LEVELS:
        if value == level:
            return level
    return None


def parse_version(value: str) -> Version | None:
    if value == "latest":
        return LATEST
    match = _VERSION.match(value)
    return v1(int(match.group(1))) if match else None


def _label_path(label: str) -> str:
    return f"metadata.labels[{label}]"


_LEVEL_HINT = "must be one of privileged, baseline, restricted"
_VERSION_HINT = 'must be "latest" or "v1.x"'


def policy_to_evaluate(labels: Mapping[str, str] | None, defaults: Policy) -> tuple[Policy, list[FieldError]]:
    """The policy a namespace's labels select over ``defaults``, and the errors of bad labels."""
    labels = labels or {}
    errors: list[FieldError] = []
    modes = {"enforce": defaults.enforce, "audit": defaults.audit, "warn": defaults.warn}
    # A bad level enforces restricted (fail closed) and audits/warns privileged (fail open).
    fallback: dict[str, Level] = {"enforce": RESTRICTED, "audit": PRIVILEGED, "warn": PRIVILEGED}
    for mode in modes:
        level_label, version_label = LABEL_PREFIX + mode, f"{LABEL_PREFIX}{mode}-version"
        if level_label in labels:
            level = parse_level(labels[level_label])
            if level is None:
                errors.append(invalid(_label_path(level_label), labels[level_label], _LEVEL_HINT))
            modes[mode] = replace(modes[mode], level=level or fallback[mode])
        if version_label in labels:
            version = parse_version(labels[version_label])
            if version is None:
                errors.append(invalid(_label_path(version_label), labels[version_label], _VERSION_HINT))
            modes[mode] = replace(modes[mode], version=version or LATEST)
    enforce, warn = modes["enforce"], modes["warn"]
    explicit_enforce = ENFORCE_LABEL in labels and parse_level(labels[ENFORCE_LABEL]) is not None
    if WARN_LABEL not in labels and explicit_enforce and compare_levels(enforce.level, warn.level) > 0:
        # Upstream: warn at an explicitly stricter enforce level too (and its version, unless pinned).
        version = warn.version if WARN_VERSION_LABEL in labels else enforce.version
        modes["warn"] = LevelVersion(enforce.level, version)
    return Policy(modes["enforce"], modes["audit"], modes["warn"]), errors
