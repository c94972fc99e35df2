"""Field errors as the Kubernetes API reports them in a 422 Status's ``details.causes``.

Upstream (``k8s.io/apimachinery/pkg/util/validation/field``) renders each error as
``<path>: <Type>: <value>: <detail>``, formatting the bad value the Go way (strings quoted,
numbers bare, maps as ``map[string]string{"a":"b"}``). Clients such as kubectl print those
strings verbatim, so the same rendering is reproduced here once for every validator.
"""

from __future__ import annotations

import json
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any, Literal

CauseType = Literal[
    "FieldValueRequired",
    "FieldValueInvalid",
    "FieldValueNotSupported",
    "FieldValueDuplicate",
    "FieldValueTooLong",
    "FieldValueForbidden",
    "FieldValueTypeInvalid",
]


@dataclass(frozen=True, slots=True)
class FieldError:
    """One cause of an invalid object.

    ``reason`` is the CauseType; ``field`` the path as upstream prints it
    (``spec.containers[0].image``); ``message`` the text after the path
    (``Required value``, ``Invalid value: "Foo_": a lowercase RFC 1123 ...``).
    For ``FieldValueTypeInvalid`` the message is the Go JSON decoder's text
    (``json: cannot unmarshal string into Go struct field ...``): upstream answers those with
    400 BadRequest at decode time, not with a 422.
    """

    reason: CauseType
    field: str
    message: str

    def __str__(self) -> str:
        return f"{self.field}: {self.message}"


def go_value(value: Any) -> str:
    """Render a bad value the way upstream's field.Error does (``%q`` / ``%v`` / ``%#v``)."""
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, str):
        return go_quote(value)
    if isinstance(value, int | float):
        return repr(value)
    if isinstance(value, dict) and all(isinstance(v, str) for v in value.values()):
        body = ", ".join(f"{json.dumps(k)}:{json.dumps(value[k])}" for k in sorted(value))
        return f"map[string]string{{{body}}}"
    return json.dumps(value, sort_keys=True, separators=(",", ":"))


_GO_ESCAPES = {"\a": "\\a", "\b": "\\b", "\f": "\\f", "\n": "\\n", "\r": "\\r", "\t": "\\t",
               "\v": "\\v", '"': '\\"', "\\": "\\\\"}


def go_quote(text: str) -> str:
    """Go's ``%q`` (strconv.Quote): printable characters as they are, everything else escaped.

    Upstream quotes client-supplied names this way in its messages (``unknown field "a\\r\\n"``),
    so no control character from a request ever reaches a response header or log line raw.
    """
    if text.isprintable() and '"' not in text and "\\" not in text:
        return f'"{text}"'
    out = ['"']
    for char in text:
        if char in _GO_ESCAPES:
            out.append(_GO_ESCAPES[char])
        elif char.isprintable():
            out.append(char)
        elif ord(char) < 0x80:
            out.append(f"\\x{ord(char):02x}")
        elif ord(char) < 0x10000:
            out.append(f"\\u{ord(char):04x}")
        else:
            out.append(f"\\U{ord(char):08x}")
    out.append('"')
    return "".join(out)


def required(field: str, detail: str = "") -> FieldError:
    return FieldError("FieldValueRequired", field, "Required value" + (f": {detail}" if detail else ""))


def invalid(field: str, value: Any, detail: str) -> FieldError:
    return FieldError("FieldValueInvalid", field, f"Invalid value: {go_value(value)}: {detail}")


def not_supported(field: str, value: Any, supported: Iterable[str]) -> FieldError:
    choices = ", ".join(json.dumps(choice) for choice in supported)
    return FieldError(
        "FieldValueNotSupported", field, f"Unsupported value: {go_value(value)}: supported values: {choices}"
    )


def duplicate(field: str, value: Any) -> FieldError:
    return FieldError("FieldValueDuplicate", field, f"Duplicate value: {go_value(value)}")


def forbidden(field: str, detail: str) -> FieldError:
    return FieldError("FieldValueForbidden", field, f"Forbidden: {detail}")


def too_long(field: str, max_bytes: int) -> FieldError:
    """Upstream field.TooLong (text since Kubernetes 1.32; before it said "must have at most")."""
    unit = "byte" if max_bytes == 1 else "bytes"
    return FieldError("FieldValueTooLong", field, f"Too long: may not be more than {max_bytes} {unit}")


def type_invalid(field: str, decode_message: str) -> FieldError:
    return FieldError("FieldValueTypeInvalid", field, decode_message)


def child(path: str, name: str) -> str:
    """``spec`` + ``containers`` -> ``spec.containers`` (the root path is empty)."""
    return f"{path}.{name}" if path else name


def index(path: str, position: int) -> str:
    return f"{path}[{position}]"


def key(path: str, name: str) -> str:
    return f"{path}[{name}]"
