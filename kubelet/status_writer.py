"""Writes pod statuses through ``pods/{name}/status``: coalesced, bounded, only what changed.

Upstream's status manager keeps the latest status per pod and a syncer writes it; so does this:
`set` replaces a pod's pending status (ten changes in a burst cost one PATCH), a fixed number of
writer tasks drain the pending set (so 500 hollow nodes cannot open 5,000 concurrent requests),
and a PATCH carries only the top-level status fields that differ from what the API shows (merge
patch; lists are replaced whole). A status equal to the last one written is not sent again, which
also stops a loop of "my write came back as a watch event, sync again, write again".
"""

from __future__ import annotations

import asyncio
import logging
from dataclasses import dataclass
from typing import Any

from client.cache import ObjectKey
from client.errors import ApiError, NotFound
from client.resources import ResourceRef
from client.rest import ApiClient
from kubelet.status import changed_fields

log = logging.getLogger(__name__)

PODS = ResourceRef("", "v1", "pods", "Pod")
_RETRY_S = 1.0


@dataclass(slots=True)
class _Pending:
    key: ObjectKey
    api_status: dict[str, Any]
    status: dict[str, Any]


class StatusWriter:
    def __init__(self, client: ApiClient, *, writers: int = 16) -> None:
        self.client = client
        self.patches_sent = 0
        self._writers = writers
        self._pending: dict[str, _Pending] = {}
        self._sent: dict[str, dict[str, Any]] = {}
        self._ready: asyncio.Queue[str] = asyncio.Queue()

    def set(self, pod: dict[str, Any], status: dict[str, Any]) -> None:
        """Asks for ``status`` to be written for ``pod`` (the API's current view of it)."""
        uid = str(pod["metadata"].get("uid", ""))
        if self._sent.get(uid) == status:
            self._pending.pop(uid, None)
            return
        queued = uid in self._pending
        self._pending[uid] = _Pending(ObjectKey.of(pod), pod.get("status") or {}, status)
        if not queued:
            self._ready.put_nowait(uid)

    def forget(self, uid: str) -> None:
        self._pending.pop(uid, None)
        self._sent.pop(uid, None)

    def last_written(self, uid: str) -> dict[str, Any] | None:
        return self._sent.get(uid)

    async def run(self) -> None:
        async with asyncio.TaskGroup() as group:
            for _ in range(self._writers):
                group.create_task(self._write_forever())

    async def _write_forever(self) -> None:
        while True:
            uid = await self._ready.get()
            pending = self._pending.pop(uid, None)
            if pending is None:
                continue
            try:
                await self._write(uid, pending)
            except NotFound:
                self.forget(uid)
            except ApiError as e:
                log.warning("status of pod %s: %s; retrying", pending.key, e)
                self._retry_later(uid, pending)

    async def _write(self, uid: str, pending: _Pending) -> None:
        patch = changed_fields(pending.api_status, pending.status)
        if patch:
            key = pending.key
            await self.client.patch(PODS, key.name, {"status": patch}, patch_type="merge",
                                    tenant=key.tenant or None, namespace=key.namespace,
                                    subresource="status")
            self.patches_sent += 1
        self._sent[uid] = pending.status

    def _retry_later(self, uid: str, pending: _Pending) -> None:
        def again() -> None:
            if uid not in self._pending:
                self._pending[uid] = pending
                self._ready.put_nowait(uid)
        asyncio.get_running_loop().call_later(_RETRY_S, again)
