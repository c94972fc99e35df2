"""Label selectors: the ``?labelSelector=`` language and ``metav1.LabelSelector`` objects.

Mirrors k8s.io/apimachinery ``pkg/labels/selector.go``: the same lexer (whitespace and the symbols
``= ! ( ) , > <`` end identifiers; ``in``/``notin`` are keywords only in operator position), the
same grammar (``a=b,c!=d,e in (x,y),f notin (z),g,!h``, ``==``, ``>``/``<`` on integers), the same
key/value validation and the same error texts, which the API server returns verbatim in a 400.
Parsing compiles each requirement into a small closure, since matching runs once per object of a
LIST or per watch event.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any

from apis.selectors.label_names import label_key_errors, label_value_errors

Matcher = Callable[[Mapping[str, str]], bool]


class SelectorError(ValueError):
    """An unparsable or unsupported selector; the message is upstream's, for a 400 Status."""


# Token kinds.
_END, _IDENT, _IN, _NOTIN, _OPEN, _CLOSE, _COMMA, _NOT, _EQ, _DEQ, _NEQ, _GT, _LT = range(13)
_SYMBOLS = {"(": _OPEN, ")": _CLOSE, ",": _COMMA, "!": _NOT, "=": _EQ, "==": _DEQ, "!=": _NEQ, ">": _GT,
            "<": _LT}
_KEYWORDS = {"in": _IN, "notin": _NOTIN}
_SPECIAL = frozenset("=!(),><")
_WHITESPACE = frozenset(" \t\r\n")
_OPERATOR_NAMES = {_IN: "in", _NOTIN: "notin", _EQ: "=", _DEQ: "==", _NEQ: "!=", _GT: "gt", _LT: "lt"}
_BINARY_OPERATORS = "in, notin, =, ==, !=, gt, lt"


def _lex(text: str) -> list[tuple[int, str]]:
    tokens: list[tuple[int, str]] = []
    i, n = 0, len(text)
    while True:
        while i < n and text[i] in _WHITESPACE:
            i += 1
        if i >= n:
            tokens.append((_END, ""))
            return tokens
        if text[i] in _SPECIAL:
            # Longest run of special characters that still spells a symbol ("!=", "==").
            j = i + 1
            while j < n and text[i : j + 1] in _SYMBOLS:
                j += 1
            tokens.append((_SYMBOLS[text[i:j]], text[i:j]))
            i = j
            continue
        j = i
        while j < n and text[j] not in _SPECIAL and text[j] not in _WHITESPACE:
            j += 1
        word = text[i:j]
        tokens.append((_KEYWORDS.get(word, _IDENT), word))
        i = j


@dataclass(frozen=True, slots=True)
class Requirement:
    """One ``key op values`` term; ``operator`` uses upstream's names (``in``, ``!``, ``exists``...)."""

    key: str
    operator: str
    values: tuple[str, ...] = ()
    matches: Matcher = field(compare=False, repr=False, default=lambda _labels: True)

    def __str__(self) -> str:
        if self.operator == "exists":
            return self.key
        if self.operator == "!":
            return f"!{self.key}"
        joined = ",".join(sorted(self.values))
        if self.operator in ("in", "notin"):
            return f"{self.key} {self.operator} ({joined})"
        symbol = {"gt": ">", "lt": "<"}.get(self.operator, self.operator)
        return f"{self.key}{symbol}{joined}"


@dataclass(frozen=True, slots=True)
class LabelSelector:
    """An AND of requirements, sorted by key as upstream sorts them. ``nothing`` matches no object."""

    requirements: tuple[Requirement, ...] = ()
    nothing: bool = False

    @property
    def empty(self) -> bool:
        return not self.requirements and not self.nothing

    def matches(self, labels: Mapping[str, str] | None) -> bool:
        if self.nothing:
            return False
        labels = labels or {}
        for requirement in self.requirements:
            if not requirement.matches(labels):
                return False
        return True

    def requires_exact_match(self, key: str) -> str | None:
        """The one value ``key`` must have, if the selector pins it (for index lookups)."""
        for requirement in self.requirements:
            if requirement.key == key:
                if requirement.operator in ("=", "==", "in") and len(requirement.values) == 1:
                    return requirement.values[0]
                return None
        return None

    def __str__(self) -> str:
        return ",".join(str(r) for r in self.requirements)


