"""server.schema.validation: schema, name and semantic validation with upstream paths and messages.

Covers: valid objects pass (incl. numeric quantities and int-or-string ports), required/type
errors from the schema with upstream paths, the Go decoder wording of type errors, unknown
fields for fieldValidation=Strict, DNS name rules per resource, labels, and the semantic rules
for pods, workloads, jobs and services (the rules each built-in record names). Leaves out how the
server turns the errors into a Status (the handlers' concern) and CRD (custom resource) validation.
"""

from __future__ import annotations

import base64
import copy
from typing import Any

import pytest
from builtin_records import record

from apis.field_errors import FieldError
from server.registry.record import ResourceRecord
from server.schema.name_rules import dns1035_label_errors, dns1123_label_errors, dns1123_subdomain_errors
from server.schema.schema_set import SchemaSet
from server.schema.validation import SchemaReport, Validators, rule_errors

VALIDATORS = Validators(SchemaSet())


def inspect(resource: ResourceRecord, obj: dict[str, Any]) -> SchemaReport:
    return VALIDATORS.inspect(resource, obj)


# The store's checks in its order (server.registry.store): `inspect` once, a 400 on type errors,
# then the schema's errors and the record's rules together (a 422's causes).
def validate(resource: ResourceRecord, obj: dict[str, Any]) -> list[FieldError]:
    report = inspect(resource, obj)
    assert not report.type_errors, f"the decoder refuses this body: {report.type_errors}"
    rules = rule_errors(obj, name_check=resource.name_check, rules=resource.rules)
    return list(dict.fromkeys([*report.errors, *rules]))


def type_errors(resource: ResourceRecord, obj: dict[str, Any]) -> list[str]:
    return list(inspect(resource, obj).type_errors)


def unknown_fields(resource: ResourceRecord, obj: dict[str, Any]) -> list[str]:
    return list(inspect(resource, obj).unknown)


PODS = record("", "pods")
SERVICES = record("", "services")
NAMESPACES = record("", "namespaces")
CLUSTER_ROLES = record("rbac.authorization.k8s.io", "clusterroles")
DEPLOYMENTS = record("apps", "deployments")
JOBS = record("batch", "jobs")
TENANTS = record("", "tenants")

SUBDOMAIN_MSG = (
    "a lowercase RFC 1123 subdomain must consist of lower case alphanumeric characters, '-' or '.', "
    "and must start and end with an alphanumeric character (e.g. 'example.com', regex used for "
    r"validation is '[a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*')"
)
LABEL_MSG = (
    "a lowercase RFC 1123 label must consist of lower case alphanumeric characters or '-', and must "
    "start and end with an alphanumeric character (e.g. 'my-name',  or '123-abc', regex used for "
    "validation is '[a-z0-9]([-a-z0-9]*[a-z0-9])?')"
)


def pod(**spec: Any) -> dict[str, Any]:
    base: dict[str, Any] = {
        "apiVersion": "v1",
        "kind": "Pod",
        "metadata": {"name": "web", "namespace": "default", "labels": {"app": "web"}},
        "spec": {
            "containers": [{
                "name": "main",
                "image": "busybox:1.36",
                "command": ["sleep", "3600"],
                "resources": {"limits": {"cpu": 1, "memory": "64Mi"}},
                "ports": [{"containerPort": 80}],
                "readinessProbe": {"httpGet": {"port": "http"}},
            }],
            "restartPolicy": "Always",
        },
    }
    base["spec"].update(spec)
    return base


def rendered(errors: list[Any]) -> list[str]:
    return [str(error) for error in errors]


def deployment(selector: Any, labels: dict[str, str]) -> dict[str, Any]:
    return {
        "metadata": {"name": "web"},
        "spec": {
            "selector": selector,
            "template": {"metadata": {"labels": labels},
                         "spec": {"containers": [{"name": "c", "image": "nginx"}]}},
        },
    }


def test_a_typical_pod_is_valid_with_numeric_quantities_and_named_ports() -> None:
    assert validate(PODS, pod()) == []


def test_validate_does_not_mutate_the_object() -> None:
    obj = pod(containers=[{"image": "x", "bogus": 1}])
    before = copy.deepcopy(obj)
    validate(PODS, obj)
    unknown_fields(PODS, obj)
    assert obj == before


