"""``POST /api/v1/tenants`` through the gateway: choose the tenant's partition, record it, create it there.

A tenant's partition is written in the Tenant itself (the contract: ``spec.storageClusterId`` = the
TP index as a string). A body without one gets the least-loaded TP (fewest tenants in the live map,
ties to the lowest index) written into it; one naming no TP is refused with upstream's 422 Invalid
Status before any partition sees it. The create goes to the chosen TP; on its 201 the name is
recorded in the map at once, so the tenant is routable before the gateway's watch reports it.
"""

from __future__ import annotations

from typing import Any

import orjson
from aiohttp import web

from gateway.callers import Caller
from gateway.forwarding import answer_headers, forwarded_headers, relay, send
from gateway.partitions import Partition
from gateway.placement import Placement
from gateway.status import Invalid

_FIELD = "spec.storageClusterId"


def _invalid(value: str, reason: str, *, name: str) -> Invalid:
    message = f'{_FIELD}: Invalid value: "{value}": {reason}'
    return Invalid(f'Tenant "{name}" is invalid: {message}', details={
        "name": name, "kind": "Tenant",
        "causes": [{"reason": "FieldValueInvalid", "message": f'Invalid value: "{value}": {reason}',
                    "field": _FIELD}]})


def assign_partition(body: dict[str, Any], placement: Placement) -> int:
    """The TP index for a Tenant create body; writes it into ``spec.storageClusterId`` when absent."""
    name = str((body.get("metadata") or {}).get("name") or "")
    spec = body.get("spec")
    if not isinstance(spec, dict):
        spec = body["spec"] = {}
    given = spec.get("storageClusterId")
    if given in (None, ""):
        index = placement.least_loaded_tenant_partition()
        spec["storageClusterId"] = str(index)
        return index
    text = str(given)
    if not text.isdigit() or str(int(text)) != text or int(text) >= placement.tenant_partition_count:
        raise _invalid(text, f'no tenant partition "{text}"', name=name)
    return int(text)


async def create_tenant(request: web.BaseRequest, body: bytes, caller: Caller, *,
                        placement: Placement, partitions: tuple[Partition, ...]) -> web.StreamResponse:
    try:
        document = orjson.loads(body) if body else None
    except orjson.JSONDecodeError:
        document = None
    if not isinstance(document, dict):
        # Not JSON (YAML or protobuf bodies are not read here): tp0 decodes and answers it.
        return await relay(request, await send(partitions[0], caller, method="POST", path_qs=request.raw_path,
                                               headers=forwarded_headers(request.headers, caller), body=body))
    index = assign_partition(document, placement)
    headers = forwarded_headers(request.headers, caller)
    headers["Content-Type"] = "application/json"
    answer = await send(partitions[index], caller, method="POST", path_qs=request.raw_path,
                        headers=headers, body=orjson.dumps(document))
    try:
        raw = await answer.read()
    finally:
        answer.release()
    if answer.status == 201:
        # The created object's name (a generateName body names none before the create).
        created = orjson.loads(raw)
        placement.tenants.record(str((created.get("metadata") or {}).get("name") or ""), index)
    return web.Response(status=answer.status, body=raw, headers=answer_headers(answer))
