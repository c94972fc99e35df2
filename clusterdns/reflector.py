"""List-then-watch for one resource across every tenant, as client-go's reflector.

A reflector lists (getting a resourceVersion), then watches from that version; each event goes
to the sink. A 410 Gone (history compacted) means list again; any other failure reconnects with
exponential backoff (0.5 s doubling to 30 s, reset once a watch delivered events), and so does
a watch that ends within a second without an event. The calls block, so each reflector runs in
its own daemon thread and hands results to the event loop through the ``deliver`` callback (the
DNS cache is only touched on the loop's thread).
"""

from __future__ import annotations

import functools
import logging
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, Protocol

from clusterdns.apiclient import ApiClient, ApiError, Expired

log = logging.getLogger(__name__)

BACKOFF_INITIAL_S = 0.5
BACKOFF_MAX_S = 30.0
QUICK_WATCH_END_S = 1.0


class Sink(Protocol):
    def replace(self, kind: str, items: list[dict[str, Any]]) -> None: ...

    def apply(self, kind: str, event_type: str, obj: dict[str, Any]) -> None: ...


@dataclass(frozen=True)
class Resource:
    kind: str
    path: str


# The cross-tenant lists (ARKTOS.md §1) of what DNS answers from.
SERVICES = Resource("Service", "/api/v1/services")
ENDPOINT_SLICES = Resource("EndpointSlice", "/apis/discovery.k8s.io/v1/endpointslices")
PODS = Resource("Pod", "/api/v1/pods")
RESOURCES = (SERVICES, ENDPOINT_SLICES, PODS)

Deliver = Callable[[Callable[[], None]], object]


class Reflector:
    def __init__(self, client: ApiClient, resource: Resource, sink: Sink, *, deliver: Deliver,
                 stop: threading.Event) -> None:
        self.client, self.resource, self.sink = client, resource, sink
        self.deliver, self.stop = deliver, stop

    def start(self) -> threading.Thread:
        thread = threading.Thread(target=self.run, name=f"reflector-{self.resource.kind}", daemon=True)
        thread.start()
        return thread

    def run(self) -> None:
        backoff = BACKOFF_INITIAL_S
        while not self.stop.is_set():
            try:
                items, version = self.client.list(self.resource.path)
                self.deliver(functools.partial(self.sink.replace, self.resource.kind, items))
                while not self.stop.is_set():
                    started = time.monotonic()
                    version, delivered = self._watch_once(version)
                    if delivered:
                        backoff = BACKOFF_INITIAL_S
                    elif time.monotonic() - started < QUICK_WATCH_END_S:
                        # A watch that ends at once with nothing in it would otherwise spin.
                        self.stop.wait(backoff)
                        backoff = min(backoff * 2, BACKOFF_MAX_S)
            except Expired:
                log.info("%s: resourceVersion expired, listing again", self.resource.kind)
                continue
            except (ApiError, ValueError, OSError) as e:
                log.warning("%s: %s; retrying in %.1fs", self.resource.kind, e, backoff)
                self.stop.wait(backoff)
                backoff = min(backoff * 2, BACKOFF_MAX_S)

    def _watch_once(self, version: str) -> tuple[str, bool]:
        """One watch request; the last resourceVersion seen and whether any event came."""
        delivered = False
        for event in self.client.watch(self.resource.path, version):
            obj = event.get("object") or {}
            version = str((obj.get("metadata") or {}).get("resourceVersion", version))
            if event["type"] == "BOOKMARK":
                continue
            kind, event_type = self.resource.kind, str(event["type"])
            # partial binds this event's values now: a lambda would see the loop's later ones.
            self.deliver(functools.partial(self.sink.apply, kind, event_type, obj))
            delivered = True
            if self.stop.is_set():
                break
        return version, delivered
