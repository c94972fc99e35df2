"""DeleteOptions of a delete or deletecollection, from the body or else the query, checked.

Upstream (k8s.io/apiserver endpoints/handlers/delete.go): a non-empty body *is* the
DeleteOptions (``kubectl delete --dry-run=server`` and ``--grace-period`` send them there) and
the query is then ignored; an empty body takes them from the query (``gracePeriodSeconds``,
``propagationPolicy``, ``orphanDependents``, ``dryRun``). Then ValidateDeleteOptions (422
``DeleteOptions.meta.k8s.io "" is invalid: ...``): ``orphanDependents`` and ``propagationPolicy``
are exclusive, the policy is one of Foreground/Background/Orphan, dryRun only "All".

A body whose fields have the wrong JSON type (``{"preconditions": "x"}``) does not decode.
Upstream passes that decoder error on unconverted and so answers 500; here it is the 400 the
same error gets everywhere else, with the Go decoder's text.
"""

from __future__ import annotations

from typing import Any

from aiohttp import web

from server.errors import BadRequest, Invalid
from server.handlers import codec
from server.handlers.params import parse_bool, parse_int64, values
from server.registry.options import delete_options_errors
from server.registry.store import WriteOptions
from server.schema.schema_walk import decode_errors

DELETE_OPTIONS = "io.k8s.apimachinery.pkg.apis.meta.v1.DeleteOptions"


async def delete_options(request: web.BaseRequest) -> tuple[dict[str, Any], WriteOptions]:
    """The validated DeleteOptions (as a JSON dict) and the write options they carry (dryRun)."""
    data = await codec.read_body(request) if request.can_read_body else b""
    options = _from_body(data, codec.content_type_of(request)) if data.strip() else _from_query(request)
    errors = delete_options_errors(options)
    if errors:
        raise Invalid.options("DeleteOptions", errors)
    return options, WriteOptions(dry_run=bool(options.get("dryRun")))


def _from_body(data: bytes, content_type: str) -> dict[str, Any]:
    body = codec.decode_body(data, content_type)
    if not isinstance(body, dict):
        raise BadRequest("decoded object cannot be converted to DeleteOptions")
    kind = body.get("kind")
    if kind is not None and kind != "DeleteOptions":
        raise BadRequest("decoded object cannot be converted to DeleteOptions")
    errors = decode_errors(DELETE_OPTIONS, body)
    if errors:
        raise BadRequest(errors[0])
    # Unknown fields are ignored (DeleteOptions are decoded leniently upstream); nulls mean unset.
    return {key: value for key, value in body.items() if value is not None}


def _from_query(request: web.BaseRequest) -> dict[str, Any]:
    query = request.query
    options: dict[str, Any] = {}
    if query.get("gracePeriodSeconds"):
        options["gracePeriodSeconds"] = parse_int64(query["gracePeriodSeconds"])
    if "propagationPolicy" in query:
        options["propagationPolicy"] = query["propagationPolicy"]
    if query.get("orphanDependents"):
        options["orphanDependents"] = parse_bool(query["orphanDependents"])
    dry_run = values(query, "dryRun")
    if dry_run:
        options["dryRun"] = dry_run
    return options
