"""The OpenAPI documents the server publishes (``/openapi/v2``, ``/openapi/v3``, ``/openapi/v3/<gv>``).

kubectl reads them for ``explain``, for client-side ``apply`` (strategic-merge metadata) and to
learn whether the server accepts ``fieldValidation`` (it looks for that query parameter on a
PATCH operation carrying the kind's ``x-kubernetes-group-version-kind``). The schemas come from
`apis.schemas`, converted to what kubectl's parsers expect (checked with kubectl 1.32, see
MACHINE.md): no ``"null"`` in ``type``, IntOrString as ``type: string, format: int-or-string``,
Quantity as ``type: string``, refs to ``#/definitions/`` (v2) or ``#/components/schemas/`` (v3),
and in v3 a ``$ref`` with siblings wrapped as ``allOf: [{$ref}]`` as upstream does. The
documents are built from the resources a server serves now and its definitions (`SchemaSet`);
the server keeps the encoded bytes until its catalogue changes.
"""

from __future__ import annotations

import hashlib
from collections.abc import Callable, Iterable, Mapping, Sequence
from typing import Any

import orjson

from apis.catalogue import Resource
from apis.schemas import (
    INT_OR_STRING,
    QUANTITY,
    SERVED_KUBERNETES_VERSION,
    Schema,
    definition_name,
    reachable_definitions,
    ref_target,
)

_INFO = {"title": "Kubernetes", "version": f"v{SERVED_KUBERNETES_VERSION}.0"}
Definitions = Mapping[str, Schema]
_V2_REF = "#/definitions/"
_V3_REF = "#/components/schemas/"
_META = "io.k8s.apimachinery.pkg.apis.meta.v1."
_SHARED_DEFINITIONS = (_META + "Status", _META + "DeleteOptions", _META + "Patch", _META + "WatchEvent")
_REPLACED: dict[str, Schema] = {
    INT_OR_STRING: {"type": "string", "format": "int-or-string", "x-kubernetes-int-or-string": True},
    QUANTITY: {"type": "string"},
}
_PATCH_MEDIA_TYPES = (
    "application/json-patch+json",
    "application/merge-patch+json",
    "application/strategic-merge-patch+json",
    "application/apply-patch+yaml",
)
# Query parameters as upstream declares them (name, OpenAPI type, description): clients and
# fuzzers learn from them what each operation takes.
_WRITE_PARAMETERS = (
    ("dryRun", "string", "When present, indicates that modifications should not be persisted."),
    ("fieldManager", "string", "A name associated with the actor or entity that is making these changes."),
    ("fieldValidation", "string",
     "Ignore, Warn or Strict: how the server treats unknown or duplicate fields."),
)
_LIST_PARAMETERS = (
    ("allowWatchBookmarks", "boolean", "Requests watch events with type BOOKMARK."),
    ("continue", "string", "The continue token of a previous paginated list."),
    ("fieldSelector", "string", "A selector to restrict the returned objects by their fields."),
    ("labelSelector", "string", "A selector to restrict the returned objects by their labels."),
    ("limit", "integer", "The maximum number of objects to return in one page."),
    ("resourceVersion", "string", "Which version of the collection to serve (see resourceVersionMatch)."),
    ("resourceVersionMatch", "string", "How resourceVersion applies to list calls: Exact or NotOlderThan."),
    ("sendInitialEvents", "boolean", "Starts a watch with the current state as synthetic events."),
    ("timeoutSeconds", "integer", "Timeout for the list/watch call."),
    ("watch", "boolean", "Watch for changes to the described resources."),
)
_DELETE_PARAMETERS = (
    ("dryRun", "string", "When present, indicates that modifications should not be persisted."),
    ("gracePeriodSeconds", "integer", "The duration in seconds before the object should be deleted."),
    ("orphanDependents", "boolean", "Deprecated: whether dependents are orphaned (use propagationPolicy)."),
    ("propagationPolicy", "string", "Whether and how garbage collection is performed: Orphan, Background or "
                                    "Foreground."),
)
_FORCE_PARAMETER = ("force", "boolean", "Force is going to force Apply requests.")


def _convert(schema: Any, ref_prefix: str, *, wrap_refs: bool) -> Any:
    if isinstance(schema, list):
        return [_convert(item, ref_prefix, wrap_refs=wrap_refs) for item in schema]
    if not isinstance(schema, dict):
        return schema
    out: Schema = {}
    for name, value in schema.items():
        if name == "type" and isinstance(value, list):
            kept = [t for t in value if t != "null"]
            if kept:
                out["type"] = kept[0] if len(kept) == 1 else kept
        elif name == "enum":
            continue  # only kubernetes-validate's apiVersion/kind pins; upstream serves none there
        elif name == "properties" and isinstance(value, dict):
            out[name] = {p: _convert(s, ref_prefix, wrap_refs=wrap_refs) for p, s in value.items()}
        elif name != "$ref":
            out[name] = _convert(value, ref_prefix, wrap_refs=wrap_refs)
    target = ref_target(schema)
    if target is None:
        return out
    ref = {"$ref": ref_prefix + target}
    if wrap_refs and out:
        return {"allOf": [ref], **out}
    return {**ref, **out}


