"""Per-resource table columns and cells: what ``kubectl get`` prints for each kind.

The server renders tables (kubectl asks for ``as=Table``), so these rows *are* kubectl's output. They
mirror upstream's server-side printers (kubernetes ``pkg/printers/internalversion/printers.go``) —
columns, cell formats, the pod STATUS logic, ``<none>`` placeholders — always generated "wide", as
upstream's table convertor does; kubectl hides priority-1 columns unless ``-o wide``.

`server.printing.tables` wraps these rows into a ``meta.k8s.io/v1`` Table; kinds without a printer here get
upstream's default Name / Created At table there.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from typing import Any

from apis.selectors import SelectorError, label_selector_from_meta
from server.printing.durations import age, human_duration, timestamp_or_zero

Obj = Mapping[str, Any]
Column = dict[str, Any]


@dataclass(frozen=True, slots=True)
class Printer:
    columns: tuple[Column, ...]
    cells: Callable[[Obj, float], list[Any]]
    # Row conditions (upstream sets "Completed" on succeeded/failed pods).
    conditions: Callable[[Obj], list[dict[str, str]] | None] | None = None


def column(name: str, description: str, *, type_: str = "string", priority: int = 0, fmt: str = "") -> Column:
    return {"name": name, "type": type_, "format": fmt, "description": description, "priority": priority}


NAME = column("Name", "Name must be unique within a namespace.", fmt="name")
AGE = column("Age", "CreationTimestamp is a timestamp representing the server time when this object was "
             "created.")
CONTAINERS = column("Containers", "Names of each container in the template.", priority=1)
IMAGES = column("Images", "Images referenced by each container in the template.", priority=1)
SELECTOR = column("Selector", "Label selector of the object.", priority=1)


def meta_of(obj: Obj) -> Obj:
    return obj.get("metadata") or {}


def name_of(obj: Obj) -> str:
    return str(meta_of(obj).get("name", ""))


def created_age(obj: Obj, now: float) -> str:
    return age(meta_of(obj).get("creationTimestamp"), now)


def format_labels(labels: Mapping[str, str] | None) -> str:
    """labels.FormatLabels: ``k=v`` sorted by key, comma-joined; ``<none>`` when empty."""
    if not labels:
        return "<none>"
    return ",".join(f"{k}={labels[k]}" for k in sorted(labels))


def format_selector(selector: Obj | None) -> str:
    """A metav1.LabelSelector as upstream prints it (``LabelSelectorAsSelector(...).String()``:
    requirements sorted by key, values sorted); empty for match-all, ``<error>`` for one that
    does not parse (upstream ``FormatLabelSelector``)."""
    if not selector:
        return ""
    try:
        return str(label_selector_from_meta(selector))
    except SelectorError:
        return "<error>"


def selector_or_none(selector: Obj | None) -> str:
    return format_selector(selector) or "<none>"


def container_cells(template_spec: Obj) -> list[str]:
    containers = template_spec.get("containers") or ()
    return [",".join(c.get("name", "") for c in containers), ",".join(c.get("image", "") for c in containers)]


def template_spec_of(obj: Obj) -> Obj:
    return ((obj.get("spec") or {}).get("template") or {}).get("spec") or {}


# --- pods ---------------------------------------------------------------------------------------


def _condition_true(conditions: Iterable[Obj], type_: str) -> bool:
    return any(c.get("type") == type_ and c.get("status") == "True" for c in conditions)


def _terminated_reason(terminated: Obj, prefix: str) -> str:
    if terminated.get("reason"):
        return prefix + terminated["reason"]
    if terminated.get("signal"):
        return f"{prefix}Signal:{terminated['signal']}"
    return f"{prefix}ExitCode:{terminated.get('exitCode') or 0}"


def _last_terminated_at(container_status: Obj) -> float:
    last_state = container_status.get("lastState")
    if not last_state:
        return 0.0
    return timestamp_or_zero((last_state.get("terminated") or {}).get("finishedAt"))


@dataclass(slots=True)
class _PodSummary:
    """The READY, STATUS and RESTARTS of a pod while upstream's printPod logic runs over it."""

    reason: str
    ready: int = 0
    restarts: int = 0
    last_restart: float = 0.0
    initializing: bool = False


