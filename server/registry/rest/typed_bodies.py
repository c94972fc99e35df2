"""Bodies of subresources and reviews checked as upstream's typed decoding checks them.

Upstream decodes every body into its Go type before any handler looks at it, so a field of the
wrong JSON type (``{"target": 5}`` for a Binding, ``{"spec": 5}`` for a TokenReview) is a 400
with the decoder's text (``Binding in version "v1" cannot be handled as a Binding: json: cannot
unmarshal number into Go struct field Binding.target of type v1.ObjectReference``), never a
crash further in. Objects of a served resource get the same from the store; this is for the
bodies whose kind is not the resource's (Binding, Eviction, Scale, CustomAction, reviews,
TokenRequest).
"""

from __future__ import annotations

from typing import Any

import fastjsonschema

from server.errors import BadRequest
from server.schema.schema_walk import decode_errors
from server.schema.validation import built_in_check

BINDING = ("Binding", "v1", "io.k8s.api.core.v1.Binding")
EVICTION = ("Eviction", "v1", "io.k8s.api.policy.v1.Eviction")
SCALE = ("Scale", "v1", "io.k8s.api.autoscaling.v1.Scale")
CUSTOM_ACTION = ("CustomAction", "v1", "io.k8s.api.core.v1.CustomAction")
TOKEN_REQUEST = ("TokenRequest", "v1", "io.k8s.api.authentication.v1.TokenRequest")


TYPED_BODIES = (BINDING, EVICTION, SCALE, CUSTOM_ACTION, TOKEN_REQUEST)


def decoded_as(body: Any, kind: str, version: str, definition: str | None) -> dict[str, Any]:
    """``body`` if it decodes as ``definition`` (a JSON object of the right field types), else 400.
    A body that passes the definition's compiled check is fine as it is (a binding's body took
    30 us to walk); any other is walked for the decoder's exact message, or for nothing (an
    unknown field is no decode error)."""
    if definition is not None and isinstance(body, dict) and _passes(definition, body):
        return body
    errors = decode_errors(definition, body) if definition is not None else []
    if not errors and not isinstance(body, dict):
        errors = ["the body must be a JSON object"]
    if errors:
        raise BadRequest(f'{kind} in version "{version}" cannot be handled as a {kind}: {errors[0]}')
    return body


def _passes(definition: str, body: dict[str, Any]) -> bool:
    check = built_in_check(definition)
    if check is None:
        return False
    try:
        check(body)
    except fastjsonschema.JsonSchemaValueException:
        return False
    return True


def precompile() -> None:
    """Load (or build) the compiled checks of the typed bodies now, so that no request pays for
    it on the event loop (the server runs this in a worker thread at start-up)."""
    for _kind, _version, definition in TYPED_BODIES:
        built_in_check(definition)