def _served_definition(name: str, ref_prefix: str, defs: Definitions, *, wrap_refs: bool) -> Schema:
    schema = defs[name]
    if name in _REPLACED:
        described = {"description": schema["description"]} if "description" in schema else {}
        return {**described, **_REPLACED[name]}
    converted: Schema = _convert(schema, ref_prefix, wrap_refs=wrap_refs)
    return converted


def _kind_definition(resource: Resource, kind: str) -> str | None:
    if kind == resource.kind and resource.definition:
        return resource.definition
    return definition_name(resource.group, resource.version, kind)


def group_version_path(group: str, version: str) -> str:
    """``api/v1`` for the core group, ``apis/{group}/{version}`` otherwise (the v3 document path)."""
    return f"api/{version}" if not group else f"apis/{group}/{version}"


def _operation_id(verb: str, resource: Resource, kind: str) -> str:
    group = "".join(part.capitalize() for part in (resource.group or "core").split(".")[:1])
    namespaced = "Namespaced" if resource.namespaced else ""
    return f"{verb}{group}{resource.version.capitalize()}{namespaced}{kind}"


def _parameters(names: tuple[tuple[str, str, str], ...], *, v3: bool) -> list[Schema]:
    out: list[Schema] = []
    for name, kind, description in names:
        parameter: Schema = {"name": name, "in": "query", "description": description}
        if v3:
            parameter["schema"] = {"type": kind, "uniqueItems": True}
        else:
            parameter.update({"type": kind, "uniqueItems": True})
        out.append(parameter)
    return out


def _operation_parameters(action: str) -> tuple[tuple[str, str, str], ...]:
    if action in ("post", "put"):
        return _WRITE_PARAMETERS
    if action == "patch":
        return (*_WRITE_PARAMETERS, _FORCE_PARAMETER)
    if action == "list":
        return _LIST_PARAMETERS
    if action == "delete":
        return _DELETE_PARAMETERS
    if action == "deletecollection":
        by_name = {p[0]: p for p in (*_LIST_PARAMETERS, *_DELETE_PARAMETERS) if p[0] != "watch"}
        return tuple(by_name[name] for name in sorted(by_name))
    return ()


def _request_body(action: str, kind_definition: str | None, *, v3: bool) -> Schema | None:
    """What upstream declares a body to be: the object for post/put, DeleteOptions for deletes."""
    if action in ("post", "put") and kind_definition is not None:
        target, required = kind_definition, True
    elif action in ("delete", "deletecollection"):
        target, required = _META + "DeleteOptions", False
    else:
        return None
    if v3:
        return {"content": {"*/*": {"schema": {"$ref": _V3_REF + target}}}, "required": required}
    return {"name": "body", "in": "body", "required": required, "schema": {"$ref": _V2_REF + target}}


def _response(definition: str | None, ref_prefix: str, *, v3: bool, accepted: bool = False) -> Schema:
    """The 200 answer (and, for deletes, the 202 answer: the same body) of an operation."""
    codes = {"200": "OK", "202": "Accepted"} if accepted else {"200": "OK"}
    if definition is None:
        return {code: {"description": text} for code, text in codes.items()}
    schema = {"$ref": ref_prefix + definition}
    if v3:
        return {code: {"description": text, "content": {"application/json": {"schema": schema}}}
                for code, text in codes.items()}
    return {code: {"description": text, "schema": schema} for code, text in codes.items()}


def _returned_definition(action: str, resource: Resource, kind: str) -> str | None:
    """What an operation answers with. A delete answers with the object only where the resource
    returns it (upstream's installer: ReturnDeletedObject), else with a Status."""
    if action == "deletecollection" or (action == "delete" and not resource.returns_deleted_object):
        return _META + "Status"
    return _kind_definition(resource, kind)


