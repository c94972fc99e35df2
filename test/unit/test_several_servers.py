"""Several API servers on one store, in one process: bootstrap once, one compactor, fresh reads.

Covers: three `ApiServer`s started together on one memory store all become ready, and the
bootstrap objects (tenant ``system``, its default namespaces, the RBAC defaults) exist once; of
two servers compacting every 0.2 s exactly one holds the ``kube-apiserver-compactor`` Lease and
compacts, the other compacts nothing, and once the holder stops the other takes the Lease over
(after its duration) and compacts; a server that did not see a namespace yet admits a create into
it after catching up with the store (upstream NamespaceLifecycle's live lookup); `catch_up` waits
for another server's write. The compaction protocol's pieces (`CompactorConfig`) as a table.
Leaves out: HTTP (test/e2e/test_several_apiservers.py drives real processes behind HAProxy on
etcd) and the etcd backend itself (test/storage).
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator
from typing import Any

import pytest

from server.app import ApiServer, ServerConfig
from server.bootstrap import SYSTEM_NAMESPACES
from server.compaction import LEASE_NAME, LEASE_NAMESPACE, CompactorConfig
from server.registry.keys import SYSTEM_TENANT, Scope
from server.registry.store import WriteOptions
from server.storage.interface import Event
from server.storage.memory import MemoryBackend

WAIT_S = 10.0
LAG_S = 0.02  # server i's store watch is i * LAG_S late


class SharedStore:
    """One real MemoryBackend handed to several servers: each may start it, none closes it (the
    test does), as servers sharing an etcd never close it for one another. Its watch delivers
    each event ``lag`` seconds late, as a remote store's watch does: in one process the servers'
    caches would otherwise all see a write within the same loop iterations."""

    def __init__(self, inner: MemoryBackend, *, lag: float) -> None:
        self._inner = inner
        self._lag = lag

    def __getattr__(self, name: str) -> Any:
        return getattr(self._inner, name)

    async def watch(self, prefix: str, *, after_revision: int) -> AsyncIterator[Event]:
        async for event in self._inner.watch(prefix, after_revision=after_revision):
            await asyncio.sleep(self._lag)
            yield event

    async def close(self) -> None:
        """Left to the test."""


class Cluster:
    """Servers started together on one store; each can be stopped on its own."""

    def __init__(self, count: int, *, compaction_interval: float) -> None:
        self.store = MemoryBackend()
        self.servers = [
            ApiServer(ServerConfig(storage_url="memory://", compaction_interval=compaction_interval),
                      backend=SharedStore(self.store, lag=LAG_S * index))  # type: ignore[arg-type]
            for index in range(count)]
        self._stacks = [contextlib.AsyncExitStack() for _ in self.servers]

    async def start(self) -> None:
        # Entered together: every server bootstraps while the others do.
        await asyncio.gather(*(stack.enter_async_context(server.running())
                               for stack, server in zip(self._stacks, self.servers, strict=True)))

    async def stop(self, server: ApiServer) -> None:
        await self._stacks[self.servers.index(server)].aclose()

    async def close(self) -> None:
        for stack in self._stacks:
            await stack.aclose()
        await self.store.close()


@contextlib.asynccontextmanager
async def cluster(count: int, *, compaction_interval: float = 300.0) -> AsyncIterator[Cluster]:
    started = Cluster(count, compaction_interval=compaction_interval)
    try:
        await started.start()
        yield started
    finally:
        await started.close()


def keys_under(server: ApiServer, segment: str) -> list[str]:
    return sorted(server.cache.resource(segment).objects)


async def test_servers_starting_together_bootstrap_each_object_once() -> None:
    async with cluster(3) as made:
        started = made.servers
        assert all(server.ready for server in started)
        first = started[0]
        for server in started:
            assert await server.cache.catch_up()
        tenants = keys_under(first, "tenants")
        assert tenants == ["/registry/tenants/system"]
        namespaces = [k for k in keys_under(first, "namespaces")
                      if k.startswith("/registry/namespaces/system/")]
        assert sorted(k.rsplit("/", 1)[1] for k in namespaces) == sorted(SYSTEM_NAMESPACES)
        roles = keys_under(first, "clusterroles")
        assert "/registry/clusterroles/system/cluster-admin" in roles
        # Every server sees the very same objects at the very same revisions: one create each.
        for server in started[1:]:
            for segment in ("tenants", "namespaces", "clusterroles", "clusterrolebindings"):
                ours = {k: o.revision for k, o in first.cache.resource(segment).objects.items()}
                theirs = {k: o.revision for k, o in server.cache.resource(segment).objects.items()}
                assert theirs == ours, segment


async def wait_until(predicate: Any, what: str) -> None:
    deadline = asyncio.get_running_loop().time() + WAIT_S
    while not predicate():
        if asyncio.get_running_loop().time() > deadline:
            raise AssertionError(f"not within {WAIT_S}s: {what}")
        await asyncio.sleep(0.05)


def lease_holder(server: ApiServer) -> str:
    leases = server.cache.resource("leases").objects
    lease = leases.get(f"/registry/leases/{SYSTEM_TENANT}/{LEASE_NAMESPACE}/{LEASE_NAME}")
    return "" if lease is None else str(lease.obj["spec"].get("holderIdentity") or "")


async def test_one_compactor_for_two_servers_and_a_takeover_when_it_stops() -> None:
    async with cluster(2, compaction_interval=0.2) as made:
        a, b = made.servers
        identities = {a.compactor.config.identity: a, b.compactor.config.identity: b}
        await wait_until(lambda: a.compactor.compacted or b.compactor.compacted, "a compaction")
        await asyncio.sleep(1.0)  # several more rounds
        holder = identities[lease_holder(a)]
        other = b if holder is a else a
        assert holder.compactor.compacted > 0
        assert other.compactor.compacted == 0, "the server without the Lease compacted"
        assert 0 < await other.backend.compacted_revision() <= holder.compactor.compacted

        await made.stop(holder)
        before = await other.backend.compacted_revision()
        # The Lease lasts three rounds (0.6 s, whole seconds: 1 s) past its last renewal.
        await wait_until(lambda: other.compactor.compacted > before, "the other server compacting")
        await other.cache.catch_up()
        assert lease_holder(other) == other.compactor.config.identity
        lease = other.cache.resource("leases").objects[
            f"/registry/leases/{SYSTEM_TENANT}/{LEASE_NAMESPACE}/{LEASE_NAME}"].obj
        assert lease["spec"]["leaseTransitions"] == 1
        assert lease["spec"]["leaseDurationSeconds"] == CompactorConfig(0.2).lease_duration


async def test_a_create_into_a_namespace_another_server_just_made_is_admitted() -> None:
    async with cluster(2) as made:
        a, b = made.servers
        namespaces = a.catalogue.lookup("", "v1", "namespaces")
        configmaps = a.catalogue.lookup("", "v1", "configmaps")
        assert namespaces is not None and configmaps is not None
        for round_ in range(20):
            name = f"fresh-{round_}"
            await a.store.create(namespaces, Scope(tenant=SYSTEM_TENANT),
                                 {"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": name}},
                                 WriteOptions())
            created = await b.store.create(
                configmaps, Scope(tenant=SYSTEM_TENANT, namespace=name),
                {"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": "c"}}, WriteOptions())
            assert created.code == 201


async def test_catch_up_waits_for_another_servers_write() -> None:
    async with cluster(2) as made:
        a, b = made.servers
        configmaps = a.catalogue.lookup("", "v1", "configmaps")
        assert configmaps is not None
        written = await a.store.create(
            configmaps, Scope(tenant=SYSTEM_TENANT, namespace="default"),
            {"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": "seen-by-b"}}, WriteOptions())
        assert await b.cache.catch_up()
        cached = b.store.get(configmaps, Scope(tenant=SYSTEM_TENANT, namespace="default"), "seen-by-b")
        assert cached.obj["metadata"]["resourceVersion"] == written.obj["metadata"]["resourceVersion"]


@pytest.mark.parametrize(("interval", "lease_seconds"), [(0.2, 1), (1.0, 3), (300.0, 900), (0.5, 2)])
def test_the_lease_outlives_three_rounds_in_whole_seconds(interval: float, lease_seconds: int) -> None:
    assert CompactorConfig(interval).lease_duration == lease_seconds


def test_identities_differ_per_server() -> None:
    assert CompactorConfig(1.0).identity != CompactorConfig(1.0).identity