def test_schema_required_fields_are_reported_with_upstream_paths() -> None:
    obj = pod(containers=[{"image": "busybox"}])
    assert "spec.containers[0].name: Required value" in rendered(validate(PODS, obj))


def test_type_errors_use_the_go_decoder_wording_and_come_alone() -> None:
    obj = pod(containers="busybox")
    obj["metadata"]["name"] = "Bad_Name"
    report = inspect(PODS, obj)
    assert report.type_errors == (
        "json: cannot unmarshal string into Go struct field PodSpec.spec.containers of type []v1.Container",
    )
    assert report.errors == ()  # alone: the store answers 400 before any other check


def test_nested_type_errors_name_the_enclosing_struct_and_go_type() -> None:
    obj = pod()
    obj["spec"]["containers"][0]["ports"][0]["containerPort"] = "80"
    obj["metadata"]["labels"] = {"app": 3}
    assert type_errors(PODS, obj) == [
        "json: cannot unmarshal number into Go struct field ObjectMeta.metadata.labels of type string",
        "json: cannot unmarshal string into Go struct field ContainerPort.spec.containers.ports.containerPort"
        " of type int32",
    ]
    assert type_errors(PODS, pod()) == []


def test_unknown_fields_lists_paths_not_in_the_schema() -> None:
    obj = pod(bogus=True)
    obj["spec"]["containers"][0]["colour"] = "blue"
    obj["metadata"]["labels"]["anything"] = "goes"  # map keys are never unknown
    obj["metadata"]["tenant"] = "acme"  # Arktos metadata is known
    assert sorted(unknown_fields(PODS, obj)) == ["spec.bogus", "spec.containers[0].colour"]
    assert unknown_fields(PODS, pod()) == []


def test_unknown_fields_stops_at_free_form_json() -> None:
    crd_kind = record("apiextensions.k8s.io", "customresourcedefinitions")
    obj = {"spec": {"versions": [{"name": "v1", "schema": {"openAPIV3Schema": {
        "type": "object", "default": {"free": {"form": 1}}}}}], "nope": 1}}
    assert unknown_fields(crd_kind, obj) == ["spec.nope"]


def test_name_is_required_unless_generate_name() -> None:
    obj = pod()
    del obj["metadata"]["name"]
    assert rendered(validate(PODS, obj)) == [
        "metadata.name: Required value: name or generateName is required"
    ]
    obj["metadata"]["generateName"] = "web-"
    assert validate(PODS, obj) == []


def test_invalid_names_use_upstream_messages_per_resource() -> None:
    obj = pod()
    obj["metadata"]["name"] = "Foo_"
    assert rendered(validate(PODS, obj)) == [f'metadata.name: Invalid value: "Foo_": {SUBDOMAIN_MSG}']
    assert rendered(validate(NAMESPACES, {"metadata": {"name": "a.b"}})) == [
        f'metadata.name: Invalid value: "a.b": {LABEL_MSG}'
    ]
    service = {"metadata": {"name": "1abc"}, "spec": {"ports": [{"port": 80}]}}
    assert validate(SERVICES, service)[0].message.startswith('Invalid value: "1abc": a DNS-1035 label')
    assert validate(CLUSTER_ROLES, {"metadata": {"name": "system:controller:x"}}) == []
    assert rendered(validate(CLUSTER_ROLES, {"metadata": {"name": "a/b"}})) == [
        "metadata.name: Invalid value: \"a/b\": may not contain '/'"
    ]
    assert validate(TENANTS, {"metadata": {"name": "acme"}}) == []


def test_dns_helpers() -> None:
    assert dns1123_subdomain_errors("example.com") == []
    assert dns1123_subdomain_errors("x" * 254)[0] == "must be no more than 253 characters"
    assert dns1123_label_errors("a.b") == [LABEL_MSG]
    assert dns1123_label_errors("abc-123") == []
    assert dns1035_label_errors("abc-123") == []
    assert len(dns1035_label_errors("123-abc")) == 1


def test_label_keys_and_values_are_checked() -> None:
    obj = pod()
    obj["metadata"]["labels"] = {"bad key": "ok", "ok": "bad value!"}
    messages = rendered(validate(PODS, obj))
    assert len(messages) == 2
    assert messages[0].startswith('metadata.labels: Invalid value: "bad key": name part must consist of')
    assert messages[1].startswith('metadata.labels: Invalid value: "bad value!": a valid label must be')


