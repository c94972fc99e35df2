"""Container env resolution (`kubelet.container_env`, `kubelet.downward_api`, `kubelet.service_env`).

Covers upstream's makeEnvironmentVariables order (envFrom, then env with ``$(VAR)`` expansion of
earlier values, redefinitions), configMapKeyRef/secretKeyRef with optional sources, the
CreateContainerConfigError messages, invalid envFrom keys, fieldRef paths (incl. Arktos's
metadata.tenant), resourceFieldRef with divisors and node-allocatable defaults, and the service
variables (those of the pod's Arktos network; the master service from its kubernetes-<network>).
Leaves out the API-backed source (the component test uses it).
"""

from __future__ import annotations

from typing import Any, cast

import pytest
from kubelet_sources import MemorySource

from client.errors import NotFound
from client.rest import ApiClient
from kubelet.container_env import EnvContext, expand_references, resolve_env
from kubelet.downward_api import DownwardApiError, field_value, format_map, resource_value
from kubelet.runtime import RuntimeOperationError
from kubelet.service_env import service_env, service_variables

ALLOCATABLE = {"cpu": "2", "memory": "4Gi", "ephemeral-storage": "10Gi"}


def pod(container: dict[str, Any]) -> dict[str, Any]:
    return {"metadata": {"name": "p", "namespace": "ns", "uid": "u-1", "tenant": "t1",
                         "labels": {"b": "2", "a": "1"}, "annotations": {"note": 'say "hi"'}},
            "spec": {"nodeName": "n1", "serviceAccountName": "sa", "containers": [container]}}


async def env_of(container: dict[str, Any], source: MemorySource | None = None,
                 **context: Any) -> dict[str, str]:
    context.setdefault("allocatable", ALLOCATABLE)
    resolved = await resolve_env(pod(container), container, EnvContext(source=source or MemorySource(),
                                                                       **context))
    return dict(resolved)


async def test_env_from_then_env_in_order_with_expansion() -> None:
    source = MemorySource()
    source.add_config_map("ns", "cm", {"HOST": "db", "PORT": "5432", "bad key": "x"})
    source.add_secret("ns", "sec", {"PASSWORD": "s3cret"})
    warnings: list[tuple[str, str]] = []
    container = {"name": "c",
                 "envFrom": [{"configMapRef": {"name": "cm"}},
                             {"secretRef": {"name": "sec"}, "prefix": "DB_"}],
                 "env": [{"name": "URL", "value": "pg://$(HOST):$(PORT)/$(LATER)"},
                         {"name": "LATER", "value": "x"}, {"name": "PORT", "value": "6543"},
                         {"name": "ESC", "value": "$$(HOST)"}]}
    resolved = await resolve_env(pod(container), container,
                                 EnvContext(source=source, warn=lambda r, m: warnings.append((r, m))))
    env = dict(resolved)
    assert env["URL"] == "pg://db:5432/$(LATER)"  # only earlier names expand
    assert env["DB_PASSWORD"] == "s3cret" and env["PORT"] == "6543" and env["ESC"] == "$(HOST)"
    assert "bad key" not in env
    assert [name for name, _ in resolved][-1] == "ESC"
    assert warnings == [("InvalidEnvironmentVariableNames",
                         "Keys [bad key] from the EnvFrom configmap ns/cm were skipped since they are "
                         "considered invalid environment variable names.")]


async def test_key_refs_and_optional_sources() -> None:
    source = MemorySource()
    source.add_config_map("ns", "cm", {"k": "v"})
    source.add_secret("ns", "sec", {"pw": "p"})
    env = await env_of({"name": "c", "env": [
        {"name": "A", "valueFrom": {"configMapKeyRef": {"name": "cm", "key": "k"}}},
        {"name": "B", "valueFrom": {"secretKeyRef": {"name": "sec", "key": "pw"}}},
        {"name": "C", "valueFrom": {"configMapKeyRef": {"name": "gone", "key": "k", "optional": True}}},
        {"name": "D", "valueFrom": {"secretKeyRef": {"name": "sec", "key": "nope", "optional": True}}}],
        "envFrom": [{"configMapRef": {"name": "gone", "optional": True}}]}, source)
    assert env == {"A": "v", "B": "p"}


