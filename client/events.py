"""Recording Events about objects, as controllers and the scheduler do (client-go's record package).

An Event lands in the object's tenant and namespace (``default`` for objects without one), names
the object it is about (``involvedObject``), the component that saw it (``source``), a reason and
a message. Repeats of the same (object, reason, message) within a short window only bump
``count`` and ``lastTimestamp`` on the existing Event, as upstream's correlator aggregates them,
so a controller that retries does not flood the store. Recording never raises: an Event that
cannot be written is logged and dropped.
"""

from __future__ import annotations

import logging
import time
from dataclasses import dataclass, field
from typing import Any, Literal

from apis.meta import now_rfc3339
from client.errors import ApiError
from client.resources import ResourceRef
from client.rest import ApiClient

log = logging.getLogger(__name__)

EVENTS = ResourceRef("", "v1", "events", "Event")
EventType = Literal["Normal", "Warning"]
_AGGREGATE_WINDOW_S = 600.0
_REMEMBERED = 4096


@dataclass
class _Seen:
    name: str
    tenant: str
    namespace: str
    count: int
    at: float


@dataclass
class EventRecorder:
    client: ApiClient
    component: str
    host: str = ""
    _seen: dict[tuple[str, str, str, str], _Seen] = field(default_factory=dict)

    async def event(self, obj: dict[str, Any], event_type: EventType, reason: str, message: str) -> None:
        """Record that ``reason``/``message`` happened to ``obj``."""
        try:
            await self._record(obj, event_type, reason, message)
        except ApiError as e:
            log.warning("could not record event %s for %s: %s", reason,
                        (obj.get("metadata") or {}).get("name"), e)

    async def _record(self, obj: dict[str, Any], event_type: EventType, reason: str, message: str) -> None:
        metadata = obj.get("metadata") or {}
        tenant = str(metadata.get("tenant") or "system")
        namespace = str(metadata.get("namespace") or "default")
        uid = str(metadata.get("uid", ""))
        key = (uid, reason, message, event_type)
        now = now_rfc3339()
        seen = self._seen.get(key)
        if seen is not None and time.monotonic() - seen.at < _AGGREGATE_WINDOW_S:
            seen.count += 1
            seen.at = time.monotonic()
            await self.client.patch(EVENTS, seen.name, {"count": seen.count, "lastTimestamp": now},
                                    patch_type="merge", tenant=seen.tenant, namespace=seen.namespace)
            return
        name = f"{metadata.get('name', 'object')}.{time.time_ns():x}"
        body = {
            "apiVersion": "v1", "kind": "Event",
            "metadata": {"name": name, "namespace": namespace},
            "involvedObject": {
                "kind": obj.get("kind", ""), "apiVersion": obj.get("apiVersion", ""),
                "name": metadata.get("name", ""), "namespace": metadata.get("namespace", ""),
                "uid": uid, "resourceVersion": metadata.get("resourceVersion", ""),
            },
            "reason": reason, "message": message, "type": event_type,
            "source": {"component": self.component, **({"host": self.host} if self.host else {})},
            "firstTimestamp": now, "lastTimestamp": now, "count": 1,
            "reportingComponent": self.component, "reportingInstance": self.host or self.component,
        }
        await self.client.create(EVENTS, body, tenant=tenant, namespace=namespace)
        if len(self._seen) >= _REMEMBERED:
            self._seen.clear()
        self._seen[key] = _Seen(name, tenant, namespace, 1, time.monotonic())
