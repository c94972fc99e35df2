"""Strategies of the resources whose behaviour differs from the generic store's default.

Each mirrors the matching upstream strategy (pkg/registry/<group>/<resource>/strategy.go) in the
parts clients observe: initial status, immutable fields, graceful deletion, protected objects.
A resource's record (`server.resources.builtin`) names its strategy class.
"""

from __future__ import annotations

import base64
import copy
from typing import Any

from apis.actions import action_spec_errors
from apis.field_errors import FieldError, invalid
from apis.meta import now_rfc3339
from apis.tenant_status import initializing
from server.registry.strategy import Strategy

_POD_UPDATE_FORBIDDEN = (
    "Forbidden: pod updates may not change fields other than `spec.containers[*].image`,"
    "`spec.initContainers[*].image`,`spec.activeDeadlineSeconds`,`spec.tolerations` (only additions "
    "to existing tolerations),`spec.terminationGracePeriodSeconds` (allow it to be set to 1 if it "
    "was previously negative)"
)

NAMESPACE_FINALIZER = "kubernetes"


def _qos_class(spec: dict[str, Any]) -> str:
    """Upstream's QoS classes: Guaranteed (limits == requests for cpu+memory on every container),
    BestEffort (no requests/limits at all), otherwise Burstable."""
    containers = list(spec.get("containers", [])) + list(spec.get("initContainers", []))
    any_set = False
    guaranteed = True
    for container in containers:
        resources = container.get("resources") or {}
        requests, limits = resources.get("requests") or {}, resources.get("limits") or {}
        if requests or limits:
            any_set = True
        for name in ("cpu", "memory"):
            if name not in limits or str(requests.get(name, limits[name])) != str(limits[name]):
                guaranteed = False
    if not any_set:
        return "BestEffort"
    return "Guaranteed" if guaranteed else "Burstable"


class PodStrategy(Strategy):
    def prepare_for_create(self, obj: dict[str, Any]) -> None:
        super().prepare_for_create(obj)
        obj["metadata"].pop("generation", None)
        obj["status"] = {"phase": "Pending", "qosClass": _qos_class(obj.get("spec") or {})}

    def prepare_for_update(self, new: dict[str, Any], old: dict[str, Any]) -> None:
        super().prepare_for_update(new, old)
        new["metadata"].pop("generation", None)

    def validate_update(self, new: dict[str, Any], old: dict[str, Any]) -> list[FieldError]:
        errors = self.validate(new)
        if _mutable_pod_spec(new.get("spec")) != _mutable_pod_spec(old.get("spec")):
            errors.append(FieldError("FieldValueForbidden", "spec", _POD_UPDATE_FORBIDDEN))
        return errors

    def grace_period(self, obj: dict[str, Any], requested: int | None) -> int:
        # An unscheduled or finished pod has nothing to stop: upstream deletes it at once.
        spec, status = obj.get("spec") or {}, obj.get("status") or {}
        if not spec.get("nodeName") or status.get("phase") in ("Succeeded", "Failed"):
            return 0
        if requested is not None:
            return max(requested, 0)
        return int(spec.get("terminationGracePeriodSeconds", 30))


def _mutable_pod_spec(spec: dict[str, Any] | None) -> dict[str, Any]:
    """The pod spec with the fields an update may change blanked out."""
    spec = copy.deepcopy(spec or {})
    for group in ("containers", "initContainers"):
        for container in spec.get(group, []):
            container.pop("image", None)
    spec.pop("activeDeadlineSeconds", None)
    spec.pop("tolerations", None)
    vm = spec.get("virtualMachine")
    if isinstance(vm, dict):
        vm.pop("powerSpec", None)  # Arktos: a VM is powered on and off by updating its pod
    spec.pop("terminationGracePeriodSeconds", None)
    return spec


class NamespaceStrategy(Strategy):
    """Namespaces carry finalizer ``kubernetes`` in ``spec.finalizers``: a deleted namespace is
    Terminating until the namespace controller has emptied it and cleared that list through
    ``/finalize`` (upstream's namespace lifecycle)."""

    def prepare_for_create(self, obj: dict[str, Any]) -> None:
        super().prepare_for_create(obj)
        spec = obj.setdefault("spec", {})
        finalizers = spec.setdefault("finalizers", [])
        if NAMESPACE_FINALIZER not in finalizers:
            finalizers.append(NAMESPACE_FINALIZER)
        obj["status"] = {"phase": "Active"}

    def pending_finalizers(self, obj: dict[str, Any]) -> list[str]:
        return [*super().pending_finalizers(obj), *((obj.get("spec") or {}).get("finalizers") or ())]

    def prepare_for_delete(self, obj: dict[str, Any]) -> None:
        obj.setdefault("status", {})["phase"] = "Terminating"