@pytest.mark.parametrize(("entry", "message"), [
    ({"configMapKeyRef": {"name": "gone", "key": "k"}}, 'configmap "gone" not found'),
    ({"secretKeyRef": {"name": "gone", "key": "k"}}, 'secret "gone" not found'),
    ({"configMapKeyRef": {"name": "cm", "key": "nope"}}, "couldn't find key nope in ConfigMap ns/cm"),
    ({"secretKeyRef": {"name": "sec", "key": "nope"}}, "couldn't find key nope in Secret ns/sec"),
    ({"fieldRef": {"fieldPath": "spec.bogus"}}, "unsupported fieldPath: spec.bogus"),
])
async def test_missing_sources_fail_with_create_container_config_error(entry: dict[str, Any],
                                                                       message: str) -> None:
    source = MemorySource()
    source.add_config_map("ns", "cm", {"k": "v"})
    source.add_secret("ns", "sec", {"k": "v"})
    with pytest.raises(RuntimeOperationError) as caught:
        await env_of({"name": "c", "env": [{"name": "X", "valueFrom": entry}]}, source)
    assert (caught.value.reason, caught.value.message) == ("CreateContainerConfigError", message)


async def test_env_from_missing_config_map_fails() -> None:
    with pytest.raises(RuntimeOperationError, match='configmap "cm" not found'):
        await env_of({"name": "c", "envFrom": [{"configMapRef": {"name": "cm"}}]})


def test_field_paths() -> None:
    p = pod({"name": "c"})
    values = {path: field_value(p, path, host_ip="192.0.2.1", pod_ip="10.0.0.5")
              for path in ("metadata.name", "metadata.namespace", "metadata.uid", "metadata.tenant",
                           "spec.nodeName", "spec.serviceAccountName", "status.podIP", "status.podIPs",
                           "status.hostIP", "status.hostIPs", "metadata.labels['a']",
                           "metadata.annotations['note']", "metadata.labels")}
    assert values == {"metadata.name": "p", "metadata.namespace": "ns", "metadata.uid": "u-1",
                      "metadata.tenant": "t1", "spec.nodeName": "n1", "spec.serviceAccountName": "sa",
                      "status.podIP": "10.0.0.5", "status.podIPs": "10.0.0.5", "status.hostIP": "192.0.2.1",
                      "status.hostIPs": "192.0.2.1", "metadata.labels['a']": "1",
                      "metadata.annotations['note']": 'say "hi"', "metadata.labels": 'a="1"\nb="2"'}
    assert format_map({"note": 'say "hi"'}) == 'note="say \\"hi\\""'
    with pytest.raises(DownwardApiError, match="does not support subscript"):
        field_value(p, "metadata.name['x']")


def test_resource_values_round_up_and_default_to_allocatable() -> None:
    container = {"name": "c", "resources": {"limits": {"cpu": "250m", "memory": "100Mi"},
                                            "requests": {"memory": "64Mi"}}}
    def value(resource: str, divisor: Any = None) -> str:
        return resource_value(container, resource, divisor, allocatable=ALLOCATABLE)
    assert value("limits.cpu") == "1"  # 250m rounds up to one core
    assert value("limits.cpu", "1m") == "250"
    assert value("requests.cpu", "1m") == "250"  # requests default to limits
    assert value("limits.memory", "1Mi") == "100"
    assert value("requests.memory") == str(64 << 20)
    assert value("limits.ephemeral-storage", "1Gi") == "10"  # node allocatable
    assert value("requests.ephemeral-storage") == "0"
    with pytest.raises(DownwardApiError, match=r"unsupported container resource : limits\.gpu"):
        value("limits.gpu")


async def test_resource_field_ref_env() -> None:
    env = await env_of({"name": "c", "resources": {"limits": {"memory": "32Mi"}}, "env": [
        {"name": "MEM", "valueFrom": {"resourceFieldRef": {"resource": "limits.memory", "divisor": "1Mi"}}},
        {"name": "CPU", "valueFrom": {"resourceFieldRef": {"resource": "limits.cpu"}}}]})
    assert env == {"MEM": "32", "CPU": "2"}


