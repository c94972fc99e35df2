"""A pod's node affinity as upstream validates it (``validateNodeAffinity`` → ``ValidateNodeSelector``,
``ValidateNodeSelectorTerm``, ``ValidateNodeSelectorRequirement``, ``ValidateNodeFieldSelectorRequirement``
and ``ValidatePreferredSchedulingTerms`` in pkg/apis/core/validation).

A required selector needs at least one term; a label requirement's operator decides how many values
it takes (In/NotIn some, Exists/DoesNotExist none, Gt/Lt exactly one) and its key is a label name; a
field requirement selects only ``metadata.name``, with In or NotIn and exactly one value that is a
node name; a preferred term weighs 1 to 100. A pod that breaks these would be stored and then read
differently by the scheduler, the kubelet's admission and the DaemonSet controller (an ``In`` with
two node names means nothing to upstream's field selector), so it is refused on write (422).
"""

from __future__ import annotations

from typing import Any

from apis.field_errors import FieldError, child, forbidden, index, invalid, required
from apis.selectors.label_names import dns1123_subdomain_errors, label_key_errors

_SET_OPERATORS = ("In", "NotIn")
_PRESENCE_OPERATORS = ("Exists", "DoesNotExist")
_NUMBER_OPERATORS = ("Gt", "Lt")
_NODE_NAME_FIELD = "metadata.name"


def node_affinity_errors(node_affinity: Any, path: str) -> list[FieldError]:
    """The errors of ``spec.affinity.nodeAffinity`` at ``path``, in upstream's order."""
    if not isinstance(node_affinity, dict):
        return []
    errors: list[FieldError] = []
    required_selector = node_affinity.get("requiredDuringSchedulingIgnoredDuringExecution")
    if isinstance(required_selector, dict):
        errors.extend(_selector_errors(required_selector,
                                       child(path, "requiredDuringSchedulingIgnoredDuringExecution")))
    preferred_field = "preferredDuringSchedulingIgnoredDuringExecution"
    errors.extend(_preferred_errors(node_affinity.get(preferred_field), child(path, preferred_field)))
    return errors


def _selector_errors(selector: dict[str, Any], path: str) -> list[FieldError]:
    terms_path = child(path, "nodeSelectorTerms")
    terms = selector.get("nodeSelectorTerms")
    if not isinstance(terms, list) or not terms:
        return [required(terms_path, "must have at least one node selector term")]
    errors: list[FieldError] = []
    for position, term in enumerate(terms):
        if isinstance(term, dict):
            errors.extend(_term_errors(term, index(terms_path, position)))
    return errors


def _term_errors(term: dict[str, Any], path: str) -> list[FieldError]:
    errors: list[FieldError] = []
    expressions_path, fields_path = child(path, "matchExpressions"), child(path, "matchFields")
    for position, requirement in enumerate(_list(term.get("matchExpressions"))):
        errors.extend(_label_requirement_errors(requirement, index(expressions_path, position)))
    for position, requirement in enumerate(_list(term.get("matchFields"))):
        errors.extend(_field_requirement_errors(requirement, index(fields_path, position)))
    return errors


def _label_requirement_errors(requirement: dict[str, Any], path: str) -> list[FieldError]:
    errors: list[FieldError] = []
    operator, values = requirement.get("operator") or "", _values(requirement)
    values_path = child(path, "values")
    if operator in _SET_OPERATORS:
        if not values:
            errors.append(required(values_path, "must be specified when `operator` is 'In' or 'NotIn'"))
    elif operator in _PRESENCE_OPERATORS:
        if values:
            errors.append(forbidden(values_path,
                                    "may not be specified when `operator` is 'Exists' or 'DoesNotExist'"))
    elif operator in _NUMBER_OPERATORS:
        if len(values) != 1:
            errors.append(required(values_path,
                                   "must be specified single value when `operator` is 'Lt' or 'Gt'"))
    else:
        errors.append(invalid(child(path, "operator"), operator, "not a valid selector operator"))
    key = str(requirement.get("key") or "")
    errors.extend(invalid(child(path, "key"), key, message) for message in label_key_errors(key))
    return errors


def _field_requirement_errors(requirement: dict[str, Any], path: str) -> list[FieldError]:
    errors: list[FieldError] = []
    operator, values = requirement.get("operator") or "", _values(requirement)
    if operator in _SET_OPERATORS:
        if len(values) != 1:
            errors.append(required(child(path, "values"),
                                   "must be only one value when `operator` is 'In' or 'NotIn' for node field "
                                   "selector"))
    else:
        errors.append(invalid(child(path, "operator"), operator, "not a valid selector operator"))
    key = requirement.get("key") or ""
    if key != _NODE_NAME_FIELD:
        errors.append(invalid(child(path, "key"), key, "not a valid field selector key"))
        return errors
    for position, value in enumerate(values):
        errors.extend(invalid(index(child(path, "values"), position), value, message)
                      for message in dns1123_subdomain_errors(str(value)))
    return errors


def _preferred_errors(preferred: Any, path: str) -> list[FieldError]:
    errors: list[FieldError] = []
    for position, term in enumerate(_list(preferred)):
        term_path = index(path, position)
        weight = term.get("weight")
        if not isinstance(weight, int) or not 1 <= weight <= 100:
            errors.append(invalid(child(term_path, "weight"), weight if weight is not None else 0,
                                  "must be in the range 1-100"))
        preference = term.get("preference")
        if isinstance(preference, dict):
            errors.extend(_term_errors(preference, child(term_path, "preference")))
    return errors


def _values(requirement: dict[str, Any]) -> list[Any]:
    values = requirement.get("values")
    return values if isinstance(values, list) else []


def _list(value: Any) -> list[dict[str, Any]]:
    """The dict entries of a list field (the schema check has refused other shapes already)."""
    return [entry for entry in value if isinstance(entry, dict)] if isinstance(value, list) else []
