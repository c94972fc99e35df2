"""Field selectors: ``?fieldSelector=`` parsing, per-resource field support, and matching.

Mirrors k8s.io/apimachinery ``pkg/fields/selector.go`` as Arktos extended it: terms
``field=value``, ``field==value``, ``field!=value`` joined by ``,`` (AND), Arktos's ``;`` (OR) and
its range operators ``=gt:N``, ``=gte:N``, ``=lt:N``, ``=lte:N`` (used on ``metadata.hashkey`` to
partition controllers), backslash escapes in values. Each resource supports only the fields its
upstream ``AddFieldLabelConversionFunc`` lists (the sets below, which the server's records name;
``field label not supported: <f>``); resources
with no such function accept only the metadata fields (upstream's
``DefaultMetaV1FieldSelectorConversion`` text). A parsed selector compiles to closures that pull
the field's string form out of the object (missing → ``""``, booleans → ``true``/``false``).
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

from apis.selectors.labels import SelectorError

Extractor = Callable[[dict[str, Any]], str]
Predicate = Callable[[dict[str, Any]], bool]

# Longest operators first so "=gt:" is not read as "=" followed by a value "gt:...".
_OPERATORS = ("=lte:", "=gte:", "=lt:", "=gt:", "!=", "==", "=")


def _text(value: Any) -> str:
    if value is None:
        return ""
    if isinstance(value, bool):
        return "true" if value else "false"
    return str(value)


def _path(*keys: str) -> Extractor:
    if len(keys) == 2:
        first, second = keys

        def two(obj: dict[str, Any]) -> str:
            inner = obj.get(first)
            return _text(inner.get(second)) if isinstance(inner, dict) else ""

        return two

    def walk(obj: dict[str, Any]) -> str:
        node: Any = obj
        for key in keys:
            if not isinstance(node, dict):
                return ""
            node = node.get(key)
        return _text(node)

    return walk


def _status_count(name: str) -> Extractor:
    # Integer status fields default to 0 in the Go struct, so an absent one reads "0".
    return lambda obj: _text((obj.get("status") or {}).get(name, 0))


def _spec_flag(name: str) -> Extractor:
    return lambda obj: _text(bool((obj.get("spec") or {}).get(name)))


def _pod_ip(obj: dict[str, Any]) -> str:
    status = obj.get("status") or {}
    if status.get("podIP"):
        return str(status["podIP"])
    ips = status.get("podIPs") or []
    return str(ips[0].get("ip", "")) if ips and isinstance(ips[0], dict) else ""


_METADATA: dict[str, Extractor] = {
    "metadata.name": _path("metadata", "name"),
    "metadata.namespace": _path("metadata", "namespace"),
    "metadata.tenant": _path("metadata", "tenant"),
    "metadata.hashkey": _path("metadata", "hashKey"),
}

# The fields each resource lets clients select on beyond metadata (upstream's field label
# conversion functions); the server's record of each resource names its set.
POD_FIELDS: dict[str, Extractor] = {
    "spec.nodeName": _path("spec", "nodeName"),
    "spec.host": _path("spec", "nodeName"),  # upstream keeps the pre-1.0 alias
    "spec.restartPolicy": _path("spec", "restartPolicy"),
    "spec.schedulerName": _path("spec", "schedulerName"),
    "spec.serviceAccountName": _path("spec", "serviceAccountName"),
    "spec.hostNetwork": _spec_flag("hostNetwork"),
    "status.phase": _path("status", "phase"),
    "status.podIP": _pod_ip,
    "status.nominatedNodeName": _path("status", "nominatedNodeName"),
}
EVENT_FIELDS: dict[str, Extractor] = {
    **{
        f"involvedObject.{name}": _path("involvedObject", name)
        for name in ("kind", "namespace", "name", "uid", "apiVersion", "resourceVersion", "fieldPath")
    },
    "reason": _path("reason"),
    "reportingComponent": _path("reportingComponent"),
    "source": _path("source", "component"),
    "type": _path("type"),
}
SECRET_FIELDS: dict[str, Extractor] = {"type": _path("type")}
NODE_FIELDS: dict[str, Extractor] = {"spec.unschedulable": _spec_flag("unschedulable")}
NAMESPACE_FIELDS: dict[str, Extractor] = {"status.phase": _path("status", "phase")}
REPLICAS_FIELDS: dict[str, Extractor] = {"status.replicas": _status_count("replicas")}
JOB_FIELDS: dict[str, Extractor] = {"status.successful": _status_count("succeeded")}
CERTIFICATE_SIGNING_REQUEST_FIELDS: dict[str, Extractor] = {"spec.signerName": _path("spec", "signerName")}
# Arktos's ActionToSelectableFields (a kubelet watches spec.nodeName=<node>), plus spec.podName.
ACTION_FIELDS: dict[str, Extractor] = {
    "spec.nodeName": _path("spec", "nodeName"),
    "spec.podName": _path("spec", "podName"),
    "status.complete": lambda obj: _text(bool((obj.get("status") or {}).get("complete"))),
}


def _compare(extract: Extractor, operator: str, wanted: str) -> Predicate:
    if operator in ("=", "=="):
        return lambda obj: extract(obj) == wanted
    if operator == "!=":
        return lambda obj: extract(obj) != wanted
    bound = _as_int(wanted)
    test = {
        "=gt:": lambda a, b: a > b, "=gte:": lambda a, b: a >= b,
        "=lt:": lambda a, b: a < b, "=lte:": lambda a, b: a <= b,
    }[operator]

    def ranged(obj: dict[str, Any]) -> bool:
        # Arktos compares as integers when both sides parse, else as strings.
        actual = extract(obj)
        number = _as_int(actual)
        if number is not None and bound is not None:
            return bool(test(number, bound))
        return bool(test(actual, wanted))

    return ranged


def _as_int(text: str) -> int | None:
    body = text[1:] if text[:1] in "+-" else text
    return int(text) if body.isascii() and body.isdigit() else None


@dataclass(frozen=True, slots=True)
class FieldTerm:
    field: str
    operator: str  # one of _OPERATORS
    value: str


@dataclass(frozen=True, slots=True)
class FieldSelector:
    """An OR (``;``) of ANDs (``,``) of terms, each compiled against one resource's fields."""

    alternatives: tuple[tuple[FieldTerm, ...], ...] = ()
    _predicates: tuple[tuple[Predicate, ...], ...] = ()

    @property
    def empty(self) -> bool:
        return not any(self.alternatives)

    def matches(self, obj: dict[str, Any]) -> bool:
        if not self._predicates:
            return True
        return any(all(p(obj) for p in conjunction) for conjunction in self._predicates)

    def requires_exact_match(self, field: str) -> str | None:
        """The value ``field`` must equal (e.g. ``spec.nodeName`` for a kubelet's watch), if pinned."""
        if len(self.alternatives) != 1:
            return None
        for term in self.alternatives[0]:
            if term.field == field and term.operator in ("=", "=="):
                return term.value
        return None