def _walk_init_containers(spec: Obj, statuses: Iterable[Obj], summary: _PodSummary) -> tuple[int, float]:
    """Init containers: the first unfinished one names the STATUS (``Init:1/2``, ``Init:Error``).

    Returns the restarts and last restart time of restartable (sidecar) init containers, which are
    all that count once the pod has initialized."""
    init_specs = spec.get("initContainers") or ()
    sidecars = {c.get("name") for c in init_specs if c.get("restartPolicy") == "Always"}
    sidecar_restarts, sidecar_last_restart = 0, 0.0
    for index, cs in enumerate(statuses):
        count, finished = cs.get("restartCount") or 0, _last_terminated_at(cs)
        summary.restarts += count
        summary.last_restart = max(summary.last_restart, finished)
        is_sidecar = cs.get("name") in sidecars
        if is_sidecar:
            sidecar_restarts += count
            sidecar_last_restart = max(sidecar_last_restart, finished)
        state = cs.get("state") or {}
        terminated, waiting = state.get("terminated"), state.get("waiting")
        if terminated is not None and not terminated.get("exitCode"):
            continue
        if is_sidecar and cs.get("started"):
            summary.ready += 1 if cs.get("ready") else 0
            continue
        if terminated is not None:
            summary.reason = _terminated_reason(terminated, "Init:")
        elif waiting is not None and waiting.get("reason") and waiting["reason"] != "PodInitializing":
            summary.reason = "Init:" + waiting["reason"]
        else:
            summary.reason = f"Init:{index}/{len(init_specs)}"
        summary.initializing = True
        break
    return sidecar_restarts, sidecar_last_restart


def _summarise_pod(pod: Obj, spec: Obj, status: Obj) -> _PodSummary:
    phase = status.get("phase") or ""
    summary = _PodSummary(reason=status.get("reason") or phase)
    conditions = status.get("conditions") or ()
    for condition in conditions:
        if condition.get("reason") == "SchedulingGated" and condition.get("type") == "PodScheduled":
            summary.reason = "SchedulingGated"
    sidecar_restarts, sidecar_last_restart = 0, 0.0
    init_statuses = status.get("initContainerStatuses")
    if init_statuses:
        sidecar_restarts, sidecar_last_restart = _walk_init_containers(spec, init_statuses, summary)
    if not summary.initializing or _condition_true(conditions, "Initialized"):
        restarts, last_restart, reason, ready = sidecar_restarts, sidecar_last_restart, summary.reason, 0
        has_running = False
        # Upstream walks containers last to first, so the first container's state wins.
        for cs in reversed(status.get("containerStatuses") or ()):
            restarts += cs.get("restartCount") or 0
            if cs.get("lastState"):
                last_restart = max(last_restart, _last_terminated_at(cs))
            state = cs.get("state") or {}
            waiting, terminated = state.get("waiting"), state.get("terminated")
            if waiting is not None and waiting.get("reason"):
                reason = waiting["reason"]
            elif terminated is not None:
                reason = _terminated_reason(terminated, "")
            elif cs.get("ready") and state.get("running") is not None:
                has_running = True
                ready += 1
        if reason == "Completed" and has_running:
            reason = "Running" if _condition_true(conditions, "Ready") else "NotReady"
        summary.restarts, summary.last_restart, summary.reason = restarts, last_restart, reason
        summary.ready += ready
    if meta_of(pod).get("deletionTimestamp"):
        if status.get("reason") == "NodeLost":
            summary.reason = "Unknown"
        elif phase not in ("Succeeded", "Failed"):
            summary.reason = "Terminating"
    return summary


def _readiness_gates(spec: Obj, status: Obj) -> str:
    gates = spec.get("readinessGates")
    if not gates:
        return "<none>"
    by_type = {c.get("type"): c.get("status") for c in reversed(status.get("conditions") or ())}
    passed = sum(1 for g in gates if by_type.get(g.get("conditionType")) == "True")
    return f"{passed}/{len(gates)}"


