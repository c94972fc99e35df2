"""Object-metadata helpers the server fills in on create, shared later by controllers.

Arktos adds ``metadata.hashKey`` to every object so that controller instances can split the
objects between them by hash range (ARKTOS.md §2, §6); the key is derived from the uid, so this
module owns that derivation together with the other system-generated metadata values (uid,
creation timestamp) so that every component computes them identically — and reads timestamps
back the same way (`parse_time`).
"""

from __future__ import annotations

import functools
import os
import random
import re
import time
import uuid
from datetime import UTC, datetime

_FNV64_OFFSET_BASIS = 0xCBF29CE484222325
_FNV64_PRIME = 0x100000001B3
_UINT64_MASK = (1 << 64) - 1
_MAX_INT64 = (1 << 63) - 1


def fnv1a_64(data: bytes) -> int:
    """The 64-bit FNV-1a hash (Go's ``hash/fnv.New64a``) of ``data``, as an unsigned int."""
    value = _FNV64_OFFSET_BASIS
    for byte in data:
        value ^= byte
        value = (value * _FNV64_PRIME) & _UINT64_MASK
    return value


def hash_key(uid: str) -> int:
    """Arktos's ``metadata.hashKey`` for an object with this uid, in [0, 2^63-1].

    Mirrors Arktos's ``GetHashOfUUID`` (apimachinery meta fuzzer package): the unsigned 64-bit
    FNV-1a of the uid string, and when that exceeds MaxInt64 (which Kubernetes' int64 fields
    cannot hold) MaxInt64 is subtracted from it.
    """
    raw = fnv1a_64(uid.encode("utf-8"))
    if raw > _MAX_INT64:
        raw -= _MAX_INT64
    return raw


def split_api_version(api_version: str) -> tuple[str, str]:
    """(group, version) of an ``apiVersion`` or a discovery ``groupVersion``: ``v1`` is the core
    group's, ``apps/v1`` the apps group's (upstream ``schema.ParseGroupVersion``)."""
    group, _, version = api_version.rpartition("/")
    return group, version


def now_rfc3339(now: datetime | None = None) -> str:
    """A ``metav1.Time`` value: UTC, second precision, ``2026-11-28T02:49:56Z``."""
    if now is not None:
        return now.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")
    return _current_second(int(time.time()))


@functools.lru_cache(maxsize=4)
def _current_second(epoch_second: int) -> str:
    """Every object created within one second shares the rendering (strftime showed in profiles)."""
    return datetime.fromtimestamp(epoch_second, UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


# RFC 3339 as upstream's metav1.Time and MicroTime accept it (Go's time.RFC3339 layout parses
# optional fractional seconds): date, "T", time, and a zone. fromisoformat alone would also take
# a bare date or a missing zone.
_RFC3339 = re.compile(r"\d{4}-\d{2}-\d{2}[Tt]\d{2}:\d{2}:\d{2}(\.\d+)?([Zz]|[+-]\d{2}:\d{2})")


def parse_time(value: object) -> datetime | None:
    """A ``metav1.Time``/``MicroTime`` value as an aware UTC datetime; None when absent or not
    RFC 3339 (digits past microseconds are dropped)."""
    if not isinstance(value, str) or not _RFC3339.fullmatch(value):
        return None
    try:
        return datetime.fromisoformat(value.upper()).astimezone(UTC)
    except ValueError:  # well-formed but impossible, e.g. month 13
        return None


# uids must be unique, not secret: a PRNG seeded once from the OS is enough, and
# os.urandom per object cost ~150 us on these VMs (the getrandom syscall is slow here).
_UID_RANDOM = random.Random(os.urandom(32))


def new_uid() -> str:
    """A fresh object uid (a random RFC 4122 version-4 UUID, as upstream's ``uuid.NewUUID``)."""
    return str(uuid.UUID(int=_UID_RANDOM.getrandbits(128), version=4))
