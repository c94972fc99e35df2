"""How etcd's gRPC failures become storage errors (server/storage/etcd_connection.storage_error).

Covers: a write etcd could not confirm ("request timed out") is a timeout (504: outcome unknown),
the same text on a read or an unreachable member is "unavailable" (503: retry), a deadline is a
timeout, a compacted revision is CompactedError. Leaves out: real etcd members failing
(test/storage/test_etcd_failures.py) and the HTTP answers (test/component/test_api_etcd.py).
"""

from __future__ import annotations

import grpc
from grpc import aio

from server.storage.etcd_connection import storage_error
from server.storage.interface import CompactedError, StorageTimeoutError, StorageUnavailableError


def rpc_error(code: grpc.StatusCode, details: str) -> aio.AioRpcError:
    return aio.AioRpcError(code, aio.Metadata(), aio.Metadata(), details=details)


def test_an_unconfirmed_write_is_a_timeout_not_a_retry() -> None:
    timed_out = rpc_error(grpc.StatusCode.UNAVAILABLE, "etcdserver: request timed out")
    assert isinstance(storage_error(timed_out, write=True), StorageTimeoutError)
    assert isinstance(storage_error(timed_out), StorageUnavailableError)  # a read: retrying is safe


def test_an_unreachable_member_is_unavailable_for_writes_too() -> None:
    refused = rpc_error(grpc.StatusCode.UNAVAILABLE, "failed to connect to all addresses")
    assert isinstance(storage_error(refused, write=True), StorageUnavailableError)


def test_deadline_and_compaction() -> None:
    assert isinstance(storage_error(rpc_error(grpc.StatusCode.DEADLINE_EXCEEDED, "Deadline Exceeded")),
                      StorageTimeoutError)
    compacted = storage_error(rpc_error(grpc.StatusCode.OUT_OF_RANGE,
                                        "etcdserver: mvcc: required revision has been compacted"),
                              revision=5, compacted=9)
    assert isinstance(compacted, CompactedError)
