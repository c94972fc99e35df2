"""Arktos's SystemDaemonSet admission: only the system tenant may create DaemonSets.

Daemons run on every node, for every tenant, so a tenant may not start one (ARKTOS.md §3). Which
resources it guards is a fact of their records (``AdmissionFacts.system_tenant_only``).
"""

from __future__ import annotations

from server.errors import Forbidden
from server.registry.admission.interface import AdmissionRequest, AdmissionResult, Operation
from server.registry.keys import SYSTEM_TENANT
from server.registry.record import ResourceRecord


class SystemDaemonSet:
    name = "SystemDaemonSet"

    def handles(self, operation: Operation, resource: ResourceRecord) -> bool:
        return operation == "CREATE" and resource.admission.system_tenant_only

    async def validate(self, request: AdmissionRequest) -> AdmissionResult | None:
        if request.scope.tenant != SYSTEM_TENANT:
            resource, name = request.resource, request.name
            raise Forbidden(f'{resource.group_resource} "{name}" is forbidden: only the system tenant may '
                            f"create {resource.kind}s",
                            details={"name": name, "group": resource.group, "kind": resource.plural})
        return None