def _operation(action: str, resource: Resource, *, list_kind: bool, v3: bool) -> Schema:
    kind = resource.list_kind if list_kind and action == "list" else resource.kind
    ref_prefix = _V3_REF if v3 else _V2_REF
    returned = _returned_definition(action, resource, kind)
    parameters = _parameters(_operation_parameters(action), v3=v3)
    body = _request_body(action, _kind_definition(resource, resource.kind), v3=v3)
    if body is not None and not v3:
        parameters.insert(0, body)
    operation: Schema = {
        "operationId": _operation_id(action, resource, resource.kind),
        "parameters": parameters,
        "responses": _response(returned, ref_prefix, v3=v3, accepted=action == "delete"),
        "x-kubernetes-action": action,
        "x-kubernetes-group-version-kind": {
            "group": resource.group, "version": resource.version, "kind": resource.kind,
        },
    }
    if action == "patch" and v3:
        patch = {"schema": {"$ref": _V3_REF + _META + "Patch"}}
        operation["requestBody"] = {"content": {media: patch for media in _PATCH_MEDIA_TYPES},
                                    "required": True}
    elif body is not None and v3:
        operation["requestBody"] = body
    return operation


def _path_parameters(names: list[str], *, v3: bool) -> list[Schema]:
    out: list[Schema] = []
    for name in names:
        parameter: Schema = {"name": name, "in": "path", "required": True, "uniqueItems": True}
        if v3:
            parameter["schema"] = {"type": "string"}
        else:
            parameter["type"] = "string"
        out.append(parameter)
    return out


def _resource_paths(resource: Resource, *, v3: bool) -> dict[str, Schema]:
    """The collection and item paths of ``resource`` at their upstream (tenant-less) shapes."""
    base = "/" + group_version_path(resource.group, resource.version)
    scope = "/namespaces/{namespace}" if resource.namespaced else ""
    collection, item = f"{base}{scope}/{resource.plural}", f"{base}{scope}/{resource.plural}/{{name}}"
    verbs = set(resource.verbs)
    collection_ops = {"get": "list", "post": "create", "delete": "deletecollection"}
    item_ops = {"get": "get", "put": "update", "patch": "patch", "delete": "delete"}
    actions = {"create": "post", "update": "put"}
    paths: dict[str, Schema] = {}
    namespace = ["namespace"] if resource.namespaced else []
    shapes = ((collection, collection_ops, namespace), (item, item_ops, ["name", *namespace]))
    for path, ops, path_names in shapes:
        entry: Schema = {
            method: _operation(actions.get(verb, verb), resource, list_kind=True, v3=v3)
            for method, verb in ops.items() if verb in verbs
        }
        if entry:
            paths[path] = {**entry, "parameters": _path_parameters(path_names, v3=v3)}
    return paths


def _root_definitions(resources: list[Resource], defs: Definitions) -> list[str]:
    roots = list(_SHARED_DEFINITIONS)
    for resource in resources:
        roots.extend(d for d in (_kind_definition(resource, resource.kind),
                                 _kind_definition(resource, resource.list_kind)) if d)
    return reachable_definitions(roots, defs)


def openapi_v2(resources: Iterable[Resource], defs: Definitions) -> bytes:
    """The Swagger 2.0 document: every definition, and the paths of ``resources``."""
    paths: dict[str, Schema] = {}
    for resource in resources:
        paths.update(_resource_paths(resource, v3=False))
    document = {
        "swagger": "2.0",
        "info": _INFO,
        "paths": paths,
        "definitions": {
            name: _served_definition(name, _V2_REF, defs, wrap_refs=False) for name in sorted(defs)
        },
    }
    return orjson.dumps(document)


def openapi_v3_document(resources: Iterable[Resource], path: str, defs: Definitions) -> bytes | None:
    """The OpenAPI 3.0 document of one group-version (``api/v1``, ``apis/apps/v1``), or None."""
    served = [r for r in resources if group_version_path(r.group, r.version) == path.strip("/")]
    if not served:
        return None
    paths: dict[str, Schema] = {}
    for resource in served:
        paths.update(_resource_paths(resource, v3=True))
    schemas = {name: _served_definition(name, _V3_REF, defs, wrap_refs=True)
               for name in _root_definitions(served, defs)}
    document = {"openapi": "3.0.0", "info": _INFO, "paths": paths, "components": {"schemas": schemas}}
    return orjson.dumps(document)


def openapi_v3_index(group_versions: Mapping[str, Sequence[str]],
                     document: Callable[[str], bytes | None]) -> dict[str, Any]:
    """``/openapi/v3``: each served group-version with a content-hashed URL (upstream's discovery);
    ``document`` gives the encoded document of a group-version path."""
    paths: dict[str, Any] = {}
    for group, versions in group_versions.items():
        for version in versions:
            path = group_version_path(group, version)
            encoded = document(path)
            if encoded is not None:
                digest = hashlib.sha512(encoded).hexdigest().upper()
                paths[path] = {"serverRelativeURL": f"/openapi/v3/{path}?hash={digest}"}
    return {"paths": paths}
