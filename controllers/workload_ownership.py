"""Adopting and releasing children: which objects a workload owns is decided by its selector.

Upstream's ``ControllerRefManager`` (pkg/controller/controller_ref_manager.go): a child whose
controller reference names the owner stays owned while it matches the owner's selector and is
*released* (the reference removed) when it stops matching; an orphan (no controller) that matches
is *adopted* (a controller reference added) unless the owner or the orphan is being deleted;
children of other controllers are never touched. Used by the ReplicaSet/RC controllers for pods,
by the Deployment controller for ReplicaSets, and by StatefulSet/DaemonSet for pods.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

from apis.wire_types import OwnerReference, meta_of
from client.errors import ApiError, Conflict, NotFound
from client.resources import ResourceRef
from client.rest import ApiClient
from controllers.workload_objects import controller_ref, is_being_deleted, object_location, owner_reference

log = logging.getLogger(__name__)

_CONCURRENT_PATCHES = 16


@dataclass(frozen=True)
class Ownership:
    """Who owns: the owner object, its group/version/kind, and which labels it selects."""

    owner: dict[str, Any]
    api_version: str
    kind: str
    selects: Callable[[Mapping[str, str]], bool]

    @property
    def uid(self) -> str:
        return str(meta_of(self.owner).get("uid") or "")


def labels_of(obj: Mapping[str, Any]) -> dict[str, str]:
    return dict(meta_of(obj).get("labels") or {})


async def claim(client: ApiClient, child_ref: ResourceRef, ownership: Ownership,
                candidates: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """The children ``ownership.owner`` controls after adopting matching orphans and releasing
    owned children that no longer match. ``candidates`` are the objects of its namespace."""
    owned: list[dict[str, Any]] = []
    to_adopt: list[dict[str, Any]] = []
    to_release: list[dict[str, Any]] = []
    owner_deleting = is_being_deleted(ownership.owner)
    for child in candidates:
        ref = controller_ref(child)
        matches = ownership.selects(labels_of(child))
        if ref is not None:
            if ref.get("uid") != ownership.uid:
                continue
            if matches:
                owned.append(child)
            elif not owner_deleting:
                to_release.append(child)
            continue
        if matches and not owner_deleting and not is_being_deleted(child):
            to_adopt.append(child)
    semaphore = asyncio.Semaphore(_CONCURRENT_PATCHES)

    async def bounded_adopt(child: dict[str, Any]) -> dict[str, Any] | None:
        async with semaphore:
            return await _adopt(client, child_ref, ownership, child)

    async def bounded_release(child: dict[str, Any]) -> None:
        async with semaphore:
            await _release(client, child_ref, ownership, child)

    adopted = await asyncio.gather(*(bounded_adopt(c) for c in to_adopt))
    await asyncio.gather(*(bounded_release(c) for c in to_release))
    owned.extend(c for c in adopted if c is not None)
    return owned


async def _adopt(client: ApiClient, child_ref: ResourceRef, ownership: Ownership,
                 child: dict[str, Any]) -> dict[str, Any] | None:
    metadata = meta_of(child)
    refs = [r for r in metadata.get("ownerReferences") or () if isinstance(r, dict)]
    refs.append(owner_reference(ownership.owner, api_version=ownership.api_version, kind=ownership.kind))
    patched = await _patch_owner_references(client, child_ref, child, refs)
    if patched is not None:
        log.info("%s %s adopted %s %s", ownership.kind, ownership.owner["metadata"].get("name"),
                 child_ref.kind, metadata.get("name"))
    return patched


async def _release(client: ApiClient, child_ref: ResourceRef, ownership: Ownership,
                   child: dict[str, Any]) -> None:
    metadata = meta_of(child)
    refs = [r for r in metadata.get("ownerReferences") or ()
            if isinstance(r, dict) and r.get("uid") != ownership.uid]
    if await _patch_owner_references(client, child_ref, child, refs) is not None:
        log.info("%s %s released %s %s", ownership.kind, ownership.owner["metadata"].get("name"),
                 child_ref.kind, metadata.get("name"))


async def _patch_owner_references(client: ApiClient, child_ref: ResourceRef, child: dict[str, Any],
                                  refs: list[OwnerReference]) -> dict[str, Any] | None:
    """Replaces the child's ownerReferences, pinned to the version we decided on (upstream pins
    the uid; the resourceVersion also refuses a change made meanwhile). None when it lost a race:
    the informer event that follows brings the owner back to decide again."""
    metadata = meta_of(child)
    tenant, namespace = object_location(child)
    patch = {"metadata": {"ownerReferences": refs, "resourceVersion": metadata.get("resourceVersion"),
                          "uid": metadata.get("uid")}}
    try:
        result: dict[str, Any] = await client.patch(child_ref, str(metadata.get("name")), patch,
                                                    patch_type="merge", tenant=tenant,
                                                    namespace=namespace)
        return result
    except (NotFound, Conflict):
        return None
    except ApiError as e:
        log.warning("could not change owners of %s %s: %s", child_ref.kind, metadata.get("name"), e)
        return None