def test_pod_semantic_rules() -> None:
    obj = pod(restartPolicy="Sometimes", containers=[
        {"name": "a", "image": "x", "ports": [{"containerPort": 0, "protocol": "ICMP"}]},
        {"name": "a"},
        {"name": "B_", "image": "x", "imagePullPolicy": "Sometimes"},
    ])
    assert set(rendered(validate(PODS, obj))) == {
        'spec.containers[0].ports[0].containerPort: Invalid value: 0: must be between 1 and 65535, inclusive',
        'spec.containers[0].ports[0].protocol: Unsupported value: "ICMP": '
        'supported values: "SCTP", "TCP", "UDP"',
        "spec.containers[1].image: Required value",
        'spec.containers[1].name: Duplicate value: "a"',
        f'spec.containers[2].name: Invalid value: "B_": {LABEL_MSG}',
        'spec.containers[2].imagePullPolicy: Unsupported value: "Sometimes": supported values: '
        '"Always", "IfNotPresent", "Never"',
        'spec.restartPolicy: Unsupported value: "Sometimes": '
        'supported values: "Always", "OnFailure", "Never"',
    }


def test_pod_needs_a_container_and_reports_it_once() -> None:
    assert rendered(validate(PODS, pod(containers=[]))) == ["spec.containers: Required value"]
    no_spec = {"metadata": {"name": "x"}}
    assert rendered(validate(PODS, no_spec)) == ["spec.containers: Required value"]


def test_deployment_selector_rules() -> None:
    assert validate(DEPLOYMENTS, deployment({"matchLabels": {"app": "web"}}, {"app": "web"})) == []
    expressions = {"matchExpressions": [{"key": "app", "operator": "In", "values": ["web", "api"]}]}
    assert validate(DEPLOYMENTS, deployment(expressions, {"app": "api"})) == []
    mismatch = rendered(validate(DEPLOYMENTS, deployment({"matchLabels": {"app": "web"}}, {"app": "db"})))
    assert mismatch == [
        'spec.template.metadata.labels: Invalid value: map[string]string{"app":"db"}: '
        "`selector` does not match template `labels`"
    ]
    missing = deployment(None, {"app": "web"})
    del missing["spec"]["selector"]
    assert "spec.selector: Required value" in rendered(validate(DEPLOYMENTS, missing))
    # An unparsable selector is refused on write (it would break every later reader of it).
    bad_operator = {"matchExpressions": [{"key": "app", "operator": "Near"}]}
    assert rendered(validate(DEPLOYMENTS, deployment(bad_operator, {"app": "web"}))) == [
        'spec.selector: Invalid value: {"matchExpressions":[{"key":"app","operator":"Near"}]}: '
        '"Near" is not a valid label selector operator'
    ]


def test_deployment_template_must_restart_always() -> None:
    obj = deployment({"matchLabels": {"app": "web"}}, {"app": "web"})
    obj["spec"]["template"]["spec"]["restartPolicy"] = "Never"
    assert rendered(validate(DEPLOYMENTS, obj)) == [
        'spec.template.spec.restartPolicy: Unsupported value: "Never": supported values: "Always"'
    ]


def test_job_template_restart_policy() -> None:
    job: dict[str, Any] = {"metadata": {"name": "pi"}, "spec": {"template": {"spec": {
        "containers": [{"name": "pi", "image": "perl"}], "restartPolicy": "Always"}}}}
    assert rendered(validate(JOBS, job)) == [
        'spec.template.spec.restartPolicy: Unsupported value: "Always": '
        'supported values: "OnFailure", "Never"'
    ]
    job["spec"]["template"]["spec"]["restartPolicy"] = "Never"
    assert validate(JOBS, job) == []


@pytest.mark.parametrize(
    ("spec", "expected"),
    [
        ({"ports": [{"port": 80, "targetPort": "http"}]}, []),
        ({}, ["spec.ports: Required value"]),
        ({"clusterIP": "None"}, []),
        ({"type": "ExternalName", "externalName": "db.example.com."}, []),
        ({"type": "ExternalName"}, ["spec.externalName: Required value"]),
        ({"ports": [{"port": 80}, {"port": 81}]},
         ["spec.ports[0].name: Required value", "spec.ports[1].name: Required value"]),
        ({"type": "Magic", "ports": [{"port": 70000}]},
         ['spec.type: Unsupported value: "Magic": supported values: '
          '"ClusterIP", "ExternalName", "LoadBalancer", "NodePort"',
          "spec.ports[0].port: Invalid value: 70000: must be between 1 and 65535, inclusive"]),
    ],
)
def test_service_rules(spec: dict[str, Any], expected: list[str]) -> None:
    assert rendered(validate(SERVICES, {"metadata": {"name": "web"}, "spec": spec})) == expected


