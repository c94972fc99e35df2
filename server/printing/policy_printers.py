"""Table rows for access, admission and scaling policy: role bindings, certificate signing requests,
disruption budgets, horizontal pod autoscalers, webhook configurations, admission policies and
their bindings, and aggregated API services.

Columns and cells follow upstream's ``pkg/printers/internalversion/printers.go`` (the HPA TARGETS
text of formatHPAMetrics, the CSR condition order Denied > Approved > Pending) and, for
APIServices, kube-aggregator's own table convertor.
"""

from __future__ import annotations

from typing import Any

from server.printing.cells import go_label_selector, int_or_string, quantity_text
from server.printing.durations import human_duration
from server.printing.printers import AGE, NAME, Obj, Printer, column, created_age, name_of


def _binding_cells(obj: Obj, now: float) -> list[Any]:
    ref = obj.get("roleRef") or {}
    users, groups, accounts = [], [], []
    for subject in obj.get("subjects") or ():
        kind, name = subject.get("kind"), subject.get("name", "")
        if kind == "User":
            users.append(name)
        elif kind == "Group":
            groups.append(name)
        elif kind == "ServiceAccount":
            accounts.append(f"{subject.get('namespace', '')}/{name}")
    return [
        name_of(obj), f"{ref.get('kind', '')}/{ref.get('name', '')}", created_age(obj, now),
        ", ".join(users), ", ".join(groups), ", ".join(accounts),
    ]


def _binding_printer(noun: str) -> Printer:
    return Printer(
        columns=(NAME, column("Role", "RoleRef can reference a Role in the current namespace or a "
                              "ClusterRole in the global namespace."), AGE,
                 column("Users", f"Users in the {noun}", priority=1),
                 column("Groups", f"Groups in the {noun}", priority=1),
                 column("ServiceAccounts", f"ServiceAccounts in the {noun}", priority=1)),
        cells=_binding_cells)


ROLE_BINDING = _binding_printer("roleBinding")
CLUSTER_ROLE_BINDING = _binding_printer("clusterRoleBinding")


def _budget_value(value: Any) -> str:
    return "N/A" if value is None else int_or_string(value)


POD_DISRUPTION_BUDGET = Printer(
    columns=(NAME, column("Min Available", "The minimum number of pods that must be available."),
             column("Max Unavailable", "The maximum number of pods that may be unavailable."),
             column("Allowed Disruptions", "Calculated number of pods that may be disrupted at this time.",
                    type_="integer"), AGE),
    cells=lambda obj, now: [
        name_of(obj), _budget_value((obj.get("spec") or {}).get("minAvailable")),
        _budget_value((obj.get("spec") or {}).get("maxUnavailable")),
        (obj.get("status") or {}).get("disruptionsAllowed", 0), created_age(obj, now)])


def _metric_text(spec: Obj, status: Obj) -> str:
    """One entry of formatHPAMetrics: ``current/target`` per metric source type."""
    kind = spec.get("type")
    source_field = {"External": "external", "Pods": "pods", "Object": "object", "Resource": "resource",
                    "ContainerResource": "containerResource"}.get(str(kind))
    if source_field is None:
        return "<unknown type>"
    source, observed = spec.get(source_field) or {}, status.get(source_field)
    target, current = source.get("target") or {}, (observed or {}).get("current") or {}
    if kind in ("Resource", "ContainerResource") and target.get("averageValue") is None:
        now, goal = current.get("averageUtilization"), target.get("averageUtilization")
        return (f"{source.get('name', '')}: {'<unknown>' if now is None else f'{now}%'}/"
                f"{'<auto>' if goal is None else f'{goal}%'}")
    average = kind == "Pods" or target.get("averageValue") is not None
    wanted = target.get("averageValue") if average else target.get("value")
    seen = current.get("averageValue") if average else current.get("value")
    text = f"{quantity_text(seen) if observed and seen is not None else '<unknown>'}/{quantity_text(wanted)}"
    if kind in ("Resource", "ContainerResource"):
        return f"{source.get('name', '')}: {text}"
    return f"{text} (avg)" if kind in ("External", "Object") and average else text


def _hpa_metrics(spec: Obj, status: Obj) -> tuple[list[Obj], list[Obj]]:
    """The v2 metrics; an autoscaling/v1 object's CPU target converted as upstream converts it."""
    if "metrics" in spec or "targetCPUUtilizationPercentage" not in spec:
        return list(spec.get("metrics") or ()), list(status.get("currentMetrics") or ())
    cpu = {"name": "cpu", "target": {"type": "Utilization",
                                     "averageUtilization": spec["targetCPUUtilizationPercentage"]}}
    current = status.get("currentCPUUtilizationPercentage")
    statuses: list[Obj] = [] if current is None else [
        {"type": "Resource", "resource": {"name": "cpu", "current": {"averageUtilization": current}}}]
    return [{"type": "Resource", "resource": cpu}], statuses


def _hpa_targets(spec: Obj, status: Obj) -> str:
    metrics, statuses = _hpa_metrics(spec, status)
    if not metrics:
        return "<none>"
    texts = [_metric_text(m, statuses[i] if i < len(statuses) else {}) for i, m in enumerate(metrics)]
    if len(texts) > 2:
        return f"{', '.join(texts[:2])} + {len(texts) - 2} more..."
    return ", ".join(texts)


