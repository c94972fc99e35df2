"""Hooks around the generic store's writes for resources that hold something outside their object.

Upstream's genericregistry.Store has BeginCreate, BeginUpdate (each answering a FinishFunc told
whether the write landed) and AfterDelete; Services use them to allocate ClusterIPs and node
ports in step with the Service's own write. A hook may change the object it is given (it fills
the allocated values) and raises ApiError to refuse the write; ``finish(False)`` gives back what
``begin_*`` took, ``finish(True)`` completes what the write makes final (releases what the
update let go).
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import Any, Protocol

Finish = Callable[[bool], Awaitable[None]]


class WriteHooks(Protocol):
    async def begin_create(self, obj: dict[str, Any], *, dry_run: bool) -> Finish:
        """Before ``obj`` is stored (after it was validated)."""
        ...

    async def begin_update(self, new: dict[str, Any], old: dict[str, Any], *, dry_run: bool) -> Finish:
        """Before ``new`` replaces ``old`` (once per attempt of a guaranteed update)."""
        ...

    async def after_delete(self, obj: dict[str, Any]) -> None:
        """After ``obj`` left the store."""
        ...


async def nothing_to_finish(_success: bool) -> None:
    """The `Finish` of a write that took nothing."""
