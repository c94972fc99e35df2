"""Fixtures for the storage suite: one real etcd member for the whole session.

The contract suite runs every test against etcd too; starting etcd once (about a second) instead
of per test keeps that cheap. Each test then gets an emptied store (see `test_contract.fresh_etcd`).
"""

from __future__ import annotations

import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "e2e"))
from etcd_process import EtcdProcess, running_etcd


@pytest.fixture(scope="session")
def etcd(tmp_path_factory: pytest.TempPathFactory) -> Iterator[EtcdProcess]:
    with running_etcd(tmp_path_factory.mktemp("etcd")) as member:
        yield member
