"""Where a SQLite store lives: a path in directories that do not exist yet opens (they are made, as
etcd makes its --data-dir), and a second store on the same file is refused while the first holds it.

Leaves out: the API server's own handling of that refusal (test/component, arktos-up e2e).
"""

from __future__ import annotations

from pathlib import Path

import pytest

from server.storage.sqlite import SqliteBackend
from server.storage.sqlite_lock import StoreInUseError


async def test_a_store_in_missing_directories_is_made_and_kept(tmp_path: Path) -> None:
    path = tmp_path / "not" / "yet" / "arktos.db"
    store = SqliteBackend(str(path))
    await store.start()
    try:
        created = await store.create("/registry/configmaps/system/default/a", b"{}")
    finally:
        await store.close()
    reopened = SqliteBackend(str(path))
    await reopened.start()
    try:
        kept = await reopened.get("/registry/configmaps/system/default/a")
    finally:
        await reopened.close()
    assert kept is not None and kept.mod_revision == created


async def test_a_second_store_on_one_file_is_refused_naming_the_holder(tmp_path: Path) -> None:
    path = str(tmp_path / "arktos.db")
    first = SqliteBackend(path)
    await first.start()
    try:
        with pytest.raises(StoreInUseError, match="is in use by another API server"):
            await SqliteBackend(path).start()
    finally:
        await first.close()
