"""The built-in resource declarations (server/resources/builtin.py).

Covers: every declared OpenAPI definition exists in kubernetes-validate's 1.32 `_definitions.json` with
a matching group-version-kind; upstream names, short names, categories and verbs for well-known
resources; Arktos scopes; storage key segments never collide; subresource kinds and verbs.
Leaves out: how the registry serves these resources (server tests), and the Tenant/Network schemas
(added by apis/schemas.py, tested there).
"""

from __future__ import annotations

import functools
import json
from pathlib import Path
from typing import Any

import kubernetes_validate
import pytest

from apis.catalogue import Resource
from server.resources.builtin import builtin_catalogue

# Definitions that Arktos adds on top of upstream's schemas (apis/schemas.py), not in the file.
ARKTOS_DEFINITIONS = {"io.k8s.api.core.v1.Tenant", "com.futurewei.arktos.v1.Network",
                      "io.k8s.api.core.v1.Action", "io.k8s.api.core.v1.ControllerInstance"}


@functools.cache
def upstream_definitions() -> dict[str, Any]:
    path = (Path(kubernetes_validate.__file__).parent / "kubernetes-json-schema" / "v1.32.0-local"
            / "_definitions.json")
    defs: dict[str, Any] = json.loads(path.read_text())["$defs"]
    return defs


def lookup(group: str, version: str, plural: str) -> Resource:
    resource = builtin_catalogue().lookup(group, version, plural)
    assert resource is not None, (group, version, plural)
    return resource


def test_every_declared_definition_exists_with_its_group_version_kind() -> None:
    defs = upstream_definitions()
    checked = 0
    for resource in builtin_catalogue():
        if not resource.definition or resource.definition in ARKTOS_DEFINITIONS:
            continue
        assert resource.definition in defs, resource.definition
        gvks = defs[resource.definition].get("x-kubernetes-group-version-kind", [])
        assert {"group": resource.group, "version": resource.version, "kind": resource.kind} in gvks
        checked += 1
    assert checked >= 55


def test_every_resource_has_a_served_definition() -> None:
    from apis.schemas import definitions

    served = definitions()
    missing = [r.plural for r in builtin_catalogue() if r.definition not in served]
    assert missing == []


def test_the_contract_groups_are_all_served() -> None:
    groups = builtin_catalogue().group_versions()
    for group, version in [
        ("", "v1"), ("apps", "v1"), ("batch", "v1"), ("autoscaling", "v2"), ("autoscaling", "v1"),
        ("coordination.k8s.io", "v1"), ("rbac.authorization.k8s.io", "v1"), ("discovery.k8s.io", "v1"),
        ("events.k8s.io", "v1"), ("policy", "v1"), ("storage.k8s.io", "v1"), ("networking.k8s.io", "v1"),
        ("scheduling.k8s.io", "v1"), ("node.k8s.io", "v1"), ("certificates.k8s.io", "v1"),
        ("admissionregistration.k8s.io", "v1"), ("apiextensions.k8s.io", "v1"),
        ("authentication.k8s.io", "v1"), ("authorization.k8s.io", "v1"), ("arktos.futurewei.com", "v1"),
    ]:
        assert version in groups[group], (group, version)
    assert groups["autoscaling"] == ["v2", "v1"]  # v2 is preferred
    assert next(iter(groups)) == ""  # the core group comes first


@pytest.mark.parametrize(("group", "plural", "short"), [
    ("", "pods", ("po",)), ("", "services", ("svc",)), ("apps", "deployments", ("deploy",)),
    ("apps", "replicasets", ("rs",)), ("apps", "daemonsets", ("ds",)), ("apps", "statefulsets", ("sts",)),
    ("", "configmaps", ("cm",)), ("", "namespaces", ("ns",)), ("", "nodes", ("no",)),
    ("", "persistentvolumes", ("pv",)), ("", "persistentvolumeclaims", ("pvc",)),
    ("", "serviceaccounts", ("sa",)), ("", "endpoints", ("ep",)), ("", "events", ("ev",)),
    ("batch", "cronjobs", ("cj",)), ("policy", "poddisruptionbudgets", ("pdb",)),
    ("storage.k8s.io", "storageclasses", ("sc",)), ("networking.k8s.io", "ingresses", ("ing",)),
    ("networking.k8s.io", "networkpolicies", ("netpol",)), ("scheduling.k8s.io", "priorityclasses", ("pc",)),
    ("certificates.k8s.io", "certificatesigningrequests", ("csr",)),
    ("apiextensions.k8s.io", "customresourcedefinitions", ("crd", "crds")),
    ("", "limitranges", ("limits",)), ("", "resourcequotas", ("quota",)),
    ("", "replicationcontrollers", ("rc",)), ("", "componentstatuses", ("cs",)), ("batch", "jobs", ()),
])
def test_short_names_match_upstream(group: str, plural: str, short: tuple[str, ...]) -> None:
    version = "v2" if group == "autoscaling" else "v1"
    assert lookup(group, version, plural).short_names == short


