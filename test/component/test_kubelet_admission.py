"""The kubelet's pod admission as a process: ``python -m kubelet --hollow --max-pods 3 --kubeconfig RP
--tenant-server-kubeconfig TP0,TP1`` against three real API servers (two tenant partitions, one resource
partition) on loopback, pods bound directly with ``spec.nodeName`` (no scheduler to keep them apart).

Covers: a hollow node (8 cpus) admits a tp0 pod of 6 cpus and rejects a tp1 pod of 4 cpus — pods of
both partitions count against one node — with phase Failed, reason ``OutOfcpu``, upstream's
``Pod was rejected: Node didn't have enough resource: cpu, requested: 4000, used: 6000, capacity:
8000`` and an ``OutOfcpu`` Warning event, all in tp1 and none in tp0; a tp0 pod over-committing on
its own rejected the same way; a nodeSelector the node does not match → ``NodeAffinity``; a pod over
``--max-pods`` → ``OutOfpods``; once the 6-cpu pod is deleted a 4-cpu pod of tp1 runs, and once that
one has Succeeded a 6-cpu pod of tp0 runs (deleted and finished pods free their share, across
partitions). Leaves out the arithmetic's corner cases and host ports / taints
(test/unit/test_kubelet_pod_admission.py) and the scheduler.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import partitions_env as env
import pytest
from apiserver_process import log_tail
from kubelet_env import conditions, eventually
from partitions_env import Clients, Partitions

from client.rest import ApiClient
from kubelet.hollow import EXIT_CODE_ANNOTATION, RUN_SECONDS_ANNOTATION
from kubelet.node import NODES
from kubelet.status_writer import PODS

pytestmark = pytest.mark.slow

NODE = "admit"
DEFAULT = {"tenant": "system", "namespace": "default"}


@pytest.fixture
def partitions(server_factory: Any) -> Partitions:
    return env.start_partitions(server_factory)


def cpu_pod(name: str, cpu: str, **spec: Any) -> dict[str, Any]:
    body = env.pod_body(name, NODE, **spec)
    body["spec"]["containers"][0]["resources"] = {"requests": {"cpu": cpu}}
    return body


async def rejected(client: ApiClient, name: str) -> dict[str, Any] | None:
    """The pod once its phase is Failed on that server, else None."""
    return await _phase(client, name, "Failed")


def verdict(pod: dict[str, Any]) -> tuple[str, str]:
    return pod["status"].get("reason", ""), pod["status"].get("message", "")


async def test_pods_of_both_partitions_are_admitted_against_one_node(partitions: Partitions,
                                                                     tmp_path: Path) -> None:
    kubelet_args = partitions.hollow_kubelet_args(NODE, "--max-pods", "3")
    with env.kubelet_process(kubelet_args, tmp_path / "hollow-kubelet.log") as kubelet_log:
        async with env.clients_of(partitions) as c:
            try:
                await eventually(lambda: _node_ready(c.rp0), "the hollow node Ready in the RP", within=30)
                big = await _cpu_counts_across_partitions(c)
                await _node_affinity_and_pod_count(c)
                await _a_deleted_pod_frees_its_share(c, big)
            except AssertionError as e:
                raise AssertionError(f"{e}\nkubelet:\n{log_tail(kubelet_log)}") from None


async def _node_ready(rp0: ApiClient) -> bool:
    nodes = (await rp0.list(NODES)).get("items") or []
    return any(n["metadata"]["name"] == NODE and conditions(n)["Ready"] == "True" for n in nodes)


async def _cpu_counts_across_partitions(c: Clients) -> dict[str, Any]:
    await c.tp0.create(PODS, cpu_pod("big", "6"), **DEFAULT)
    big: dict[str, Any] = await eventually(lambda: env.running(c.tp0, "big"), "tp0's 6-cpu pod Running")

    await c.tp1.create(PODS, cpu_pod("late", "4"), **DEFAULT)
    late = await eventually(lambda: rejected(c.tp1, "late"), "tp1's 4-cpu pod rejected")
    message = "Node didn't have enough resource: cpu, requested: 4000, used: 6000, capacity: 8000"
    assert verdict(late) == ("OutOfcpu", f"Pod was rejected: {message}")
    late_uid = late["metadata"]["uid"]
    await eventually(lambda: _has_event(c.tp1, late_uid, "OutOfcpu"), "the OutOfcpu event in tp1")
    assert "OutOfcpu" not in await env.pod_event_reasons(c.tp0, late_uid)

    await c.tp0.create(PODS, cpu_pod("greedy", "3"), **DEFAULT)
    greedy = await eventually(lambda: rejected(c.tp0, "greedy"), "tp0's own over-commit rejected")
    assert verdict(greedy)[0] == "OutOfcpu"
    return big


async def _node_affinity_and_pod_count(c: Clients) -> None:
    await c.tp1.create(PODS, env.pod_body("picky", NODE, nodeSelector={"disk": "ssd"}), **DEFAULT)
    picky = await eventually(lambda: rejected(c.tp1, "picky"), "the nodeSelector pod rejected")
    assert verdict(picky) == ("NodeAffinity", "Pod was rejected: Predicate NodeAffinity failed: "
                                              "node(s) didn't match Pod's node affinity/selector")

    # --max-pods 3: "big" and two more fit, the fourth does not (rejected pods take no place).
    await c.tp0.create(PODS, env.pod_body("small-0", NODE), **DEFAULT)
    await c.tp1.create(PODS, env.pod_body("small-1", NODE), **DEFAULT)
    await eventually(lambda: env.running(c.tp0, "small-0"), "tp0's small pod Running")
    await eventually(lambda: env.running(c.tp1, "small-1"), "tp1's small pod Running")
    await c.tp1.create(PODS, env.pod_body("crowd", NODE), **DEFAULT)
    crowd = await eventually(lambda: rejected(c.tp1, "crowd"), "the fourth pod rejected")
    assert verdict(crowd) == ("OutOfpods", "Pod was rejected: Node didn't have enough resource: "
                                           "pods, requested: 1, used: 3, capacity: 3")


async def _a_deleted_pod_frees_its_share(c: Clients, big: dict[str, Any]) -> None:
    await c.tp0.delete(PODS, "big", tenant="system", namespace="default")
    await eventually(lambda: _gone(c.tp0, "big"), "tp0's big pod finalised by the kubelet")
    # A tp1 pod that takes big's place and then finishes (the hollow container exits 0 after 1 s).
    brief = cpu_pod("brief", "4", restartPolicy="Never")
    brief["metadata"]["annotations"] = {RUN_SECONDS_ANNOTATION: "1", EXIT_CODE_ANNOTATION: "0"}
    await c.tp1.create(PODS, brief, **DEFAULT)
    finished = await eventually(lambda: _phase(c.tp1, "brief", "Succeeded"), "tp1's 4-cpu pod Succeeded")
    assert finished["metadata"]["uid"] != big["metadata"]["uid"]
    # Its cpu and its place among --max-pods are free again: a tp0 pod of 6 cpus runs.
    await c.tp0.create(PODS, cpu_pod("next", "6"), **DEFAULT)
    await eventually(lambda: env.running(c.tp0, "next"), "tp0's 6-cpu pod Running after brief finished")


async def _phase(client: ApiClient, name: str, phase: str) -> dict[str, Any] | None:
    pod = await env.get_pod(client, name)
    return pod if pod is not None and (pod.get("status") or {}).get("phase") == phase else None


async def _has_event(client: ApiClient, uid: str, reason: str) -> bool:
    return reason in await env.pod_event_reasons(client, uid)


async def _gone(client: ApiClient, name: str) -> bool:
    return await env.get_pod(client, name) is None
