"""Label and field selectors: parsing, validation messages and matching.

Covers upstream's label selector grammar (=, ==, !=, in, notin, exists, !key, >, <, whitespace,
`in` as a value, empty values), its error texts (`unable to parse requirement: ...`, key/value
validation wording), metav1.LabelSelector conversion, map selectors (SelectorFromSet), field
selector parsing with escapes, per-resource supported fields and their error texts, Arktos's
`metadata.hashkey` ranges and `;` alternatives, and value extraction from objects (missing → "",
booleans → "true"/"false").
Leaves out: selector use inside LIST/WATCH handlers (component tests).
"""

from __future__ import annotations

import pytest

from apis.selectors import (
    SelectorError,
    label_selector_from_meta,
    label_selector_from_set,
    parse_field_selector,
    parse_label_selector,
)
from apis.selectors.fields import EVENT_FIELDS, NODE_FIELDS, POD_FIELDS

# The selectable fields of pods, nodes and events; deployments have none beyond metadata.
PODS = POD_FIELDS
NODES = NODE_FIELDS
EVENTS = EVENT_FIELDS
DEPLOYMENTS = None


def test_full_grammar_matches_like_upstream() -> None:
    selector = parse_label_selector("a=b,c!=d,e in (x,y),f notin (z),g,!h")
    base = {"a": "b", "e": "x", "g": ""}
    assert selector.matches(base)
    assert selector.matches({**base, "c": "other", "f": "w"})
    assert not selector.matches({**base, "c": "d"})
    assert not selector.matches({**base, "f": "z"})
    assert not selector.matches({**base, "h": "1"})
    assert not selector.matches({"a": "b", "e": "x"})  # g must exist
    assert not selector.matches({**base, "e": "q"})


def test_double_equals_whitespace_and_string_form() -> None:
    selector = parse_label_selector("  app == web ,  tier in ( a , b )  ")
    assert selector.matches({"app": "web", "tier": "b"})
    assert str(selector) == "app==web,tier in (a,b)"


def test_empty_selector_and_empty_values() -> None:
    assert parse_label_selector("").empty
    assert parse_label_selector("").matches({"x": "y"})
    assert parse_label_selector("a=").matches({"a": ""})
    assert not parse_label_selector("a=").matches({})
    assert parse_label_selector("a in (,x)").matches({"a": ""})


def test_keywords_are_values_in_value_position() -> None:
    assert parse_label_selector("in in (in,notin)").matches({"in": "notin"})


def test_greater_and_less_than_compare_integers() -> None:
    selector = parse_label_selector("gen>3,gen<10")
    assert selector.matches({"gen": "5"})
    assert not selector.matches({"gen": "10"}) and not selector.matches({"gen": "five"})


def test_prefixed_key() -> None:
    assert parse_label_selector("app.kubernetes.io/name=web").matches({"app.kubernetes.io/name": "web"})


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("a b", "unable to parse requirement: found 'b', expected: in, notin, =, ==, !=, gt, lt"),
        ("a=b c", "found 'c', expected: ',' or 'end of string'"),
        ("a=b,", "found '', expected: identifier after ','"),
        (",a", "found ',', expected: !, identifier, or 'end of string'"),
        ("a in x", "unable to parse requirement: found 'x' expected: '('"),
        ("a in (x", "unable to parse requirement: found '', expected: ',' or ')'"),
        ("!", "unable to parse requirement: found '', expected: identifier"),
        (
            "a>x",
            'unable to parse requirement: values[0]: Invalid value: "x": '
            "for 'Gt', 'Lt' operators, the value must be an integer",
        ),
    ],
)
def test_syntax_errors_use_upstream_text(text: str, message: str) -> None:
    with pytest.raises(SelectorError) as info:
        parse_label_selector(text)
    assert str(info.value) == message


def test_invalid_key_and_value_messages() -> None:
    with pytest.raises(SelectorError) as info:
        parse_label_selector("bad@key=x")
    assert str(info.value) == (
        'unable to parse requirement: <nil>: Invalid value: "bad@key": name part must consist of '
        "alphanumeric characters, '-', '_' or '.', and must start and end with an alphanumeric character "
        "(e.g. 'MyName',  or 'my.name',  or '123-abc', regex used for validation is "
        "'([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9]')"
    )
    with pytest.raises(SelectorError) as info:
        parse_label_selector("app=-x")
    assert str(info.value).startswith(
        'unable to parse requirement: values[0][app]: Invalid value: "-x": '
        "a valid label must be an empty string or consist of"
    )


