"""The kubelet's side of Arktos's VM pod actions (ARKTOS.md §4): reboot, snapshot and restore.

``POST pods/{name}/action`` stores an ``Action`` addressed to the pod's node; the node's kubelet
watches Actions with the field selector ``spec.nodeName=<node>`` across every tenant (as Arktos's
kubelet does), carries out each one that is not yet ``status.complete`` through the VM runtime's
extra verbs (`kubelet.runtime.VmControl`) and reports the outcome on the Action's ``/status``:
``complete: true``, ``error`` (empty on success), ``completionTime``, and per operation
``rebootStatus.rebootSuccessful``, ``snapshotStatus.snapshotID`` (what a restore later names) or
``restoreStatus.restoreSuccessful`` (`apis.actions.completed_status`).

The shape is client-go's: the informer's handler only enqueues keys; workers take a key, read the
Action from the cache and act. An Action is carried out at most once per kubelet process: its
outcome is remembered by uid until the status write lands, so a failed status write is retried
without repeating the reboot. A kubelet restarted between the two repeats the operation
(at-least-once across restarts, as upstream's kubelet re-syncs after a restart).
"""

from __future__ import annotations

import asyncio
import inspect
import logging
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Any

from apis.actions import Operation, completed_status, operation_of
from apis.meta import now_rfc3339
from client.cache import ObjectKey
from client.errors import ApiError, NotFound
from client.informer import Informer
from client.resources import ResourceRef
from client.rest import ApiClient
from client.workqueue import QueueShutDown, WorkQueue
from kubelet.runtime import VmControl

log = logging.getLogger(__name__)

ACTIONS = ResourceRef("", "v1", "actions", "Action")
VmLookup = tuple[VmControl, str]
# find_vm(tenant, namespace, pod_name) -> (the VM runtime, the VM's container id), or None.
FindVm = Callable[[str, str, str], VmLookup | Awaitable[VmLookup | None] | None]


@dataclass(frozen=True, slots=True)
class _Outcome:
    operation: Operation
    error: str = ""
    snapshot_id: str = ""
    completion_time: str = ""


class ActionExecutor:
    """Carries out the Actions addressed to one node. Run `run` as a supervised task."""

    def __init__(self, client: ApiClient, node_name: str, find_vm: FindVm, *, workers: int = 4,
                 operation_timeout_s: float = 300.0) -> None:
        self.client = client
        self.node_name = node_name
        self._find_vm = find_vm
        self._workers = workers
        self._operation_timeout_s = operation_timeout_s
        self.informer = Informer(client, ACTIONS, field_selector=f"spec.nodeName={node_name}")
        self.queue = WorkQueue(f"actions {node_name}")
        # uid -> outcome not yet written to the Action's status.
        self._unreported: dict[str, _Outcome] = {}
        # uids carried out and reported by this process (never carried out twice).
        self._finished: set[str] = set()
        self.informer.add_handler(self._on_event)

    def _on_event(self, event_type: str, key: ObjectKey) -> None:
        if event_type != "DELETED":
            self.queue.add(key)

    async def run(self) -> None:
        """Watch and work until cancelled."""
        try:
            async with asyncio.TaskGroup() as group:
                group.create_task(self.informer.run(), name=f"actions informer {self.node_name}")
                for index in range(self._workers):
                    group.create_task(self._work(), name=f"action worker {self.node_name}/{index}")
        finally:
            self.queue.shutdown()

    async def _work(self) -> None:
        while True:
            try:
                key = await self.queue.get()
            except QueueShutDown:
                return
            try:
                await self.process(key)  # type: ignore[arg-type]
                self.queue.forget(key)
            except ApiError as e:
                log.warning("action %s: status write failed (%s); retrying", key, e)
                self.queue.add_rate_limited(key)
            except Exception:  # a bug must not stop the other actions: log, back off, retry
                log.exception("action %s: unexpected failure; retrying", key)
                self.queue.add_rate_limited(key)
            finally:
                self.queue.done(key)

    async def process(self, key: ObjectKey) -> None:
        """Carry out the Action at ``key`` if it is still to be done, and report its outcome."""
        action = self.informer.get(key)
        if action is None:
            return
        metadata, status = action.get("metadata") or {}, action.get("status") or {}
        uid = str(metadata.get("uid") or "")
        if status.get("complete") or uid in self._finished:
            self._unreported.pop(uid, None)
            return
        outcome = self._unreported.get(uid)
        if outcome is None:
            outcome = await self._carry_out(action)
            self._unreported[uid] = outcome
        await self._report(key, outcome)
        self._unreported.pop(uid, None)
        self._finished.add(uid)

    async def _report(self, key: ObjectKey, outcome: _Outcome) -> None:
        status = completed_status(outcome.operation, error=outcome.error, snapshot_id=outcome.snapshot_id,
                                  completion_time=outcome.completion_time)
        try:
            await self.client.patch(ACTIONS, key.name, {"status": status}, tenant=key.tenant or None,
                                    namespace=key.namespace, subresource="status")
        except NotFound:
            log.info("action %s was deleted before its outcome could be reported", key)

    async def _carry_out(self, action: dict[str, Any]) -> _Outcome:
        metadata, spec = action.get("metadata") or {}, action.get("spec") or {}
        operation = operation_of(action)
        if operation is None:
            # Server validation makes this unreachable; report rather than loop on it.
            return _Outcome("reboot", error="the action names no operation", completion_time=now_rfc3339())
        tenant = str(metadata.get("tenant") or "system")
        namespace, pod_name = str(metadata.get("namespace") or ""), str(spec.get("podName") or "")
        where = f"{tenant}/{namespace}/{pod_name}"
        try:
            found = await self._lookup(tenant, namespace, pod_name)
            if found is None:
                return _Outcome(operation, error=f"no VM of pod {where} runs on node {self.node_name}",
                                completion_time=now_rfc3339())
            control, container_id = found
            async with asyncio.timeout(self._operation_timeout_s):
                snapshot_id = await _perform(control, container_id, operation, spec)
        except asyncio.CancelledError:
            raise
        except Exception as e:  # a runtime failure is the action's outcome, not the kubelet's
            log.warning("action %s on pod %s failed: %s", operation, where, e)
            message = str(e) or type(e).__name__
            return _Outcome(operation, error=f"{operation} failed: {message}", completion_time=now_rfc3339())
        log.info("action %s on pod %s done", operation, where)
        return _Outcome(operation, snapshot_id=snapshot_id, completion_time=now_rfc3339())

    async def _lookup(self, tenant: str, namespace: str, pod_name: str) -> VmLookup | None:
        found = self._find_vm(tenant, namespace, pod_name)
        if inspect.isawaitable(found):
            return await found
        return found


async def _perform(control: VmControl, container_id: str, operation: Operation, spec: dict[str, Any]) -> str:
    """Run one operation; answers the snapshot id for a snapshot, else ""."""
    if operation == "reboot":
        delay = int((spec.get("rebootAction") or {}).get("delayInSeconds") or 0)
        await control.reboot_vm(container_id, delay_s=float(max(delay, 0)))
        return ""
    if operation == "snapshot":
        name = str((spec.get("snapshotAction") or {}).get("snapshotName") or "")
        return await control.snapshot_vm(container_id, name)
    snapshot_id = str((spec.get("restoreAction") or {}).get("snapshotID") or "")
    await control.restore_vm(container_id, snapshot_id)
    return ""
