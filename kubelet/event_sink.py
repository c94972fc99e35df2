"""Fire-and-forget Events for the kubelet: a bounded queue in front of `client.events.EventRecorder`.

A pod worker must never wait on an Event write (a hollow process hosting 500 nodes would spend its
time on them), so workers `emit` and a few sender tasks write. When the queue is full new Events
are dropped, as upstream's event broadcaster drops when its buffer (``maxQueuedEvents``) is full.
Each node records with its own ``source.host``, so one recorder per node name.
"""

from __future__ import annotations

import asyncio
import logging
from dataclasses import dataclass
from typing import Any

from client.events import EventRecorder, EventType
from client.rest import ApiClient

log = logging.getLogger(__name__)

COMPONENT = "kubelet"


@dataclass(frozen=True, slots=True)
class _Pending:
    host: str
    obj: dict[str, Any]
    event_type: EventType
    reason: str
    message: str


class EventSink:
    def __init__(self, client: ApiClient, *, max_queued: int = 10_000, senders: int = 4) -> None:
        self.client = client
        self.dropped = 0
        self._queue: asyncio.Queue[_Pending] = asyncio.Queue(max_queued)
        self._senders = senders
        self._recorders: dict[str, EventRecorder] = {}

    def emit(self, host: str, obj: dict[str, Any], event_type: EventType, reason: str,
             message: str) -> None:
        try:
            self._queue.put_nowait(_Pending(host, obj, event_type, reason, message))
        except asyncio.QueueFull:
            self.dropped += 1

    async def run(self) -> None:
        async with asyncio.TaskGroup() as group:
            for _ in range(self._senders):
                group.create_task(self._send_forever())

    async def _send_forever(self) -> None:
        while True:
            pending = await self._queue.get()
            recorder = self._recorders.get(pending.host)
            if recorder is None:
                recorder = self._recorders[pending.host] = EventRecorder(self.client, COMPONENT,
                                                                         host=pending.host)
            # EventRecorder.event never raises (it logs and drops).
            await recorder.event(pending.obj, pending.event_type, pending.reason, pending.message)