def _go_strings(values: list[str] | tuple[str, ...]) -> str:
    return "[]string{" + ", ".join(f'"{v}"' for v in values) + "}"


def _invalid(path: str, value: str, detail: str) -> str:
    return f'{path}: Invalid value: "{value}": {detail}'


def make_requirement(key: str, operator: str, values: list[str] | tuple[str, ...]) -> Requirement:
    """upstream ``NewRequirement``: validate and compile; raises SelectorError with the aggregate."""
    errors = []
    if key_errors := label_key_errors(key):
        errors.append(_invalid("key", key, "; ".join(key_errors)))
    if operator in ("in", "notin") and not values:
        errors.append(f"values: Invalid value: {_go_strings(values)}: "
                      "for 'in', 'notin' operators, values set can't be empty")
    elif operator in ("=", "==", "!=") and len(values) != 1:
        errors.append(f"values: Invalid value: {_go_strings(values)}: "
                      "exact-match compatibility requires one single value")
    elif operator in ("exists", "!") and values:
        errors.append(f"values: Invalid value: {_go_strings(values)}: "
                      "values set must be empty for exists and does not exist")
    elif operator in ("gt", "lt"):
        if len(values) != 1:
            errors.append(f"values: Invalid value: {_go_strings(values)}: "
                          "for 'Gt', 'Lt' operators, exactly one value is required")
        for i, value in enumerate(values):
            if _parse_int(value) is None:
                detail = "for 'Gt', 'Lt' operators, the value must be an integer"
                errors.append(_invalid(f"values[{i}]", value, detail))
    for i, value in enumerate(values):
        if value_errors := label_value_errors(value):
            errors.append(_invalid(f"values[{i}][{key}]", value, "; ".join(value_errors)))
    if errors:
        raise SelectorError(errors[0] if len(errors) == 1 else "[" + ", ".join(errors) + "]")
    return Requirement(key, operator, tuple(values), _compile(key, operator, tuple(values)))


def _parse_int(text: str) -> int | None:
    # Go's strconv.ParseInt(s, 10, 64): optional sign, decimal digits, int64 range.
    body = text[1:] if text[:1] in "+-" else text
    if not body or not body.isascii() or not body.isdigit():
        return None
    number = int(text)
    return number if -(2**63) <= number < 2**63 else None


def _compile(key: str, operator: str, values: tuple[str, ...]) -> Matcher:
    if operator in ("=", "==", "in"):
        if len(values) == 1:
            only = values[0]
            return lambda labels: labels.get(key) == only
        allowed = frozenset(values)
        return lambda labels: labels.get(key) in allowed
    if operator in ("!=", "notin"):
        refused = frozenset(values)
        return lambda labels: labels.get(key) not in refused
    if operator == "exists":
        return lambda labels: key in labels
    if operator == "!":
        return lambda labels: key not in labels
    bound = _parse_int(values[0]) or 0
    greater = operator == "gt"

    def compare(labels: Mapping[str, str]) -> bool:
        raw = labels.get(key)
        number = _parse_int(raw) if raw is not None else None
        if number is None:
            return False
        return number > bound if greater else number < bound

    return compare


