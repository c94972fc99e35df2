"""``POST pods/{name}/action``: Arktos's way of asking a VM pod's node to reboot, snapshot or
restore the VM (ARKTOS.md §4).

Mirrors Arktos's ActionREST (pkg/registry/core/pod/storage): the CustomAction body becomes an
``Action`` named ``{operation}-{unixtime}`` in the pod's tenant and namespace, addressed to the
pod's node, and the answer is a ``Status`` (Success, "Created action 'reboot' for Pod 'vm1'",
details naming the Action). We refuse more than Arktos did, with clear messages: an unknown
operation (400, Arktos's text), missing parameters (422), a pod without a VM (400) and a pod not
yet bound to a node (409: no kubelet would ever carry the action out). Two requests in the same
second get distinct names (a numeric suffix) instead of Arktos's AlreadyExists.
"""

from __future__ import annotations

import time
from typing import Any

from apis.actions import UnsupportedOperation, action_name, custom_action_errors, new_action, target_errors
from server.errors import AlreadyExists, BadRequest, Conflict, Invalid, status_object
from server.registry.record import ResourceRecord
from server.registry.rest.interface import RestContext, RestRequest
from server.registry.rest.typed_bodies import CUSTOM_ACTION, decoded_as
from server.registry.store import WriteOptions, WriteResult

_MAX_NAME_ATTEMPTS = 20


def _check_body(body: Any, pod_name: str) -> dict[str, Any]:
    if not isinstance(body, dict):
        raise BadRequest("the body must be a CustomAction object")
    kind = body.get("kind")
    if kind not in (None, "", "CustomAction"):
        raise BadRequest(f'the body must be a CustomAction, not "{kind}"')
    try:
        errors = custom_action_errors(body)
    except UnsupportedOperation as e:
        # Arktos's getActionSpec: errors.NewBadRequest("Unsupported operation '%s' for Pod '%s'").
        raise BadRequest(f"Unsupported operation '{e}' for Pod '{pod_name}': supported operations "
                         "are reboot, snapshot, restore") from None
    if errors:
        raise Invalid.fields("CustomAction", pod_name, errors)
    return body


class ActionREST:
    """create of ``pods/{name}/action``."""

    def __init__(self, record: ResourceRecord, context: RestContext) -> None:
        self._store = context.store
        self._catalogue = context.catalogue

    async def create(self, request: RestRequest, body: Any, options: WriteOptions) -> WriteResult:
        """Store the Action a CustomAction on the pod asks for; answer Arktos's Status."""
        pod_name, scope = request.name, request.scope
        action_request = _check_body(decoded_as(body, *CUSTOM_ACTION), pod_name)
        actions = self._catalogue.lookup("", "v1", "actions")
        if actions is None:
            raise BadRequest("this server does not serve actions")
        pod = self._store.get(request.resource, scope, pod_name).obj  # 404 pods "x" not found
        reason = target_errors(pod)
        if reason is not None:
            raise BadRequest(reason)
        if not (pod.get("spec") or {}).get("nodeName"):
            raise Conflict(f'pod "{pod_name}" is not bound to a node yet: an action is carried out by '
                           "the kubelet of the pod's node")
        if "deletionTimestamp" in pod["metadata"]:
            raise Conflict(f'pod "{pod_name}" is being deleted')
        operation = str(action_request["operation"])
        now = int(time.time())
        for attempt in range(_MAX_NAME_ATTEMPTS):
            action = new_action(pod, action_request, name=action_name(operation, now, attempt))
            try:
                created = await self._store.create(actions, scope, action, options)
            except AlreadyExists:
                continue
            return WriteResult(_created_status(created.obj, operation, pod_name), 201, created.warnings)
        raise Conflict(f"too many {operation} actions for pod \"{pod_name}\" within one second")


def _created_status(action: dict[str, Any], operation: str, pod_name: str) -> dict[str, Any]:
    metadata = action.get("metadata") or {}
    return status_object(
        "Success", metadata={"resourceVersion": str(metadata.get("resourceVersion", ""))}, code=201,
        message=f"Created action '{operation}' for Pod '{pod_name}'",
        details={"name": metadata.get("name", ""), "kind": "actions", "uid": metadata.get("uid", "")})