def test_category_all_holds_upstreams_workloads() -> None:
    in_all = {(r.group, r.plural) for r in builtin_catalogue() if "all" in r.categories}
    assert in_all == {
        ("", "pods"), ("", "services"), ("", "replicationcontrollers"), ("apps", "deployments"),
        ("apps", "replicasets"), ("apps", "statefulsets"), ("apps", "daemonsets"), ("batch", "jobs"),
        ("batch", "cronjobs"), ("autoscaling", "horizontalpodautoscalers"),
    }
    extensions = {r.plural for r in builtin_catalogue() if "api-extensions" in r.categories}
    assert {"customresourcedefinitions", "mutatingwebhookconfigurations",
            "validatingwebhookconfigurations", "apiservices"} <= extensions


def test_verbs_of_special_resources() -> None:
    assert lookup("", "v1", "bindings").verbs == ("create",)
    assert lookup("", "v1", "componentstatuses").verbs == ("get", "list")
    assert "deletecollection" not in lookup("", "v1", "namespaces").verbs
    assert lookup("authorization.k8s.io", "v1", "selfsubjectaccessreviews").verbs == ("create",)
    assert lookup("authentication.k8s.io", "v1", "tokenreviews").verbs == ("create",)
    assert "watch" in lookup("", "v1", "events").verbs


def test_arktos_scopes() -> None:
    scope = {(r.group, r.plural): r.scope for r in builtin_catalogue()}
    assert scope[("", "tenants")] == "Cluster"
    assert scope[("", "nodes")] == "Cluster"
    assert scope[("scheduling.k8s.io", "priorityclasses")] == "Cluster"
    assert scope[("admissionregistration.k8s.io", "validatingwebhookconfigurations")] == "Cluster"
    for tenant_scoped in [("", "namespaces"), ("", "persistentvolumes"), ("storage.k8s.io", "storageclasses"),
                          ("rbac.authorization.k8s.io", "clusterroles"),
                          ("rbac.authorization.k8s.io", "clusterrolebindings"),
                          ("apiextensions.k8s.io", "customresourcedefinitions"),
                          ("arktos.futurewei.com", "networks")]:
        assert scope[tenant_scoped] == "Tenant", tenant_scoped
    assert scope[("", "pods")] == "Namespaced"
    assert scope[("apps", "deployments")] == "Namespaced"


def test_storage_key_segments_never_collide() -> None:
    segments = [r.key_segment for r in builtin_catalogue()]
    assert len(segments) == len(set(segments))
    assert lookup("events.k8s.io", "v1", "events").key_segment == "events.events.k8s.io"


def test_tenant_declaration() -> None:
    tenant = lookup("", "v1", "tenants")
    assert (tenant.kind, tenant.singular) == ("Tenant", "tenant")
    assert tenant.subresource_names == ("finalize", "status")
    assert tenant.definition == "io.k8s.api.core.v1.Tenant"


def test_subresource_kinds_and_verbs() -> None:
    pods = {s.name: s for s in lookup("", "v1", "pods").subresources}
    assert set(pods) == {"action", "attach", "binding", "ephemeralcontainers", "eviction", "exec", "log",
                         "portforward", "proxy", "resize", "status"}
    assert (pods["eviction"].group, pods["eviction"].version, pods["eviction"].kind) == ("policy", "v1",
                                                                                         "Eviction")
    assert pods["binding"].kind == "Binding" and pods["binding"].verbs == ("create",)
    assert pods["exec"].kind == "PodExecOptions" and pods["exec"].verbs == ("create", "get")
    assert pods["log"].verbs == ("get",)
    assert pods["status"].kind == "Pod" and pods["status"].verbs == ("get", "patch", "update")
    scale = {s.name: s for s in lookup("apps", "v1", "deployments").subresources}["scale"]
    assert (scale.group, scale.version, scale.kind) == ("autoscaling", "v1", "Scale")
    finalize = {s.name: s for s in lookup("", "v1", "namespaces").subresources}["finalize"]
    assert finalize.verbs == ("update",) and finalize.kind == "Namespace"
    token = lookup("", "v1", "serviceaccounts").subresources[0]
    assert (token.group, token.kind, token.verbs) == ("authentication.k8s.io", "TokenRequest", ("create",))
    signing_requests = lookup("certificates.k8s.io", "v1", "certificatesigningrequests")
    assert [s.name for s in signing_requests.subresources] == ["approval", "status"]
    assert lookup("coordination.k8s.io", "v1", "leases").subresources == ()