async def test_service_variables_come_last_and_do_not_override() -> None:
    service = {"metadata": {"name": "my-db"}, "spec": {"clusterIP": "10.0.0.9", "ports": [
        {"name": "sql", "port": 5432, "protocol": "TCP"}, {"name": "admin", "port": 81, "protocol": "UDP"}]}}
    variables = service_variables(service)
    assert variables["MY_DB_SERVICE_HOST"] == "10.0.0.9" and variables["MY_DB_SERVICE_PORT"] == "5432"
    assert variables["MY_DB_SERVICE_PORT_ADMIN"] == "81" and variables["MY_DB_PORT"] == "tcp://10.0.0.9:5432"
    assert variables["MY_DB_PORT_81_UDP_PROTO"] == "udp" and variables["MY_DB_PORT_81_UDP_ADDR"] == "10.0.0.9"
    assert service_variables({"metadata": {"name": "h"}, "spec": {"clusterIP": "None", "ports": [{}]}}) == {}
    env = await env_of({"name": "c", "env": [{"name": "MY_DB_SERVICE_HOST", "value": "mine"},
                                              {"name": "X", "value": "$(MY_DB_SERVICE_PORT)"}]},
                       service_env=variables)
    assert env["MY_DB_SERVICE_HOST"] == "mine" and env["X"] == "5432"


def test_expand_references() -> None:
    assert expand_references("$(A)-$(B)-$$-$(C", {"A": "1"}, {"B": "2", "A": "x"}) == "1-2-$-$(C"


# -- service variables per Arktos network -------------------------------------------------------


class ServiceReader:
    """In-memory services for `kubelet.service_env.service_env` (its list and get calls)."""

    def __init__(self, services: list[dict[str, Any]]) -> None:
        self.services = {(s["metadata"]["tenant"], s["metadata"]["namespace"], s["metadata"]["name"]): s
                         for s in services}

    async def list(self, ref: Any, *, tenant: str, namespace: str) -> dict[str, Any]:
        return {"items": [s for (t, ns, _), s in self.services.items() if (t, ns) == (tenant, namespace)]}

    async def get(self, ref: Any, name: str, *, tenant: str, namespace: str) -> dict[str, Any]:
        found = self.services.get((tenant, namespace, name))
        if found is None:
            raise NotFound(404, {})
        return found


def net_service(tenant: str, namespace: str, name: str, ip: str,
                network: str | None = None) -> dict[str, Any]:
    labels = {"arktos.futurewei.com/network": network} if network else {}
    return {"metadata": {"tenant": tenant, "namespace": namespace, "name": name, "labels": labels},
            "spec": {"clusterIP": ip, "ports": [{"name": "https" if "kubernetes" in name else "http",
                                                 "port": 443 if "kubernetes" in name else 80}]}}


SERVICES = ServiceReader([
    net_service("system", "default", "kubernetes", "10.0.0.1"),
    net_service("acme", "default", "kubernetes-blue", "10.11.0.1", "blue"),
    net_service("acme", "shop", "web", "10.10.0.50"),
    net_service("acme", "shop", "cart", "10.11.0.51", "blue"),
])


def acme_pod(network: str | None) -> dict[str, Any]:
    labels = {"arktos.futurewei.com/network": network} if network else {}
    return {"metadata": {"tenant": "acme", "namespace": "shop", "name": "p", "labels": labels}, "spec": {}}


@pytest.mark.parametrize(("network", "master", "own"), [("blue", "10.11.0.1", "CART"),
                                                       (None, "10.0.0.1", "WEB"), ("red", "10.0.0.1", None)])
async def test_service_variables_are_the_pods_networks(network: str | None, master: str,
                                                      own: str | None) -> None:
    variables = await service_env(cast(ApiClient, SERVICES), acme_pod(network))
    # The master service: the network's kubernetes-<network> under the name kubernetes, else system's.
    assert variables["KUBERNETES_SERVICE_HOST"] == master
    assert variables["KUBERNETES_PORT"] == f"tcp://{master}:443"
    assert not any(name.startswith("KUBERNETES_BLUE") for name in variables)
    # The namespace's Services of the pod's network only.
    prefixes = {name.split("_", 1)[0] for name in variables} - {"KUBERNETES"}
    assert prefixes == ({own} if own else set())