class TenantStrategy(Strategy):
    """Arktos Tenant: finalizer ``arktos``, phase Active; ``system`` stays. (``storageClusterId``
    defaults to "0" in the Tenant's defaulter, which runs before this.)"""

    def prepare_for_create(self, obj: dict[str, Any]) -> None:
        super().prepare_for_create(obj)
        spec = obj.setdefault("spec", {})
        finalizers = spec.setdefault("finalizers", [])
        if "arktos" not in finalizers:
            finalizers.append("arktos")
        # Initialized stays False until the tenant controller has made the tenant's defaults.
        obj["status"] = {"phase": "Active", "conditions": [initializing(now_rfc3339())]}

    def validate_update(self, new: dict[str, Any], old: dict[str, Any]) -> list[FieldError]:
        errors = self.validate(new)
        new_id = (new.get("spec") or {}).get("storageClusterId")
        if new_id != (old.get("spec") or {}).get("storageClusterId"):
            # Upstream's ValidateImmutableField names the value asked for, not the one kept.
            errors.append(invalid("spec.storageClusterId", new_id, "field is immutable"))
        return errors

    def check_delete(self, obj: dict[str, Any]) -> str | None:
        if obj["metadata"].get("name") == "system":
            return "the system tenant may not be deleted"
        return None

    def pending_finalizers(self, obj: dict[str, Any]) -> list[str]:
        return [*super().pending_finalizers(obj), *((obj.get("spec") or {}).get("finalizers") or ())]

    def prepare_for_delete(self, obj: dict[str, Any]) -> None:
        # Arktos: a deleted tenant is Terminating until its controller has emptied it.
        obj.setdefault("status", {})["phase"] = "Terminating"


class SelectorImmutableStrategy(Strategy):
    """apps/v1 workloads and jobs: ``spec.selector`` cannot change after creation."""

    def validate_update(self, new: dict[str, Any], old: dict[str, Any]) -> list[FieldError]:
        errors = self.validate(new)
        old_selector = (old.get("spec") or {}).get("selector")
        new_selector = (new.get("spec") or {}).get("selector")
        if old_selector != new_selector:
            errors.append(FieldError("FieldValueInvalid", "spec.selector",
                                     f"Invalid value: {_go_repr(new_selector)}: field is immutable"))
        return errors


def _go_repr(value: Any) -> str:
    return str(value)


class NodeStrategy(Strategy):
    """A kubelet registers its Node with capacity and conditions in one create: upstream's node
    strategy keeps the status a create brings (only updates go through ``/status``)."""

    def prepare_for_create(self, obj: dict[str, Any]) -> None:
        status = obj.get("status")
        super().prepare_for_create(obj)
        if status is not None:
            obj["status"] = status


def merge_string_data(secret: dict[str, Any]) -> None:
    """``stringData`` into ``data``: upstream's Convert_v1_Secret_To_core_Secret, run on every
    write (its values, base64 of their UTF-8 bytes, override keys ``data`` also has), so it is
    never stored nor served. Wrong JSON types (the schema check reports them first) stay as sent."""
    string_data = secret.get("stringData")
    if string_data is None or string_data == {}:
        secret.pop("stringData", None)
        return
    data = secret.setdefault("data", {})
    if data is None:
        data = secret["data"] = {}
    if not isinstance(string_data, dict) or not isinstance(data, dict) \
            or not all(isinstance(v, str) for v in string_data.values()):
        return
    data.update({str(k): base64.b64encode(v.encode("utf-8", "surrogatepass")).decode("ascii")
                 for k, v in string_data.items()})
    del secret["stringData"]


class SecretStrategy(Strategy):
    """Secrets take ``stringData`` as a write-only convenience (see `merge_string_data`)."""

    def prepare_for_create(self, obj: dict[str, Any]) -> None:
        super().prepare_for_create(obj)
        merge_string_data(obj)

    def prepare_for_update(self, new: dict[str, Any], old: dict[str, Any]) -> None:
        super().prepare_for_update(new, old)
        merge_string_data(new)


class AllowCreateOnUpdateStrategy(Strategy):
    """Resources upstream lets a PUT create (leases' clients and endpoints rely on it)."""

    allow_create_on_update = True


class ActionStrategy(Strategy):
    """Arktos Action: names its pod and one operation; the spec is fixed once stored, since the
    node's kubelet may already be carrying it out (progress goes through ``/status``)."""

    def validate(self, obj: dict[str, Any]) -> list[FieldError]:
        return [*super().validate(obj), *action_spec_errors(obj)]

    def validate_update(self, new: dict[str, Any], old: dict[str, Any]) -> list[FieldError]:
        errors = self.validate(new)
        if new.get("spec") != old.get("spec"):
            errors.append(FieldError("FieldValueForbidden", "spec", "Forbidden: field is immutable"))
        return errors
