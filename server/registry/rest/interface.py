"""Small REST storages: how a subresource, or a resource that is not stored, is served.

Upstream's k8s.io/apiserver ``registry/rest`` interfaces, reduced to what we serve: an object
serves the verbs of the interfaces it implements — `Getter` (get), `Updater` (update), `Patcher`
(patch), `Creater` (create), `Connecter` (get/create answered by the pod's kubelet) — and the HTTP
layer (``server.handlers.subresources``) maps each request verb to its interface. Each is
registered on its resource's record (``SubresourceRecord.rest``, ``ResourceRecord.rest``) as a
factory of ``(record, context)``, and built once per server.

Nothing here knows HTTP: a storage gets the decoded body (or a patch function) and answers an
object, a `WriteResult` or a kubelet location.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any, Protocol, runtime_checkable

from multidict import MultiDict, MultiDictProxy, MultiMapping

from apis.catalogue import Resource
from server.auth.user import UserInfo
from server.registry.catalogue import Catalogue
from server.registry.keys import Scope
from server.registry.pod_location import KubeletLocation
from server.registry.record import ResourceRecord
from server.registry.store import GenericStore, WriteOptions, WriteResult
from server.watchcache import CachedObject, WatchCache

Mutation = Callable[[dict[str, Any]], dict[str, Any]]
_NO_QUERY: MultiMapping[str] = MultiDictProxy(MultiDict())


class AccessReviews(Protocol):
    """The authentication and authorization answers reviews and TokenRequests need (the server's
    access control implements it; the registry sits below it and only asks)."""

    def answer(self, resource: Resource, scope: Scope, user: UserInfo,
               body: dict[str, Any]) -> dict[str, Any]:
        """The review ``body`` (of ``resource``'s kind) with its status filled in."""
        ...

    def token(self, scope: Scope, name: str, spec: dict[str, Any]) -> dict[str, Any]:
        """The status of a TokenRequest for service account ``name``: token and expiry."""
        ...


class NodeSource(Protocol):
    """Where a pod's Node is read to reach its kubelet when it is not in this server's store (a
    tenant partition's resource partitions, server.resource_providers)."""

    async def node(self, name: str) -> Mapping[str, Any]:
        """The Node; NotFound when there is none."""
        ...


@dataclass(frozen=True, slots=True)
class RestContext:
    """What storages are built with: one server's store, watch cache, catalogue and access; and
    ``nodes``, where pods' nodes are read when not from the store."""

    store: GenericStore
    cache: WatchCache
    catalogue: Catalogue
    access: AccessReviews | None = None
    nodes: NodeSource | None = None


@dataclass(frozen=True, slots=True)
class RestRequest:
    """One request as a storage sees it: which object, asked by whom, with which query."""

    resource: ResourceRecord
    scope: Scope
    name: str
    user: UserInfo | None = None
    query: MultiMapping[str] = field(default_factory=lambda: _NO_QUERY)


@runtime_checkable
class Getter(Protocol):
    def get(self, request: RestRequest) -> CachedObject | dict[str, Any]: ...


@runtime_checkable
class Updater(Protocol):
    async def update(self, request: RestRequest, body: Any, options: WriteOptions) -> WriteResult: ...


@runtime_checkable
class Patcher(Protocol):
    """Patched through ``apply`` (current -> desired), built from the patch by the handler against
    `patch_definition` (the OpenAPI definition of what the subresource returns); apply patches
    (server-side apply) are taken only where `server_side_apply` says so."""

    @property
    def patch_definition(self) -> str: ...

    @property
    def server_side_apply(self) -> bool: ...

    async def patch(self, request: RestRequest, apply: Mutation, options: WriteOptions) -> WriteResult: ...


@runtime_checkable
class Creater(Protocol):
    async def create(self, request: RestRequest, body: Any, options: WriteOptions) -> WriteResult: ...


@runtime_checkable
class Connecter(Protocol):
    """Answered by the pod's kubelet: where to forward the request; None when there is nothing to
    forward to yet (a log of an unscheduled pod is empty)."""

    async def connect(self, request: RestRequest) -> KubeletLocation | None: ...

