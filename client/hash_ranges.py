"""How controller instances split the hashKey space: pure arithmetic, no I/O.

Arktos's controller framework (``controllerframework/controller_base.go``) gives each instance of
one controller type a slice of ``metadata.hashKey`` space [0, 2^63-1]: instances sorted by their
``controllerKey`` own ``(previous key, own key]``, the first one from 0 inclusive, the last one up to
2^63-1 whatever its stored key says. So the ranges are a function of the set of instance records
alone: they always cover the whole space and never overlap, whatever set every process sees.

- A joining instance takes the lower half of the LARGEST range (`split_for_joiner`): it records a
  key in the middle of that range; the instance that owned it keeps its key and the upper half.
- A dead instance's record is removed: its range merges into its successor's (or, if it was the
  last, into its predecessor's, which then reaches 2^63-1) — `assign` of the remaining records.
Equal keys (two joiners that picked the same middle) sort by name: the later one's range is empty,
and it moves (`client.controller_instances`).
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass

from apis.controller_instance_schemas import MAX_HASH_KEY

# The exclusive lower bound of the first range: hashKey 0 belongs to it (Arktos's IsInRange
# special-cases key 0; a field selector ``gt:-1`` says the same without a special case).
BELOW_ZERO = -1


@dataclass(frozen=True, slots=True)
class HashRange:
    """``(lower, upper]`` of hashKeys; ``lower`` is `BELOW_ZERO` for the range that starts at 0."""

    lower: int
    upper: int

    def __contains__(self, key: object) -> bool:
        return isinstance(key, int) and self.lower < key <= self.upper

    @property
    def size(self) -> int:
        return max(0, self.upper - self.lower)

    @property
    def empty(self) -> bool:
        return self.size == 0

    @property
    def share(self) -> float:
        """The fraction of the whole hashKey space this range holds."""
        return self.size / (MAX_HASH_KEY + 1)

    def field_selector(self) -> str:
        """Arktos's informer filter for the range (apis/selectors/fields.py serves it)."""
        return f"metadata.hashkey=gt:{self.lower},metadata.hashkey=lte:{self.upper}"

    def overlaps(self, other: HashRange) -> bool:
        return not self.empty and not other.empty and self.lower < other.upper and other.lower < self.upper

    def __str__(self) -> str:
        if self.lower == BELOW_ZERO:
            return f"[0, {self.upper}]"
        return f"({self.lower}, {self.upper}]"


WHOLE = HashRange(BELOW_ZERO, MAX_HASH_KEY)


@dataclass(frozen=True, slots=True)
class Member:
    """One instance record as the arithmetic needs it."""

    name: str
    key: int
    locked: bool = False


def ordered(members: Iterable[Member]) -> list[Member]:
    return sorted(members, key=lambda m: (m.key, m.name))


def assign(members: Iterable[Member]) -> dict[str, HashRange]:
    """Each member's range: ``(previous key, own key]``; the last one's reaches 2^63-1."""
    ranked = ordered(members)
    ranges: dict[str, HashRange] = {}
    lower = BELOW_ZERO
    for position, member in enumerate(ranked):
        upper = MAX_HASH_KEY if position == len(ranked) - 1 else max(member.key, lower)
        ranges[member.name] = HashRange(lower, upper)
        lower = upper
    return ranges


@dataclass(frozen=True, slots=True)
class Split:
    """Where a joiner goes: its key, and the instance whose range it halves (None: the first)."""

    key: int
    giver: str | None


def split_for_joiner(members: Iterable[Member]) -> Split | None:
    """The lower half of the largest range held by an unlocked instance (ties: the lowest range).

    None when no range can be split now: every instance is locked (a join is under way), the
    largest range is a single key, or its owner is the last instance with a key below 2^63-1
    (a takeover not yet recorded: the joiner's key would sort after it).
    """
    listed = list(members)
    if not listed:
        return Split(MAX_HASH_KEY, None)
    ranges = assign(listed)
    candidates = [m for m in listed if not m.locked and ranges[m.name].size >= 2]
    if not candidates:
        return None
    giver = max(candidates, key=lambda m: (ranges[m.name].size, -ranges[m.name].lower))
    largest = ranges[giver.name]
    if giver.key != largest.upper:
        return None
    return Split(largest.lower + largest.size // 2, giver.name)
