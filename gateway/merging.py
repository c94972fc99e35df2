"""Lists answered for the whole cluster: one GET per partition, the items (or Table rows) merged.

``GET /api/v1/tenants``, the nodes of every RP, and the system admin's cross-tenant lists are what
one server holding everything would answer: the same kind, the first partition's ``Table`` column
definitions, every partition's items in partition order. Tenant ``system`` exists on every TP; the
merged views show tp0's only (``SystemCopies``). ``limit``/``continue`` work across partitions with the
composite token of ``gateway.versions``. A partition answering an error ends the merge with that
answer (a Status), an unreachable one with a 503 Status.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any, Literal
from urllib.parse import urlencode

import orjson
from aiohttp import web
from multidict import CIMultiDict, MultiDict

from apis.identity import SYSTEM_TENANT
from gateway.callers import Caller
from gateway.forwarding import answer_headers, forwarded_headers, send
from gateway.partitions import Partition
from gateway.status import BadRequest
from gateway.versions import MergedContinue, compose, decompose


def json_accept(accept: str) -> str:
    """The client's Accept less protobuf (the gateway merges JSON only); JSON if nothing is left."""
    kept = [part for part in accept.split(",") if "protobuf" not in part and part.strip()]
    return ",".join(kept) or "application/json"


def entry_name(entry: dict[str, Any]) -> str:
    """An item's name, or a Table row's (its object's metadata, else its first cell)."""
    meta = (entry.get("object") or entry).get("metadata") or {}
    if meta.get("name"):
        return str(meta["name"])
    cells = entry.get("cells") or [""]
    return str(cells[0])


def entry_tenant(entry: dict[str, Any]) -> str:
    """An item's tenant, or a Table row's (its object's metadata; "" for a row without one)."""
    meta = (entry.get("object") or entry).get("metadata") or {}
    return str(meta.get("tenant") or "")


# Every TP bootstraps tenant `system` — its Tenant object and its space (namespaces, service
# accounts, its own controllers' leases, ...) — while the gateway sends every request of tenant
# system to tp0. The cluster-wide view shows tp0's copy only, as one server holding everything would:
# "tenant-object" drops the other TPs' Tenant `system` (the Tenant list), "tenant-space" every object
# of tenant system they answer (the system admin's cross-tenant lists).
SystemCopies = Literal["", "tenant-object", "tenant-space"]


def is_system_copy(entry: dict[str, Any], copies: SystemCopies) -> bool:
    if copies == "tenant-object":
        return entry_name(entry) == SYSTEM_TENANT
    if copies == "tenant-space":
        return entry_tenant(entry) == SYSTEM_TENANT
    return False


def _entries_key(document: dict[str, Any]) -> str:
    return "rows" if document.get("kind") == "Table" else "items"


class MergedPage:
    """The pieces of one merged page, filled partition by partition."""

    def __init__(self, count: int, versions: Sequence[str]) -> None:
        self.document: dict[str, Any] | None = None
        self.entries: list[Any] = []
        self.versions = list(versions)
        self.next: MergedContinue | None = None
        self.count = count

    def add(self, index: int, document: dict[str, Any], *, system_copies: SystemCopies) -> str:
        if self.document is None:
            self.document = document
        entries = document.get(_entries_key(document)) or []
        if system_copies and index > 0:
            entries = [e for e in entries if not is_system_copy(e, system_copies)]
        self.entries.extend(entries)
        metadata = document.get("metadata") or {}
        self.versions[index] = str(metadata.get("resourceVersion") or "")
        return str(metadata.get("continue") or "")

    def body(self) -> bytes:
        document = dict(self.document or {"kind": "List", "apiVersion": "v1"})
        document[_entries_key(document)] = self.entries
        metadata: dict[str, Any] = {"resourceVersion": compose(self.versions)}
        if self.next is not None:
            metadata["continue"] = self.next.encode()
        document["metadata"] = metadata
        return orjson.dumps(document)


def _start(query: MultiDict[str], count: int) -> tuple[MergedContinue, int]:
    token = query.get("continue", "")
    limit_text = query.get("limit", "0") or "0"
    if not limit_text.isdigit():
        raise BadRequest(f"invalid limit: {limit_text!r}")
    if token:
        return MergedContinue.decode(token, count), int(limit_text)
    versions = decompose(query.get("resourceVersion", ""), count)
    return MergedContinue(0, "", tuple(versions or [""] * count)), int(limit_text)


def _partition_query(query: MultiDict[str], start: MergedContinue, index: int, remaining: int) -> str:
    params: MultiDict[str] = MultiDict((k, v) for k, v in query.items()
                                       if k not in ("continue", "limit", "resourceVersion",
                                                    "resourceVersionMatch"))
    if remaining:
        params["limit"] = str(remaining)
    if index == start.partition and start.token:
        params["continue"] = start.token
    elif query.get("resourceVersion") and not start.token:
        version = start.versions[index]
        if version:
            params["resourceVersion"] = version
            if query.get("resourceVersionMatch"):
                params["resourceVersionMatch"] = query["resourceVersionMatch"]
    return urlencode(list(params.items()))


async def merged_list(request: web.BaseRequest, partitions: Sequence[Partition], caller: Caller, *,
                      system_copies: SystemCopies) -> web.StreamResponse:
    """Answer a list over ``partitions`` (index order), as one server would."""
    start, limit = _start(MultiDict(request.query), len(partitions))
    page = MergedPage(len(partitions), start.versions)
    headers = forwarded_headers(request.headers, caller)
    headers["Accept"] = json_accept(request.headers.get("Accept", ""))
    headers.popall("Accept-Encoding", None)
    last_headers: CIMultiDict[str] = CIMultiDict()
    for index in range(start.partition, len(partitions)):
        remaining = limit - len(page.entries) if limit else 0
        query = _partition_query(MultiDict(request.query), start, index, remaining)
        answer = await send(partitions[index], caller, method="GET",
                            path_qs=request.path + (f"?{query}" if query else ""), headers=headers, body=b"")
        try:
            raw = await answer.read()
        finally:
            answer.release()
        if answer.status != 200:
            return web.Response(status=answer.status, body=raw, headers=answer_headers(answer))
        last_headers = answer_headers(answer)
        token = page.add(index, orjson.loads(raw), system_copies=system_copies)
        if token:
            page.next = MergedContinue(index, token, tuple(page.versions))
            break
        if limit and len(page.entries) >= limit and index + 1 < len(partitions):
            page.next = MergedContinue(index + 1, "", tuple(page.versions))
            break
    content_type = last_headers.get("Content-Type", "application/json")
    return web.Response(status=200, body=page.body(), headers={"Content-Type": content_type})
