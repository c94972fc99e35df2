"""server.registry.admission.service_account: upstream's ServiceAccount admission on pods.

Covers: ``serviceAccountName`` defaults to ``default``; a missing account is 403 with upstream's
text, looked up in the pod's own tenant and namespace; the default account is waited for (the
controller is about to make it); the ``kube-api-access-*`` projected volume and its read-only
mounts in every container and init container; ``automountServiceAccountToken: false`` on the pod
or the account (the pod wins); an existing mount at the token path; VM pods get no volume;
imagePullSecrets copied from the account; mirror pods; enforce-mountable-secrets; the chain's
order and ``--disable-admission-plugins``. Leaves out the real server answering through the chain
(component: test_api_service_account_admission).
"""

from __future__ import annotations

import asyncio
import re
from typing import Any

import orjson
import pytest
from builtin_records import record

from server.errors import Forbidden
from server.registry.admission.chain import standard_plugins
from server.registry.admission.interface import AdmissionRequest, Operation
from server.registry.admission.service_account import (
    TOKEN_MOUNT_PATH,
    ServiceAccountAdmission,
)
from server.registry.keys import Scope, object_key
from server.resources.builtin import builtin_catalogue
from server.storage.memory import MemoryBackend
from server.watchcache import CachedObject, WatchCache

PODS = record("", "pods")
ACCOUNTS = record("", "serviceaccounts")
CATALOGUE = builtin_catalogue()


def plugin_with(*accounts: tuple[str, str, dict[str, Any]]) -> tuple[ServiceAccountAdmission, WatchCache]:
    """The plugin over a cache holding ``(tenant, namespace, account)`` entries."""
    cache = WatchCache(MemoryBackend())
    add_accounts(cache, *accounts)
    return ServiceAccountAdmission(catalogue=CATALOGUE, cache=cache), cache


def add_accounts(cache: WatchCache, *accounts: tuple[str, str, dict[str, Any]]) -> None:
    segment = cache.resource(ACCOUNTS.key_segment)
    objects = dict(segment.objects)
    for tenant, namespace, account in accounts:
        key = object_key(ACCOUNTS, Scope(tenant=tenant, namespace=namespace), account["metadata"]["name"])
        objects[key] = CachedObject(key, account, orjson.dumps(account), 1)
    segment.reset(objects, 1)


def account(name: str = "default", **fields: Any) -> dict[str, Any]:
    return {"metadata": {"name": name, **fields.pop("metadata", {})}, **fields}


def pod(**spec: Any) -> dict[str, Any]:
    spec.setdefault("containers", [{"name": "c", "image": "busybox"}])
    return {"metadata": {"name": "p"}, "spec": spec}


def request(obj: dict[str, Any], *, tenant: str = "system", namespace: str = "default",
            operation: Operation = "CREATE", subresource: str = "") -> AdmissionRequest:
    return AdmissionRequest(operation=operation, resource=PODS, obj=obj, subresource=subresource,
                            scope=Scope(tenant=tenant, namespace=namespace))


async def admitted(plugin: ServiceAccountAdmission, obj: dict[str, Any], **kwargs: Any) -> dict[str, Any]:
    await plugin.admit(request(obj, **kwargs))
    await plugin.validate(request(obj, **kwargs))
    return obj


