"""The audit log: one JSON line per mutating request (who, tenant, verb, path, code, annotations).

A request made through impersonation names both identities, as upstream's audit event does
(``user`` is who authenticated, ``impersonatedUser`` who the request acted as).

Upstream's audit backend writes richer events through a policy; Arktos operators mostly need to
know who changed what in which tenant. Lines are appended and flushed per request, so a crash
loses at most the request in flight.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping
from datetime import UTC, datetime
from typing import IO

import orjson

from server.auth.user import UserInfo

log = logging.getLogger(__name__)

MUTATING_VERBS = frozenset({"create", "update", "patch", "delete", "deletecollection"})


class AuditLog:
    def __init__(self, path: str) -> None:
        self._path = path
        self._file: IO[bytes] | None = None

    @property
    def active(self) -> bool:
        """Whether events are written (the dispatcher skips building them otherwise)."""
        return self._file is not None

    def open(self) -> None:
        if self._path:
            self._file = open(self._path, "ab")

    def close(self) -> None:
        if self._file is not None:
            self._file.close()
            self._file = None

    def record(self, *, user: str, tenant: str, verb: str, path: str, code: int,
               annotations: Mapping[str, str] | None = None, impersonated: UserInfo | None = None) -> None:
        """``annotations``: what admission noted (upstream's audit event annotations, e.g.
        ``pod-security.kubernetes.io/audit-violations``); ``impersonated``: who the request acted as."""
        if self._file is None or verb not in MUTATING_VERBS:
            return
        event: dict[str, object] = {
            "timestamp": datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%S.%fZ"),
            "user": user, "tenant": tenant, "verb": verb, "path": path, "code": code,
        }
        if impersonated is not None:
            event["impersonatedUser"] = _user_record(impersonated)
        if annotations:
            event["annotations"] = dict(annotations)
        line = orjson.dumps(event)
        try:
            self._file.write(line + b"\n")
            self._file.flush()
        except OSError as e:
            log.error("cannot write the audit log %s: %s", self._path, e)


def _user_record(user: UserInfo) -> dict[str, object]:
    """upstream's audit UserInfo (username, uid, groups, extra), with Arktos's tenant."""
    record: dict[str, object] = {"username": user.name, "groups": list(user.groups), "tenant": user.tenant}
    if user.uid:
        record["uid"] = user.uid
    if user.extra:
        record["extra"] = {key: list(values) for key, values in user.extra}
    return record