def _summarise_vm(status: Obj, summary: _PodSummary) -> None:
    """Arktos VM pods have one VM instead of containers: READY is the VM's readiness out of 1,
    RESTARTS its restart count, and a running pod whose VM is paused/shut down says so."""
    vm_status = status.get("virtualMachineStatus") or {}
    summary.ready = 1 if vm_status.get("ready") else 0
    summary.restarts = int(vm_status.get("restartCount") or 0)
    power = str(vm_status.get("powerState") or "")
    if summary.reason == "Running" and power and power not in ("running", "nostate"):
        summary.reason = power.capitalize()


def _pod_cells(pod: Obj, now: float) -> list[Any]:
    spec, status = pod.get("spec") or {}, pod.get("status") or {}
    summary = _summarise_pod(pod, spec, status)
    total = len(spec.get("containers") or ())
    if isinstance(spec.get("virtualMachine"), dict):
        _summarise_vm(status, summary)
        total = 1
    init_specs = spec.get("initContainers")
    if init_specs:
        # Restartable init containers (sidecars) count as containers of the running pod.
        total += sum(1 for c in init_specs if c.get("restartPolicy") == "Always")
    restarts_text = str(summary.restarts)
    if summary.restarts and summary.last_restart:
        restarts_text = f"{summary.restarts} ({human_duration(now - summary.last_restart)} ago)"
    pod_ips = status.get("podIPs")
    pod_ip = (pod_ips[0].get("ip") if pod_ips else status.get("podIP")) or "<none>"
    return [
        meta_of(pod).get("name", ""), f"{summary.ready}/{total}", summary.reason, restarts_text,
        created_age(pod, now), pod_ip, spec.get("nodeName") or "<none>",
        status.get("nominatedNodeName") or "<none>", _readiness_gates(spec, status),
    ]


def _pod_conditions(pod: Obj) -> list[dict[str, str]] | None:
    phase = (pod.get("status") or {}).get("phase")
    if phase == "Succeeded":
        return [{"type": "Completed", "status": "True", "reason": "Succeeded",
                 "message": "The pod has completed successfully."}]
    if phase == "Failed":
        return [{"type": "Completed", "status": "True", "reason": "Failed",
                 "message": "The pod failed."}]
    return None


POD = Printer(
    columns=(
        NAME,
        column("Ready", "The aggregate readiness state of this pod for accepting traffic."),
        column("Status", "The aggregate status of the containers in this pod."),
        column("Restarts", "The number of times the containers in this pod have been restarted and when "
               "the last container in this pod has restarted."),
        AGE,
        column("IP", "IP address allocated to the pod.", priority=1),
        column("Node", "NodeName is the node the pod is scheduled onto.", priority=1),
        column("Nominated Node", "The node the scheduler nominated for this pod.", priority=1),
        column("Readiness Gates", "Readiness gates of the pod.", priority=1),
    ),
    cells=_pod_cells,
    conditions=_pod_conditions,
)


# --- nodes, namespaces, services -----------------------------------------------------------------


def _node_cells(node: Obj, now: float) -> list[Any]:
    status, labels = node.get("status") or {}, meta_of(node).get("labels") or {}
    ready = next((c for c in status.get("conditions") or () if c.get("type") == "Ready"), None)
    states = ["Unknown" if ready is None else "Ready" if ready.get("status") == "True" else "NotReady"]
    if (node.get("spec") or {}).get("unschedulable"):
        states.append("SchedulingDisabled")
    # Roles come from node-role.kubernetes.io/<role> keys and the older kubernetes.io/role value.
    roles = {k[len("node-role.kubernetes.io/"):] for k in labels if k.startswith("node-role.kubernetes.io/")}
    roles.discard("")
    if labels.get("kubernetes.io/role"):
        roles.add(labels["kubernetes.io/role"])
    addresses = status.get("addresses") or ()
    info = status.get("nodeInfo") or {}

    def address(kind: str) -> str:
        return next((a.get("address", "") for a in addresses if a.get("type") == kind), "<none>")

    return [
        meta_of(node).get("name", ""), ",".join(states), ",".join(sorted(roles)) or "<none>",
        created_age(node, now), info.get("kubeletVersion", ""), address("InternalIP"), address("ExternalIP"),
        info.get("osImage") or "<unknown>", info.get("kernelVersion") or "<unknown>",
        info.get("containerRuntimeVersion") or "<unknown>",
    ]


