"""Lists answered for the whole cluster: one GET per partition, the items (or Table rows) merged.

``GET /api/v1/tenants``, the nodes of every RP, and the system admin's cross-tenant lists are what
one server holding everything would answer: the same kind, the first partition's ``Table`` column
definitions, every partition's items — in one server's key order (tenant, namespace, name) for a
whole list, whose partitions are asked at once; a paged one goes partition by partition. Tenant
``system`` exists on every TP; the merged views show tp0's only (``SystemCopies``).
``limit``/``continue`` work across partitions with the composite token of ``gateway.versions``. A
partition answering an error ends the merge with that answer (a Status), an unreachable one with a
503 Status.
"""

from __future__ import annotations

import asyncio
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


def _entry_key(entry: dict[str, Any]) -> str:
    """Where one server's store keeps an item — ``/registry/{resource}/{tenant}/{namespace}/{name}``,
    shorter for tenant and cluster scope — compared as that string, the order its lists come in (a
    Table row without its object sorts by its first cell)."""
    meta = (entry.get("object") or entry).get("metadata") or {}
    return "/".join(part for part in (str(meta.get("tenant") or ""), str(meta.get("namespace") or ""),
                                      entry_name(entry)) if part)


async def merged_list(request: web.BaseRequest, partitions: Sequence[Partition], caller: Caller, *,
                      system_copies: SystemCopies) -> web.StreamResponse:
    """Answer a list over ``partitions`` (index order), as one server would."""
    start, limit = _start(MultiDict(request.query), len(partitions))
    page = MergedPage(len(partitions), start.versions)
    headers = forwarded_headers(request.headers, caller)
    headers["Accept"] = json_accept(request.headers.get("Accept", ""))
    headers.popall("Accept-Encoding", None)
    if not limit and not request.query.get("continue"):
        return await _whole_list(request, partitions, caller, headers=headers, start=start, page=page,
                                 system_copies=system_copies)
    last_headers: CIMultiDict[str] = CIMultiDict()
    for index in range(start.partition, len(partitions)):
        remaining = limit - len(page.entries) if limit else 0
        query = _partition_query(MultiDict(request.query), start, index, remaining)
        status, raw, answered = await _partition_page(partitions[index], caller, request.path, query, headers)
        if status != 200:
            return web.Response(status=status, body=raw, headers=answered)
        last_headers = answered
        token = page.add(index, orjson.loads(raw), system_copies=system_copies)
        if token:
            page.next = MergedContinue(index, token, tuple(page.versions))
            break
        if limit and len(page.entries) >= limit and index + 1 < len(partitions):
            page.next = MergedContinue(index + 1, "", tuple(page.versions))
            break
    content_type = last_headers.get("Content-Type", "application/json")
    return web.Response(status=200, body=page.body(), headers={"Content-Type": content_type})


async def _whole_list(request: web.BaseRequest, partitions: Sequence[Partition], caller: Caller, *,
                      headers: CIMultiDict[str], start: MergedContinue, page: MergedPage,
                      system_copies: SystemCopies) -> web.StreamResponse:
    """An unpaged list: every partition asked at once, the items in one server's key order."""
    query = MultiDict(request.query)
    answers = await asyncio.gather(*(
        _partition_page(partition, caller, request.path, _partition_query(query, start, index, 0), headers)
        for index, partition in enumerate(partitions)))
    for index, (status, raw, answered) in enumerate(answers):
        if status != 200:
            return web.Response(status=status, body=raw, headers=answered)
        page.add(index, orjson.loads(raw), system_copies=system_copies)
    page.entries.sort(key=_entry_key)
    content_type = answers[-1][2].get("Content-Type", "application/json")
    return web.Response(status=200, body=page.body(), headers={"Content-Type": content_type})


async def _partition_page(partition: Partition, caller: Caller, path: str, query: str,
                          headers: CIMultiDict[str]) -> tuple[int, bytes, CIMultiDict[str]]:
    answer = await send(partition, caller, method="GET", path_qs=path + (f"?{query}" if query else ""),
                        headers=headers, body=b"")
    try:
        return answer.status, await answer.read(), answer_headers(answer)
    finally:
        answer.release()