def _hpa_cells(obj: Obj, now: float) -> list[Any]:
    spec, status = obj.get("spec") or {}, obj.get("status") or {}
    target = spec.get("scaleTargetRef") or {}
    minimum = spec.get("minReplicas")
    return [name_of(obj), f"{target.get('kind', '')}/{target.get('name', '')}", _hpa_targets(spec, status),
            "<unset>" if minimum is None else str(minimum), spec.get("maxReplicas", 0),
            status.get("currentReplicas", 0), created_age(obj, now)]


HORIZONTAL_POD_AUTOSCALER = Printer(
    columns=(NAME, column("Reference", "reference to scaled resource; horizontal pod autoscaler will learn "
                          "the current resource consumption and will set the desired number of pods by "
                          "using its Scale subresource."),
             column("Targets", "the specifications for which to use to calculate the desired replica count"),
             column("MinPods", "the lower limit for the number of pods that can be set by the autoscaler."),
             column("MaxPods", "the upper limit for the number of pods that can be set by the autoscaler."),
             column("Replicas", "current number of replicas of pods managed by this autoscaler."), AGE),
    cells=_hpa_cells)


def _csr_condition(status: Obj) -> str:
    types = {c.get("type") for c in status.get("conditions") or ()}
    text = "Denied" if "Denied" in types else "Approved" if "Approved" in types else "Pending"
    if "Failed" in types:
        text += ",Failed"
    return text + (",Issued" if status.get("certificate") else "")


def _csr_cells(obj: Obj, now: float) -> list[Any]:
    spec = obj.get("spec") or {}
    seconds = spec.get("expirationSeconds")
    return [name_of(obj), created_age(obj, now), spec.get("signerName") or "<none>", spec.get("username", ""),
            "<none>" if seconds is None else human_duration(seconds), _csr_condition(obj.get("status") or {})]


CERTIFICATE_SIGNING_REQUEST = Printer(
    columns=(NAME, AGE, column("SignerName", "signerName indicates the requested signer."),
             column("Requestor", "request contains an x509 certificate signing request."),
             column("RequestedDuration", "expirationSeconds is the requested duration of validity of the "
                    "issued certificate."),
             column("Condition", "conditions applied to the request.")),
    cells=_csr_cells)

WEBHOOK_CONFIGURATION = Printer(
    columns=(NAME, column("Webhooks", "Webhooks indicates the number of webhooks registered in this "
                          "configuration", type_="integer"), AGE),
    cells=lambda obj, now: [name_of(obj), len(obj.get("webhooks") or ()), created_age(obj, now)])


def _param_kind(spec: Obj) -> str:
    kind = spec.get("paramKind")
    return f"{kind.get('apiVersion', '')}/{kind.get('kind', '')}" if kind else "<unset>"


VALIDATING_ADMISSION_POLICY = Printer(
    columns=(NAME, column("Validations", "Validations indicates the number of validation rules defined in "
                          "this configuration", type_="integer"),
             column("ParamKind", "ParamKind specifies the kind of resources used to parameterize this "
                    "policy"), AGE),
    cells=lambda obj, now: [name_of(obj), len((obj.get("spec") or {}).get("validations") or ()),
                            _param_kind(obj.get("spec") or {}), created_age(obj, now)])


def _param_ref(spec: Obj) -> str:
    ref = spec.get("paramRef")
    if not ref:
        return "<unset>"
    if ref.get("name"):
        # Unknown here whether the param is cluster-scoped, so a missing namespace prints as "*".
        return f"{ref.get('namespace') or '*'}/{ref['name']}"
    return go_label_selector(ref["selector"]) if ref.get("selector") is not None else "<unset>"


VALIDATING_ADMISSION_POLICY_BINDING = Printer(
    columns=(NAME, column("PolicyName", "PolicyName indicates the policy definition which the policy binding "
                          "binded to"),
             column("ParamRef", "ParamRef indicates the param resource which sets the configration "
                    "param"), AGE),
    cells=lambda obj, now: [name_of(obj), (obj.get("spec") or {}).get("policyName", ""),
                            _param_ref(obj.get("spec") or {}), created_age(obj, now)])


def _api_service_cells(obj: Obj, now: float) -> list[Any]:
    spec = obj.get("spec") or {}
    service = spec.get("service")
    where = f"{service.get('namespace', '')}/{service.get('name', '')}" if service else "Local"
    available = "Unknown"
    for condition in (obj.get("status") or {}).get("conditions") or ():
        if condition.get("type") == "Available":
            state = str(condition.get("status", ""))
            reason = condition.get("reason")
            available = f"{state} ({reason})" if state != "True" and reason else state
            break
    return [name_of(obj), where, available, created_age(obj, now)]


# kube-aggregator's REST.ConvertToTable.
API_SERVICE = Printer(
    columns=(NAME, column("Service", "The reference to the service that hosts this API endpoint."),
             column("Available", "Whether this service is available."), AGE),
    cells=_api_service_cells)
