"""One small valid object of every built-in resource that can be created, and where it lives.

Shared by the tests that must touch *every* resource (the DELETE answer against the OpenAPI
response schema, `kubectl get`'s columns): each sample is the least a create accepts, plus the
fields that make the resource's table cells non-trivial. Names carry a suffix so several tests
(and cluster-wide resources) never collide. Read-only and create-only resources (component
statuses, bindings, reviews) have no sample; `SKIPPED` names them with the reason.
"""

from __future__ import annotations

import base64
from dataclasses import dataclass
from typing import Any

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID

# Served by the server without being creatable objects: nothing to delete or list by name.
SKIPPED = {
    ("", "bindings"): "create-only (pods/binding's legacy form)",
    ("", "componentstatuses"): "read-only, computed per request",
    ("authentication.k8s.io", "selfsubjectreviews"): "create-only review",
    ("authentication.k8s.io", "tokenreviews"): "create-only review",
    ("authorization.k8s.io", "localsubjectaccessreviews"): "create-only review",
    ("authorization.k8s.io", "selfsubjectaccessreviews"): "create-only review",
    ("authorization.k8s.io", "selfsubjectrulesreviews"): "create-only review",
    ("authorization.k8s.io", "subjectaccessreviews"): "create-only review",
}

_CONTAINERS = [{"name": "main", "image": "busybox:1.36"}]
_LABELS = {"app": "sample"}
_POD_TEMPLATE = {"metadata": {"labels": _LABELS}, "spec": {"containers": _CONTAINERS}}
_SELECTOR = {"matchLabels": _LABELS}


@dataclass(frozen=True)
class Sample:
    """A resource's sample: its collection path (``{ns}`` stands for the namespace) and body."""

    group: str
    version: str
    plural: str
    kind: str
    namespaced: bool
    body: dict[str, Any]

    @property
    def api_version(self) -> str:
        return f"{self.group}/{self.version}" if self.group else self.version

    def collection(self, namespace: str) -> str:
        base = f"/apis/{self.group}/{self.version}" if self.group else f"/api/{self.version}"
        return f"{base}/namespaces/{namespace}/{self.plural}" if self.namespaced else f"{base}/{self.plural}"

    def manifest(self, name: str) -> dict[str, Any]:
        """The object to create, named ``name``."""
        metadata = {"name": name, **self.body.get("metadata", {})}
        return {**self.body, "apiVersion": self.api_version, "kind": self.kind, "metadata": metadata}


def _csr_pem() -> str:
    key = ec.generate_private_key(ec.SECP256R1())
    request = (x509.CertificateSigningRequestBuilder()
               .subject_name(x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "sample")]))
               .sign(key, hashes.SHA256()))
    return base64.b64encode(request.public_bytes(serialization.Encoding.PEM)).decode()