CONFIGMAPS = record("", "configmaps")
SECRETS = record("", "secrets")
MIB = 1024 * 1024


@pytest.mark.parametrize(("mutate", "expected"), [
    (lambda d: d["spec"].update(replicas=2**31),
     "json: cannot unmarshal number 2147483648 into Go struct field DeploymentSpec.spec.replicas "
     "of type int32"),
    (lambda d: d["spec"].update(replicas=-(2**31) - 1),
     "json: cannot unmarshal number -2147483649 into Go struct field DeploymentSpec.spec.replicas "
     "of type int32"),
    (lambda d: d["metadata"].update(generation=2**63),
     "json: cannot unmarshal number 9223372036854775808 into Go struct field "
     "ObjectMeta.metadata.generation of type int64"),
    (lambda d: d["metadata"].update(generation=float(2**70)),
     "json: cannot unmarshal number 1180591620717411303424 into Go struct field "
     "ObjectMeta.metadata.generation of type int64"),
    (lambda d: d["spec"].update(strategy={"rollingUpdate": {"maxSurge": 2**31}}),
     "json: cannot unmarshal number 2147483648 into Go value of type int32"),
])
def test_integers_beyond_their_format_are_decode_errors(mutate: Any, expected: str) -> None:
    obj = deployment({"matchLabels": {"a": "b"}}, {"a": "b"})
    mutate(obj)
    assert type_errors(DEPLOYMENTS, obj) == [expected]


def test_integers_at_their_format_limits_are_valid() -> None:
    obj = deployment({"matchLabels": {"a": "b"}}, {"a": "b"})
    obj["spec"]["replicas"] = 2**31 - 1
    obj["metadata"]["generation"] = 2**63 - 1
    obj["spec"]["strategy"] = {"rollingUpdate": {"maxSurge": -(2**31)}}
    assert type_errors(DEPLOYMENTS, obj) == []


def test_data_size_limits() -> None:
    def cm(**fields: Any) -> dict[str, Any]:
        return {"metadata": {"name": "c"}, **fields}

    assert validate(CONFIGMAPS, cm(data={"a": "x" * MIB})) == []
    assert rendered(validate(CONFIGMAPS, cm(data={"a": "x" * MIB, "b": "é"}))) == [
        "[]: Too long: may not be more than 1048576 bytes"]
    binary = base64.b64encode(b"\0" * 10).decode()
    assert rendered(validate(CONFIGMAPS, cm(data={"a": "x" * (MIB - 9)}, binaryData={"b": binary}))) == [
        "[]: Too long: may not be more than 1048576 bytes"]
    secret = base64.b64encode(b"\1" * MIB).decode()
    assert validate(SECRETS, cm(data={"k": secret})) == []
    assert rendered(validate(SECRETS, cm(data={"k": secret}, stringData={"s": "x"}))) == [
        "data: Too long: may not be more than 1048576 bytes"]


def test_annotation_size_and_keys() -> None:
    def with_annotations(annotations: dict[str, str]) -> dict[str, Any]:
        return {"metadata": {"name": "c", "annotations": annotations}}

    assert validate(CONFIGMAPS, with_annotations({"Example.COM/Key": "x" * (256 * 1024 - 15)})) == []
    assert rendered(validate(CONFIGMAPS, with_annotations({"k": "x" * 256 * 1024}))) == [
        "metadata.annotations: Too long: may not be more than 262144 bytes"]
    assert rendered(validate(CONFIGMAPS, with_annotations({"bad key": "v"})))[0].startswith(
        'metadata.annotations: Invalid value: "bad key": name part must consist of alphanumeric characters')


