"""server.registry.admission: the chain's two phases, its order, and the Priority plugin.

Covers: mutating plugins run (in the chain's order) only in the mutating phase and validating ones
only in the validating phase, a plugin that is both in both; warnings and audit annotations of all
of them are collected; which plugins handle a resource and operation is asked once and asked again
after the catalogue changes; the server's standard chain is in upstream's order; Priority defaults
a pod's priority and preemptionPolicy on create, keeps the stored ones on update and leaves
subresources alone. Leaves out the store running the phases around validation (component:
test_api_admission_order) and the plugins that read the watch cache (their component tests).
"""

from __future__ import annotations

from typing import Any

from builtin_records import record

from server.registry.admission.chain import AdmissionChain, standard_plugins
from server.registry.admission.interface import AdmissionRequest, AdmissionResult, Operation
from server.registry.admission.priority import Priority
from server.registry.keys import Scope
from server.registry.record import ResourceRecord
from server.resources.builtin import builtin_catalogue
from server.storage.memory import MemoryBackend
from server.watchcache import WatchCache

PODS = record("", "pods")
CONFIGMAPS = record("", "configmaps")


class Recording:
    """A plugin that notes what it saw (its subclasses say which phases it takes part in)."""

    def __init__(self, name: str, log: list[str], *, handles: set[str] | None = None) -> None:
        self.name = name
        self.log = log
        self.asked = 0
        self._handles = handles

    def handles(self, operation: Operation, resource: ResourceRecord) -> bool:
        self.asked += 1
        return self._handles is None or resource.plural in self._handles


class Mutating(Recording):
    async def admit(self, request: AdmissionRequest) -> AdmissionResult | None:
        self.log.append(f"admit:{self.name}")
        request.obj.setdefault("seen", []).append(self.name)
        return AdmissionResult(warnings=[f"w-{self.name}"])


class Validating(Recording):
    async def validate(self, request: AdmissionRequest) -> AdmissionResult | None:
        self.log.append(f"validate:{self.name}")
        return AdmissionResult(audit_annotations={self.name: "ok"})


class Both(Mutating, Validating):
    pass


def create(resource: ResourceRecord, obj: dict[str, Any]) -> AdmissionRequest:
    return AdmissionRequest("CREATE", resource, Scope("system", "default"), obj)


async def test_phases_run_their_plugins_in_order() -> None:
    log: list[str] = []
    plugins = [Mutating("a", log), Validating("b", log), Both("c", log), Mutating("d", log, handles={"pods"})]
    chain = AdmissionChain(plugins, catalogue=builtin_catalogue())
    request = create(CONFIGMAPS, {"metadata": {"name": "x"}})
    admitted = await chain.admit(request)
    judged = await chain.validate(request)
    assert log == ["admit:a", "admit:c", "validate:b", "validate:c"]
    assert request.obj["seen"] == ["a", "c"]
    assert admitted.warnings == ["w-a", "w-c"] and judged.audit_annotations == {"b": "ok", "c": "ok"}


async def test_handles_is_asked_once_per_resource_and_again_after_a_catalogue_change() -> None:
    catalogue = builtin_catalogue()
    plugin = Mutating("a", [])
    chain = AdmissionChain([plugin], catalogue=catalogue)
    for _ in range(3):
        await chain.admit(create(PODS, {"metadata": {"name": "p"}}))
    assert plugin.asked == 1
    await chain.admit(create(CONFIGMAPS, {"metadata": {"name": "c"}}))
    assert plugin.asked == 2
    catalogue.remove("", "v1", "configmaps")
    await chain.admit(create(PODS, {"metadata": {"name": "p"}}))
    assert plugin.asked == 3


def test_the_standard_chain_is_in_upstreams_order() -> None:
    catalogue = builtin_catalogue()
    cache = WatchCache(MemoryBackend())
    extra = Validating("RBACEscalation", [])
    names = [p.name for p in standard_plugins(catalogue=catalogue, cache=cache, authorization=(extra,))]
    assert names == ["TenantExists", "NamespaceLifecycle", "ServiceAccount", "Priority", "SystemDaemonSet",
                     "PodSecurity", "RBACEscalation", "ResourceQuota"]


async def test_priority_defaults_pods_on_create_and_keeps_them_on_update() -> None:
    priority = Priority(catalogue=builtin_catalogue())
    assert priority.handles("CREATE", PODS) and not priority.handles("CREATE", CONFIGMAPS)
    assert not priority.handles("DELETE", PODS)
    pod: dict[str, Any] = {"metadata": {"name": "p"}, "spec": {}}
    await priority.admit(create(PODS, pod))
    assert pod["spec"] == {"priority": 0, "preemptionPolicy": "PreemptLowerPriority"}
    named: dict[str, Any] = {"metadata": {"name": "p"}, "spec": {"priorityClassName": "high"}}
    await priority.admit(create(PODS, named))
    assert "priority" not in named["spec"]  # a named class is not resolved here
    new: dict[str, Any] = {"metadata": {"name": "p"}, "spec": {}}
    old = {"spec": {"priority": 7, "preemptionPolicy": "Never"}}
    await priority.admit(AdmissionRequest("UPDATE", PODS, Scope("system", "default"), new, old))
    assert new["spec"] == {"priority": 7, "preemptionPolicy": "Never"}
    status: dict[str, Any] = {"metadata": {"name": "p"}, "spec": {}}
    await priority.admit(AdmissionRequest("UPDATE", PODS, Scope("system", "default"), status, old,
                                          subresource="status"))
    assert status["spec"] == {}
