"""Query parameters of resource requests, parsed and checked as upstream checks them.

Two kinds of failure, as upstream: a value that does not parse (``limit=abc``; Go's strconv
text) is a 400 from the parameter codec; options that parse but are not allowed are a 422 Invalid
of the options kind, ``CreateOptions.meta.k8s.io "" is invalid: dryRun: Unsupported value:
["Some"]: supported values: "All"`` (apimachinery meta/v1/validation ValidateCreateOptions,
ValidateUpdateOptions, ValidatePatchOptions; ``fieldManager`` at most 128 printable characters
and required for apply). resourceVersion must be an unsigned decimal (upstream's storage
versioner); upstream answers that on list with 400 and on watch with a 500 (its known bug,
kubernetes#139485): both are 400 here.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from typing import Literal

from apis.field_errors import FieldError, forbidden, go_value, invalid, not_supported, required, too_long
from apis.selectors import SelectorError, parse_field_selector, parse_label_selector
from server.auth.user import UserInfo
from server.errors import BadRequest, Invalid
from server.registry.lister import ListOptions
from server.registry.options import dry_run_errors
from server.registry.record import ResourceRecord
from server.registry.store import WriteOptions

OptionsKind = Literal["CreateOptions", "UpdateOptions", "PatchOptions"]
FIELD_MANAGER_MAX_LENGTH = 128
_FIELD_VALIDATION = ("", "Ignore", "Strict", "Warn")  # sorted, as upstream lists them
_DECIMAL = re.compile(r"[+-]?[0-9]+")
_UNSIGNED = re.compile(r"[0-9]+")
_GO_BOOLS = {"1": True, "t": True, "T": True, "TRUE": True, "true": True, "True": True,
             "0": False, "f": False, "F": False, "FALSE": False, "false": False, "False": False}
INT64_MIN, INT64_MAX = -(2**63), 2**63 - 1
UINT64_MAX = 2**64 - 1


def values(query: Mapping[str, str], name: str) -> list[str]:
    if hasattr(query, "getall"):
        return list(query.getall(name, []))
    return [query[name]] if name in query else []


def parse_int64(raw: str) -> int:
    """Go's strconv.ParseInt(raw, 10, 64), raising BadRequest with its error text."""
    if not _DECIMAL.fullmatch(raw):
        raise BadRequest(f'strconv.ParseInt: parsing {go_value(raw)}: invalid syntax')
    value = int(raw) if len(raw) < 40 else INT64_MAX + 1
    if not INT64_MIN <= value <= INT64_MAX:
        raise BadRequest(f'strconv.ParseInt: parsing {go_value(raw)}: value out of range')
    return value


def parse_bool(raw: str) -> bool:
    """Go's strconv.ParseBool."""
    if raw not in _GO_BOOLS:
        raise BadRequest(f'strconv.ParseBool: parsing {go_value(raw)}: invalid syntax')
    return _GO_BOOLS[raw]


def field_manager_errors(manager: str) -> list[FieldError]:
    """upstream ValidateFieldManager: at most 128 bytes, printable characters only."""
    errors = []
    if len(manager.encode("utf-8", "surrogatepass")) > FIELD_MANAGER_MAX_LENGTH:
        errors.append(too_long("fieldManager", FIELD_MANAGER_MAX_LENGTH))
    for position, char in enumerate(manager):
        if not char.isprintable():
            errors.append(invalid("fieldManager", manager,
                                  f"invalid character U+{ord(char):04X} (at position {position})"))
    return errors


def write_options(query: Mapping[str, str], kind: OptionsKind, *, apply: bool = False,
                  user: UserInfo | None = None) -> WriteOptions:
    """dryRun, fieldValidation and fieldManager of a create, update or patch (422 when invalid)."""
    dry_run = values(query, "dryRun")
    validation = query.get("fieldValidation", "")
    manager = query.get("fieldManager", "")
    errors: list[FieldError] = []
    if kind == "PatchOptions":
        if not apply and "force" in query:
            errors.append(forbidden("force", "may not be specified for non-apply patch"))
        if apply and not manager:
            # kubectl sends "kubectl"; controllers must name themselves (upstream's comment).
            errors.append(required("fieldManager", "is required for apply patch"))
    errors.extend(field_manager_errors(manager))
    errors.extend(dry_run_errors(dry_run))
    if validation not in _FIELD_VALIDATION:
        errors.append(not_supported("fieldValidation", validation, _FIELD_VALIDATION))
    if errors:
        raise Invalid.options(kind, errors)
    return WriteOptions(dry_run=bool(dry_run), field_validation=validation or "Warn", user=user)


def int_param(query: Mapping[str, str], name: str, default: int = 0) -> int:
    raw = query.get(name)
    if raw is None or raw == "":
        return default
    return parse_int64(raw)


def bool_param(query: Mapping[str, str], name: str) -> bool:
    raw = query.get(name, "")
    return parse_bool(raw) if raw else False


def check_resource_version(value: str) -> None:
    """resourceVersion is "" or an unsigned decimal (upstream APIObjectVersioner), else 400."""
    if value in ("", "0"):
        return
    problem = ""
    if not _UNSIGNED.fullmatch(value):
        problem = f"strconv.ParseUint: parsing {go_value(value)}: invalid syntax"
    elif len(value) > 20 or int(value) > UINT64_MAX:
        problem = f"strconv.ParseUint: parsing {go_value(value)}: value out of range"
    if problem:
        raise BadRequest(f"invalid resource version: resourceVersion: Invalid value: {go_value(value)}: "
                         f"{problem}")


def list_options(resource: ResourceRecord, query: Mapping[str, str]) -> ListOptions:
    try:
        label_selector = parse_label_selector(query.get("labelSelector", ""))
        field_selector = parse_field_selector(query.get("fieldSelector", ""), resource.selectable_fields)
    except SelectorError as e:
        raise BadRequest(str(e)) from e
    limit = int_param(query, "limit")
    if limit < 0:
        raise BadRequest("limit: Invalid value: must be a non-negative integer")
    resource_version = query.get("resourceVersion", "")
    check_resource_version(resource_version)
    return ListOptions(
        label_selector=label_selector, field_selector=field_selector, limit=limit,
        continue_token=query.get("continue", ""), resource_version=resource_version,
        resource_version_match=query.get("resourceVersionMatch", ""),
    )