def test_tolerations_as_upstream_validates_them() -> None:
    def errors_of(*tolerations: dict[str, object]) -> list[str]:
        obj = pod()
        obj["spec"]["tolerations"] = list(tolerations)
        return rendered(validate(PODS, obj))

    fine = ({"operator": "Exists"}, {"key": "node.kubernetes.io/not-ready", "operator": "Exists",
                                     "effect": "NoExecute", "tolerationSeconds": 300},
            {"key": "dedicated", "value": "gpu", "effect": "NoSchedule"})
    assert errors_of(*fine) == []
    assert errors_of({"value": "x"}) == [
        'spec.tolerations[0].operator: Invalid value: "": operator must be Exists when `key` is empty, '
        'which means "match all values and all keys"']
    assert errors_of({"key": "k", "operator": "Exists", "value": "v"}) == [
        "spec.tolerations[0].operator: Invalid value: \"v\": value must be empty when `operator` is 'Exists'"]
    assert errors_of({"key": "k", "operator": "Equal", "value": "v", "effect": "NoSchedule",
                      "tolerationSeconds": 5}) == [
        "spec.tolerations[0].effect: Invalid value: \"NoSchedule\": effect must be 'NoExecute' when "
        "`tolerationSeconds` is set"]
    unsupported = ({"key": "k", "operator": "Near"}, {"key": "k", "operator": "Exists", "effect": "Soon"})
    assert errors_of(*unsupported) == [
        'spec.tolerations[0].operator: Unsupported value: "Near": supported values: "Equal", "Exists"',
        'spec.tolerations[1].effect: Unsupported value: "Soon": supported values: "NoSchedule", '
        '"PreferNoSchedule", "NoExecute"']
    assert errors_of({"key": "bad key!", "operator": "Exists"})[0].startswith(
        'spec.tolerations[0].key: Invalid value: "bad key!": ')


def test_node_affinity_as_upstream_validates_it() -> None:
    required_path = "spec.affinity.nodeAffinity.requiredDuringSchedulingIgnoredDuringExecution"
    term = f"{required_path}.nodeSelectorTerms[0]"
    preferred_path = "spec.affinity.nodeAffinity.preferredDuringSchedulingIgnoredDuringExecution"

    def errors_of(node_affinity: dict[str, object]) -> list[str]:
        obj = pod()
        obj["spec"]["affinity"] = {"nodeAffinity": node_affinity}
        return rendered(validate(PODS, obj))

    def required_terms(*terms: dict[str, object]) -> dict[str, object]:
        return {"requiredDuringSchedulingIgnoredDuringExecution": {"nodeSelectorTerms": list(terms)}}

    def expression(operator: str, *values: str) -> dict[str, object]:
        return {"key": "k", "operator": operator, **({"values": list(values)} if values else {})}

    fine = required_terms({"matchExpressions": [expression("In", "a", "b"), expression("Exists"),
                                                expression("Gt", "4")]},
                          {"matchFields": [{"key": "metadata.name", "operator": "In", "values": ["n1"]}]})
    fine["preferredDuringSchedulingIgnoredDuringExecution"] = [
        {"weight": 100, "preference": {"matchExpressions": [expression("NotIn", "c")]}}]
    assert errors_of(fine) == []
    assert errors_of(required_terms()) == [
        f"{required_path}.nodeSelectorTerms: Required value: must have at least one node selector term"]
    broken = [expression("In"), expression("Exists", "v"), expression("Lt", "1", "2"),
              expression("Near", "x")]
    expressions = f"{term}.matchExpressions"
    assert errors_of(required_terms({"matchExpressions": broken})) == [
        f"{expressions}[0].values: Required value: must be specified when `operator` is 'In' or 'NotIn'",
        f"{expressions}[1].values: Forbidden: may not be specified when `operator` is 'Exists' or "
        "'DoesNotExist'",
        f"{expressions}[2].values: Required value: must be specified single value when `operator` is "
        "'Lt' or 'Gt'",
        f'{expressions}[3].operator: Invalid value: "Near": not a valid selector operator']
    # Upstream's field selector takes one node name per requirement; two would be stored and misread.
    assert errors_of(required_terms({"matchFields": [
        {"key": "metadata.name", "operator": "In", "values": ["n1", "n2"]},
        {"key": "spec.unschedulable", "operator": "In", "values": ["true"]}]})) == [
        f"{term}.matchFields[0].values: Required value: must be only one value when `operator` is 'In' or "
        "'NotIn' for node field selector",
        f'{term}.matchFields[1].key: Invalid value: "spec.unschedulable": not a valid field selector key']
    preferred: dict[str, object] = {
        "preferredDuringSchedulingIgnoredDuringExecution": [{"weight": 0, "preference": {}}]}
    assert errors_of(preferred) == [
        f"{preferred_path}[0].weight: Invalid value: 0: must be in the range 1-100"]
