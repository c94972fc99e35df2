"""The built-in resources: every resource the server serves without a CustomResourceDefinition.

One declaration per resource, mirroring what ``kubectl api-resources`` shows against a Kubernetes 1.32
server (plural, singular, kind, short names, categories, verbs, subresources), with Arktos's scopes on
top (ARKTOS.md §1): tenants, nodes and other cluster infrastructure are ``Cluster``; namespaces,
persistent volumes, storage classes, cluster roles/bindings and CRDs are per ``Tenant``; the rest is
``Namespaced`` as upstream.

Subresources are declared by name on the `Resource`; `subresources_of` expands them into the kind and
verbs discovery advertises (``pods/eviction`` answers with ``policy/v1 Eviction``, ``*/scale`` with
``autoscaling/v1 Scale``), as upstream's ``api/discovery/api__v1.json`` lists them.
"""

from __future__ import annotations

import functools
from dataclasses import dataclass

from apis.catalogue import ALL_VERBS, Catalogue, Resource, Scope

# Verb sets upstream uses besides the full CRUD-and-watch set.
_NO_DELETECOLLECTION = ("create", "delete", "get", "list", "patch", "update", "watch")
_CREATE_ONLY = ("create",)
_READ_ONLY = ("get", "list")

# The OpenAPI definition-name prefix of each group's kinds (kubernetes-validate's `$defs` keys).
_DEFINITION_PREFIX: dict[str, str] = {
    "": "io.k8s.api.core",
    "apps": "io.k8s.api.apps",
    "batch": "io.k8s.api.batch",
    "autoscaling": "io.k8s.api.autoscaling",
    "policy": "io.k8s.api.policy",
    "events.k8s.io": "io.k8s.api.events",
    "authentication.k8s.io": "io.k8s.api.authentication",
    "authorization.k8s.io": "io.k8s.api.authorization",
    "certificates.k8s.io": "io.k8s.api.certificates",
    "networking.k8s.io": "io.k8s.api.networking",
    "rbac.authorization.k8s.io": "io.k8s.api.rbac",
    "storage.k8s.io": "io.k8s.api.storage",
    "admissionregistration.k8s.io": "io.k8s.api.admissionregistration",
    "scheduling.k8s.io": "io.k8s.api.scheduling",
    "coordination.k8s.io": "io.k8s.api.coordination",
    "node.k8s.io": "io.k8s.api.node",
    "discovery.k8s.io": "io.k8s.api.discovery",
    "apiextensions.k8s.io": "io.k8s.apiextensions-apiserver.pkg.apis.apiextensions",
    "apiregistration.k8s.io": "io.k8s.kube-aggregator.pkg.apis.apiregistration",
}


def _declare(
    group_version: str,
    kind: str,
    plural: str,
    scope: Scope,
    *,
    short: tuple[str, ...] = (),
    categories: tuple[str, ...] = (),
    subresources: tuple[str, ...] = (),
    verbs: tuple[str, ...] = ALL_VERBS,
    storage_name: str = "",
    definition: str | None = None,
    returns_deleted: bool = False,
) -> Resource:
    group, _, version = group_version.rpartition("/")
    if definition is None:
        definition = f"{_DEFINITION_PREFIX[group]}.{version}.{kind}"
    return Resource(
        group=group, version=version, kind=kind, plural=plural, singular=kind.lower(), scope=scope,
        short_names=short, categories=categories, subresources=subresources, verbs=verbs,
        storage_name=storage_name, definition=definition, returns_deleted_object=returns_deleted,
    )


# `returns_deleted=True` where upstream's registry sets ReturnDeletedObject (pods, services, service
# accounts, pod templates, resource quotas, persistent volumes and claims, storage classes, CSI drivers
# and nodes, volume attachments): DELETE answers with the object, elsewhere with a Status.
_ALL = ("all",)
_API_EXTENSIONS = ("api-extensions",)
_STATUS = ("status",)
_SCALE_STATUS = ("scale", "status")

