"""The gate every request passes after authentication: a seat (or a 429), then a deadline (or a 504).

Upstream's handler chain runs WithPriorityAndFairness (or WithMaxInFlightLimit when
``--enable-priority-and-fairness=false``) after authentication and before authorization, inside
WithTimeoutForNonLongRunningRequests. `FlowControl.handle` is that part of the chain:
- long-running requests (watches, exec/attach/port-forward, logs, proxies) pass untouched;
- with priority and fairness, the request is classified into a flow, estimated in seats, queued
  fairly within its priority level and served once it holds its seats, which it gives back when
  the handler returns; a rejection is a 429 ``TooManyRequests`` Status with ``Retry-After: 1``
  and upstream's text "Too many requests, please try again later."; the response names the flow
  schema and priority level by UID (``X-Kubernetes-PF-FlowSchema-UID``,
  ``X-Kubernetes-PF-PriorityLevel-UID``). A request waits in its queue at most a quarter of the
  request timeout (upstream's queue wait limit; 15 s by default);
- without it, read-only and mutating requests are counted against their max-in-flight limits;
- a request still running after ``--request-timeout`` (60 s; checked once a second, see
  `deadlines`) is answered 504 ``Timeout`` with upstream's message; one whose response had already
  started streaming is cut off instead.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass

from aiohttp import web

from server.auth.user import SYSTEM_MASTERS, SYSTEM_TENANT, UserInfo
from server.errors import ApiError, Timeout, TooManyRequests
from server.flowcontrol.budget import ByteBudget
from server.flowcontrol.classifier import Classification, Classifier, is_long_running, is_mutating
from server.flowcontrol.config import FLOW_SCHEMAS, PRIORITY_LEVELS, FlowSchema, PriorityLevel, nominal_limits
from server.flowcontrol.deadlines import Deadlines
from server.flowcontrol.estimator import seats_for
from server.flowcontrol.maxinflight import MaxInFlight
from server.flowcontrol.metrics import FlowControlMetrics, LevelGauges
from server.flowcontrol.queueset import QueueSet, Rejected, Ticket
from server.request_info import RequestInfo

log = logging.getLogger(__name__)

RETRY_AFTER_S = 1
TOO_MANY_REQUESTS_MESSAGE = "Too many requests, please try again later."
TIMEOUT_MESSAGE = "Timeout: request did not complete within the allotted timeout"
_DEFAULT_QUEUE_WAIT_S = 15.0
_MAX_QUEUE_WAIT_S = 60.0

Serve = Callable[[web.BaseRequest, RequestInfo, UserInfo], Awaitable[web.StreamResponse]]
ObjectCounter = Callable[[RequestInfo, UserInfo], int]


@dataclass(frozen=True, slots=True)
class FlowControlConfig:
    max_requests_inflight: int = 400
    max_mutating_requests_inflight: int = 200
    enable_priority_and_fairness: bool = True
    request_timeout: float = 60.0  # seconds; 0: none
    list_memory_budget: int = 64 * 1024 * 1024  # bytes; 0: none


class FlowControl:
    def __init__(self, config: FlowControlConfig, *, count_objects: ObjectCounter,
                 schemas: Sequence[FlowSchema] = FLOW_SCHEMAS,
                 levels: Sequence[PriorityLevel] = PRIORITY_LEVELS) -> None:
        self.config = config
        self.metrics = FlowControlMetrics()
        self.budget = ByteBudget(config.list_memory_budget)
        self._count_objects = count_objects
        self._deadlines = Deadlines(config.request_timeout) if config.request_timeout > 0 else None
        self._classifier = Classifier(schemas, levels)
        self._queue_sets: dict[str, QueueSet] = {}
        self._max_in_flight: MaxInFlight | None = None
        timeout = config.request_timeout
        self._queue_wait = min(timeout / 4 if timeout > 0 else _DEFAULT_QUEUE_WAIT_S, _MAX_QUEUE_WAIT_S)
        if config.enable_priority_and_fairness:
            server_limit = config.max_requests_inflight + config.max_mutating_requests_inflight
            limits = nominal_limits(levels, server_limit)
            self._queue_sets = {
                level.name: QueueSet(level.name, concurrency_limit=limits[level.name], queues=level.queues,
                                     hand_size=level.hand_size, queue_length_limit=level.queue_length_limit)
                for level in levels if not level.exempt}
            log.info("priority and fairness: %s seats over %s", server_limit, dict(limits))
        else:
            self._max_in_flight = MaxInFlight(read_only_limit=config.max_requests_inflight,
                                              mutating_limit=config.max_mutating_requests_inflight)
        # Chosen once: every request passes here, and each coroutine level costs it time.
        self._admit: Callable[[web.BaseRequest, RequestInfo, UserInfo, Serve],
                              Awaitable[web.StreamResponse]] = (
            self._prioritize if self._max_in_flight is None else self._limit_in_flight)

    async def handle(self, request: web.BaseRequest, info: RequestInfo, user: UserInfo,
                     serve: Serve) -> web.StreamResponse:
        if is_long_running(info):
            return await serve(request, info, user)
        deadlines = self._deadlines
        if deadlines is None:
            return await self._admit(request, info, user, serve)
        task = asyncio.current_task()
        assert task is not None
        tracked = deadlines.track(task)
        try:
            return await self._admit(request, info, user, serve)
        except asyncio.CancelledError:
            if not deadlines.timed_out(task):
                raise
            self.metrics.terminate(info.verb, info.group, info.resource, Timeout.code)
            raise Timeout(TIMEOUT_MESSAGE, details={}) from None
        finally:
            deadlines.forget(task, tracked)

    async def _limit_in_flight(self, request: web.BaseRequest, info: RequestInfo, user: UserInfo,
                               serve: Serve) -> web.StreamResponse:
        assert self._max_in_flight is not None
        kind = "mutating" if is_mutating(info) else "readOnly"
        counted = self._max_in_flight.try_acquire(kind, privileged=_privileged(user))
        if counted is False:
            self.metrics.drop(kind)
            raise _too_many_requests({})
        try:
            return await serve(request, info, user)
        finally:
            if counted:
                self._max_in_flight.release(kind)

    async def _prioritize(self, request: web.BaseRequest, info: RequestInfo, user: UserInfo,
                          serve: Serve) -> web.StreamResponse:
        found = self._classifier.classify(user, info)
        key, headers = found.key, found.headers
        queue_set = self._queue_sets.get(found.level.name)
        ticket = None
        if queue_set is not None:
            ticket = await self._take_seats(request, info, user, found, queue_set)
        metrics = self.metrics
        dispatched, executing = metrics.dispatched, metrics.executing
        dispatched[key] = dispatched.get(key, 0) + 1
        executing[key] = executing.get(key, 0) + 1
        try:
            response = await serve(request, info, user)
        except ApiError as e:
            e.headers.update(headers)
            raise
        finally:
            executing[key] -= 1
            if ticket is not None and queue_set is not None:
                queue_set.finish(ticket)
        if not response.prepared:  # a streamed response has sent its headers already
            response.headers.extend(headers)
        return response

    async def _take_seats(self, request: web.BaseRequest, info: RequestInfo, user: UserInfo,
                          found: Classification, queue_set: QueueSet) -> Ticket:
        seats = seats_for(info, request.query, stored=lambda: self._count_objects(info, user),
                          level_limit=queue_set.concurrency_limit)
        try:
            ticket = queue_set.enqueue(found.flow_hash, seats, abandoned=_client_gone(request))
            if not ticket.executing:
                self.metrics.add(self.metrics.in_queue, found.key, 1)
                try:
                    await queue_set.wait(ticket, limit=self._queue_wait)
                finally:
                    self.metrics.add(self.metrics.in_queue, found.key, -1)
        except Rejected as e:
            self.metrics.reject(found.key, e.reason)
            raise _too_many_requests(dict(found.headers)) from None
        return ticket

    def render_metrics(self) -> bytes:
        levels = {name: LevelGauges(qs.concurrency_limit, qs.seats_in_use, qs.waiting, qs.executing)
                  for name, qs in self._queue_sets.items()}
        in_flight = ({kind: self._max_in_flight.in_flight(kind) for kind in ("readOnly", "mutating")}
                     if self._max_in_flight is not None else {})
        budget = (self.budget.capacity, self.budget.in_use, self.budget.waiting)
        return self.metrics.render(levels=levels, in_flight=in_flight, budget=budget)


def _privileged(user: UserInfo) -> bool:
    """``system:masters`` of tenant system: upstream serves them past the max-in-flight limit."""
    return user.tenant == SYSTEM_TENANT and SYSTEM_MASTERS in user.groups


def _client_gone(request: web.BaseRequest) -> Callable[[], bool]:
    def gone() -> bool:
        transport = request.transport
        return transport is None or transport.is_closing()

    return gone


def _too_many_requests(headers: dict[str, str]) -> TooManyRequests:
    return TooManyRequests(TOO_MANY_REQUESTS_MESSAGE, details={"retryAfterSeconds": RETRY_AFTER_S},
                           headers={"Retry-After": str(RETRY_AFTER_S), **headers})
