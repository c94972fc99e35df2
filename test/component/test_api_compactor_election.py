"""One compactor for two API server processes on one real etcd member.

Covers: two `python -m server` processes on one etcd, compacting every second, elect one holder
of the Lease ``kube-system/kube-apiserver-compactor`` (either server reports the same holder);
only the holder logs compactions, and etcd's history is compacted (an Exact list at an old
revision answers 410 Expired); when the holder stops, the other server takes the Lease over
(leaseTransitions 1) and compacts from then on.
Leaves out: the protocol's timing corners (test/unit/test_several_servers.py), HAProxy and
arktos-up (test/e2e/test_several_apiservers.py).
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable, Iterator

import aiohttp
import pytest
from apiserver_process import ApiServerProcess
from component_http import Api, assert_status, configmap
from etcd_process import EtcdProcess, running_etcd

pytestmark = pytest.mark.slow

LEASE = "/apis/coordination.k8s.io/v1/namespaces/kube-system/leases/kube-apiserver-compactor"
COMPACTED = "compacted the store to revision"
WAIT_S = 30.0


@pytest.fixture(scope="module")
def etcd(tmp_path_factory: pytest.TempPathFactory) -> Iterator[EtcdProcess]:
    with running_etcd(tmp_path_factory.mktemp("etcd")) as member:
        yield member


def compactions(server: ApiServerProcess) -> int:
    return server.log_path.read_text(errors="replace").count(COMPACTED)


async def holder(api: Api) -> tuple[str, int]:
    lease = await api.ok("GET", LEASE)
    return lease["spec"]["holderIdentity"], int(lease["spec"].get("leaseTransitions") or 0)


async def until(what: str, check, timeout_s: float = WAIT_S) -> None:  # type: ignore[no-untyped-def]
    deadline = time.monotonic() + timeout_s
    while not await check():
        assert time.monotonic() < deadline, f"{what} not within {timeout_s:.0f}s"
        await asyncio.sleep(0.3)


async def test_two_servers_elect_one_compactor_and_the_other_takes_over(
        etcd: EtcdProcess, server_factory: Callable[..., ApiServerProcess]) -> None:
    servers = [server_factory("--storage", etcd.storage_url, "--compaction-interval", "1") for _ in range(2)]
    async with aiohttp.ClientSession(timeout=aiohttp.ClientTimeout(total=20)) as session:
        apis = [Api(session, server.url) for server in servers]
        base = "/api/v1/namespaces/default/configmaps"
        first = await apis[0].ok("POST", base, configmap("old"))
        old_revision = first["metadata"]["resourceVersion"]

        async def lease_held() -> bool:
            reply = await apis[1].get(LEASE)
            return reply.status == 200

        await until("the compactor Lease", lease_held)
        identity, _ = await holder(apis[0])
        assert (await holder(apis[1]))[0] == identity
        leading = next(s for s in servers if f"-{s.process.pid}-" in identity)  # type: ignore[union-attr]
        other = servers[1 - servers.index(leading)]
        await apis[0].ok("POST", base, configmap("newer"))

        async def old_revision_compacted() -> bool:
            reply = await apis[1].get(base, params={"resourceVersion": old_revision,
                                                    "resourceVersionMatch": "Exact"})
            return reply.status == 410

        await until("etcd compacted past the first write", old_revision_compacted)
        exact = {"resourceVersion": old_revision, "resourceVersionMatch": "Exact"}
        assert_status(await apis[1].get(base, params=exact), 410, "Expired")
        assert compactions(leading) > 0
        assert compactions(other) == 0, "the server without the Lease compacted"
        print(f"holder {identity}: {compactions(leading)} compactions; the other: 0")

        leading.stop()
        survivor = apis[servers.index(other)]

        async def taken_over() -> bool:
            name, transitions = await holder(survivor)
            return f"-{other.process.pid}-" in name and transitions == 1  # type: ignore[union-attr]

        await until("the other server holding the Lease", taken_over)
        await until("the other server compacting", lambda: _positive(compactions(other)))
        print(f"after the holder stopped, {other.url} holds the Lease, {compactions(other)} compactions")


async def _positive(value: int) -> bool:
    return value > 0
