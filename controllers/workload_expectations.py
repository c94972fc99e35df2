"""Expectations: what a controller is waiting to see in its cache before it counts pods again.

A reconcile creates pods and returns; the pods reach the informer cache a moment later. If the
next reconcile of the same owner counted pods before then it would create them twice. Upstream's
``ControllerExpectations`` / ``UIDTrackingControllerExpectations`` (pkg/controller) record how many
creations and which deletions are outstanding per owner and skip the replica arithmetic until the
informer has observed them (or a timeout passed, in case an event was lost). Here both are tracked
by child key, which is exact: a create answers the generated name, a delete names its pod.
"""

from __future__ import annotations

import time
from collections.abc import Hashable, Iterable
from dataclasses import dataclass, field

from client.cache import ObjectKey

# upstream ExpectationsTimeout is 5 minutes; a lost event should not stall a scale-up that long
# in a cluster this size, and the informer relists on gaps anyway.
EXPECTATIONS_TIMEOUT_S = 60.0


@dataclass
class _Pending:
    adds: set[ObjectKey] = field(default_factory=set)
    deletes: set[ObjectKey] = field(default_factory=set)
    since: float = field(default_factory=time.monotonic)


class Expectations:
    """Outstanding creations and deletions of children, per owner key."""

    def __init__(self, timeout_s: float = EXPECTATIONS_TIMEOUT_S) -> None:
        self._timeout_s = timeout_s
        self._by_owner: dict[Hashable, _Pending] = {}
        self._owner_of: dict[ObjectKey, Hashable] = {}

    def satisfied(self, owner: Hashable) -> bool:
        """True when nothing is outstanding for ``owner`` (or the wait timed out)."""
        pending = self._by_owner.get(owner)
        if pending is None or (not pending.adds and not pending.deletes):
            return True
        if time.monotonic() - pending.since > self._timeout_s:
            self.forget(owner)
            return True
        return False

    def expect_creations(self, owner: Hashable, children: Iterable[ObjectKey]) -> None:
        self._expect(owner, children, deletions=False)

    def expect_deletions(self, owner: Hashable, children: Iterable[ObjectKey]) -> None:
        self._expect(owner, children, deletions=True)

    def _expect(self, owner: Hashable, children: Iterable[ObjectKey], *, deletions: bool) -> None:
        pending = self._by_owner.get(owner)
        if pending is None:
            pending = self._by_owner[owner] = _Pending()
        pending.since = time.monotonic()
        target = pending.deletes if deletions else pending.adds
        for child in children:
            target.add(child)
            self._owner_of[child] = owner

    def observed(self, child: ObjectKey, *, gone_or_going: bool) -> Hashable | None:
        """Records that the cache saw ``child`` (present, or deleted/terminating); answers the
        owner whose expectations changed, so the caller can enqueue it."""
        owner = self._owner_of.get(child)
        if owner is None:
            return None
        pending = self._by_owner.get(owner)
        if pending is None:
            self._owner_of.pop(child, None)
            return None
        changed = child in pending.adds
        pending.adds.discard(child)
        if gone_or_going and child in pending.deletes:
            pending.deletes.discard(child)
            changed = True
        if child not in pending.adds and child not in pending.deletes:
            self._owner_of.pop(child, None)
        return owner if changed else None

    def forget(self, owner: Hashable) -> None:
        """Drops everything outstanding for ``owner`` (it was deleted, or its wait timed out)."""
        pending = self._by_owner.pop(owner, None)
        if pending is None:
            return
        for child in pending.adds | pending.deletes:
            if self._owner_of.get(child) == owner:
                del self._owner_of[child]