class _Parser:
    def __init__(self, text: str) -> None:
        self._tokens = _lex(text)
        self._pos = 0

    def _peek(self, *, values: bool = True) -> tuple[int, str]:
        kind, literal = self._tokens[self._pos]
        return (_IDENT if values and kind in (_IN, _NOTIN) else kind), literal

    def _take(self, *, values: bool = True) -> tuple[int, str]:
        token = self._peek(values=values)
        self._pos += 1
        return token

    def parse(self) -> list[Requirement]:
        requirements: list[Requirement] = []
        while True:
            kind, literal = self._peek()
            if kind == _END:
                return requirements
            if kind not in (_IDENT, _NOT):
                raise SelectorError(f"found '{literal}', expected: !, identifier, or 'end of string'")
            try:
                requirements.append(self._requirement())
            except SelectorError as e:
                raise SelectorError(f"unable to parse requirement: {e}") from e
            kind, literal = self._take()
            if kind == _END:
                return requirements
            if kind != _COMMA:
                raise SelectorError(f"found '{literal}', expected: ',' or 'end of string'")
            kind, literal = self._peek()
            if kind not in (_IDENT, _NOT):
                raise SelectorError(f"found '{literal}', expected: identifier after ','")

    def _requirement(self) -> Requirement:
        kind, key = self._take()
        negated = kind == _NOT
        if negated:
            kind, key = self._take()
        if kind != _IDENT:
            raise SelectorError(f"found '{key}', expected: identifier")
        if key_errors := label_key_errors(key):
            raise SelectorError(_invalid("<nil>", key, "; ".join(key_errors)))
        if negated:
            return make_requirement(key, "!", [])
        if self._peek()[0] in (_END, _COMMA):
            return make_requirement(key, "exists", [])
        kind, literal = self._take(values=False)
        operator = _OPERATOR_NAMES.get(kind)
        if operator is None:
            raise SelectorError(f"found '{literal}', expected: {_BINARY_OPERATORS}")
        values = self._set_values() if operator in ("in", "notin") else self._exact_value()
        return make_requirement(key, operator, sorted(set(values)))

    def _exact_value(self) -> list[str]:
        if self._peek()[0] in (_END, _COMMA):
            return [""]
        kind, literal = self._take()
        if kind != _IDENT:
            raise SelectorError(f"found '{literal}', expected: identifier")
        return [literal]

    def _set_values(self) -> list[str]:
        kind, literal = self._take()
        if kind != _OPEN:
            raise SelectorError(f"found '{literal}' expected: '('")
        kind, literal = self._peek()
        if kind == _CLOSE:
            self._take()
            return [""]
        if kind not in (_IDENT, _COMMA):
            raise SelectorError(f"found '{literal}', expected: ',', ')' or identifier")
        values = self._identifier_list()
        if self._take()[0] != _CLOSE:
            raise SelectorError(f"found '{literal}', expected: ')'")
        return values

    def _identifier_list(self) -> list[str]:
        """``(a,b)``, ``(a,)``, ``(,a)``, ``(,,)``: empty slots are the empty value, as upstream."""
        values: list[str] = []
        while True:
            kind, literal = self._take()
            if kind == _IDENT:
                values.append(literal)
                following, following_literal = self._peek()
                if following == _COMMA:
                    continue
                if following == _CLOSE:
                    return values
                raise SelectorError(f"found '{following_literal}', expected: ',' or ')'")
            if kind == _COMMA:
                if not values:
                    values.append("")
                if self._peek()[0] in (_CLOSE, _COMMA):
                    values.append("")
                    if self._peek()[0] == _CLOSE:
                        return values
                continue
            raise SelectorError(f"found '{literal}', expected: ',', or identifier")


def parse_label_selector(text: str) -> LabelSelector:
    """Parse ``?labelSelector=``; the empty string selects everything."""
    requirements = _Parser(text).parse()
    requirements.sort(key=lambda r: r.key)
    return LabelSelector(tuple(requirements))


def label_selector_from_set(labels: Mapping[str, Any] | None) -> LabelSelector:
    """upstream ``labels.SelectorFromSet``: every key of the map with its value — the plain-map
    selectors of Services and ReplicationControllers. Like upstream (``SelectorFromValidatedSet``)
    it does not validate: the API server validated the map when it was written. Empty or None
    selects everything."""
    requirements = []
    for key, value in sorted((str(k), str(v)) for k, v in (labels or {}).items()):
        requirements.append(Requirement(key, "=", (value,), _compile(key, "=", (value,))))
    return LabelSelector(tuple(requirements))


_META_OPERATORS = {"In": "in", "NotIn": "notin", "Exists": "exists", "DoesNotExist": "!"}


def label_selector_from_meta(selector: Mapping[str, Any] | None) -> LabelSelector:
    """upstream ``metav1.LabelSelectorAsSelector``: None selects nothing, ``{}`` everything."""
    if selector is None:
        return LabelSelector(nothing=True)
    requirements = [
        make_requirement(str(k), "=", [str(v)]) for k, v in (selector.get("matchLabels") or {}).items()
    ]
    for expression in selector.get("matchExpressions") or []:
        operator = _META_OPERATORS.get(expression.get("operator", ""))
        if operator is None:
            raise SelectorError(f'"{expression.get("operator", "")}" is not a valid label selector operator')
        values = [str(v) for v in expression.get("values") or []]
        requirements.append(make_requirement(str(expression.get("key", "")), operator, values))
    requirements.sort(key=lambda r: r.key)
    return LabelSelector(tuple(requirements))
