"""Object metadata rules the generic store applies to every resource on create and update.

Mirrors k8s.io/apiserver's rest.BeforeCreate / rest.BeforeUpdate: the server owns uid,
creationTimestamp, resourceVersion, deletion fields, Arktos's tenant and hashKey; the client owns
the rest. Also the JSON walking helpers for unknown-field pruning, the stored size limit and the
deletion timestamp arithmetic (bounded for any grace period a client may ask for).
"""

from __future__ import annotations

import random
import re
from datetime import UTC, datetime, timedelta
from typing import Any, Literal

import orjson

from apis.catalogue import Resource
from apis.field_errors import FieldError
from apis.meta import hash_key, new_uid, now_rfc3339
from apis.wire_types import ObjectMeta, meta_of
from server.errors import BadRequest, Invalid, RequestEntityTooLarge
from server.registry.keys import Scope

# Upstream's generateName suffix alphabet: no vowels, no confusable characters.
_SUFFIX_ALPHABET = "bcdfghjklmnpqrstvwxz2456789"
_ServerOwned = Literal["uid", "creationTimestamp", "tenant", "hashKey", "deletionTimestamp",
                      "deletionGracePeriodSeconds", "selfLink"]
_SERVER_OWNED_ON_UPDATE: tuple[_ServerOwned, ...] = (
    "uid", "creationTimestamp", "tenant", "hashKey", "deletionTimestamp",
    "deletionGracePeriodSeconds", "selfLink",
)
_PATH_TOKEN = re.compile(r"([^.\[\]]+)|\[(\d+)\]")
# The largest object stored: what one request body may carry (upstream's 3 MiB). Aliases in a
# YAML body can still build a larger object within the decoder's bounds; upstream's etcd refuses
# those too ("request is too large", which upstream answers 500; 413 here).
MAX_OBJECT_BYTES = 3 * 1024 * 1024
_LATEST_TIMESTAMP = datetime(9999, 12, 31, 23, 59, 59, tzinfo=UTC)
_EARLIEST_TIMESTAMP = datetime(1970, 1, 1, tzinfo=UTC)


def generate_name(prefix: str) -> str:
    return prefix + "".join(random.choices(_SUFFIX_ALPHABET, k=5))


def check_type(resource: Resource, obj: dict[str, Any]) -> None:
    """The body's apiVersion/kind must name this resource (they are filled in when absent)."""
    api_version, kind = obj.get("apiVersion"), obj.get("kind")
    if api_version and api_version != resource.api_version:
        raise BadRequest(
            f"the API version in the data ({api_version}) does not match the expected API version "
            f"({resource.api_version})")
    if kind and kind != resource.kind:
        raise BadRequest(f"the kind in the data ({kind}) does not match the expected kind "
                         f"({resource.kind})")
    obj["apiVersion"], obj["kind"] = resource.api_version, resource.kind


def metadata_of(obj: dict[str, Any]) -> ObjectMeta:
    metadata: ObjectMeta | None = obj.get("metadata")
    if metadata is None:
        metadata = obj["metadata"] = ObjectMeta()
    if not isinstance(metadata, dict):
        raise BadRequest("metadata must be an object")
    return metadata


def stamp_for_create(resource: Resource, scope: Scope, obj: dict[str, Any]) -> None:
    """Set the fields the server owns on a new object; check the namespace matches the path."""
    metadata = metadata_of(obj)
    if resource.namespaced:
        body_namespace = metadata.get("namespace")
        if body_namespace and body_namespace != scope.namespace:
            raise BadRequest("the namespace of the provided object does not match the namespace "
                             "sent on the request")
        metadata["namespace"] = scope.namespace
    else:
        metadata.pop("namespace", None)
    if not metadata.get("name") and metadata.get("generateName"):
        metadata["name"] = generate_name(metadata["generateName"])
    body_tenant = metadata.get("tenant")
    if resource.tenanted and body_tenant and body_tenant != scope.tenant:
        raise BadRequest("the tenant of the provided object does not match the tenant sent on the "
                         "request")
    uid = new_uid()
    metadata["uid"] = uid
    metadata["creationTimestamp"] = now_rfc3339()
    if resource.tenanted:
        metadata["tenant"] = scope.tenant
    else:
        metadata.pop("tenant", None)
    metadata["hashKey"] = hash_key(uid)
    metadata.pop("resourceVersion", None)
    metadata.pop("deletionTimestamp", None)
    metadata.pop("deletionGracePeriodSeconds", None)
    metadata.pop("selfLink", None)


def carry_over_for_update(new: dict[str, Any], old: dict[str, Any]) -> None:
    """Keep what the server owns from the stored object (clients cannot change these)."""
    new_meta, old_meta = metadata_of(new), meta_of(old)
    tenant = new_meta.get("tenant")
    if tenant and tenant != old_meta.get("tenant"):
        raise Invalid.fields(old.get("kind", ""), old_meta.get("name", ""), [FieldError(
            "FieldValueInvalid", "metadata.tenant", f'Invalid value: "{tenant}": field is immutable')])
    for field in _SERVER_OWNED_ON_UPDATE:
        if field in old_meta:
            new_meta[field] = old_meta[field]
        else:
            new_meta.pop(field, None)
    if "namespace" in old_meta:
        new_meta["namespace"] = old_meta["namespace"]
    new_meta.pop("resourceVersion", None)
    if "generation" in old_meta:
        new_meta.setdefault("generation", old_meta["generation"])


def prune_paths(obj: dict[str, Any], paths: list[str]) -> None:
    """Remove the fields named by upstream-style paths (``spec.containers[0].bar``)."""
    for path in paths:
        tokens = [(m.group(1), m.group(2)) for m in _PATH_TOKEN.finditer(path)]
        node: Any = obj
        for name, index in tokens[:-1]:
            node = node.get(name) if name is not None and isinstance(node, dict) else (
                node[int(index)] if index is not None and isinstance(node, list)
                and int(index) < len(node) else None)
            if node is None:
                break
        last_name, _ = tokens[-1] if tokens else (None, None)
        if isinstance(node, dict) and last_name is not None:
            node.pop(last_name, None)


def encoded_object(obj: dict[str, Any]) -> bytes:
    """The object as stored; 413 past `MAX_OBJECT_BYTES`."""
    data = orjson.dumps(obj)
    if len(data) > MAX_OBJECT_BYTES:
        raise RequestEntityTooLarge.limit(MAX_OBJECT_BYTES)
    return data


def deletion_time(start: datetime, grace: int) -> datetime:
    """start + grace seconds, kept within what a timestamp can say (a client may ask for any int64
    grace period; Go's time arithmetic wraps where Python's raises)."""
    try:
        return start + timedelta(seconds=grace)
    except OverflowError:
        return _LATEST_TIMESTAMP if grace > 0 else _EARLIEST_TIMESTAMP
