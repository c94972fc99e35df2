"""A pod's tolerations as upstream validates them (``ValidateTolerations`` in
pkg/apis/core/validation): a key is a label name; an empty key needs operator Exists (it tolerates
every taint); Exists takes no value, Equal (or no operator) a label value; only NoExecute may
bound the toleration with ``tolerationSeconds``; an effect is one of the three taint effects.
A pod whose tolerations break these would be stored and then misread by the scheduler, the
DaemonSet controller and the taint manager, so it is refused on write (422).
"""

from __future__ import annotations

from typing import Any

from apis.field_errors import FieldError, child, index, invalid, not_supported
from apis.selectors.label_names import label_key_errors, label_value_errors
from apis.tolerations import NO_EXECUTE, NO_SCHEDULE, OPERATOR_EQUAL, OPERATOR_EXISTS, PREFER_NO_SCHEDULE

_OPERATORS = (OPERATOR_EQUAL, OPERATOR_EXISTS)
_EFFECTS = (NO_SCHEDULE, PREFER_NO_SCHEDULE, NO_EXECUTE)


def toleration_errors(tolerations: Any, path: str) -> list[FieldError]:
    """The errors of ``spec.tolerations`` at ``path``, in upstream's order per entry."""
    errors: list[FieldError] = []
    for position, toleration in enumerate(tolerations if isinstance(tolerations, list) else ()):
        if isinstance(toleration, dict):
            errors.extend(_one(toleration, index(path, position)))
    return errors


def _one(toleration: dict[str, Any], path: str) -> list[FieldError]:
    errors: list[FieldError] = []
    key, operator = str(toleration.get("key") or ""), str(toleration.get("operator") or "")
    value, effect = str(toleration.get("value") or ""), str(toleration.get("effect") or "")
    if key:
        errors.extend(invalid(child(path, "key"), key, message) for message in label_key_errors(key))
    elif operator != OPERATOR_EXISTS:
        errors.append(invalid(child(path, "operator"), operator,
                              'operator must be Exists when `key` is empty, which means "match all values '
                              'and all keys"'))
    if toleration.get("tolerationSeconds") is not None and effect != NO_EXECUTE:
        errors.append(invalid(child(path, "effect"), effect,
                              "effect must be 'NoExecute' when `tolerationSeconds` is set"))
    if operator in ("", OPERATOR_EQUAL):
        if problems := label_value_errors(value):
            errors.append(invalid(child(path, "operator"), value, ";".join(problems)))
    elif operator == OPERATOR_EXISTS:
        if value:
            errors.append(invalid(child(path, "operator"), value,
                                  "value must be empty when `operator` is 'Exists'"))
    else:
        errors.append(not_supported(child(path, "operator"), operator, _OPERATORS))
    if effect and effect not in _EFFECTS:
        errors.append(not_supported(child(path, "effect"), effect, _EFFECTS))
    return errors