# Declaration order is discovery order: the core group first, then groups in upstream's /apis order
# (kubectl resolves an ambiguous name such as "events" or "ev" to the first group that serves it).
_CORE: tuple[Resource, ...] = (
    _declare("v1", "Binding", "bindings", "Namespaced", verbs=_CREATE_ONLY),
    _declare("v1", "ComponentStatus", "componentstatuses", "Cluster", short=("cs",), verbs=_READ_ONLY),
    _declare("v1", "ConfigMap", "configmaps", "Namespaced", short=("cm",)),
    _declare("v1", "Endpoints", "endpoints", "Namespaced", short=("ep",)),
    _declare("v1", "Event", "events", "Namespaced", short=("ev",)),
    _declare("v1", "LimitRange", "limitranges", "Namespaced", short=("limits",)),
    _declare("v1", "Namespace", "namespaces", "Tenant", short=("ns",), subresources=("finalize", "status"),
             verbs=_NO_DELETECOLLECTION),
    _declare("v1", "Node", "nodes", "Cluster", short=("no",), subresources=("proxy", "status")),
    _declare("v1", "PersistentVolumeClaim", "persistentvolumeclaims", "Namespaced", short=("pvc",),
             subresources=_STATUS, returns_deleted=True),
    _declare("v1", "PersistentVolume", "persistentvolumes", "Tenant", short=("pv",), subresources=_STATUS,
             returns_deleted=True),
    # Arktos adds pods/action (POST a CustomAction; ARKTOS.md §4).
    _declare("v1", "Pod", "pods", "Namespaced", short=("po",), categories=_ALL, subresources=(
        "action", "attach", "binding", "ephemeralcontainers", "eviction", "exec", "log", "portforward",
        "proxy", "resize", "status",
    ), returns_deleted=True),
    _declare("v1", "PodTemplate", "podtemplates", "Namespaced", returns_deleted=True),
    _declare("v1", "ReplicationController", "replicationcontrollers", "Namespaced", short=("rc",),
             categories=_ALL, subresources=_SCALE_STATUS),
    _declare("v1", "ResourceQuota", "resourcequotas", "Namespaced", short=("quota",), subresources=_STATUS,
             returns_deleted=True),
    _declare("v1", "Secret", "secrets", "Namespaced"),
    _declare("v1", "ServiceAccount", "serviceaccounts", "Namespaced", short=("sa",), subresources=("token",),
             returns_deleted=True),
    _declare("v1", "Service", "services", "Namespaced", short=("svc",), categories=_ALL,
             subresources=("proxy", "status"), returns_deleted=True),
    # Arktos: the Tenant kind lives in core/v1 and is cluster-wide (ARKTOS.md §2). Its definition is
    # added to the served schemas by apis/schemas.py.
    _declare("v1", "Tenant", "tenants", "Cluster", subresources=("finalize", "status"),
             verbs=_NO_DELETECOLLECTION),
    # Arktos: VM pod actions (ARKTOS.md §4), stored per tenant and namespace; the node's kubelet
    # reports progress through /status. Schema in apis/action_schemas.py.
    _declare("v1", "Action", "actions", "Namespaced", subresources=_STATUS),
)

