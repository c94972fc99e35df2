"""What a pod takes from its node (`apis.pod_resources`), the one copy the scheduler and the kubelet share.

Covers: quantities as integer amounts (millicores for cpu, rounded up; malformed → 0), a pod's
requests (containers summed, the larger single init container, sidecar init containers added,
limits standing in for missing requests, ``spec.overhead``, Arktos VM pods), non-zero requests,
extended resource names, host ports and their conflicts. Leaves out how placers use them (the
scheduler's filter tests, `test_kubelet_pod_admission`).
"""

from __future__ import annotations

from typing import Any

import pytest

from apis.pod_resources import amount, host_ports, is_extended_resource, pod_requests, port_conflict


@pytest.mark.parametrize(("resource", "value", "expected"), [
    ("cpu", "500m", 500), ("cpu", "1", 1000), ("cpu", "0.0001", 1), ("cpu", 2, 2000), ("cpu", 1.5, 1500),
    ("memory", "1Ki", 1024), ("memory", "1.5", 2), ("memory", "2e3", 2000), ("memory", "128Mi", 128 << 20),
    ("memory", "nonsense", 0), ("cpu", True, 0), ("cpu", None, 0), ("pods", "110", 110),
])
def test_amount(resource: str, value: Any, expected: int) -> None:
    assert amount(resource, value) == expected


def container(name: str, *, requests: dict[str, str] | None = None, limits: dict[str, str] | None = None,
              **extra: Any) -> dict[str, Any]:
    resources = {"requests": requests or {}, "limits": limits or {}}
    return {"name": name, "image": "busybox", "resources": resources, **extra}


def test_requests_sum_containers_take_the_largest_init_container_and_add_overhead() -> None:
    spec = {"containers": [container("a", requests={"cpu": "100m", "memory": "64Mi"}),
                           container("b", requests={"cpu": "200m"}, limits={"memory": "32Mi"})],
            "initContainers": [container("big", requests={"cpu": "500m"}),
                               container("small", requests={"memory": "1Mi"})],
            "overhead": {"cpu": "10m", "memory": "1Mi"}}
    requests = pod_requests(spec)
    # cpu: max(100+200, 500) + 10; memory: 64Mi + 32Mi (the limit) + 1Mi overhead.
    assert dict(requests.amounts) == {"cpu": 510, "memory": (64 + 32 + 1) << 20}
    assert (requests.nonzero_cpu, requests.nonzero_memory) == (300, 96 << 20)


def test_sidecar_init_containers_run_beside_the_app_and_under_later_init_containers() -> None:
    spec = {"containers": [container("app", requests={"cpu": "100m"})],
            "initContainers": [container("proxy", requests={"cpu": "50m"}, restartPolicy="Always"),
                               container("setup", requests={"cpu": "300m"})]}
    assert dict(pod_requests(spec).amounts) == {"cpu": 350}  # setup runs beside the proxy


def test_vm_pods_are_sized_from_the_vm_and_empty_pods_request_nothing() -> None:
    limits = {"cpu": "1", "memory": "256Mi"}
    vm = {"virtualMachine": {"name": "vm", "image": "cirros", "resources": {"limits": limits}},
          "containers": [container("ignored", requests={"cpu": "4"})]}
    assert dict(pod_requests(vm).amounts) == {"cpu": 1000, "memory": 256 << 20}
    empty = pod_requests({"containers": [container("app")]})
    assert dict(empty.amounts) == {}
    assert (empty.nonzero_cpu, empty.nonzero_memory) == (100, 200 << 20)


@pytest.mark.parametrize(("name", "extended"), [
    ("cpu", False), ("hugepages-2Mi", False), ("kubernetes.io/something", False), ("example.com/gpu", True),
    ("requests.example.com/gpu", False),
])
def test_extended_resource_names(name: str, extended: bool) -> None:
    assert is_extended_resource(name) is extended


def test_host_ports_and_conflicts() -> None:
    spec = {"containers": [container("a", ports=[{"containerPort": 80, "hostPort": 8080},
                                                 {"containerPort": 81}])],
            "initContainers": [container("i", ports=[{"containerPort": 53, "hostPort": 53, "protocol": "UDP",
                                                      "hostIP": "10.0.0.1"}])]}
    assert host_ports(spec) == (("0.0.0.0", "TCP", 8080), ("10.0.0.1", "UDP", 53))
    used = {("TCP", 8080): {"10.0.0.1"}}
    assert port_conflict(used, "10.0.0.1", "TCP", 8080)
    assert port_conflict(used, "0.0.0.0", "TCP", 8080)  # the wildcard takes every address
    assert not port_conflict(used, "10.0.0.2", "TCP", 8080)
    assert not port_conflict(used, "10.0.0.1", "UDP", 8080)
    assert port_conflict({("TCP", 8080): {"0.0.0.0"}}, "10.0.0.2", "TCP", 8080)
