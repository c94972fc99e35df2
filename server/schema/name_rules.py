"""Object-name and label rules, with upstream's exact message texts.

Mirrors ``k8s.io/apimachinery/pkg/util/validation`` (IsDNS1123Subdomain, IsDNS1123Label,
IsDNS1035Label, IsQualifiedName, IsValidLabelValue) and ``path.IsValidPathSegmentName``, and
which of them each resource's ``metadata.name`` must satisfy (``ValidateObjectMeta`` with the
resource's name function). kubectl shows these messages to users verbatim.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from typing import Any

from apis.field_errors import FieldError, invalid, required

NameCheck = Callable[[str], list[str]]

_DNS1123_LABEL_FMT = "[a-z0-9]([-a-z0-9]*[a-z0-9])?"
_DNS1123_SUBDOMAIN_FMT = _DNS1123_LABEL_FMT + r"(\." + _DNS1123_LABEL_FMT + ")*"
_DNS1035_LABEL_FMT = "[a-z]([-a-z0-9]*[a-z0-9])?"
_QUALIFIED_NAME_FMT = "([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9]"
_LABEL_VALUE_FMT = "(" + _QUALIFIED_NAME_FMT + ")?"

_DNS1123_LABEL = re.compile(_DNS1123_LABEL_FMT)
_DNS1123_SUBDOMAIN = re.compile(_DNS1123_SUBDOMAIN_FMT)
_DNS1035_LABEL = re.compile(_DNS1035_LABEL_FMT)
_QUALIFIED_NAME = re.compile(_QUALIFIED_NAME_FMT)
_LABEL_VALUE = re.compile(_LABEL_VALUE_FMT)

_DNS1123_LABEL_MSG = (
    "a lowercase RFC 1123 label must consist of lower case alphanumeric characters or '-', "
    "and must start and end with an alphanumeric character"
)
_DNS1123_SUBDOMAIN_MSG = (
    "a lowercase RFC 1123 subdomain must consist of lower case alphanumeric characters, '-' or '.', "
    "and must start and end with an alphanumeric character"
)
_DNS1035_LABEL_MSG = (
    "a DNS-1035 label must consist of lower case alphanumeric characters or '-', "
    "start with an alphabetic character, and end with an alphanumeric character"
)
_QUALIFIED_NAME_MSG = (
    "must consist of alphanumeric characters, '-', '_' or '.', "
    "and must start and end with an alphanumeric character"
)
_LABEL_VALUE_MSG = (
    "a valid label must be an empty string or consist of alphanumeric characters, '-', '_' or '.', "
    "and must start and end with an alphanumeric character"
)


def _regex_error(message: str, fmt: str, *examples: str) -> str:
    # upstream RegexError: examples joined by " or " after a trailing ", " (hence the double space)
    quoted = " or ".join(f"'{example}', " for example in examples)
    return f"{message} (e.g. {quoted}regex used for validation is '{fmt}')"


def _max_len_error(length: int) -> str:
    return f"must be no more than {length} characters"


def dns1123_label_errors(value: str) -> list[str]:
    errors = [_max_len_error(63)] if len(value) > 63 else []
    if not _DNS1123_LABEL.fullmatch(value):
        errors.append(_regex_error(_DNS1123_LABEL_MSG, _DNS1123_LABEL_FMT, "my-name", "123-abc"))
    return errors


def dns1123_subdomain_errors(value: str) -> list[str]:
    errors = [_max_len_error(253)] if len(value) > 253 else []
    if not _DNS1123_SUBDOMAIN.fullmatch(value):
        errors.append(_regex_error(_DNS1123_SUBDOMAIN_MSG, _DNS1123_SUBDOMAIN_FMT, "example.com"))
    return errors


def dns1035_label_errors(value: str) -> list[str]:
    errors = [_max_len_error(63)] if len(value) > 63 else []
    if not _DNS1035_LABEL.fullmatch(value):
        errors.append(_regex_error(_DNS1035_LABEL_MSG, _DNS1035_LABEL_FMT, "my-name", "abc-123"))
    return errors


def path_segment_name_errors(value: str) -> list[str]:
    """Names that only need to be one URL path segment (RBAC objects, persistent volumes)."""
    if value in (".", ".."):
        return [f"may not be '{value}'"]
    return [f"may not contain '{bad}'" for bad in ("/", "%") if bad in value]


def qualified_name_errors(value: str) -> list[str]:
    """Label and annotation keys: ``[prefix/]name`` (upstream IsQualifiedName)."""
    prefix, slash, name = value.rpartition("/")
    errors: list[str] = []
    if slash and value.count("/") > 1:
        return [_regex_error("a qualified name " + _QUALIFIED_NAME_MSG, _QUALIFIED_NAME_FMT,
                             "MyName", "my.name", "123-abc")
                + " with an optional DNS subdomain prefix and '/' (e.g. 'example.com/MyName')"]
    if slash:
        if not prefix:
            errors.append("prefix part must be non-empty")
        else:
            errors.extend("prefix part " + e for e in dns1123_subdomain_errors(prefix))
    if not name:
        errors.append("name part must be non-empty")
    elif len(name) > 63:
        errors.append("name part " + _max_len_error(63))
    if not _QUALIFIED_NAME.fullmatch(name):
        errors.append("name part " + _regex_error(_QUALIFIED_NAME_MSG, _QUALIFIED_NAME_FMT,
                                                  "MyName", "my.name", "123-abc"))
    return errors


def label_value_errors(value: str) -> list[str]:
    errors = [_max_len_error(63)] if len(value) > 63 else []
    if not _LABEL_VALUE.fullmatch(value):
        errors.append(_regex_error(_LABEL_VALUE_MSG, _LABEL_VALUE_FMT, "MyValue", "my_value", "12345"))
    return errors


def metadata_errors(obj: dict[str, Any], name_check: NameCheck) -> list[FieldError]:
    """``metadata.name`` presence and syntax, and label syntax (upstream ValidateObjectMeta, given
    the resource's name function: ``name_check``)."""
    meta = obj.get("metadata")
    if not isinstance(meta, dict):
        meta = {}
    errors: list[FieldError] = []
    name = meta.get("name")
    if not name:
        if not meta.get("generateName"):
            errors.append(required("metadata.name", "name or generateName is required"))
    elif isinstance(name, str):
        errors.extend(invalid("metadata.name", name, msg) for msg in name_check(name))
    labels = meta.get("labels")
    if isinstance(labels, dict):
        errors.extend(label_errors(labels, "metadata.labels"))
    return errors


def label_errors(labels: dict[str, Any], path: str) -> list[FieldError]:
    """Upstream ValidateLabels: both key and value problems are reported at the labels path."""
    errors: list[FieldError] = []
    for label_key, label_value in labels.items():
        errors.extend(invalid(path, label_key, msg) for msg in qualified_name_errors(label_key))
        if isinstance(label_value, str):
            errors.extend(invalid(path, label_value, msg) for msg in label_value_errors(label_value))
    return errors

