"""Durability of the etcd backend when etcd is killed with SIGKILL under concurrent writes.

Covers: a child process makes concurrent creates through EtcdBackend (retrying a create that failed
while etcd was down, as clients do); etcd is killed mid-stream and restarted on its data, then the
child itself is killed. Every create the child had acknowledged (printed after ``create``
returned) is in etcd with the revision it was acknowledged at; revisions have no gap or repeat
(only creates were made, so each revision belongs to exactly one key); the child's own backend
recovered without a restart; the store goes on from the right revision.

Leaves out: losing a member of a three-member cluster (the fault suite), power loss of the machine.
"""

from __future__ import annotations

import asyncio
from pathlib import Path

import pytest
from crash_writer import WriterChild
from etcd_process import EtcdProcess, running_etcd

from server.storage.etcd import EtcdBackend
from server.storage.etcd_connection import parse_etcd_url

pytestmark = pytest.mark.slow
BATCH = 600


async def run_through_crashes(member: EtcdProcess) -> dict[str, int]:
    """Writer child; kill -9 etcd mid-stream, restart it, then kill -9 the child. Returns every
    acknowledged key → revision."""
    child = await WriterChild.start(member.storage_url)
    try:
        await child.read(BATCH)
        member.kill()
        print(f"killed etcd after {len(child.acknowledged)} acknowledged creates")
        await asyncio.sleep(0.5)  # the child now sees etcd down and retries
        await asyncio.to_thread(member.start)
        before = len(child.acknowledged)
        await child.read(BATCH)
        print(f"etcd restarted; the same child acknowledged {len(child.acknowledged) - before} more")
    finally:
        await child.kill()
    return child.acknowledged


async def test_every_acknowledged_create_survives_etcd_kill_9(tmp_path: Path) -> None:
    with running_etcd(tmp_path) as member:
        store = EtcdBackend(parse_etcd_url(member.storage_url))
        await store.start()
        base = await store.current_revision()
        await store.close()

        acknowledged = await run_through_crashes(member)

        store = EtcdBackend(parse_etcd_url(member.storage_url))
        await store.start()
        try:
            current = await store.current_revision()
            stored = {kv.key: kv for kv in (await store.list("/crash/")).items}
            lost = [key for key, revision in acknowledged.items()
                    if key not in stored or stored[key].mod_revision != revision]
            print(f"{len(acknowledged)} acknowledged, {len(stored)} stored, {len(lost)} lost; "
                  f"revisions {base + 1}..{current}")
            assert not lost, f"acknowledged creates lost or changed: {lost[:10]}"
            for key, kv in stored.items():
                assert (kv.value, kv.create_revision) == (key.encode(), kv.mod_revision)
            assert sorted(kv.mod_revision for kv in stored.values()) == list(range(base + 1, current + 1))
            assert await store.create("/after/crash", b"x") == current + 1
        finally:
            await store.close()