NODE = Printer(
    columns=(
        NAME, column("Status", "The status of the node"), column("Roles", "The roles of the node"), AGE,
        column("Version", "Kubelet Version reported by the node."),
        column("Internal-IP", "List of addresses reachable to the node.", priority=1),
        column("External-IP", "List of addresses reachable to the node.", priority=1),
        column("OS-Image", "OS Image reported by the node.", priority=1),
        column("Kernel-Version", "Kernel Version reported by the node.", priority=1),
        column("Container-Runtime", "ContainerRuntime Version reported by the node.", priority=1),
    ),
    cells=_node_cells,
)

_PHASE_STATUS = column("Status", "The status of the object")


def _phase_cells(obj: Obj, now: float) -> list[Any]:
    return [meta_of(obj).get("name", ""), (obj.get("status") or {}).get("phase", ""), created_age(obj, now)]


NAMESPACE = Printer(columns=(NAME, column("Status", "The status of the namespace"), AGE), cells=_phase_cells)


def _tenant_cells(tenant: Obj, now: float) -> list[Any]:
    partition = (tenant.get("spec") or {}).get("storageClusterId") or "0"
    return [*_phase_cells(tenant, now), partition]


# Arktos prints tenants like namespaces, plus the tenant partition holding the tenant's objects
# (spec.storageClusterId: "0" = tp0, ...; docs/design/scale-out.md), shown by default.
TENANT = Printer(
    columns=(NAME, _PHASE_STATUS, AGE,
             column("Partition", "The tenant partition holding the tenant's objects "
                    "(spec.storageClusterId).")),
    cells=_tenant_cells,
)


def _external_ip(spec: Obj, status: Obj) -> str:
    kind, external = spec.get("type") or "ClusterIP", spec.get("externalIPs") or []
    if kind in ("ClusterIP", "NodePort"):
        return ",".join(external) or "<none>"
    if kind == "LoadBalancer":
        ingress = ((status.get("loadBalancer") or {}).get("ingress")) or ()
        balancers = sorted({i.get("ip") or i.get("hostname") for i in ingress} - {None, ""})
        return ",".join([*balancers, *external]) or "<pending>"
    if kind == "ExternalName":
        return spec.get("externalName", "")
    return "<unknown>"


def _service_cells(svc: Obj, now: float) -> list[Any]:
    spec = svc.get("spec") or {}
    cluster_ips = spec.get("clusterIPs") or ([spec["clusterIP"]] if spec.get("clusterIP") else [])
    ports = ",".join(
        f"{p.get('port')}:{p['nodePort']}/{p.get('protocol', 'TCP')}" if p.get("nodePort")
        else f"{p.get('port')}/{p.get('protocol', 'TCP')}"
        for p in spec.get("ports") or ()
    )
    return [
        meta_of(svc).get("name", ""), spec.get("type") or "ClusterIP",
        cluster_ips[0] if cluster_ips else "<none>",
        _external_ip(spec, svc.get("status") or {}), ports or "<none>", created_age(svc, now),
        format_labels(spec.get("selector")),
    ]


SERVICE = Printer(
    columns=(
        NAME, column("Type", "Type determines how the Service is exposed."),
        column("Cluster-IP", "ClusterIP is the IP address of the service."),
        column("External-IP", "External IPs of the service."),
        column("Port(s)", "The list of ports that are exposed by this service."), AGE,
        column("Selector", "Route service traffic to pods with label keys and values matching this "
               "selector.", priority=1),
    ),
    cells=_service_cells,
)
