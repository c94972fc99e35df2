"""Our own description of the Kubernetes protobuf messages: field numbers, JSON names, types.

The field numbers are the public ones of upstream's ``generated.proto`` files (k8s.io/api and
k8s.io/apimachinery); the tables in ``messages_*.py`` restate them in a compact text form that
this module parses once:

    Name: <number> <jsonName> <type>[flags], ...        (indented lines continue a message)

``<type>`` is ``str``, ``bytes``, ``int`` (int32/int64, signed), ``bool``, ``float`` (double) or
a message name; ``[]T`` is a repeated field and ``{T}`` a ``map<string, T>``. Flags say how the
value maps to JSON the way upstream's Go JSON encoder prints the decoded struct:

- ``!`` keep the zero value. Go's generated marshallers write every non-pointer scalar, even
  ``""``/``0``/``false``, and ``json:",omitempty"`` then drops them. Pointers (``*int32``) are
  only on the wire when set, and fields without ``omitempty`` always print: both are marked
  ``!`` so e.g. ``replicas: 0`` and ``automountServiceAccountToken: false`` survive.
- ``^`` inline: the message is embedded in Go with ``json:",inline"`` (``Volume.VolumeSource``,
  ``Probe.ProbeHandler``, ``ConfigMapKeySelector.LocalObjectReference``...) so its fields are
  merged into the parent object instead of nested under the name.
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import cache

from server.protobuf import messages_core, messages_groups, messages_pod

SCALARS = frozenset({"str", "bytes", "int", "bool", "float"})
# Messages with a JSON form of their own (converted by the decoder, not walked field by field).
SPECIAL_MESSAGES = frozenset({
    "Time", "MicroTime", "Duration", "Quantity", "IntOrString", "RawExtension", "FieldsV1",
    "ExtraValue",
})


@dataclass(frozen=True, slots=True)
class FieldSpec:
    """One field of a message: how to read it off the wire and where to put it in JSON."""

    json_name: str
    type_name: str  # a scalar from SCALARS or a message name
    repeated: bool = False
    is_map: bool = False
    keep_zero: bool = False
    inline: bool = False
    is_scalar: bool = False  # type_name is one of SCALARS (precomputed: the decoder asks often)


MessageSchema = dict[int, FieldSpec]


def _parse_field(token: str, message: str) -> tuple[int, FieldSpec]:
    parts = token.split()
    if len(parts) != 3:
        raise ValueError(f"bad field {token!r} in message {message}")
    number_text, json_name, type_text = parts
    keep_zero = inline = repeated = is_map = False
    while type_text[-1] in "!^":
        keep_zero |= type_text[-1] == "!"
        inline |= type_text[-1] == "^"
        type_text = type_text[:-1]
    if type_text.startswith("[]"):
        repeated, type_text = True, type_text[2:]
    elif type_text.startswith("{") and type_text.endswith("}"):
        is_map, type_text = True, type_text[1:-1]
    spec = FieldSpec(json_name=json_name, type_name=type_text, repeated=repeated, is_map=is_map,
                     keep_zero=keep_zero, inline=inline, is_scalar=type_text in SCALARS)
    return int(number_text), spec


def parse_messages(text: str) -> dict[str, MessageSchema]:
    """Parse one table of message descriptions (see the module docstring for the syntax)."""
    statements: list[str] = []
    for line in text.splitlines():
        if not line.strip() or line.lstrip().startswith("#"):
            continue
        if line[0].isspace():
            if not statements:
                raise ValueError(f"continuation line without a message: {line!r}")
            statements[-1] += " " + line.strip()
        else:
            statements.append(line.strip())
    messages: dict[str, MessageSchema] = {}
    for statement in statements:
        name, _, body = statement.partition(":")
        name = name.strip()
        if name in messages:
            raise ValueError(f"message {name} described twice")
        fields: MessageSchema = {}
        for token in body.split(","):
            if token.strip():
                number, spec = _parse_field(token, name)
                if number in fields:
                    raise ValueError(f"field number {number} used twice in {name}")
                fields[number] = spec
        messages[name] = fields
    return messages


@cache
def message_schemas() -> dict[str, MessageSchema]:
    """Every described message by name (one flat namespace across API groups)."""
    merged: dict[str, MessageSchema] = {}
    for table in (messages_pod.MESSAGES, messages_core.MESSAGES, messages_groups.MESSAGES):
        for name, schema in parse_messages(table).items():
            if name in merged:
                raise ValueError(f"message {name} described in two tables")
            merged[name] = schema
    return merged


def unresolved_references() -> list[str]:
    """Message names used by a field but described nowhere (a consistency check for tests)."""
    schemas = message_schemas()
    missing = set()
    for name, schema in schemas.items():
        for spec in schema.values():
            if spec.is_scalar or spec.type_name in SPECIAL_MESSAGES:
                continue
            if spec.type_name not in schemas:
                missing.add(f"{name}.{spec.json_name} -> {spec.type_name}")
    return sorted(missing)


# Group-versions whose top-level kinds we decode; each kind's message has the kind's name.
_KINDS_BY_GROUP_VERSION: dict[str, tuple[str, ...]] = {
    "v1": ("Namespace", "ConfigMap", "Secret", "Service", "ServiceAccount", "Pod", "PodTemplate",
           "ReplicationController", "Endpoints", "Node", "Event", "Binding", "LimitRange",
           "ResourceQuota", "PersistentVolume", "PersistentVolumeClaim", "ComponentStatus"),
    "apps/v1": ("Deployment", "ReplicaSet", "StatefulSet", "DaemonSet", "ControllerRevision"),
    "batch/v1": ("Job", "CronJob"),
    "autoscaling/v1": ("Scale",),
    "rbac.authorization.k8s.io/v1": ("Role", "ClusterRole", "RoleBinding", "ClusterRoleBinding"),
    "policy/v1": ("PodDisruptionBudget", "Eviction"),
    "policy/v1beta1": ("Eviction",),
    "networking.k8s.io/v1": ("Ingress", "IngressClass", "NetworkPolicy"),
    "scheduling.k8s.io/v1": ("PriorityClass",),
    "coordination.k8s.io/v1": ("Lease",),
    "authentication.k8s.io/v1": ("TokenRequest", "TokenReview", "SelfSubjectReview"),
    "authorization.k8s.io/v1": ("SelfSubjectAccessReview", "SubjectAccessReview",
                                "LocalSubjectAccessReview", "SelfSubjectRulesReview"),
}
# Kinds every group-version carries (upstream registers DeleteOptions into each of them).
_KINDS_IN_EVERY_GROUP_VERSION = ("DeleteOptions",)


def kind_message(api_version: str, kind: str) -> str | None:
    """The message describing ``kind`` in ``api_version``, or None when we have no schema."""
    if kind in _KINDS_IN_EVERY_GROUP_VERSION:
        return kind
    if kind in _KINDS_BY_GROUP_VERSION.get(api_version, ()):
        return kind
    return None