_GROUPS: tuple[Resource, ...] = (
    _declare("apiregistration.k8s.io/v1", "APIService", "apiservices", "Cluster", categories=_API_EXTENSIONS,
             subresources=_STATUS),
    _declare("apps/v1", "ControllerRevision", "controllerrevisions", "Namespaced"),
    _declare("apps/v1", "DaemonSet", "daemonsets", "Namespaced", short=("ds",), categories=_ALL,
             subresources=_STATUS),
    _declare("apps/v1", "Deployment", "deployments", "Namespaced", short=("deploy",), categories=_ALL,
             subresources=_SCALE_STATUS),
    _declare("apps/v1", "ReplicaSet", "replicasets", "Namespaced", short=("rs",), categories=_ALL,
             subresources=_SCALE_STATUS),
    _declare("apps/v1", "StatefulSet", "statefulsets", "Namespaced", short=("sts",), categories=_ALL,
             subresources=_SCALE_STATUS),
    # Same plural as core events: kept apart in storage (upstream shares one key space, we do not).
    _declare("events.k8s.io/v1", "Event", "events", "Namespaced", short=("ev",),
             storage_name="events.events.k8s.io"),
    # Review resources are not stored: they answer a question per request. Arktos evaluates them
    # inside the requester's tenant, hence Tenant scope (token reviews are about the whole cluster).
    _declare("authentication.k8s.io/v1", "SelfSubjectReview", "selfsubjectreviews", "Tenant",
             verbs=_CREATE_ONLY),
    _declare("authentication.k8s.io/v1", "TokenReview", "tokenreviews", "Cluster", verbs=_CREATE_ONLY),
    _declare("authorization.k8s.io/v1", "LocalSubjectAccessReview", "localsubjectaccessreviews",
             "Namespaced", verbs=_CREATE_ONLY),
    _declare("authorization.k8s.io/v1", "SelfSubjectAccessReview", "selfsubjectaccessreviews", "Tenant",
             verbs=_CREATE_ONLY),
    _declare("authorization.k8s.io/v1", "SelfSubjectRulesReview", "selfsubjectrulesreviews", "Tenant",
             verbs=_CREATE_ONLY),
    _declare("authorization.k8s.io/v1", "SubjectAccessReview", "subjectaccessreviews", "Tenant",
             verbs=_CREATE_ONLY),
    # autoscaling/v2 first: it is the preferred version. v1 objects are stored apart (their shapes differ).
    _declare("autoscaling/v2", "HorizontalPodAutoscaler", "horizontalpodautoscalers", "Namespaced",
             short=("hpa",), categories=_ALL, subresources=_STATUS),
    _declare("autoscaling/v1", "HorizontalPodAutoscaler", "horizontalpodautoscalers", "Namespaced",
             short=("hpa",), categories=_ALL, subresources=_STATUS,
             storage_name="horizontalpodautoscalers.autoscaling.v1"),
    _declare("batch/v1", "CronJob", "cronjobs", "Namespaced", short=("cj",), categories=_ALL,
             subresources=_STATUS),
    _declare("batch/v1", "Job", "jobs", "Namespaced", categories=_ALL, subresources=_STATUS),
    _declare("certificates.k8s.io/v1", "CertificateSigningRequest", "certificatesigningrequests", "Cluster",
             short=("csr",), subresources=("approval", "status")),
    _declare("networking.k8s.io/v1", "IngressClass", "ingressclasses", "Cluster"),
    _declare("networking.k8s.io/v1", "Ingress", "ingresses", "Namespaced", short=("ing",),
             subresources=_STATUS),
    _declare("networking.k8s.io/v1", "NetworkPolicy", "networkpolicies", "Namespaced", short=("netpol",)),
    _declare("policy/v1", "PodDisruptionBudget", "poddisruptionbudgets", "Namespaced", short=("pdb",),
             subresources=_STATUS),
    _declare("rbac.authorization.k8s.io/v1", "ClusterRoleBinding", "clusterrolebindings", "Tenant"),
    _declare("rbac.authorization.k8s.io/v1", "ClusterRole", "clusterroles", "Tenant"),
    _declare("rbac.authorization.k8s.io/v1", "RoleBinding", "rolebindings", "Namespaced"),
    _declare("rbac.authorization.k8s.io/v1", "Role", "roles", "Namespaced"),
    _declare("storage.k8s.io/v1", "CSIDriver", "csidrivers", "Cluster", returns_deleted=True),
    _declare("storage.k8s.io/v1", "CSINode", "csinodes", "Cluster", returns_deleted=True),
    _declare("storage.k8s.io/v1", "CSIStorageCapacity", "csistoragecapacities", "Namespaced"),
    _declare("storage.k8s.io/v1", "StorageClass", "storageclasses", "Tenant", short=("sc",),
             returns_deleted=True),
    _declare("storage.k8s.io/v1", "VolumeAttachment", "volumeattachments", "Cluster", subresources=_STATUS,
             returns_deleted=True),
    _declare("admissionregistration.k8s.io/v1", "MutatingWebhookConfiguration",
             "mutatingwebhookconfigurations", "Cluster", categories=_API_EXTENSIONS),
    _declare("admissionregistration.k8s.io/v1", "ValidatingAdmissionPolicy", "validatingadmissionpolicies",
             "Cluster", categories=_API_EXTENSIONS, subresources=_STATUS),
    _declare("admissionregistration.k8s.io/v1", "ValidatingAdmissionPolicyBinding",
             "validatingadmissionpolicybindings", "Cluster", categories=_API_EXTENSIONS),
    _declare("admissionregistration.k8s.io/v1", "ValidatingWebhookConfiguration",
             "validatingwebhookconfigurations", "Cluster", categories=_API_EXTENSIONS),
    _declare("apiextensions.k8s.io/v1", "CustomResourceDefinition", "customresourcedefinitions", "Tenant",
             short=("crd", "crds"), categories=_API_EXTENSIONS, subresources=_STATUS),
    _declare("scheduling.k8s.io/v1", "PriorityClass", "priorityclasses", "Cluster", short=("pc",)),
    _declare("coordination.k8s.io/v1", "Lease", "leases", "Namespaced"),
    _declare("node.k8s.io/v1", "RuntimeClass", "runtimeclasses", "Cluster"),
    _declare("discovery.k8s.io/v1", "EndpointSlice", "endpointslices", "Namespaced"),
    # Arktos's Network (a CRD in Arktos, crd-network.yaml): per tenant, short names ne/net, status
    # subresource. Its schema is added later, hence no definition yet.
    _declare("arktos.futurewei.com/v1", "Network", "networks", "Tenant", short=("ne", "net"),
             subresources=_STATUS, definition="com.futurewei.arktos.v1.Network"),
)


