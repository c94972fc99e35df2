"""apis.meta: Arktos's hashKey derivation, timestamps and uids.

Covers the FNV-1a 64 values against published test vectors and Arktos's mapping into int64;
reading timestamps back (RFC 3339 as metav1.Time/MicroTime accept it, nothing else); splitting
an apiVersion into group and version.
Leaves out where the server stores these values (the registry's concern).
"""

from __future__ import annotations

import re
import uuid
from datetime import UTC, datetime, timedelta, timezone

import pytest

from apis.meta import fnv1a_64, hash_key, new_uid, now_rfc3339, parse_time, split_api_version

MAX_INT64 = 2**63 - 1


def test_fnv1a_64_matches_published_vectors() -> None:
    assert fnv1a_64(b"") == 0xCBF29CE484222325
    assert fnv1a_64(b"a") == 0xAF63DC4C8601EC8C
    assert fnv1a_64(b"foobar") == 0x85944171F73967E8


def test_hash_key_subtracts_max_int64_when_the_hash_overflows_int64() -> None:
    # Arktos GetHashOfUUID: rawKey > MaxInt64 -> rawKey - MaxInt64
    assert hash_key("a") == 0xAF63DC4C8601EC8C - MAX_INT64


def test_hash_key_is_always_a_non_negative_int64() -> None:
    for _ in range(200):
        assert 0 <= hash_key(new_uid()) <= MAX_INT64


def test_hash_key_is_stable_for_a_uid() -> None:
    uid = "3f1c9a70-1b0e-4e55-9a7e-2d3f0c1e5a11"
    assert hash_key(uid) == hash_key(uid)


def test_now_rfc3339_is_utc_second_precision() -> None:
    assert re.fullmatch(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ", now_rfc3339())
    moment = datetime(2026, 11, 28, 4, 49, 56, 999_000, tzinfo=timezone(timedelta(hours=2)))
    assert now_rfc3339(moment) == "2026-11-28T02:49:56Z"
    assert now_rfc3339(datetime(2026, 1, 2, 3, 4, 5, tzinfo=UTC)) == "2026-01-02T03:04:05Z"


def test_new_uid_is_a_unique_uuid() -> None:
    first, second = new_uid(), new_uid()
    assert first != second
    assert str(uuid.UUID(first)) == first


@pytest.mark.parametrize(("text", "expected"), [
    ("2024-05-06T07:08:09Z", datetime(2024, 5, 6, 7, 8, 9, tzinfo=UTC)),
    ("2024-05-06T07:08:09.123456Z", datetime(2024, 5, 6, 7, 8, 9, 123456, tzinfo=UTC)),
    ("2024-05-06T07:08:09.123456789Z", datetime(2024, 5, 6, 7, 8, 9, 123456, tzinfo=UTC)),
    ("2024-05-06T09:08:09+02:00", datetime(2024, 5, 6, 7, 8, 9, tzinfo=UTC)),
    ("2024-05-06t07:08:09z", datetime(2024, 5, 6, 7, 8, 9, tzinfo=UTC)),
    ("2024-05-06", None),  # a bare date is not RFC 3339
    ("2024-05-06T07:08:09", None),  # nor is a time without a zone
    ("2024-13-06T07:08:09Z", None),
    ("", None),
    (None, None),
    (1714979289, None),
])
def test_parse_time_reads_rfc3339_only(text: object, expected: datetime | None) -> None:
    assert parse_time(text) == expected


def test_parse_time_reads_what_now_rfc3339_writes() -> None:
    moment = datetime(2026, 11, 28, 2, 49, 56, tzinfo=UTC)
    assert parse_time(now_rfc3339(moment)) == moment


def test_split_api_version() -> None:
    assert split_api_version("v1") == ("", "v1")
    assert split_api_version("apps/v1") == ("apps", "v1")
    assert split_api_version("rbac.authorization.k8s.io/v1") == ("rbac.authorization.k8s.io", "v1")
    assert split_api_version("") == ("", "")
