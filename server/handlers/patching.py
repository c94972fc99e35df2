"""A PATCH request's patch as a function of the current object (what the store's retry loop runs).

The patch type picks the algorithm (JSON patch, JSON merge patch, strategic merge patch — the last
driven by the patch metadata of ``definition``, the OpenAPI definition of what is patched); a
patch may neither rename nor move its object (upstream handlers' checkName, 400); a failure is
answered with the code upstream picks for it.
"""

from __future__ import annotations

from typing import Any

from server.errors import ApiError, BadRequest, Invalid, UnsupportedMediaType
from server.handlers import codec
from server.patch import PatchError, apply_json_patch, apply_merge_patch, apply_strategic_merge_patch
from server.registry.rest.interface import Mutation

# Upstream picks the code per patch failure; `PatchError.status` carries it.
_PATCH_ERRORS: dict[int, type[ApiError]] = {400: BadRequest, 415: UnsupportedMediaType, 422: Invalid}


def patcher(definition: str, content_type: str, patch: Any, *, target: tuple[str, str]) -> Mutation:
    """``current -> patched`` for a patch of ``content_type``; ``target`` is the (name, namespace)
    of the URL."""
    name, namespace = target

    def apply(current: dict[str, Any]) -> dict[str, Any]:
        try:
            if content_type == codec.JSON_PATCH:
                if not isinstance(patch, list):
                    raise BadRequest("json patch must be a list of operations")
                patched = apply_json_patch(current, patch)
            elif not isinstance(patch, dict):
                raise BadRequest("the patch must be a JSON object")
            elif content_type == codec.MERGE_PATCH:
                patched = apply_merge_patch(current, patch)
            else:
                patched = apply_strategic_merge_patch(current, patch, definition)
        except PatchError as e:
            raise _PATCH_ERRORS.get(e.status, Invalid)(e.message) from e
        check_name(patched, name, namespace)
        return patched

    return apply


def check_name(obj: Any, name: str, namespace: str) -> None:
    """A patch may not rename or move its object (upstream handlers' checkName, 400)."""
    if not isinstance(obj, dict):
        return
    metadata = obj.get("metadata", {})
    if not isinstance(metadata, dict):
        return  # the store refuses a malformed metadata with its own message
    obj_name = metadata.get("name")
    if obj_name != name:
        shown = obj_name if isinstance(obj_name, str) else ""
        raise BadRequest(f"the name of the object ({shown}) does not match the name on the URL ({name})")
    obj_namespace = metadata.get("namespace")
    if namespace and obj_namespace and obj_namespace != namespace:
        raise BadRequest(f"the namespace of the object ({obj_namespace}) does not match the namespace "
                         f"on the request ({namespace})")
