"""The built-in resources: every resource the server serves without a CustomResourceDefinition.

One record per resource (`server.registry.record.ResourceRecord`), mirroring what
``kubectl api-resources`` shows against a Kubernetes 1.32 server (plural, singular, kind, short names,
categories, verbs, subresources with the kind and verbs discovery advertises), with Arktos's scopes
on top (ARKTOS.md §1): tenants, nodes and other cluster infrastructure are ``Cluster``; namespaces,
persistent volumes, storage classes, cluster roles/bindings and CRDs are per ``Tenant``; the rest is
``Namespaced`` as upstream. Each record also names the resource's behaviour: strategy, defaulter,
semantic rules, name rule, printer, selectable fields, admission facts and the handlers of its
subresources. Adding a built-in resource is adding a record here; nothing else is keyed by
resource.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Mapping

from apis.catalogue import ALL_VERBS, Scope
from apis.selectors import fields
from server.printing import (
    config_printers,
    network_printers,
    policy_printers,
    printers,
    storage_printers,
    workload_printers,
)
from server.printing.printers import Printer
from server.registry.catalogue import Catalogue
from server.registry.record import (
    AdmissionFacts,
    Defaulter,
    ResourceRecord,
    RestFactory,
    Rule,
    SubresourceRecord,
)
from server.registry.rest.action import ActionREST
from server.registry.rest.binding import BindingREST
from server.registry.rest.connect import PodAttachREST, PodExecREST, PodLogREST, PodPortForwardREST
from server.registry.rest.eviction import EvictionREST
from server.registry.rest.review import ReviewREST, TokenREST
from server.registry.rest.scale import ScaleREST
from server.registry.rest.status import FinalizeREST, StatusREST
from server.registry.strategy import Strategy
from server.resources import strategies
from server.schema import defaults, endpoint_rules, semantic_rules
from server.schema.name_rules import (
    NameCheck,
    dns1035_label_errors,
    dns1123_label_errors,
    dns1123_subdomain_errors,
    path_segment_name_errors,
)
from server.schema.size_limits import configmap_size_errors, secret_size_errors

# Verb sets upstream uses besides the full CRUD-and-watch set.
_NO_DELETECOLLECTION = ("create", "delete", "get", "list", "patch", "update", "watch")
_CREATE_ONLY = ("create",)
_READ_ONLY = ("get", "list")
_GET_PATCH_UPDATE = ("get", "patch", "update")
_CONNECT = ("create", "get")  # upstream's verbs for connect subresources (exec, attach, portforward)
_PROXY = ("create", "delete", "get", "patch", "update")

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


def _sub(name: str, kind: str = "", verbs: tuple[str, ...] = _GET_PATCH_UPDATE, group_version: str = "", *,
         rest: RestFactory | None = None) -> SubresourceRecord:
    """A subresource; an empty ``kind`` is the parent's kind (filled in by `_declare`), no ``rest``
    means declared (as upstream declares it) but not served here."""
    group, _, version = group_version.rpartition("/")
    return SubresourceRecord(name, kind, verbs, group, version, rest=rest)


# The subresources many resources share.
_STATUS = _sub("status", rest=StatusREST)
_SCALE = _sub("scale", "Scale", group_version="autoscaling/v1", rest=ScaleREST)
_FINALIZE = _sub("finalize", verbs=("update",), rest=FinalizeREST)


def _declare(
    group_version: str,
    kind: str,
    plural: str,
    scope: Scope,
    *,
    short: tuple[str, ...] = (),
    categories: tuple[str, ...] = (),
    subresources: tuple[SubresourceRecord, ...] = (),
    verbs: tuple[str, ...] = ALL_VERBS,
    storage_name: str = "",
    definition: str | None = None,
    strategy: type[Strategy] = Strategy,
    defaulter: Defaulter | None = None,
    rules: tuple[Rule, ...] = (),
    name_check: NameCheck = dns1123_subdomain_errors,
    printer: Printer | None = None,
    selectable: Mapping[str, fields.Extractor] | None = None,
    admission: AdmissionFacts = AdmissionFacts(),
    rest: RestFactory | None = None,
    returns_deleted: bool = False,
) -> ResourceRecord:
    group, _, version = group_version.rpartition("/")
    if definition is None:
        definition = f"{_DEFINITION_PREFIX[group]}.{version}.{kind}"
    return ResourceRecord(
        group=group, version=version, kind=kind, plural=plural, singular=kind.lower(), scope=scope,
        short_names=short, categories=categories, verbs=verbs, storage_name=storage_name,
        definition=definition, returns_deleted_object=returns_deleted,
        subresources=tuple(dataclasses.replace(s, kind=s.kind or kind) for s in subresources),
        strategy=strategy, defaulter=defaulter, rules=rules, name_check=name_check, printer=printer,
        selectable_fields=selectable, admission=admission, rest=rest,
    )


# `returns_deleted=True` where upstream's registry sets ReturnDeletedObject (pods, services, service
# accounts, pod templates, resource quotas, persistent volumes and claims, storage classes, CSI drivers
# and nodes, volume attachments): DELETE answers with the object, elsewhere with a Status.
_ALL = ("all",)
_API_EXTENSIONS = ("api-extensions",)
_TEMPLATE = AdmissionFacts(pod_template=("spec", "template"))

# Declaration order is discovery order: the core group first, then groups in upstream's /apis order
# (kubectl resolves an ambiguous name such as "events" or "ev" to the first group that serves it).
_CORE: tuple[ResourceRecord, ...] = (
    _declare("v1", "Binding", "bindings", "Namespaced", verbs=_CREATE_ONLY),
    _declare("v1", "ComponentStatus", "componentstatuses", "Cluster", short=("cs",), verbs=_READ_ONLY,
             printer=config_printers.COMPONENT_STATUS),
    _declare("v1", "ConfigMap", "configmaps", "Namespaced", short=("cm",), rules=(configmap_size_errors,),
             printer=config_printers.CONFIG_MAP),
    _declare("v1", "Endpoints", "endpoints", "Namespaced", short=("ep",),
             strategy=strategies.AllowCreateOnUpdateStrategy, printer=network_printers.ENDPOINTS,
             rules=(endpoint_rules.endpoints_errors,)),
    _declare("v1", "Event", "events", "Namespaced", short=("ev",),
             strategy=strategies.AllowCreateOnUpdateStrategy, printer=config_printers.EVENT,
             selectable=fields.EVENT_FIELDS),
    _declare("v1", "LimitRange", "limitranges", "Namespaced", short=("limits",)),
    _declare("v1", "Namespace", "namespaces", "Tenant", short=("ns",), subresources=(_FINALIZE, _STATUS),
             verbs=_NO_DELETECOLLECTION, strategy=strategies.NamespaceStrategy,
             name_check=dns1123_label_errors, printer=printers.NAMESPACE, selectable=fields.NAMESPACE_FIELDS),
    _declare("v1", "Node", "nodes", "Cluster", short=("no",), subresources=(
        _sub("proxy", "NodeProxyOptions", _PROXY), _STATUS,
    ), strategy=strategies.NodeStrategy, printer=printers.NODE, selectable=fields.NODE_FIELDS),
    _declare("v1", "PersistentVolumeClaim", "persistentvolumeclaims", "Namespaced", short=("pvc",),
             subresources=(_STATUS,), defaulter=defaults.default_persistent_volume_claim,
             printer=storage_printers.PERSISTENT_VOLUME_CLAIM, returns_deleted=True),
    _declare("v1", "PersistentVolume", "persistentvolumes", "Tenant", short=("pv",), subresources=(_STATUS,),
             defaulter=defaults.default_persistent_volume, name_check=path_segment_name_errors,
             printer=storage_printers.PERSISTENT_VOLUME, returns_deleted=True),
    # Arktos adds pods/action (POST a CustomAction; ARKTOS.md §4).
    _declare("v1", "Pod", "pods", "Namespaced", short=("po",), categories=_ALL, subresources=(
        _sub("action", "CustomAction", _CREATE_ONLY, rest=ActionREST),
        _sub("attach", "PodAttachOptions", _CONNECT, rest=PodAttachREST),
        _sub("binding", "Binding", _CREATE_ONLY, rest=BindingREST),
        _sub("ephemeralcontainers"),
        _sub("eviction", "Eviction", _CREATE_ONLY, "policy/v1", rest=EvictionREST),
        _sub("exec", "PodExecOptions", _CONNECT, rest=PodExecREST),
        _sub("log", "Pod", ("get",), rest=PodLogREST),
        _sub("portforward", "PodPortForwardOptions", _CONNECT, rest=PodPortForwardREST),
        _sub("proxy", "PodProxyOptions", _PROXY),
        _sub("resize"),
        _STATUS,
    ), strategy=strategies.PodStrategy, defaulter=defaults.default_pod, rules=(semantic_rules.pod_errors,),
        printer=printers.POD, selectable=fields.POD_FIELDS, returns_deleted=True),
    _declare("v1", "PodTemplate", "podtemplates", "Namespaced", defaulter=defaults.default_pod_template,
             admission=AdmissionFacts(pod_template=("template",)), printer=config_printers.POD_TEMPLATE,
             returns_deleted=True),
    _declare("v1", "ReplicationController", "replicationcontrollers", "Namespaced", short=("rc",),
             categories=_ALL, subresources=(_SCALE, _STATUS),
             defaulter=defaults.default_replication_controller,
             rules=(semantic_rules.replication_controller_errors,),
             printer=workload_printers.REPLICATION_CONTROLLER, selectable=fields.REPLICAS_FIELDS,
             admission=_TEMPLATE),
    _declare("v1", "ResourceQuota", "resourcequotas", "Namespaced", short=("quota",),
             subresources=(_STATUS,), printer=config_printers.RESOURCE_QUOTA, returns_deleted=True),
    _declare("v1", "Secret", "secrets", "Namespaced", strategy=strategies.SecretStrategy,
             defaulter=defaults.default_secret, rules=(secret_size_errors,), printer=config_printers.SECRET,
             selectable=fields.SECRET_FIELDS),
    _declare("v1", "ServiceAccount", "serviceaccounts", "Namespaced", short=("sa",), subresources=(
        _sub("token", "TokenRequest", _CREATE_ONLY, "authentication.k8s.io/v1", rest=TokenREST),
    ), printer=config_printers.SERVICE_ACCOUNT, returns_deleted=True),
    _declare("v1", "Service", "services", "Namespaced", short=("svc",), categories=_ALL, subresources=(
        _sub("proxy", "ServiceProxyOptions", _PROXY), _STATUS,
    ), defaulter=defaults.default_service, rules=(semantic_rules.service_errors,),
        name_check=dns1035_label_errors, printer=printers.SERVICE, returns_deleted=True),
    # Arktos: the Tenant kind lives in core/v1 and is cluster-wide (ARKTOS.md §2). Its definition is
    # added to the served schemas by apis/schemas.py.
    _declare("v1", "Tenant", "tenants", "Cluster", subresources=(_FINALIZE, _STATUS),
             verbs=_NO_DELETECOLLECTION, strategy=strategies.TenantStrategy,
             defaulter=defaults.default_tenant, name_check=dns1123_label_errors, printer=printers.TENANT),
    # Arktos's controller framework (ARKTOS.md §6): one per controller-manager process and
    # controller type, cluster-wide and not tenanted, short name "co" as Arktos's storage names it.
    # Schema in apis/controller_instance_schemas.py.
    _declare("v1", "ControllerInstance", "controllerinstances", "Cluster", short=("co",),
             rules=(semantic_rules.controller_instance_errors,), printer=config_printers.CONTROLLER_INSTANCE),
    # Arktos: VM pod actions (ARKTOS.md §4), stored per tenant and namespace; the node's kubelet
    # reports progress through /status. Schema in apis/action_schemas.py.
    _declare("v1", "Action", "actions", "Namespaced", subresources=(_STATUS,),
             strategy=strategies.ActionStrategy, printer=config_printers.ACTION_PRINTER,
             selectable=fields.ACTION_FIELDS),
)

_GROUPS: tuple[ResourceRecord, ...] = (
    _declare("apiregistration.k8s.io/v1", "APIService", "apiservices", "Cluster", categories=_API_EXTENSIONS,
             subresources=(_STATUS,), printer=policy_printers.API_SERVICE),
    _declare("apps/v1", "ControllerRevision", "controllerrevisions", "Namespaced",
             printer=config_printers.CONTROLLER_REVISION),
    _declare("apps/v1", "DaemonSet", "daemonsets", "Namespaced", short=("ds",), categories=_ALL,
             subresources=(_STATUS,), strategy=strategies.SelectorImmutableStrategy,
             defaulter=defaults.default_daemon_set, rules=(semantic_rules.daemon_set_errors,),
             printer=workload_printers.DAEMON_SET,
             # Arktos's SystemDaemonSet admission: daemons run on every node, for every tenant.
             admission=AdmissionFacts(pod_template=("spec", "template"), system_tenant_only=True)),
    _declare("apps/v1", "Deployment", "deployments", "Namespaced", short=("deploy",), categories=_ALL,
             subresources=(_SCALE, _STATUS), strategy=strategies.SelectorImmutableStrategy,
             defaulter=defaults.default_deployment, rules=(semantic_rules.deployment_errors,),
             printer=workload_printers.DEPLOYMENT, admission=_TEMPLATE),
    _declare("apps/v1", "ReplicaSet", "replicasets", "Namespaced", short=("rs",), categories=_ALL,
             subresources=(_SCALE, _STATUS), strategy=strategies.SelectorImmutableStrategy,
             defaulter=defaults.default_replica_set, rules=(semantic_rules.replica_set_errors,),
             printer=workload_printers.REPLICA_SET, selectable=fields.REPLICAS_FIELDS, admission=_TEMPLATE),
    _declare("apps/v1", "StatefulSet", "statefulsets", "Namespaced", short=("sts",), categories=_ALL,
             subresources=(_SCALE, _STATUS), strategy=strategies.SelectorImmutableStrategy,
             defaulter=defaults.default_stateful_set, rules=(semantic_rules.stateful_set_errors,),
             printer=workload_printers.STATEFUL_SET, admission=_TEMPLATE),
    # Same plural as core events: kept apart in storage (upstream shares one key space, we do not).
    _declare("events.k8s.io/v1", "Event", "events", "Namespaced", short=("ev",),
             storage_name="events.events.k8s.io", printer=config_printers.EVENT),
    # Review resources are not stored: they answer a question per request. Arktos evaluates them
    # inside the requester's tenant, hence Tenant scope (token reviews are about the whole cluster).
    _declare("authentication.k8s.io/v1", "SelfSubjectReview", "selfsubjectreviews", "Tenant",
             verbs=_CREATE_ONLY, rest=ReviewREST),
    _declare("authentication.k8s.io/v1", "TokenReview", "tokenreviews", "Cluster", verbs=_CREATE_ONLY,
             rest=ReviewREST),
    _declare("authorization.k8s.io/v1", "LocalSubjectAccessReview", "localsubjectaccessreviews",
             "Namespaced", verbs=_CREATE_ONLY, rest=ReviewREST),
    _declare("authorization.k8s.io/v1", "SelfSubjectAccessReview", "selfsubjectaccessreviews", "Tenant",
             verbs=_CREATE_ONLY, rest=ReviewREST),
    _declare("authorization.k8s.io/v1", "SelfSubjectRulesReview", "selfsubjectrulesreviews", "Tenant",
             verbs=_CREATE_ONLY, rest=ReviewREST),
    _declare("authorization.k8s.io/v1", "SubjectAccessReview", "subjectaccessreviews", "Tenant",
             verbs=_CREATE_ONLY, rest=ReviewREST),
    # autoscaling/v2 first: it is the preferred version. v1 objects are stored apart (their shapes differ).
    _declare("autoscaling/v2", "HorizontalPodAutoscaler", "horizontalpodautoscalers", "Namespaced",
             short=("hpa",), categories=_ALL, subresources=(_STATUS,),
             defaulter=defaults.default_horizontal_pod_autoscaler,
             printer=policy_printers.HORIZONTAL_POD_AUTOSCALER),
    _declare("autoscaling/v1", "HorizontalPodAutoscaler", "horizontalpodautoscalers", "Namespaced",
             short=("hpa",), categories=_ALL, subresources=(_STATUS,),
             storage_name="horizontalpodautoscalers.autoscaling.v1",
             defaulter=defaults.default_horizontal_pod_autoscaler,
             printer=policy_printers.HORIZONTAL_POD_AUTOSCALER),
    _declare("batch/v1", "CronJob", "cronjobs", "Namespaced", short=("cj",), categories=_ALL,
             subresources=(_STATUS,), defaulter=defaults.default_cron_job,
             rules=(semantic_rules.cronjob_errors,), printer=workload_printers.CRON_JOB,
             admission=AdmissionFacts(pod_template=("spec", "jobTemplate", "spec", "template"))),
    _declare("batch/v1", "Job", "jobs", "Namespaced", categories=_ALL, subresources=(_STATUS,),
             defaulter=defaults.default_job, rules=(semantic_rules.job_errors,),
             printer=workload_printers.JOB, selectable=fields.JOB_FIELDS, admission=_TEMPLATE),
    _declare("certificates.k8s.io/v1", "CertificateSigningRequest", "certificatesigningrequests", "Cluster",
             short=("csr",), subresources=(_sub("approval"), _STATUS),
             selectable=fields.CERTIFICATE_SIGNING_REQUEST_FIELDS,
             printer=policy_printers.CERTIFICATE_SIGNING_REQUEST),
    _declare("networking.k8s.io/v1", "IngressClass", "ingressclasses", "Cluster",
             printer=network_printers.INGRESS_CLASS),
    _declare("networking.k8s.io/v1", "Ingress", "ingresses", "Namespaced", short=("ing",),
             subresources=(_STATUS,), printer=network_printers.INGRESS),
    _declare("networking.k8s.io/v1", "NetworkPolicy", "networkpolicies", "Namespaced", short=("netpol",),
             printer=network_printers.NETWORK_POLICY),
    _declare("policy/v1", "PodDisruptionBudget", "poddisruptionbudgets", "Namespaced", short=("pdb",),
             subresources=(_STATUS,), printer=policy_printers.POD_DISRUPTION_BUDGET),
    _declare("rbac.authorization.k8s.io/v1", "ClusterRoleBinding", "clusterrolebindings", "Tenant",
             name_check=path_segment_name_errors, printer=policy_printers.CLUSTER_ROLE_BINDING),
    _declare("rbac.authorization.k8s.io/v1", "ClusterRole", "clusterroles", "Tenant",
             name_check=path_segment_name_errors),
    _declare("rbac.authorization.k8s.io/v1", "RoleBinding", "rolebindings", "Namespaced",
             name_check=path_segment_name_errors, printer=policy_printers.ROLE_BINDING),
    _declare("rbac.authorization.k8s.io/v1", "Role", "roles", "Namespaced",
             name_check=path_segment_name_errors),
    _declare("storage.k8s.io/v1", "CSIDriver", "csidrivers", "Cluster", printer=storage_printers.CSI_DRIVER,
             returns_deleted=True),
    _declare("storage.k8s.io/v1", "CSINode", "csinodes", "Cluster", printer=storage_printers.CSI_NODE,
             returns_deleted=True),
    _declare("storage.k8s.io/v1", "CSIStorageCapacity", "csistoragecapacities", "Namespaced"),
    _declare("storage.k8s.io/v1", "StorageClass", "storageclasses", "Tenant", short=("sc",),
             printer=storage_printers.STORAGE_CLASS, returns_deleted=True),
    _declare("storage.k8s.io/v1", "VolumeAttachment", "volumeattachments", "Cluster",
             subresources=(_STATUS,), printer=storage_printers.VOLUME_ATTACHMENT, returns_deleted=True),
    _declare("admissionregistration.k8s.io/v1", "MutatingWebhookConfiguration",
             "mutatingwebhookconfigurations", "Cluster", categories=_API_EXTENSIONS,
             printer=policy_printers.WEBHOOK_CONFIGURATION),
    _declare("admissionregistration.k8s.io/v1", "ValidatingAdmissionPolicy", "validatingadmissionpolicies",
             "Cluster", categories=_API_EXTENSIONS, subresources=(_STATUS,),
             printer=policy_printers.VALIDATING_ADMISSION_POLICY),
    _declare("admissionregistration.k8s.io/v1", "ValidatingAdmissionPolicyBinding",
             "validatingadmissionpolicybindings", "Cluster", categories=_API_EXTENSIONS,
             printer=policy_printers.VALIDATING_ADMISSION_POLICY_BINDING),
    _declare("admissionregistration.k8s.io/v1", "ValidatingWebhookConfiguration",
             "validatingwebhookconfigurations", "Cluster", categories=_API_EXTENSIONS,
             printer=policy_printers.WEBHOOK_CONFIGURATION),
    _declare("apiextensions.k8s.io/v1", "CustomResourceDefinition", "customresourcedefinitions", "Tenant",
             short=("crd", "crds"), categories=_API_EXTENSIONS, subresources=(_STATUS,)),
    _declare("scheduling.k8s.io/v1", "PriorityClass", "priorityclasses", "Cluster", short=("pc",),
             printer=config_printers.PRIORITY_CLASS),
    _declare("coordination.k8s.io/v1", "Lease", "leases", "Namespaced",
             strategy=strategies.AllowCreateOnUpdateStrategy, printer=config_printers.LEASE),
    _declare("node.k8s.io/v1", "RuntimeClass", "runtimeclasses", "Cluster",
             printer=config_printers.RUNTIME_CLASS),
    _declare("discovery.k8s.io/v1", "EndpointSlice", "endpointslices", "Namespaced",
             printer=network_printers.ENDPOINT_SLICE, rules=(endpoint_rules.endpoint_slice_errors,)),
    # Arktos's Network (a CRD in Arktos, crd-network.yaml): per tenant, short names ne/net, status
    # subresource. Its schema is Arktos's (apis/arktos_schemas.py).
    _declare("arktos.futurewei.com/v1", "Network", "networks", "Tenant", short=("ne", "net"),
             subresources=(_STATUS,), definition="com.futurewei.arktos.v1.Network",
             printer=network_printers.NETWORK),
)

BUILTIN_RECORDS: tuple[ResourceRecord, ...] = _CORE + _GROUPS


def builtin_catalogue() -> Catalogue:
    """A new catalogue of every built-in resource, core group first, in discovery order."""
    return Catalogue(BUILTIN_RECORDS)
