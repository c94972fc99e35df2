"""The etcd backend when etcd fails, and when it is reached over TLS or through several members.

Covers, each with a real etcd process: a killed member turns calls into StorageUnavailableError at
once and a stalled (SIGSTOPped) one into StorageTimeoutError at the call's deadline, never a hang;
a watch rides out the member being killed and restarted and resumes after its last event, with no
gap or repeat; ``check_health`` follows the member down and up; TLS with client certificates
(``--etcd-cafile``/``--etcd-certfile``/``--etcd-keyfile``) works and a client without a certificate
is refused; a storage URL whose first member is dead fails over to the next; a backend that did
not compact (another API server's) learns the compaction from etcd: its watch and reads below the
mark raise CompactedError.

Leaves out: three-member clusters losing a member under load (the fault suite), the API's 503/504
answers (test/component/test_api_etcd.py).
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator, Iterator
from pathlib import Path

import pytest
from etcd_process import EtcdProcess, free_port, make_tls_files, running_etcd

from server.storage.etcd import EtcdBackend
from server.storage.etcd_connection import EtcdTLS, parse_etcd_url
from server.storage.interface import CompactedError, Event, StorageTimeoutError, StorageUnavailableError

pytestmark = pytest.mark.slow


@pytest.fixture
def member(tmp_path: Path) -> Iterator[EtcdProcess]:
    """A member of its own: these tests kill and pause it."""
    with running_etcd(tmp_path) as started:
        yield started


@pytest.fixture
async def store(member: EtcdProcess) -> AsyncIterator[EtcdBackend]:
    backend = EtcdBackend(parse_etcd_url(member.storage_url), request_timeout=1.0)
    await backend.start()
    yield backend
    await backend.close()


async def test_a_killed_member_is_unavailable_at_once_and_back_after_restart(
        member: EtcdProcess, store: EtcdBackend) -> None:
    await store.create("/f/before", b"x")
    member.kill()
    started = time.monotonic()
    with pytest.raises(StorageUnavailableError):
        await store.create("/f/during", b"x")
    with pytest.raises(StorageUnavailableError):
        await store.check_health()
    assert time.monotonic() - started < 1.0, "an unreachable etcd must fail fast, not at the deadline"
    member.start()
    await asyncio.wait_for(_until_healthy(store), 10)
    assert await store.get("/f/during") is None
    kv = await store.get("/f/before")
    assert kv is not None and kv.value == b"x"


async def _until_healthy(store: EtcdBackend) -> None:
    while True:
        try:
            await store.check_health()
            return
        except StorageUnavailableError:
            await asyncio.sleep(0.1)


async def test_a_stalled_member_times_out_at_the_deadline(member: EtcdProcess, store: EtcdBackend) -> None:
    await store.create("/s/before", b"x")
    member.pause()
    try:
        started = time.monotonic()
        with pytest.raises(StorageTimeoutError):
            await store.get("/s/before")
        elapsed = time.monotonic() - started
    finally:
        member.resume()
    assert 0.9 < elapsed < 3.0, f"the 1 s deadline took {elapsed:.1f}s"
    assert await store.create("/s/after", b"x") > 0


async def test_a_watch_resumes_after_the_member_restarts(member: EtcdProcess, store: EtcdBackend) -> None:
    base = await store.current_revision()
    events = store.watch("/w/", after_revision=base)
    seen: list[Event] = []
    try:
        await store.create("/w/a", b"1")
        seen.append(await asyncio.wait_for(anext(events), 5))
        member.kill()
        member.start()
        await asyncio.wait_for(_until_healthy(store), 10)
        await store.create("/w/b", b"2")
        await store.delete("/w/a")
        seen += [await asyncio.wait_for(anext(events), 10) for _ in range(2)]
    finally:
        await events.aclose()  # type: ignore[attr-defined]
    assert [(e.type, e.kv.key, e.revision) for e in seen] == [
        ("PUT", "/w/a", base + 1), ("PUT", "/w/b", base + 2), ("DELETE", "/w/a", base + 3)]


async def test_tls_with_client_certificates(tmp_path: Path) -> None:
    files = make_tls_files(tmp_path / "pki")
    with running_etcd(tmp_path, tls=files) as member:
        tls = EtcdTLS(ca_file=str(files.ca_file), cert_file=str(files.client_cert_file),
                      key_file=str(files.client_key_file))
        store = EtcdBackend(parse_etcd_url(member.storage_url), tls=tls)
        await store.start()
        try:
            base = await store.current_revision()
            events = store.watch("/t/", after_revision=base)
            created = await store.create("/t/k", b"secret")
            event = await asyncio.wait_for(anext(events), 5)
            await events.aclose()  # type: ignore[attr-defined]
            assert (event.kv.key, event.revision) == ("/t/k", created)
        finally:
            await store.close()
        no_certificate = EtcdBackend(parse_etcd_url(member.storage_url),
                                     tls=EtcdTLS(ca_file=str(files.ca_file)), start_timeout=1.0)
        with pytest.raises(StorageUnavailableError):
            await no_certificate.start()
        await no_certificate.close()


async def test_a_dead_first_member_fails_over_to_the_next(member: EtcdProcess) -> None:
    url = f"etcd://127.0.0.1:{free_port()},127.0.0.1:{member.client_port}"
    store = EtcdBackend(parse_etcd_url(url), request_timeout=2.0)
    await store.start()
    try:
        revision = await store.create("/m/k", b"x")
        kv = await store.get("/m/k")
        assert kv is not None and kv.mod_revision == revision
    finally:
        await store.close()


async def test_another_servers_compaction_is_learnt_from_etcd(member: EtcdProcess,
                                                              store: EtcdBackend) -> None:
    first = await store.create("/c/k", b"1")
    second = await store.update("/c/k", b"2", expected_revision=first)
    await store.compact(second)
    other = EtcdBackend(parse_etcd_url(member.storage_url))
    await other.start()
    try:
        assert await other.compacted_revision() == 0  # it has not heard of it yet
        with pytest.raises(CompactedError):
            await anext(other.watch("/c/", after_revision=first - 1))
        assert await other.compacted_revision() == second
        with pytest.raises(CompactedError):
            await other.get("/c/k", revision=first)
        kv = await other.get("/c/k", revision=second)
        assert kv is not None and kv.value == b"2"
    finally:
        await other.close()