def test_label_selector_from_meta() -> None:
    selector = label_selector_from_meta(
        {
            "matchLabels": {"app": "web"},
            "matchExpressions": [
                {"key": "tier", "operator": "In", "values": ["a", "b"]},
                {"key": "old", "operator": "DoesNotExist"},
                {"key": "zone", "operator": "Exists"},
                {"key": "env", "operator": "NotIn", "values": ["dev"]},
            ],
        }
    )
    assert selector.matches({"app": "web", "tier": "a", "zone": "z"})
    assert not selector.matches({"app": "web", "tier": "a", "zone": "z", "old": "1"})
    assert not selector.matches({"app": "web", "tier": "a", "zone": "z", "env": "dev"})
    assert label_selector_from_meta({}).matches({"any": "thing"})
    assert not label_selector_from_meta(None).matches({})


def test_label_selector_from_set() -> None:
    selector = label_selector_from_set({"tier": "web", "app": "shop"})
    assert str(selector) == "app=shop,tier=web"  # sorted by key, as upstream prints it
    assert selector.matches({"app": "shop", "tier": "web", "extra": "x"})
    assert not selector.matches({"app": "shop"})
    assert not selector.matches(None)
    assert label_selector_from_set({}).matches({"any": "thing"})
    assert label_selector_from_set(None).empty
    # Not validated: the API server checked the map when it stored it.
    assert label_selector_from_set({"weird key": "v"}).matches({"weird key": "v"})


def test_label_selector_from_meta_rejects_bad_operator_and_empty_in() -> None:
    with pytest.raises(SelectorError, match='"Gte" is not a valid label selector operator'):
        label_selector_from_meta({"matchExpressions": [{"key": "a", "operator": "Gte"}]})
    with pytest.raises(SelectorError, match="values set can't be empty"):
        label_selector_from_meta({"matchExpressions": [{"key": "a", "operator": "In", "values": []}]})


def pod(node: str | None = None, phase: str = "Running") -> dict[str, object]:
    spec = {"nodeName": node} if node else {}
    return {
        "metadata": {"name": "p", "namespace": "ns", "tenant": "t1", "hashKey": 150},
        "spec": spec,
        "status": {"phase": phase},
    }


def test_field_selector_on_pods() -> None:
    selector = parse_field_selector("spec.nodeName=n1,status.phase!=Failed", PODS)
    assert selector.matches(pod("n1")) and not selector.matches(pod("n2"))
    assert not selector.matches(pod("n1", "Failed"))
    assert selector.requires_exact_match("spec.nodeName") == "n1"


def test_missing_field_reads_as_empty_string() -> None:
    assert parse_field_selector("spec.nodeName=", PODS).matches(pod())
    assert parse_field_selector("spec.nodeName==", PODS).matches(pod())


def test_metadata_fields_and_tenant() -> None:
    assert parse_field_selector("metadata.name=p,metadata.namespace=ns,metadata.tenant=t1", PODS).matches(
        pod()
    )


def test_hashkey_ranges_and_alternatives() -> None:
    assert parse_field_selector("metadata.hashkey=gt:100,metadata.hashkey=lte:200", PODS).matches(pod())
    assert not parse_field_selector("metadata.hashkey=gt:150", PODS).matches(pod())
    assert parse_field_selector("metadata.hashkey=gte:150", PODS).matches(pod())
    either = parse_field_selector("metadata.hashkey=lt:10;metadata.hashkey=gt:100", PODS)
    assert either.matches(pod()) and not either.requires_exact_match("metadata.hashkey")


def test_node_unschedulable_bool() -> None:
    selector = parse_field_selector("spec.unschedulable=false", NODES)
    assert selector.matches({"spec": {}})
    assert not selector.matches({"spec": {"unschedulable": True}})


def test_event_involved_object_and_escaped_value() -> None:
    event = {"involvedObject": {"kind": "Pod", "name": "a,b"}, "source": {"component": "kubelet"}}
    assert parse_field_selector(
        r"involvedObject.name=a\,b,involvedObject.kind=Pod,source=kubelet", EVENTS
    ).matches(event)


def test_unsupported_fields_use_upstream_text() -> None:
    with pytest.raises(SelectorError, match=r"^field label not supported: spec\.foo$"):
        parse_field_selector("spec.foo=x", PODS)
    with pytest.raises(SelectorError) as info:
        parse_field_selector("spec.replicas=1", DEPLOYMENTS)
    assert (
        str(info.value)
        == '"spec.replicas" is not a known field selector: only "metadata.name", "metadata.namespace"'
    )


def test_malformed_field_selector() -> None:
    with pytest.raises(
        SelectorError, match=r"can't understand 'spec\.nodeName'"
    ):
        parse_field_selector("spec.nodeName", PODS)
    with pytest.raises(SelectorError, match="invalid escape sequence"):
        parse_field_selector(r"metadata.name=a\b", PODS)


def test_empty_field_selector_matches_everything() -> None:
    selector = parse_field_selector("", PODS)
    assert selector.empty and selector.matches(pod())
