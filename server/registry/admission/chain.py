"""Admission: an ordered chain of plugins, run in upstream's two phases around validation.

As kube-apiserver: every write first passes the *mutating* phase — each plugin that implements
`admit`, in the chain's order, may change the object or refuse it — then the store prepares and
validates the object (schema, strategy), then the *validating* phase — each plugin that implements
`validate`, in the same order, may only refuse or warn. Deletes pass both phases too. The order is
upstream's (``pkg/kubeapiserver/options/plugins.go`` AllOrderedPlugins) for the plugins we have,
with Arktos's next to their upstream relatives:

  TenantExists (Arktos) · NamespaceLifecycle · ServiceAccount · Priority · SystemDaemonSet (Arktos) ·
  PodSecurity · RBAC escalation (upstream does it in the RBAC storage; a plugin here) · ResourceQuota (last)

Mutating webhooks and ValidatingAdmissionPolicy will be plugins of this chain, between the built-in
plugins and ResourceQuota as upstream places them. Which plugins see a request is decided once per
resource and operation (`AdmissionPlugin.handles`) and forgotten when the catalogue changes.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import TypeVar

from server.registry.admission.interface import (
    AdmissionPlugin,
    AdmissionRequest,
    AdmissionResult,
    MutatingPlugin,
    Operation,
    ValidatingPlugin,
)
from server.registry.admission.lifecycle import NamespaceLifecycle, TenantExists
from server.registry.admission.pod_security import PodSecurityAdmission
from server.registry.admission.priority import Priority
from server.registry.admission.resource_quota import ResourceQuota
from server.registry.admission.service_account import ServiceAccountAdmission
from server.registry.admission.system_daemonset import SystemDaemonSet
from server.registry.catalogue import Catalogue, CatalogueChange
from server.registry.record import ResourceRecord
from server.watchcache import WatchCache

_Key = tuple[ResourceRecord, Operation]
P = TypeVar("P", bound=AdmissionPlugin)


class AdmissionChain:
    """The mutating and the validating phase of an ordered list of plugins."""

    def __init__(self, plugins: Sequence[AdmissionPlugin], *, catalogue: Catalogue) -> None:
        self.plugins = tuple(plugins)
        self._mutating = tuple(p for p in plugins if isinstance(p, MutatingPlugin))
        self._validating = tuple(p for p in plugins if isinstance(p, ValidatingPlugin))
        self._admitting: dict[_Key, tuple[MutatingPlugin, ...]] = {}
        self._judging: dict[_Key, tuple[ValidatingPlugin, ...]] = {}
        catalogue.subscribe(self._forget)

    def _forget(self, _change: CatalogueChange) -> None:
        self._admitting.clear()
        self._judging.clear()

    async def admit(self, request: AdmissionRequest) -> AdmissionResult:
        """The mutating phase: plugins may change ``request.obj`` or refuse it (an ApiError)."""
        result = AdmissionResult()
        for plugin in _selected(self._admitting, self._mutating, request):
            outcome = await plugin.admit(request)
            if outcome is not None:
                result.add(outcome)
        return result

    async def validate(self, request: AdmissionRequest) -> AdmissionResult:
        """The validating phase: plugins may refuse (an ApiError) or warn, never change."""
        result = AdmissionResult()
        for plugin in _selected(self._judging, self._validating, request):
            outcome = await plugin.validate(request)
            if outcome is not None:
                result.add(outcome)
        return result


def _selected(chosen: dict[_Key, tuple[P, ...]], plugins: tuple[P, ...],
              request: AdmissionRequest) -> tuple[P, ...]:
    """The ``plugins`` that handle requests like ``request``, chosen once per resource and operation."""
    key = (request.resource, request.operation)
    selected = chosen.get(key)
    if selected is None:
        selected = chosen[key] = tuple(p for p in plugins if p.handles(request.operation, request.resource))
    return selected


# What --disable-admission-plugins may name: the built-in plugins (RBAC escalation is upstream's
# RBAC storage, not a plugin one can switch off).
DISABLEABLE_PLUGINS = ("TenantExists", "NamespaceLifecycle", "ServiceAccount", "Priority", "SystemDaemonSet",
                       "PodSecurity", "ResourceQuota")


def standard_plugins(*, catalogue: Catalogue, cache: WatchCache,
                     authorization: Sequence[AdmissionPlugin] = (),
                     disabled: frozenset[str] = frozenset()) -> tuple[AdmissionPlugin, ...]:
    """The server's chain in upstream's order; ``authorization`` holds the plugins that need the
    authorizer (RBAC escalation), which sits above the registry. ``disabled`` names plugins left
    out (upstream's ``--disable-admission-plugins``; its integration tests run without
    ServiceAccount, as ours do where no controller manager makes the default accounts)."""
    plugins: tuple[AdmissionPlugin, ...] = (
        TenantExists(catalogue=catalogue, cache=cache),
        NamespaceLifecycle(catalogue=catalogue, cache=cache),
        ServiceAccountAdmission(catalogue=catalogue, cache=cache),
        Priority(catalogue=catalogue),
        SystemDaemonSet(),
        PodSecurityAdmission(catalogue=catalogue, cache=cache),
        *authorization,
        ResourceQuota(catalogue=catalogue, cache=cache),
    )
    return tuple(p for p in plugins if p.name not in disabled)
