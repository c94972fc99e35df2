"""The hashKey range arithmetic of replicated controllers (client/hash_ranges.py).

Covers: ranges derived from any set of instance records cover [0, 2^63-1] exactly, without overlap
(property test); a joiner takes the lower half of the largest range and the giver keeps its key;
ties go to the lowest range; locked instances and a not-yet-normalised last key are never split;
a removed (dead) instance's range merges into its successor, or its predecessor when it was last;
equal keys leave the later name an empty range; the field selector text; which children concern
an instance (their controller's ownerReference hashKey, client/replicated.py). Leaves out the protocol
that moves records (client/controller_instances.py; the component test runs it).
"""

from __future__ import annotations

from hypothesis import given
from hypothesis import strategies as st

from client.hash_ranges import (
    BELOW_ZERO,
    WHOLE,
    HashRange,
    Member,
    Split,
    assign,
    split_for_joiner,
)
from client.replicated import owner_in

MAX = 2**63 - 1
HALF = MAX // 2


def covers_exactly(ranges: dict[str, HashRange]) -> bool:
    """The non-empty ranges, in order, tile (BELOW_ZERO, MAX] with no gap and no overlap."""
    spans = sorted((r for r in ranges.values() if not r.empty), key=lambda r: r.lower)
    bound = BELOW_ZERO
    for span in spans:
        if span.lower != bound:
            return False
        bound = span.upper
    return bound == MAX


@given(st.lists(st.integers(min_value=0, max_value=MAX), min_size=1, max_size=12))
def test_any_set_of_records_covers_the_whole_space_without_overlap(keys: list[int]) -> None:
    members = [Member(f"i{n}", key) for n, key in enumerate(keys)]
    ranges = assign(members)
    assert covers_exactly(ranges)
    values = list(ranges.values())
    assert not any(a.overlaps(b) for n, a in enumerate(values) for b in values[n + 1:])
    assert sum(r.size for r in values) == MAX + 1


@given(st.integers(min_value=1, max_value=9))
def test_joining_one_by_one_keeps_the_cover_and_halves_the_largest(joins: int) -> None:
    members: list[Member] = []
    for n in range(joins):
        split = split_for_joiner(members)
        assert split is not None
        before = assign(members)
        if split.giver is not None:
            assert before[split.giver].lower < split.key < before[split.giver].upper
            largest = max(r.size for r in before.values())
            assert before[split.giver].size == largest
        members.append(Member(f"j{n}", split.key))
        assert covers_exactly(assign(members))
    sizes = sorted(r.size for r in assign(members).values())
    assert sizes[-1] <= 2 * sizes[0] + 2  # never more than twice apart, as halving the largest does


def test_first_instance_owns_everything_and_the_second_takes_the_lower_half() -> None:
    assert split_for_joiner([]) == Split(MAX, None)
    first = Member("a", MAX)
    assert assign([first]) == {"a": WHOLE}
    split = split_for_joiner([first])
    assert split == Split(HALF, "a")
    ranges = assign([first, Member("b", split.key)])
    assert ranges == {"b": HashRange(BELOW_ZERO, HALF), "a": HashRange(HALF, MAX)}
    assert 0 in ranges["b"] and HALF in ranges["b"] and HALF + 1 in ranges["a"] and MAX in ranges["a"]
    assert abs(ranges["a"].share - 0.5) < 1e-9


def test_a_third_instance_splits_the_lowest_of_two_equal_ranges() -> None:
    members = [Member("a", MAX), Member("b", HALF)]
    split = split_for_joiner(members)
    assert split is not None and split.giver == "b"
    ranges = assign([*members, Member("c", split.key)])
    assert ranges["c"] == HashRange(BELOW_ZERO, split.key)
    assert ranges["b"] == HashRange(split.key, HALF)
    assert ranges["a"] == HashRange(HALF, MAX)


def test_locked_instances_and_a_stale_last_key_are_not_split() -> None:
    assert split_for_joiner([Member("a", MAX, locked=True)]) is None
    # "b" took over a dead last instance but has not recorded key MAX yet.
    assert split_for_joiner([Member("b", HALF)]) is None
    # A locked joiner's half is not offered; the unlocked giver's half is.
    split = split_for_joiner([Member("a", MAX), Member("b", HALF, locked=True)])
    assert split is not None and split.giver == "a" and HALF < split.key < MAX


def test_a_dead_instance_merges_into_its_successor_or_its_predecessor_when_last() -> None:
    a, b, c = Member("a", MAX), Member("b", HALF), Member("c", HALF // 2)
    assert assign([a, c]) == {"c": HashRange(BELOW_ZERO, HALF // 2), "a": HashRange(HALF // 2, MAX)}
    assert assign([b, c]) == {"c": HashRange(BELOW_ZERO, HALF // 2), "b": HashRange(HALF // 2, MAX)}
    assert assign([a]) == {"a": WHOLE}


def test_equal_keys_leave_the_later_name_an_empty_range() -> None:
    ranges = assign([Member("x", HALF), Member("y", HALF), Member("z", MAX)])
    assert ranges["x"] == HashRange(BELOW_ZERO, HALF)
    assert ranges["y"].empty
    assert ranges["z"] == HashRange(HALF, MAX)


def test_field_selector_and_text() -> None:
    assert WHOLE.field_selector() == f"metadata.hashkey=gt:-1,metadata.hashkey=lte:{MAX}"
    assert str(WHOLE) == f"[0, {MAX}]"
    assert str(HashRange(5, 9)) == "(5, 9]"


def test_a_child_concerns_the_instance_owning_its_controller_s_hash_key() -> None:
    lower_half = HashRange(BELOW_ZERO, HALF)

    def child(*refs: dict[str, object]) -> dict[str, object]:
        return {"metadata": {"ownerReferences": list(refs)}}

    assert owner_in(lower_half, child({"controller": True, "hashKey": 0}))
    assert owner_in(lower_half, child({"controller": True, "hashKey": HALF}))
    assert not owner_in(lower_half, child({"controller": True, "hashKey": HALF + 1}))
    # Only the controller's reference counts; orphans and references without a hashKey pass.
    assert not owner_in(lower_half, child({"hashKey": 1}, {"controller": True, "hashKey": MAX}))
    assert owner_in(lower_half, child({"controller": False, "hashKey": MAX}))
    assert owner_in(lower_half, child({"controller": True}))
    assert owner_in(lower_half, {"metadata": {}})