def _bodies() -> dict[tuple[str, str, str], tuple[str, bool, dict[str, Any]]]:
    """(group, version, plural) -> (kind, namespaced, body without apiVersion/kind/name)."""
    rbac_subject = {"kind": "User", "name": "sample-user", "apiGroup": "rbac.authorization.k8s.io"}
    return {
        ("", "v1", "configmaps"): ("ConfigMap", True, {"data": {"a": "1", "b": "2"}}),
        ("", "v1", "endpoints"): ("Endpoints", True, {"subsets": [
            {"addresses": [{"ip": "10.0.0.1"}], "ports": [{"port": 80}]}]}),
        ("", "v1", "events"): ("Event", True, {
            "involvedObject": {"kind": "Pod", "name": "sample"}, "reason": "Sampled", "message": "a sample",
            "type": "Normal", "source": {"component": "sampler"}}),
        ("", "v1", "limitranges"): ("LimitRange", True, {"spec": {"limits": [
            {"type": "Container", "max": {"cpu": "1"}}]}}),
        ("", "v1", "namespaces"): ("Namespace", False, {}),
        ("", "v1", "nodes"): ("Node", False, {"metadata": {"labels": {
            "node-role.kubernetes.io/worker": ""}}}),
        ("", "v1", "persistentvolumeclaims"): ("PersistentVolumeClaim", True, {"spec": {
            "accessModes": ["ReadWriteOnce"], "resources": {"requests": {"storage": "1Gi"}}}}),
        ("", "v1", "persistentvolumes"): ("PersistentVolume", False, {"spec": {
            "capacity": {"storage": "1Gi"}, "accessModes": ["ReadWriteOnce"],
            "hostPath": {"path": "/tmp/pv"}}}),
        ("", "v1", "pods"): ("Pod", True, {"spec": {"containers": _CONTAINERS}}),
        ("", "v1", "podtemplates"): ("PodTemplate", True, {"template": _POD_TEMPLATE}),
        ("", "v1", "replicationcontrollers"): ("ReplicationController", True, {"spec": {
            "replicas": 0, "selector": _LABELS, "template": _POD_TEMPLATE}}),
        ("", "v1", "resourcequotas"): ("ResourceQuota", True, {"spec": {"hard": {"pods": "10"}}}),
        ("", "v1", "secrets"): ("Secret", True, {"data": {"k": "dg=="}}),
        ("", "v1", "serviceaccounts"): ("ServiceAccount", True, {}),
        ("", "v1", "services"): ("Service", True, {"spec": {"ports": [{"port": 80}], "selector": _LABELS}}),
        ("", "v1", "tenants"): ("Tenant", False, {}),
        ("", "v1", "actions"): ("Action", True, {"spec": {"podName": "sample", "rebootAction": {}}}),
        ("apiregistration.k8s.io", "v1", "apiservices"): ("APIService", False, {"spec": {
            "group": "samples.example.com", "version": "v1", "groupPriorityMinimum": 100,
            "versionPriority": 10, "service": {"namespace": "default", "name": "sample"}}}),
        ("apps", "v1", "controllerrevisions"): ("ControllerRevision", True, {"revision": 1}),
        ("apps", "v1", "daemonsets"): ("DaemonSet", True, {"spec": {
            "selector": _SELECTOR, "template": _POD_TEMPLATE}}),
        ("apps", "v1", "deployments"): ("Deployment", True, {"spec": {
            "replicas": 0, "selector": _SELECTOR, "template": _POD_TEMPLATE}}),
        ("apps", "v1", "replicasets"): ("ReplicaSet", True, {"spec": {
            "replicas": 0, "selector": _SELECTOR, "template": _POD_TEMPLATE}}),
        ("apps", "v1", "statefulsets"): ("StatefulSet", True, {"spec": {
            "replicas": 0, "serviceName": "sample", "selector": _SELECTOR, "template": _POD_TEMPLATE}}),
        ("events.k8s.io", "v1", "events"): ("Event", True, {
            "eventTime": "2024-01-01T00:00:00.000000Z", "reportingController": "example.com/sampler",
            "reportingInstance": "sampler-1", "action": "Sample", "reason": "Sampled", "type": "Normal",
            "regarding": {"kind": "Pod", "name": "sample"}, "note": "a sample"}),
        ("autoscaling", "v2", "horizontalpodautoscalers"): ("HorizontalPodAutoscaler", True, {"spec": {
            "scaleTargetRef": {"apiVersion": "apps/v1", "kind": "Deployment", "name": "sample"},
            "minReplicas": 1, "maxReplicas": 3}}),
        ("autoscaling", "v1", "horizontalpodautoscalers"): ("HorizontalPodAutoscaler", True, {"spec": {
            "scaleTargetRef": {"apiVersion": "apps/v1", "kind": "Deployment", "name": "sample"},
            "maxReplicas": 3}}),
        ("batch", "v1", "cronjobs"): ("CronJob", True, {"spec": {
            "schedule": "*/5 * * * *", "suspend": True, "jobTemplate": {"spec": {"template": {"spec": {
                "containers": _CONTAINERS, "restartPolicy": "OnFailure"}}}}}}),
        ("batch", "v1", "jobs"): ("Job", True, {"spec": {"suspend": True, "template": {"spec": {
            "containers": _CONTAINERS, "restartPolicy": "Never"}}}}),
        ("certificates.k8s.io", "v1", "certificatesigningrequests"): ("CertificateSigningRequest", False, {
            "spec": {"request": _csr_pem(), "signerName": "example.com/sampler",
                     "usages": ["digital signature"]}}),
        ("networking.k8s.io", "v1", "ingressclasses"): ("IngressClass", False, {"spec": {
            "controller": "example.com/ingress"}}),
        ("networking.k8s.io", "v1", "ingresses"): ("Ingress", True, {"spec": {"defaultBackend": {
            "service": {"name": "sample", "port": {"number": 80}}}}}),
        ("networking.k8s.io", "v1", "networkpolicies"): ("NetworkPolicy", True, {"spec": {
            "podSelector": _SELECTOR}}),
        ("policy", "v1", "poddisruptionbudgets"): ("PodDisruptionBudget", True, {"spec": {
            "minAvailable": 1, "selector": _SELECTOR}}),
        ("rbac.authorization.k8s.io", "v1", "clusterrolebindings"): ("ClusterRoleBinding", False, {
            "roleRef": {"apiGroup": "rbac.authorization.k8s.io", "kind": "ClusterRole", "name": "view"},
            "subjects": [rbac_subject]}),
        ("rbac.authorization.k8s.io", "v1", "clusterroles"): ("ClusterRole", False, {"rules": [
            {"apiGroups": [""], "resources": ["pods"], "verbs": ["get"]}]}),
        ("rbac.authorization.k8s.io", "v1", "rolebindings"): ("RoleBinding", True, {
            "roleRef": {"apiGroup": "rbac.authorization.k8s.io", "kind": "ClusterRole", "name": "view"},
            "subjects": [rbac_subject]}),
        ("rbac.authorization.k8s.io", "v1", "roles"): ("Role", True, {"rules": [
            {"apiGroups": [""], "resources": ["pods"], "verbs": ["get"]}]}),
        ("storage.k8s.io", "v1", "csidrivers"): ("CSIDriver", False, {"spec": {"attachRequired": False}}),
        ("storage.k8s.io", "v1", "csinodes"): ("CSINode", False, {"spec": {"drivers": [
            {"name": "example.com/csi", "nodeID": "node-1"}]}}),
        ("storage.k8s.io", "v1", "csistoragecapacities"): ("CSIStorageCapacity", True, {
            "storageClassName": "sample", "capacity": "1Gi"}),
        ("storage.k8s.io", "v1", "storageclasses"): ("StorageClass", False, {
            "provisioner": "example.com/sampler"}),
        ("storage.k8s.io", "v1", "volumeattachments"): ("VolumeAttachment", False, {"spec": {
            "attacher": "example.com/csi", "nodeName": "node-1",
            "source": {"persistentVolumeName": "pv-1"}}}),
        ("admissionregistration.k8s.io", "v1", "mutatingwebhookconfigurations"): (
            "MutatingWebhookConfiguration", False, {}),
        ("admissionregistration.k8s.io", "v1", "validatingadmissionpolicies"): (
            "ValidatingAdmissionPolicy", False, {"spec": {"validations": [{"expression": "true"}]}}),
        ("admissionregistration.k8s.io", "v1", "validatingadmissionpolicybindings"): (
            "ValidatingAdmissionPolicyBinding", False, {"spec": {
                "policyName": "sample", "validationActions": ["Deny"]}}),
        ("admissionregistration.k8s.io", "v1", "validatingwebhookconfigurations"): (
            "ValidatingWebhookConfiguration", False, {}),
        ("scheduling.k8s.io", "v1", "priorityclasses"): ("PriorityClass", False, {"value": 1000}),
        ("coordination.k8s.io", "v1", "leases"): ("Lease", True, {"spec": {"holderIdentity": "sampler"}}),
        ("node.k8s.io", "v1", "runtimeclasses"): ("RuntimeClass", False, {"handler": "runc"}),
        ("discovery.k8s.io", "v1", "endpointslices"): ("EndpointSlice", True, {
            "addressType": "IPv4", "endpoints": [{"addresses": ["10.0.0.1"]}],
            "ports": [{"name": "http", "port": 80, "protocol": "TCP"}]}),
        ("arktos.futurewei.com", "v1", "networks"): ("Network", False, {"spec": {"type": "flat"}}),
    }


