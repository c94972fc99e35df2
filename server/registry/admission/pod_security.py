"""The PodSecurity admission plugin: upstream's k8s.io/pod-security-admission/admission, in-process.

* Pods (create, and updates that change images or containers): refused with upstream's text
  ``pods "x" is forbidden: violates PodSecurity "baseline:latest": ...`` when they fail the
  namespace's enforce level (or the tenant floor, `pod_security_floor`); audit
  violations become the audit annotation ``pod-security.kubernetes.io/audit-violations``; warn
  violations a ``Warning``: ``would violate PodSecurity "restricted:latest": ...``.
* Workload resources with a pod template (their records say where it sits: ReplicationController,
  PodTemplate, ReplicaSet, Deployment, StatefulSet, DaemonSet, Job, CronJob): audit and warn only,
  as upstream.
* Namespaces: bad ``pod-security.kubernetes.io/*`` labels are 422 Invalid; an enforce label below
  the tenant floor is 403; a stricter enforce level warns about the existing pods that violate it
  (upstream's EvaluatePodsInNamespace, at most 3000 pods).
* Tenants: the floor label must name a level, and only a system-tenant identity may set it.
Subresources (status, binding, eviction, ...) are never evaluated.
"""

from __future__ import annotations

from typing import Any

from server.errors import Forbidden, Invalid
from server.podsecurity.checks import Obj, sub
from server.podsecurity.evaluator import DEFAULT_EVALUATOR, Evaluator
from server.podsecurity.policy import (
    AUDIT_VIOLATIONS_ANNOTATION,
    ENFORCE_LABEL,
    ENFORCE_POLICY_ANNOTATION,
    ENFORCE_VERSION_LABEL,
    PRIVILEGED,
    LevelVersion,
    compare_levels,
)
from server.registry.admission.interface import AdmissionRequest, AdmissionResult, Operation
from server.registry.admission.pod_security_floor import (
    FLOOR_LABEL,
    NamespacePolicy,
    below_floor_message,
    floor_label_errors,
    namespace_policy,
)
from server.registry.admission.pod_security_namespace import existing_pod_warnings
from server.registry.catalogue import Catalogue
from server.registry.keys import Scope, list_prefix, object_key
from server.registry.record import ResourceRecord
from server.watchcache import WatchCache