async def test_a_pod_runs_as_default_and_gets_the_token_volume_in_every_container() -> None:
    plugin, _ = plugin_with(("system", "default", account()))
    obj = await admitted(plugin, pod(initContainers=[{"name": "i", "image": "busybox"}],
                                     containers=[{"name": "a", "image": "busybox"},
                                                 {"name": "b", "image": "busybox",
                                                  "volumeMounts": [{"name": "x", "mountPath": "/x"}]}],
                                     volumes=[{"name": "x", "emptyDir": {}}]))
    spec = obj["spec"]
    assert (spec["serviceAccountName"], spec["serviceAccount"]) == ("default", "default")
    volume = spec["volumes"][-1]
    assert re.fullmatch(r"kube-api-access-[a-z0-9]{5}", volume["name"])
    assert volume["projected"] == {"defaultMode": 420, "sources": [
        {"serviceAccountToken": {"expirationSeconds": 3607, "path": "token"}},
        {"configMap": {"name": "kube-root-ca.crt", "items": [{"key": "ca.crt", "path": "ca.crt"}]}},
        {"downwardAPI": {"items": [{"path": "namespace",
                                    "fieldRef": {"apiVersion": "v1", "fieldPath": "metadata.namespace"}}]}}]}
    mount = {"name": volume["name"], "readOnly": True, "mountPath": TOKEN_MOUNT_PATH}
    assert spec["initContainers"][0]["volumeMounts"] == [mount]
    assert spec["containers"][0]["volumeMounts"] == [mount]
    assert spec["containers"][1]["volumeMounts"] == [{"name": "x", "mountPath": "/x"}, mount]
    assert [v["name"] for v in spec["volumes"]] == ["x", volume["name"]]


async def test_a_missing_account_is_refused_with_upstreams_text() -> None:
    plugin, _ = plugin_with(("system", "default", account()))
    with pytest.raises(Forbidden) as refused:
        await plugin.admit(request(pod(serviceAccountName="robot")))
    assert refused.value.code == 403
    assert refused.value.message == ('pods "p" is forbidden: error looking up service account default/robot: '
                                     'serviceaccount "robot" not found')


async def test_the_account_is_looked_up_in_the_pods_tenant() -> None:
    plugin, _ = plugin_with(("acme", "default", account("robot")))
    await admitted(plugin, pod(serviceAccountName="robot"), tenant="acme")
    with pytest.raises(Forbidden):
        await plugin.admit(request(pod(serviceAccountName="robot"), tenant="other"))


async def test_a_generated_name_names_the_refusal() -> None:
    plugin, _ = plugin_with()
    obj = {"metadata": {"generateName": "web-"}, "spec": {"serviceAccountName": "x", "containers": []}}
    with pytest.raises(Forbidden, match=r'^pods "web-" is forbidden: error looking up service account'):
        await plugin.admit(request(obj))


async def test_the_default_account_is_waited_for_while_the_controller_makes_it() -> None:
    plugin, cache = plugin_with()
    loop = asyncio.get_running_loop()
    loop.call_later(0.3, add_accounts, cache, ("system", "default", account()))
    obj = await admitted(plugin, pod())
    assert obj["spec"]["serviceAccountName"] == "default"


@pytest.mark.parametrize(("pod_choice", "account_choice", "mounted"), [
    (None, None, True), (False, None, False), (None, False, False), (True, False, True), (False, True, False),
])
async def test_automount_the_pods_choice_wins_over_the_accounts(pod_choice: bool | None,
                                                                account_choice: bool | None,
                                                                mounted: bool) -> None:
    choice = "automountServiceAccountToken"
    fields: dict[str, Any] = {} if account_choice is None else {choice: account_choice}
    plugin, _ = plugin_with(("system", "default", account(**fields)))
    spec = {} if pod_choice is None else {choice: pod_choice}
    obj = await admitted(plugin, pod(**spec))
    assert any(v["name"].startswith("kube-api-access-") for v in obj["spec"].get("volumes") or []) is mounted
    assert bool(obj["spec"]["containers"][0].get("volumeMounts")) is mounted


async def test_an_existing_mount_at_the_token_path_keeps_the_token_out() -> None:
    plugin, _ = plugin_with(("system", "default", account()))
    own = {"name": "mine", "mountPath": TOKEN_MOUNT_PATH}
    obj = await admitted(plugin, pod(containers=[{"name": "c", "image": "b", "volumeMounts": [own]}],
                                     volumes=[{"name": "mine", "emptyDir": {}}]))
    assert obj["spec"]["containers"][0]["volumeMounts"] == [own]
    assert [v["name"] for v in obj["spec"]["volumes"]] == ["mine"]