def samples() -> list[Sample]:
    """Every creatable built-in resource's sample (CRDs need a group-qualified name: see `name_for`)."""
    out = [Sample(group, version, plural, kind, namespaced, body)
           for (group, version, plural), (kind, namespaced, body) in _bodies().items()]
    crd_body = {"spec": {
        "group": "samples.example.com", "scope": "Namespaced",
        "versions": [{"name": "v1", "served": True, "storage": True,
                      "schema": {"openAPIV3Schema": {"type": "object"}}}]}}
    out.append(Sample("apiextensions.k8s.io", "v1", "customresourcedefinitions", "CustomResourceDefinition",
                      False, crd_body))
    return out


def name_for(sample: Sample, suffix: str) -> str:
    """A name the resource accepts: APIServices are ``<version>.<group>``, CRDs ``<plural>.<group>``."""
    if sample.plural == "apiservices":
        return f"v{suffix}.samples.example.com"
    return f"sample-{suffix}"


def manifest_for(sample: Sample, suffix: str) -> dict[str, Any]:
    """The object to create for ``sample`` with a name unique to ``suffix``."""
    name = name_for(sample, suffix)
    obj = sample.manifest(name)
    if sample.plural == "apiservices":
        obj["spec"] = {**obj["spec"], "version": f"v{suffix}"}
    if sample.plural == "customresourcedefinitions":
        plural = f"samples{suffix}"
        obj["metadata"]["name"] = f"{plural}.samples.example.com"
        obj["spec"] = {**obj["spec"], "names": {"plural": plural, "singular": f"sample{suffix}",
                                                "kind": f"Sample{suffix.capitalize()}"}}
    return obj