class PodSecurityAdmission:
    name = "PodSecurity"

    def __init__(self, *, catalogue: Catalogue, cache: WatchCache,
                 evaluator: Evaluator = DEFAULT_EVALUATOR) -> None:
        self._cache = cache
        self._evaluator = evaluator
        self._namespaces = catalogue.lookup("", "v1", "namespaces")
        self._tenants = catalogue.lookup("", "v1", "tenants")
        self._pods = catalogue.lookup("", "v1", "pods")

    def handles(self, operation: Operation, resource: ResourceRecord) -> bool:
        if operation not in ("CREATE", "UPDATE"):
            return False
        return resource in (self._pods, self._namespaces, self._tenants) or \
            resource.admission.pod_template is not None

    async def validate(self, request: AdmissionRequest) -> AdmissionResult | None:
        resource = request.resource
        if request.subresource:
            return None
        if resource is self._namespaces:
            return self._validate_namespace(request)
        if resource is self._tenants:
            self._validate_tenant(request)
            return None
        if resource is self._pods:
            if request.old is not None and not significant_pod_update(request.obj, request.old):
                return None
            return self._evaluate(request, request.obj, enforce=True)
        template = _template_of(request.obj, resource.admission.pod_template or ())
        return None if template is None else self._evaluate(request, template, enforce=False)

    # -- pods and templates -----------------------------------------------------------------------
    def _evaluate(self, request: AdmissionRequest, pod: Obj, *, enforce: bool) -> AdmissionResult:
        policy = self._policy_of(request.scope)
        result = AdmissionResult()
        if policy.errors:
            result.audit_annotations[_ANNOTATION_PREFIX + "error"] = \
                "Failed to parse policy: " + "; ".join(str(e) for e in policy.errors)
        if not enforce and policy.policy.fully_privileged:
            return result
        metadata, spec = sub(pod, "metadata"), sub(pod, "spec")
        cache: dict[LevelVersion, Any] = {}

        def outcome(level_version: LevelVersion) -> Any:
            if level_version not in cache:
                cache[level_version] = self._evaluator.aggregate(level_version, metadata, spec)
            return cache[level_version]

        if enforce:
            result.audit_annotations[ENFORCE_POLICY_ANNOTATION] = str(policy.policy.enforce)
            for level_version in policy.enforced():
                verdict = outcome(level_version)
                if not verdict.allowed:
                    raise _forbidden(request, f'violates PodSecurity "{level_version}": '
                                              f"{verdict.forbidden_detail()}")
        audit = outcome(policy.policy.audit)
        if not audit.allowed:
            result.audit_annotations[AUDIT_VIOLATIONS_ANNOTATION] = \
                f'would violate PodSecurity "{policy.policy.audit}": {audit.forbidden_detail()}'
        warn = outcome(policy.policy.warn)
        if not warn.allowed:
            result.warnings.append(
                f'would violate PodSecurity "{policy.policy.warn}": {warn.forbidden_detail()}')
        return result

    # -- namespaces and tenants -------------------------------------------------------------------
    def _validate_namespace(self, request: AdmissionRequest) -> AdmissionResult | None:
        tenant, name = request.scope.tenant, request.name
        labels = _labels(request.obj)
        old_labels = _labels(request.old) if request.old is not None else None
        tenant_labels = self._tenant_labels(tenant)
        new = namespace_policy(tenant, tenant_labels, labels)
        old = None if old_labels is None else namespace_policy(tenant, tenant_labels, old_labels)
        if new.errors and (old is None or [str(e) for e in new.errors] != [str(e) for e in old.errors]):
            raise Invalid.fields("Namespace", name, new.errors)
        enforce_labels = (ENFORCE_LABEL, ENFORCE_VERSION_LABEL)
        changed = old_labels is None or any(labels.get(k) != old_labels.get(k) for k in enforce_labels)
        if changed and new.below_floor():
            raise _forbidden(request, below_floor_message(labels, new, tenant))
        if old is None or not _tightened(new, old):
            return None
        pods = self._cache.resource(self._pods.key_segment).snapshot(
            list_prefix(self._pods, Scope(tenant, name))) if self._pods is not None else []
        warnings = existing_pod_warnings(self._evaluator, name, new.policy.enforce, [c.obj for c in pods])
        return AdmissionResult(warnings=warnings)

    def _validate_tenant(self, request: AdmissionRequest) -> None:
        labels, old = _labels(request.obj), _labels(request.old) if request.old is not None else {}
        errors = floor_label_errors(labels)
        if errors:
            raise Invalid.fields("Tenant", request.name, errors)
        user = request.user
        if labels.get(FLOOR_LABEL) != old.get(FLOOR_LABEL) and user is not None and not user.is_system:
            raise _forbidden(request, f"only a system administrator may set {FLOOR_LABEL}")

    # -- lookups ----------------------------------------------------------------------------------
    def _policy_of(self, scope: Scope) -> NamespacePolicy:
        namespace = None
        if self._namespaces is not None:
            namespace = self._cache.resource(self._namespaces.key_segment).objects.get(
                object_key(self._namespaces, Scope(tenant=scope.tenant), scope.namespace))
        labels = _labels(namespace.obj) if namespace is not None else {}
        return namespace_policy(scope.tenant, self._tenant_labels(scope.tenant), labels)

    def _tenant_labels(self, tenant: str) -> dict[str, str]:
        if self._tenants is None:
            return {}
        cached = self._cache.resource(self._tenants.key_segment).objects.get(
            object_key(self._tenants, Scope(tenant=""), tenant))
        return _labels(cached.obj) if cached is not None else {}


_ANNOTATION_PREFIX = "pod-security.kubernetes.io/"


def _tightened(new: NamespacePolicy, old: NamespacePolicy) -> bool:
    """Upstream re-checks existing pods unless the enforce policy is unchanged, privileged, or
    relaxed at the same version."""
    before, after = old.policy.enforce, new.policy.enforce
    if after == before or after.level == PRIVILEGED:
        return False
    return not (after.version == before.version and compare_levels(after.level, before.level) < 1)


def significant_pod_update(new: Obj, old: Obj) -> bool:
    """Upstream's isSignificantPodUpdate: a changed image, container count or ephemeral container."""
    new_spec, old_spec = sub(new, "spec"), sub(old, "spec")
    for field in ("containers", "initContainers"):
        now, before = new_spec.get(field) or [], old_spec.get(field) or []
        if len(now) != len(before) or any(_image(a) != _image(b) for a, b in zip(now, before, strict=True)):
            return True
    before_ephemeral = {_name(c): _image(c) for c in old_spec.get("ephemeralContainers") or []}
    return any(_name(c) not in before_ephemeral or before_ephemeral[_name(c)] != _image(c)
               for c in new_spec.get("ephemeralContainers") or [])


def _image(container: Any) -> Any:
    return container.get("image") if isinstance(container, dict) else None


def _name(container: Any) -> Any:
    return container.get("name") if isinstance(container, dict) else None


def _template_of(obj: Obj, path: tuple[str, ...]) -> Obj | None:
    node: Any = obj
    for step in path:
        node = node.get(step) if isinstance(node, dict) else None
    return node if isinstance(node, dict) else None


def _labels(obj: Obj | None) -> dict[str, str]:
    labels = sub(sub(obj or {}, "metadata"), "labels")
    return {str(k): str(v) for k, v in labels.items()}


def _forbidden(request: AdmissionRequest, reason: str) -> Forbidden:
    resource = request.resource
    return Forbidden(f'{resource.group_resource} "{request.name}" is forbidden: {reason}',
                     details={"name": request.name, "group": resource.group, "kind": resource.plural})
