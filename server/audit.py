"""The audit log: one JSON line per mutating request (who, tenant, verb, path, code, annotations).

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

log = logging.getLogger(__name__)

MUTATING_VERBS = frozenset({"create", "update", "patch", "delete", "deletecollection"})


class AuditLog:
    def __init__(self, path: str) -> None:
        self._path = path
        self._file: IO[bytes] | None = None

    def open(self) -> None:
        if self._path:
            self._file = open(self._path, "ab")

    def close(self) -> None:
        if self._file is not None:
            self._file.close()
            self._file = None

    def record(self, *, user: str, tenant: str, verb: str, path: str, code: int,
               annotations: Mapping[str, str] | None = None) -> None:
        """``annotations``: what admission noted (upstream's audit event annotations, e.g.
        ``pod-security.kubernetes.io/audit-violations``)."""
        if self._file is None or verb not in MUTATING_VERBS:
            return
        event: dict[str, object] = {
            "timestamp": datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%S.%fZ"),
            "user": user, "tenant": tenant, "verb": verb, "path": path, "code": code,
        }
        if annotations:
            event["annotations"] = dict(annotations)
        line = orjson.dumps(event)
        try:
            self._file.write(line + b"\n")
            self._file.flush()
        except OSError as e:
            log.error("cannot write the audit log %s: %s", self._path, e)
