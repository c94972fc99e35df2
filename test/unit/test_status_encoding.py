"""The Status renderer (server/errors.py): Go's field order, omitempty rules and encoding/json bytes.

Covers: metav1.Status fields in declaration order whatever order the caller's details come in;
empty optional fields (message, reason, code, details' name/group/uid, a cause's field) left out as
Go's ``omitempty`` leaves them; ``details: {}`` kept when given empty (upstream's unknown-path 404);
Go's HTML-safe escaping of ``<``, ``>``, ``&``, U+2028, U+2029; the trailing newline of
json.Encoder; success Statuses rendered by the same function. Leaves out: the bytes a running
server sends (test/component/test_api_status_bytes.py compares them with captured fixtures).
"""

from __future__ import annotations

import orjson

from apis.field_errors import FieldError
from server.errors import Forbidden, Invalid, NotFound, encode_status, status_object, success_status


def test_fields_come_in_go_declaration_order() -> None:
    error = Forbidden("no", details={"kind": "pods", "group": "", "name": "p"})
    body = error.body()
    assert body == (b'{"kind":"Status","apiVersion":"v1","metadata":{},"status":"Failure","message":"no",'
                    b'"reason":"Forbidden","details":{"name":"p","kind":"pods"},"code":403}\n')


def test_causes_keep_reason_message_field_and_drop_empty_ones() -> None:
    error = Invalid.fields("Pod", "p", [FieldError("FieldValueRequired", "", "Required value"),
                                        FieldError("FieldValueInvalid", "spec.x", "Invalid value: 1")])
    details = orjson.loads(error.body())["details"]
    assert details == {"name": "p", "kind": "Pod", "causes": [
        {"reason": "FieldValueRequired", "message": "Required value"},
        {"reason": "FieldValueInvalid", "message": "Invalid value: 1", "field": "spec.x"}]}
    assert list(details["causes"][1]) == ["reason", "message", "field"]


def test_empty_details_stay_and_missing_details_go() -> None:
    assert b'"details":{},"code":404}' in NotFound.path().body()
    assert b"details" not in Forbidden("no").body()


def test_retry_after_comes_last_in_details() -> None:
    body = status_object("Failure", reason="TooManyRequests", code=429,
                         details={"retryAfterSeconds": 1, "causes": [{"message": "m"}], "name": "n"})
    assert list(body["details"]) == ["name", "causes", "retryAfterSeconds"]
    assert "message" not in body  # omitempty


def test_html_and_line_separators_are_escaped_as_go_does() -> None:
    body = encode_status(status_object("Failure", message="a <b> & c \u2028 d \u2029"))
    assert body.endswith(b'"message":"a \\u003cb\\u003e \\u0026 c \\u2028 d \\u2029"}\n')
    assert orjson.loads(body)["message"] == "a <b> & c \u2028 d \u2029"


def test_success_status_has_no_code_and_orders_details() -> None:
    status = success_status({"uid": "u", "kind": "deployments", "group": "apps", "name": "web"})
    assert encode_status(status) == (b'{"kind":"Status","apiVersion":"v1","metadata":{},"status":"Success",'
                                     b'"details":{"name":"web","group":"apps","kind":"deployments","uid":"u"}}\n')