@functools.cache
def builtin_catalogue() -> Catalogue:
    """Every built-in resource, core group first, in discovery order."""
    return Catalogue(_CORE + _GROUPS)


@dataclass(frozen=True, slots=True)
class Subresource:
    """What discovery says about ``{resource}/{name}``.

    ``group``/``version``/``kind`` name the object the subresource accepts and returns; empty group and
    version mean "the parent's" (upstream leaves them unset in that case).
    """

    name: str
    kind: str
    verbs: tuple[str, ...]
    group: str = ""
    version: str = ""


_GET_PATCH_UPDATE = ("get", "patch", "update")
_CONNECT_GET = ("create", "get")  # upstream's verbs for connect subresources (exec, attach, portforward)
_PROXY = ("create", "delete", "get", "patch", "update")

# Subresources whose kind or verbs are particular to one resource: (group, plural, name) -> declaration.
_PARTICULAR: dict[tuple[str, str, str], Subresource] = {
    ("", "pods", "action"): Subresource("action", "CustomAction", _CREATE_ONLY),
    ("", "pods", "attach"): Subresource("attach", "PodAttachOptions", _CONNECT_GET),
    ("", "pods", "binding"): Subresource("binding", "Binding", _CREATE_ONLY),
    ("", "pods", "eviction"): Subresource("eviction", "Eviction", _CREATE_ONLY, "policy", "v1"),
    ("", "pods", "exec"): Subresource("exec", "PodExecOptions", _CONNECT_GET),
    ("", "pods", "log"): Subresource("log", "Pod", ("get",)),
    ("", "pods", "portforward"): Subresource("portforward", "PodPortForwardOptions", _CONNECT_GET),
    ("", "pods", "proxy"): Subresource("proxy", "PodProxyOptions", _PROXY),
    ("", "nodes", "proxy"): Subresource("proxy", "NodeProxyOptions", _PROXY),
    ("", "services", "proxy"): Subresource("proxy", "ServiceProxyOptions", _PROXY),
    ("", "serviceaccounts", "token"): Subresource(
        "token", "TokenRequest", _CREATE_ONLY, "authentication.k8s.io", "v1"),
}


def subresources_of(resource: Resource) -> tuple[Subresource, ...]:
    """The declared subresources of `resource`, with the kind and verbs discovery shows for each."""
    out: list[Subresource] = []
    for name in resource.subresources:
        particular = _PARTICULAR.get((resource.group, resource.plural, name))
        if particular is not None:
            out.append(particular)
        elif name == "scale":
            # Every scale subresource speaks autoscaling/v1 Scale, whatever the parent's group.
            out.append(Subresource("scale", "Scale", _GET_PATCH_UPDATE, "autoscaling", "v1"))
        elif name == "finalize":
            out.append(Subresource("finalize", resource.kind, ("update",)))
        else:
            # status, approval, ephemeralcontainers, resize: the parent's own kind, read and written.
            out.append(Subresource(name, resource.kind, _GET_PATCH_UPDATE))
    return tuple(out)
