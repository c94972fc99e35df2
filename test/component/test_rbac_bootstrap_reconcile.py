"""The API server reconciles the bootstrap RBAC policy on every start, as upstream's post-start hook does.

A cluster made by an older version has older default roles and bindings; a restart must give them
what the new version's components need (e.g. a controller's new permission, the API server's kubelet
client binding) without undoing an operator's opt-out. Covers, across a real restart on the same
data: a rule removed from an ``autoupdate: "true"`` ClusterRole and a subject removed from a binding
come back, a binding deleted outright is re-created, extra rules an operator added stay, and a role
annotated ``autoupdate: "false"`` is left as the operator wrote it. Leaves out what the rules allow
(test/unit/test_rbac_bootstrap.py).
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import aiohttp
import orjson
import pytest
from apiserver_process import ApiServerProcess, start_apiserver
from component_http import Api

pytestmark = pytest.mark.e2e

ROLES = "/apis/rbac.authorization.k8s.io/v1/clusterroles"
BINDINGS = "/apis/rbac.authorization.k8s.io/v1/clusterrolebindings"
EXTRA_RULE = {"verbs": ["get"], "apiGroups": [""], "resources": ["limitranges"]}


@pytest.fixture
def server(tmp_path: Path) -> Iterator[ApiServerProcess]:
    process = start_apiserver(tmp_path)
    try:
        yield process
    finally:
        process.stop()


async def _api_call(server: ApiServerProcess, method: str, path: str, body: Any = None) -> Any:
    async with aiohttp.ClientSession(timeout=aiohttp.ClientTimeout(total=20)) as session:
        return await Api(session, server.url).ok(method, path, body)


async def test_a_restart_restores_what_the_policy_needs_and_keeps_opt_outs(server: ApiServerProcess) -> None:
    role = await _api_call(server, "GET", f"{ROLES}/system:controller:replicaset-controller")
    shipped_rules = role["rules"]
    role["rules"] = [*shipped_rules[1:], EXTRA_RULE]
    await _api_call(server, "PUT", f"{ROLES}/system:controller:replicaset-controller", role)
    frozen = await _api_call(server, "GET", f"{ROLES}/system:controller:deployment-controller")
    frozen["metadata"]["annotations"]["rbac.authorization.kubernetes.io/autoupdate"] = "false"
    frozen["rules"] = frozen["rules"][:1]
    await _api_call(server, "PUT", f"{ROLES}/system:controller:deployment-controller", frozen)
    binding = await _api_call(server, "GET", f"{BINDINGS}/system:kube-scheduler")
    binding["subjects"] = []
    await _api_call(server, "PUT", f"{BINDINGS}/system:kube-scheduler", binding)
    await _api_call(server, "DELETE", f"{BINDINGS}/kube-apiserver:kubelet-apis")

    server.stop()
    server.start()

    restored = await _api_call(server, "GET", f"{ROLES}/system:controller:replicaset-controller")
    assert all(rule in restored["rules"] for rule in shipped_rules)
    assert EXTRA_RULE in restored["rules"]
    kept = await _api_call(server, "GET", f"{ROLES}/system:controller:deployment-controller")
    assert orjson.dumps(kept["rules"]) == orjson.dumps(frozen["rules"])
    subjects = (await _api_call(server, "GET", f"{BINDINGS}/system:kube-scheduler"))["subjects"]
    assert [s["name"] for s in subjects] == ["system:kube-scheduler"]
    recreated = await _api_call(server, "GET", f"{BINDINGS}/kube-apiserver:kubelet-apis")
    assert recreated["roleRef"]["name"] == "system:kubelet-api-admin"
    assert [s["name"] for s in recreated["subjects"]] == ["kube-apiserver-kubelet-client"]