async def test_a_vm_pod_gets_its_account_but_no_volume() -> None:
    plugin, _ = plugin_with(("system", "default", account()))
    obj = await admitted(plugin, {"metadata": {"name": "vm"},
                                  "spec": {"virtualMachine": {"name": "vm", "image": "cirros"}}})
    assert obj["spec"]["serviceAccountName"] == "default"
    assert "volumes" not in obj["spec"]


async def test_the_accounts_pull_secrets_become_the_pods_when_it_names_none() -> None:
    plugin, _ = plugin_with(("system", "default", account(imagePullSecrets=[{"name": "reg"}])))
    assert (await admitted(plugin, pod()))["spec"]["imagePullSecrets"] == [{"name": "reg"}]
    own = await admitted(plugin, pod(imagePullSecrets=[{"name": "mine"}]))
    assert own["spec"]["imagePullSecrets"] == [{"name": "mine"}]


async def test_updates_and_other_subresources_are_left_alone() -> None:
    plugin, _ = plugin_with()
    obj = pod()
    await plugin.admit(request(obj, operation="UPDATE"))
    await plugin.validate(request(obj, operation="UPDATE"))
    await plugin.admit(request(obj, subresource="status"))
    assert "serviceAccountName" not in obj["spec"]


async def test_mirror_pods_are_not_changed_and_may_not_use_accounts_or_secrets() -> None:
    plugin, _ = plugin_with(("system", "default", account()))
    mirror = {"kubernetes.io/config.mirror": "abc"}
    obj = {**pod(), "metadata": {"name": "m", "annotations": mirror}}
    assert await admitted(plugin, obj) == {**pod(), "metadata": {"name": "m", "annotations": mirror}}
    token = {"name": "t", "projected": {"sources": [{"serviceAccountToken": {"path": "t"}}]}}
    cases = [({"serviceAccountName": "default"}, "a mirror pod may not reference service accounts"),
             ({"volumes": [{"name": "s", "secret": {"secretName": "s"}}]},
              "a mirror pod may not reference secrets"),
             ({"volumes": [token]}, "a mirror pod may not use ServiceAccountToken volume projections")]
    for spec, text in cases:
        with pytest.raises(Forbidden, match=re.escape(text)):
            await admitted(plugin, {"metadata": {"name": "m", "annotations": mirror}, "spec": spec})


async def test_an_account_that_enforces_mountable_secrets_limits_the_pods_secrets() -> None:
    enforcing = account(metadata={"annotations": {"kubernetes.io/enforce-mountable-secrets": "true"}},
                        secrets=[{"name": "ok"}])
    plugin, _ = plugin_with(("system", "default", enforcing))
    await admitted(plugin, pod(volumes=[{"name": "v", "secret": {"secretName": "ok"}}]))
    env = [{"name": "E", "valueFrom": {"secretKeyRef": {"name": "no", "key": "k"}}}]
    with pytest.raises(Forbidden, match=re.escape(
            'container c with envVar E referencing secret.secretName="no" is not allowed because service '
            "account default does not reference that secret")):
        await admitted(plugin, pod(containers=[{"name": "c", "image": "b", "env": env}]))
    later = pod(serviceAccountName="default", ephemeralContainers=[{"name": "dbg", "image": "b", "env": env}])
    with pytest.raises(Forbidden, match="ephemeral container dbg with envVar E"):
        await plugin.validate(request(later, operation="UPDATE", subresource="ephemeralcontainers"))


def test_the_chain_places_service_account_after_namespace_lifecycle_and_can_leave_it_out() -> None:
    cache = WatchCache(MemoryBackend())
    names = [p.name for p in standard_plugins(catalogue=CATALOGUE, cache=cache)]
    assert names[:4] == ["TenantExists", "NamespaceLifecycle", "ServiceAccount", "Priority"]
    names = [p.name for p in standard_plugins(catalogue=CATALOGUE, cache=cache,
                                              disabled=frozenset({"ServiceAccount"}))]
    assert "ServiceAccount" not in names and "Priority" in names