def _split_unescaped(text: str, separator: str) -> list[str]:
    parts, start, escaped = [], 0, False
    for i, char in enumerate(text):
        if escaped:
            escaped = False
        elif char == "\\":
            escaped = True
        elif char == separator:
            parts.append(text[start:i])
            start = i + 1
    parts.append(text[start:])
    return parts


def _unescape(value: str) -> str:
    if not any(c in value for c in "\\,;="):
        return value
    out, escaped = [], False
    for char in value:
        if escaped:
            if char not in "\\,=;":
                raise SelectorError(f"invalid field selector: invalid escape sequence: \\{char}")
            out.append(char)
            escaped = False
        elif char == "\\":
            escaped = True
        elif char in ",;=":
            raise SelectorError(f"invalid field selector: unescaped character in value: {ord(char)}")
        else:
            out.append(char)
    if escaped:
        raise SelectorError("invalid field selector: invalid escape sequence: \\")
    return "".join(out)


def _split_term(term: str) -> tuple[str, str, str] | None:
    for i in range(len(term)):
        for operator in _OPERATORS:
            if term.startswith(operator, i):
                return term[:i], operator, term[i + len(operator):]
    return None


def _extractor(fields: Mapping[str, Extractor] | None, field: str) -> Extractor:
    extract = _METADATA.get(field)
    if extract is not None:
        return extract
    own = fields
    if own is None:
        raise SelectorError(
            f'"{field}" is not a known field selector: only "metadata.name", "metadata.namespace"'
        )
    extract = own.get(field)
    if extract is None:
        raise SelectorError(f"field label not supported: {field}")
    return extract


def parse_field_selector(text: str, fields: Mapping[str, Extractor] | None) -> FieldSelector:
    """Parse ``?fieldSelector=`` for a resource whose selectable fields beyond metadata are
    ``fields`` (None: none at all); the empty string selects everything."""
    alternatives: list[tuple[FieldTerm, ...]] = []
    predicates: list[tuple[Predicate, ...]] = []
    for alternative in sorted(_split_unescaped(text, ";")) if text else []:
        terms: list[FieldTerm] = []
        compiled: list[Predicate] = []
        for part in sorted(_split_unescaped(alternative, ",")) if alternative else []:
            if not part:
                continue
            split = _split_term(part)
            if split is None:
                raise SelectorError(f"invalid selector: '{text}'; can't understand '{part}'")
            field, operator, raw_value = split
            value = _unescape(raw_value)
            terms.append(FieldTerm(field, operator, value))
            compiled.append(_compare(_extractor(fields, field), operator, value))
        if terms:
            alternatives.append(tuple(terms))
            predicates.append(tuple(compiled))
    return FieldSelector(tuple(alternatives), tuple(predicates))
