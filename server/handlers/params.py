"""Query parameters of resource requests, checked as upstream checks them (400 on bad values)."""

from __future__ import annotations

from collections.abc import Mapping

from apis.catalogue import Resource
from apis.selectors import SelectorError, parse_field_selector, parse_label_selector
from server.auth.user import UserInfo
from server.errors import BadRequest
from server.registry.lister import ListOptions
from server.registry.store import WriteOptions

_FIELD_VALIDATION = ("Strict", "Warn", "Ignore")


def write_options(query: Mapping[str, str], *, user: UserInfo | None = None) -> WriteOptions:
    dry_run = query.getall("dryRun", []) if hasattr(query, "getall") else (
        [query["dryRun"]] if "dryRun" in query else [])
    for value in dry_run:
        if value != "All":
            raise BadRequest(f'dryRun: Unsupported value: "{value}": supported values: "All"')
    validation = query.get("fieldValidation", "") or "Warn"
    if validation not in _FIELD_VALIDATION:
        raise BadRequest(f'fieldValidation: Unsupported value: "{validation}": supported values: '
                         '"Ignore", "Strict", "Warn"')
    return WriteOptions(dry_run=bool(dry_run), field_validation=validation, user=user)


def int_param(query: Mapping[str, str], name: str, default: int = 0) -> int:
    raw = query.get(name)
    if raw is None or raw == "":
        return default
    try:
        return int(raw)
    except ValueError as e:
        raise BadRequest(f"{name}: Invalid value: \"{raw}\": must be an integer") from e


def bool_param(query: Mapping[str, str], name: str) -> bool:
    return query.get(name, "").lower() in ("true", "1")


def list_options(resource: Resource, query: Mapping[str, str]) -> ListOptions:
    try:
        label_selector = parse_label_selector(query.get("labelSelector", ""))
        field_selector = parse_field_selector(query.get("fieldSelector", ""), resource)
    except SelectorError as e:
        raise BadRequest(str(e)) from e
    limit = int_param(query, "limit")
    if limit < 0:
        raise BadRequest("limit: Invalid value: must be a non-negative integer")
    return ListOptions(
        label_selector=label_selector, field_selector=field_selector, limit=limit,
        continue_token=query.get("continue", ""), resource_version=query.get("resourceVersion", ""),
        resource_version_match=query.get("resourceVersionMatch", ""),
    )
