"""Priority: a pod's ``spec.priority`` and ``preemptionPolicy``, set in admission as upstream does.

Upstream's Priority plugin (plugin/pkg/admission/priority) resolves a pod's PriorityClass on
create: no ``priorityClassName`` (and no global default class) means priority 0 and
``PreemptLowerPriority``. On update it keeps what the stored pod has when the new object leaves
them out (validation forbids changing them). Named classes are not resolved yet: a pod naming one
keeps whatever priority it sends.
"""

from __future__ import annotations

from server.registry.admission.interface import AdmissionRequest, AdmissionResult, Operation
from server.registry.catalogue import Catalogue
from server.registry.record import ResourceRecord

_PREEMPT_LOWER = "PreemptLowerPriority"


class Priority:
    name = "Priority"

    def __init__(self, *, catalogue: Catalogue) -> None:
        self._pods = catalogue.lookup("", "v1", "pods")

    def handles(self, operation: Operation, resource: ResourceRecord) -> bool:
        return operation in ("CREATE", "UPDATE") and resource is self._pods

    async def admit(self, request: AdmissionRequest) -> AdmissionResult | None:
        if request.subresource:
            return None
        spec = request.obj.get("spec")
        if not isinstance(spec, dict):
            return None
        if request.old is not None:
            old_spec = request.old.get("spec") or {}
            for field in ("priority", "preemptionPolicy"):
                if field not in spec and field in old_spec:
                    spec[field] = old_spec[field]
        if "priorityClassName" not in spec:
            spec.setdefault("priority", 0)
        spec.setdefault("preemptionPolicy", _PREEMPT_LOWER)
        return None
