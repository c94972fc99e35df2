"""Writing a controller: declare what it watches, write `reconcile(key)`; the runtime does the rest.

The shape is kopf's (a decorator registers a handler with what it watches) on client-go's
machinery (shared informers → key workqueue → N workers). A controller class names its
`Watch`es — a resource view plus how an event maps to the keys to reconcile (by default the
object's own key; e.g. a namespace event may map to its tenant's key) — and implements
``reconcile(key)``, which reads current state from the informer caches and makes the world match,
idempotently. Retries belong to the queue: an exception requeues the key with per-key exponential
backoff; `Requeue` asks for a plain re-check later. Workers run supervised in a TaskGroup; `stop`
lets in-flight reconciles finish, while cancellation interrupts them.
"""

from __future__ import annotations

import abc
import asyncio
import contextlib
import logging
from collections.abc import Callable, Coroutine, Hashable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, ClassVar, TypeVar

from client.cache import IndexFunc, ObjectKey
from client.errors import ApiError
from client.informer import Informer
from client.informer_factory import InformerView, SharedInformers
from client.partitions import Partition, PartitionInformer, PartitionInformers
from client.rest import ApiClient
from client.workqueue import QueueShutDown, WorkQueue

log = logging.getLogger(__name__)

KeyMapper = Callable[[dict[str, Any]], Iterable[Hashable]]


@dataclass(frozen=True)
class Watch:
    """One thing a controller watches, and which keys its events enqueue."""

    view: InformerView
    keys: KeyMapper | None = None  # None: the object's own `ObjectKey`
    indexers: Mapping[str, IndexFunc] = field(default_factory=dict)
    # Which partitions to watch (`client.partitions`): None = the own API server; a source name
    # (e.g. TENANT_PARTITIONS) = each of its partitions, or the own server when not configured.
    source: str | None = None


class Requeue(Exception):
    """Raised by `reconcile` to look at the key again after ``after`` seconds (not a failure)."""

    def __init__(self, after: float, reason: str = "") -> None:
        super().__init__(reason or f"requeue after {after}s")
        self.after = after


@dataclass(frozen=True, slots=True)
class RuntimeSettings:
    """Knobs passed down from the process's command line (no globals)."""

    workers: int | None = None  # overrides each controller's own default when set
    reconcile_timeout_s: float = 120.0
    watch_timeout_s: int | None = None
    # The controllers' own knobs from the command line (kube-controller-manager's component
    # config: grace periods, CA file, thresholds). Typed by the controllers package
    # (`controllers.options.ControllerOptions`); opaque to the runtime.
    controller_options: object = None


@dataclass
class ControllerContext:
    """What a controller instance is given: the client, the shared informers and its queue."""

    client: ApiClient
    informers: SharedInformers
    queue: WorkQueue
    settings: RuntimeSettings
    partitions: PartitionInformers | None = None  # informers of watches with a `Watch.source`


class Controller(abc.ABC):
    """Base class: set ``name`` and ``watches``, implement `reconcile`, optionally `start`."""

    name: ClassVar[str]
    watches: ClassVar[tuple[Watch, ...]] = ()
    workers: ClassVar[int] = 2

    def __init__(self, context: ControllerContext) -> None:
        self.context = context
        self.client = context.client
        self.queue = context.queue

    def informer(self, view: InformerView) -> Informer:
        """The shared informer for one of this controller's watches."""
        return self.context.informers.informer(view)

    def partition_informers(self, view: InformerView, source: str) -> list[PartitionInformer]:
        """The informers of a watch with ``source``: one per partition (the own one unconfigured)."""
        partitions = self.context.partitions or PartitionInformers(self.context.informers)
        return partitions.informers(view, source)

    def client_of(self, partition: Partition) -> ApiClient:
        """The client that writes objects read from ``partition``: this controller's own client
        for the own partition; elsewhere its identity there (`Partition.writer_for`), if any."""
        if partition.own:
            return self.client
        return partition.writer_for(type(self)) if partition.writer_for is not None else partition.client

    async def start(self) -> None:  # noqa: B027 - an optional hook, empty by default
        """Runs once after the caches synced and before the workers start."""

    @abc.abstractmethod
    async def reconcile(self, key: Hashable) -> None:
        """Make the world match the desired state for ``key``; must be idempotent."""


C = TypeVar("C", bound=type[Controller])


class ControllerRegistry:
    """Controller classes by name: what ``--controllers`` chooses from."""

    def __init__(self) -> None:
        self._classes: dict[str, type[Controller]] = {}

    def register(self, cls: C) -> C:
        """Class decorator: ``@registry.register``."""
        name = getattr(cls, "name", "")
        if not name:
            raise ValueError(f"{cls.__name__} has no name")
        if name in self._classes and self._classes[name] is not cls:
            raise ValueError(f"controller {name!r} registered twice")
        self._classes[name] = cls
        return cls

    def names(self) -> list[str]:
        return sorted(self._classes)

    def get(self, name: str) -> type[Controller]:
        try:
            return self._classes[name]
        except KeyError:
            raise KeyError(f"unknown controller {name!r}; known: {', '.join(self.names())}") from None


# Which client a controller class acts through (kube-controller-manager's ClientBuilder).
ClientFor = Callable[[type[Controller]], ApiClient]


