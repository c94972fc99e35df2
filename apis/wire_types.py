"""The JSON shapes of the object parts every component reads, as ``TypedDict``s.

Objects travel as decoded JSON (``dict``): the server stores and serves them that way and the
components read a handful of fields from them. Naming those fields' shapes here — ObjectMeta,
OwnerReference, conditions, the pod spec's basics, taints and tolerations — lets mypy check the
reads on the hot paths (a misspelt ``ownerRefrences`` or a ``labels`` treated as a list is an
error) without converting objects into classes: a ``TypedDict`` is a plain ``dict`` at run time.

Every shape is ``total=False``: on the wire any field may be absent (upstream's ``omitempty``),
so readers use ``.get``. Only the fields our code reads are listed; a shape is not a schema
(the server validates against the OpenAPI schemas). Field names are the wire's camelCase, as in
upstream's ``k8s.io/api`` json tags; Arktos's additions are marked.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any, TypedDict, cast

# Quantities arrive as strings ("500m", "1Gi") or, from some clients, as numbers.
Quantity = str | int | float


class OwnerReference(TypedDict, total=False):
    """metav1.OwnerReference."""

    apiVersion: str
    kind: str
    name: str
    uid: str
    controller: bool
    blockOwnerDeletion: bool
    hashKey: int  # Arktos: the owner's metadata.hashKey


class ObjectMeta(TypedDict, total=False):
    """metav1.ObjectMeta, with Arktos's ``tenant`` and ``hashKey`` (ARKTOS.md §1-2)."""

    name: str
    generateName: str
    namespace: str
    tenant: str
    uid: str
    hashKey: int
    resourceVersion: str
    generation: int
    creationTimestamp: str
    deletionTimestamp: str
    deletionGracePeriodSeconds: int
    labels: dict[str, str]
    annotations: dict[str, str]
    ownerReferences: list[OwnerReference]
    finalizers: list[str]
    managedFields: list[dict[str, Any]]
    selfLink: str  # deprecated upstream; the server drops it


class Condition(TypedDict, total=False):
    """A status condition: metav1.Condition and core/v1's typed ones (PodCondition, NodeCondition,
    DeploymentCondition, JobCondition, ...) share ``type``/``status``/``reason``/``message`` and
    differ in which timestamps they carry."""

    type: str
    status: str  # "True" | "False" | "Unknown"
    reason: str
    message: str
    lastTransitionTime: str
    lastProbeTime: str  # PodCondition, JobCondition
    lastHeartbeatTime: str  # NodeCondition
    lastUpdateTime: str  # DeploymentCondition
    observedGeneration: int  # metav1.Condition


class TolerationJSON(TypedDict, total=False):
    """core/v1 Toleration (the matching rule is `apis.tolerations`)."""

    key: str
    operator: str
    value: str
    effect: str
    tolerationSeconds: int


class TaintJSON(TypedDict, total=False):
    """core/v1 Taint."""

    key: str
    value: str
    effect: str
    timeAdded: str


class ContainerPort(TypedDict, total=False):
    name: str
    containerPort: int
    hostPort: int
    hostIP: str
    protocol: str


class ResourceRequirements(TypedDict, total=False):
    requests: dict[str, Quantity]
    limits: dict[str, Quantity]


class EnvVar(TypedDict, total=False):
    name: str
    value: str
    valueFrom: dict[str, Any]


class Container(TypedDict, total=False):
    """core/v1 Container: the basics the kubelet and the controllers read; probes, volume mounts
    and the security context stay untyped dicts."""

    name: str
    image: str
    imagePullPolicy: str
    command: list[str]
    args: list[str]
    workingDir: str
    env: list[EnvVar]
    ports: list[ContainerPort]
    resources: ResourceRequirements
    restartPolicy: str  # init containers only: "Always" makes a sidecar
    volumeMounts: list[dict[str, Any]]
    securityContext: dict[str, Any]
    livenessProbe: dict[str, Any]
    readinessProbe: dict[str, Any]
    startupProbe: dict[str, Any]
    stdin: bool
    tty: bool


class PodSpec(TypedDict, total=False):
    """core/v1 PodSpec's basics, with Arktos's ``virtualMachine`` (ARKTOS.md §4)."""

    containers: list[Container]
    initContainers: list[Container]
    virtualMachine: dict[str, Any]
    nodeName: str
    nodeSelector: dict[str, str]
    affinity: dict[str, Any]
    tolerations: list[TolerationJSON]
    schedulerName: str
    priority: int
    priorityClassName: str
    restartPolicy: str
    terminationGracePeriodSeconds: int
    activeDeadlineSeconds: int
    serviceAccountName: str
    automountServiceAccountToken: bool
    hostNetwork: bool
    hostPID: bool
    hostIPC: bool
    hostname: str
    subdomain: str
    volumes: list[dict[str, Any]]
    securityContext: dict[str, Any]
    overhead: dict[str, Quantity]
    topologySpreadConstraints: list[dict[str, Any]]


class PodTemplateSpec(TypedDict, total=False):
    metadata: ObjectMeta
    spec: PodSpec


class PodStatus(TypedDict, total=False):
    phase: str
    conditions: list[Condition]
    message: str
    reason: str
    hostIP: str
    podIP: str
    podIPs: list[dict[str, str]]
    startTime: str
    containerStatuses: list[dict[str, Any]]
    initContainerStatuses: list[dict[str, Any]]


class Pod(TypedDict, total=False):
    apiVersion: str
    kind: str
    metadata: ObjectMeta
    spec: PodSpec
    status: PodStatus


class NodeSpec(TypedDict, total=False):
    podCIDR: str
    unschedulable: bool
    taints: list[TaintJSON]


class NodeStatus(TypedDict, total=False):
    conditions: list[Condition]
    capacity: dict[str, Quantity]
    allocatable: dict[str, Quantity]
    addresses: list[dict[str, str]]


class Node(TypedDict, total=False):
    apiVersion: str
    kind: str
    metadata: ObjectMeta
    spec: NodeSpec
    status: NodeStatus


# Typed views of an object's parts. ``obj.get("metadata") or {}`` is typed ``Any | dict`` and
# would not satisfy a TypedDict parameter; these say once what the part is (absent: empty).

def meta_of(obj: Mapping[str, Any]) -> ObjectMeta:
    return cast(ObjectMeta, obj.get("metadata") or {})


def pod_spec_of(pod: Mapping[str, Any]) -> PodSpec:
    return cast(PodSpec, pod.get("spec") or {})


def pod_status_of(pod: Mapping[str, Any]) -> PodStatus:
    return cast(PodStatus, pod.get("status") or {})


def node_spec_of(node: Mapping[str, Any]) -> NodeSpec:
    return cast(NodeSpec, node.get("spec") or {})


def node_status_of(node: Mapping[str, Any]) -> NodeStatus:
    return cast(NodeStatus, node.get("status") or {})


def pod_template_of(workload: Mapping[str, Any]) -> PodTemplateSpec:
    """A workload's ``spec.template`` (ReplicaSet, Deployment, StatefulSet, DaemonSet, Job)."""
    return cast(PodTemplateSpec, (workload.get("spec") or {}).get("template") or {})
