"""A mixed API load with per-verb latencies, and the server's own latency histogram per verb class.

Capacity runs ask "does the control plane still answer within its SLO while N nodes heartbeat?".
Upstream's API call latency SLOs (k8s.io/community sig-scalability/slos/api_call_latency.md)
split calls into mutating ones and read-only ones; this probe issues both kinds at a steady
rate — GET a node, GET a pod, LIST the pods of one namespace, POST a pod and DELETE it, PATCH a
node's status — and times each from the client. The server's side of the same SLO comes from
its ``apiserver_request_duration_seconds`` histogram (every non-watch request in the window,
the nodes' own lease and status writes included), read before and after the window: quantiles
there are bucket upper bounds (1 s is one of them, so "p99 <= 1 s" is exact).
"""

from __future__ import annotations

import asyncio
import contextlib
import functools
import random
import re
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from typing import Any

import aiohttp

from client.errors import ApiError
from client.resources import ResourceRef
from client.rest import ApiClient

PODS = ResourceRef("", "v1", "pods", "Pod")
NODES = ResourceRef("", "v1", "nodes", "Node")
NAMESPACES = ResourceRef("", "v1", "namespaces", "Namespace")
TENANT = "system"
PROBE_OPERATIONS = 6  # the names `MixedLoad.run` records under
READ_ONLY_VERBS = frozenset({"get", "list"})
MUTATING_VERBS = frozenset({"create", "update", "patch", "delete"})
SEEDED_PODS = 50
_BUCKET = re.compile(r'^apiserver_request_duration_seconds_bucket\{verb="([^"]*)",.*le="([^"]+)"\} (\d+)$')

Histogram = dict[str, dict[float, int]]  # verb -> cumulative count per bucket upper bound


async def scrape_histogram(url: str) -> Histogram:
    async with aiohttp.ClientSession() as session, session.get(f"{url}/metrics") as response:
        text = await response.text()
    by_verb: Histogram = {}
    for line in text.splitlines():
        match = _BUCKET.match(line)
        if match:
            bound = float("inf") if match.group(2) == "+Inf" else float(match.group(2))
            buckets = by_verb.setdefault(match.group(1), {})
            buckets[bound] = buckets.get(bound, 0) + int(match.group(3))
    return by_verb


def bucket_quantile(before: Histogram, after: Histogram, verbs: frozenset[str],
                    q: float) -> tuple[float, int]:
    """(upper bound of the bucket holding quantile q, request count) for ``verbs`` in the window."""
    delta: dict[float, int] = {}
    for verb in verbs:
        for bound, count in after.get(verb, {}).items():
            delta[bound] = delta.get(bound, 0) + count - before.get(verb, {}).get(bound, 0)
    total = delta.get(float("inf"), 0)
    for bound in sorted(delta):
        if total and delta[bound] >= q * total:
            return bound, total
    return float("nan"), total


def percentile(samples: list[float], q: float) -> float:
    ordered = sorted(samples)
    return ordered[min(len(ordered) - 1, int(q * len(ordered)))] if ordered else float("nan")


@dataclass
class ProbeResult:
    samples: dict[str, list[float]] = field(default_factory=dict)
    errors: dict[str, int] = field(default_factory=dict)


class MixedLoad:
    """The probe calls, against a namespace of ``SEEDED_PODS`` pods and a Node of its own."""

    def __init__(self, client: ApiClient, *, namespace: str, probe_node: str) -> None:
        self.client = client
        self.namespace = namespace
        self.probe_node = probe_node
        self.node_names: list[str] = []
        self._serial = 0

    async def prepare(self) -> None:
        with contextlib.suppress(ApiError):
            await self.client.create(NAMESPACES, {"apiVersion": "v1", "kind": "Namespace",
                                                  "metadata": {"name": self.namespace}}, tenant=TENANT)
        for index in range(SEEDED_PODS):
            await self.client.create(PODS, self._pod(f"seed-{index:03d}"), tenant=TENANT,
                                     namespace=self.namespace)
        # No Ready condition and no kubelet: the probe's status PATCHes never race a heartbeat.
        await self.client.create(NODES, {"apiVersion": "v1", "kind": "Node",
                                         "metadata": {"name": self.probe_node}})

    def _pod(self, name: str) -> dict[str, Any]:
        # Never scheduled (the capacity run has no scheduler), so a DELETE removes it at once.
        return {"apiVersion": "v1", "kind": "Pod", "metadata": {"name": name, "labels": {"probe": "api"}},
                "spec": {"containers": [{"name": "c", "image": "busybox"}]}}

    async def _get_node(self) -> None:
        await self.client.get(NODES, random.choice(self.node_names or [self.probe_node]))

    async def _get_pod(self) -> None:
        await self.client.get(PODS, f"seed-{random.randrange(SEEDED_PODS):03d}", tenant=TENANT,
                              namespace=self.namespace)

    async def _list_pods(self) -> None:
        await self.client.list(PODS, tenant=TENANT, namespace=self.namespace)

    async def _patch_node_status(self) -> None:
        now = time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime())
        condition = {"type": "BenchProbe", "status": "True", "reason": "Probe",
                     "lastHeartbeatTime": now, "lastTransitionTime": now}
        await self.client.patch(NODES, self.probe_node, {"status": {"conditions": [condition]}},
                                subresource="status")

    async def _create_and_delete(self, result: ProbeResult) -> None:
        self._serial += 1
        name = f"probe-{self._serial:06d}"
        await _timed("POST pod", result, lambda: self.client.create(
            PODS, self._pod(name), tenant=TENANT, namespace=self.namespace))
        await _timed("DELETE pod", result, lambda: self.client.delete(
            PODS, name, tenant=TENANT, namespace=self.namespace, grace_period_seconds=0))

    async def run(self, seconds: float, *, qps: float) -> ProbeResult:
        """Every operation in its own closed loop, each at ``qps / 5`` starts per second."""
        result = ProbeResult()
        interval = 5 / max(qps, 0.1)
        single: dict[str, Callable[[], Awaitable[Any]]] = {
            "GET node": self._get_node, "GET pod": self._get_pod,
            "LIST pods (namespace)": self._list_pods, "PATCH node/status": self._patch_node_status,
        }

        async def loop(step: Callable[[], Awaitable[None]]) -> None:
            await asyncio.sleep(random.uniform(0, interval))  # spread the loops' phases
            while True:
                began = time.perf_counter()
                await step()
                await asyncio.sleep(max(0.0, interval - (time.perf_counter() - began)))

        with contextlib.suppress(TimeoutError):
            async with asyncio.timeout(seconds), asyncio.TaskGroup() as group:
                for op_name, call in single.items():
                    group.create_task(loop(functools.partial(_timed, op_name, result, call)))
                group.create_task(loop(lambda: self._create_and_delete(result)))
        return result


async def _timed(op_name: str, result: ProbeResult, call: Callable[[], Awaitable[Any]]) -> None:
    began = time.perf_counter()
    try:
        await call()
    except (ApiError, aiohttp.ClientError, TimeoutError):  # counted, and the loop goes on
        result.errors[op_name] = result.errors.get(op_name, 0) + 1
        return
    result.samples.setdefault(op_name, []).append(time.perf_counter() - began)