class ControllerRunner:
    """Runs a set of controllers over one set of shared informers.

    The informers list and watch through ``client``; each controller writes through
    ``client_for(its class)`` when given (its own service account's client, as upstream's
    ``--use-service-account-credentials``), else through ``client`` too.
    """

    def __init__(self, client: ApiClient, classes: Iterable[type[Controller]],
                 settings: RuntimeSettings | None = None, *, client_for: ClientFor | None = None,
                 sources: Mapping[str, Sequence[Partition]] | None = None,
                 informers: SharedInformers | None = None,
                 admits: Callable[[dict[str, Any]], bool] | None = None) -> None:
        self.settings = settings or RuntimeSettings()
        # ``informers``: a narrower set (client.replicated: the primary resource of one hashKey range);
        # ``admits``: which objects of the mapped (secondary) watches may enqueue their owners.
        self.informers = informers or SharedInformers(client, watch_timeout_s=self.settings.watch_timeout_s)
        # Other partitions' informers, for watches with a `Watch.source` (scale-out).
        self.partitions = PartitionInformers(self.informers, sources,
                                             watch_timeout_s=self.settings.watch_timeout_s)
        self.controllers: list[Controller] = []
        for cls in classes:
            own_client = client_for(cls) if client_for is not None else client
            context = ControllerContext(own_client, self.informers, WorkQueue(cls.name), self.settings,
                                        self.partitions)
            controller = cls(context)
            for watch in cls.watches:
                for item in self._watched(watch):
                    item.informer.add_handler(_enqueuer(item.informer, watch, context.queue, admits))
            self.controllers.append(controller)
        self._stopping = asyncio.Event()

    def stop(self) -> None:
        """Graceful stop: workers finish their current key, then everything ends."""
        self._stopping.set()

    async def run(self) -> None:
        """Runs until `stop` (returns) or cancellation (propagates)."""
        async with asyncio.TaskGroup() as group:
            informers = group.create_task(self.informers.run(), name="informers")
            remote = group.create_task(self.partitions.run(), name="partition informers")
            workers = [group.create_task(self._run_controller(c), name=f"controller {c.name}")
                       for c in self.controllers]
            await self._stopping.wait()
            for controller in self.controllers:
                controller.queue.shutdown()
            # Reconciles running past the grace period are cancelled.
            _, late = await asyncio.wait(workers, timeout=self.settings.reconcile_timeout_s)
            for task in late:
                task.cancel()
            informers.cancel()
            remote.cancel()

    async def _run_controller(self, controller: Controller) -> None:
        if not await self._unless_stopped(self._prepare(controller)):
            return  # stopped while waiting for caches (e.g. the server is unreachable)
        count = self.settings.workers or controller.workers
        log.info("controller %s started with %d workers", controller.name, count)
        async with asyncio.TaskGroup() as group:
            for index in range(count):
                group.create_task(self._work(controller), name=f"{controller.name} worker {index}")

    def _watched(self, watch: Watch) -> list[PartitionInformer]:
        return self.partitions.informers(watch.view, watch.source, indexers=watch.indexers)

    async def _prepare(self, controller: Controller) -> None:
        await self.partitions.wait_for_sync([i for w in controller.watches for i in self._watched(w)])
        await controller.start()

    async def _unless_stopped(self, step: Coroutine[Any, Any, None]) -> bool:
        """Runs ``step`` unless `stop` comes first (then cancels it); answers whether it finished."""
        step_task = asyncio.create_task(step)
        stop_task = asyncio.create_task(self._stopping.wait())
        try:
            await asyncio.wait({step_task, stop_task}, return_when=asyncio.FIRST_COMPLETED)
        finally:
            stop_task.cancel()
            if not step_task.done():
                step_task.cancel()
                with contextlib.suppress(asyncio.CancelledError):
                    await step_task
        if step_task.cancelled():
            return False
        step_task.result()  # re-raise a failure of the step itself
        return True

    async def _work(self, controller: Controller) -> None:
        queue = controller.queue
        while True:
            try:
                key = await queue.get()
            except QueueShutDown:
                return
            try:
                async with asyncio.timeout(self.settings.reconcile_timeout_s):
                    await controller.reconcile(key)
            except Requeue as requeue:
                queue.forget(key)
                queue.add_after(key, requeue.after)
            except Exception as e:  # any failure: retry with backoff, never kill the worker
                log.warning("%s: reconcile %s failed (%d retries so far): %s", controller.name, key,
                            queue.num_requeues(key), e, exc_info=not _expected(e))
                queue.add_rate_limited(key)
            else:
                queue.forget(key)
            finally:
                queue.done(key)
            # A backlog of reconciles that only read caches never suspends (get() returns at once
            # while keys wait): yield, so lease and instance renewals and the informers keep running.
            await asyncio.sleep(0)


def _enqueuer(informer: Informer, watch: Watch, queue: WorkQueue,
              admits: Callable[[dict[str, Any]], bool] | None) -> Callable[[str, ObjectKey], None]:
    """Handler of one watch: its own key, or the keys ``watch.keys`` maps an object to — unless
    ``admits`` refuses the object (client.replicated: a child of an owner outside the range)."""
    def on_event(event_type: str, key: ObjectKey) -> None:
        if watch.keys is None:
            queue.add(key)
            return
        obj = informer.last_state(key)
        if obj is not None and (admits is None or admits(obj)):
            for mapped in watch.keys(obj):
                queue.add(mapped)

    return on_event


def _expected(error: Exception) -> bool:
    """API errors and timeouts are part of life; only unexpected ones deserve a traceback."""
    return isinstance(error, ApiError | TimeoutError)
