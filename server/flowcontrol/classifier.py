"""Which flow a request belongs to, and which requests flow control leaves alone.

Upstream's APF filter matches the request digest (user + RequestInfo) against the flow schemas in
precedence order; the first match names the priority level, and its distinguisher method (by user
or by namespace) makes the flow. Long-running requests (watches, exec/attach/port-forward, logs,
proxies) are not limited by max-in-flight nor by the request timeout
(genericfilters.BasicLongRunningRequestCheck as kube-apiserver configures it).
"""

from __future__ import annotations

import functools
import hashlib
from collections.abc import Sequence
from dataclasses import dataclass, field

from server.auth.user import SYSTEM_TENANT, UserInfo
from server.flowcontrol.config import FlowSchema, PriorityLevel
from server.request_info import RequestInfo

_LONG_RUNNING_VERBS = frozenset({"watch", "proxy"})
_LONG_RUNNING_SUBRESOURCES = frozenset({"attach", "exec", "proxy", "log", "portforward"})
_READ_ONLY_VERBS = frozenset({"get", "list", "watch"})


def is_long_running(info: RequestInfo) -> bool:
    return info.verb in _LONG_RUNNING_VERBS or (
        info.is_resource and info.subresource in _LONG_RUNNING_SUBRESOURCES)


def is_mutating(info: RequestInfo) -> bool:
    """Upstream's split of max-in-flight: get/list/watch are read-only, everything else mutates."""
    return info.verb not in _READ_ONLY_VERBS


@dataclass(frozen=True, slots=True)
class Classification:
    schema: FlowSchema
    level: PriorityLevel
    flow: str  # the distinguisher's value (tenant, user or namespace)
    flow_hash: int  # what shuffle sharding deals a hand from
    key: tuple[str, str] = field(init=False)  # (priority level, flow schema): metric labels
    # Upstream names the classification in every answer, by UID (never by name).
    headers: tuple[tuple[str, str], ...] = field(init=False)

    def __post_init__(self) -> None:
        object.__setattr__(self, "key", (self.level.name, self.schema.name))
        object.__setattr__(self, "headers", (("X-Kubernetes-PF-FlowSchema-UID", self.schema.uid),
                                             ("X-Kubernetes-PF-PriorityLevel-UID", self.level.uid)))


class Classifier:
    def __init__(self, schemas: Sequence[FlowSchema], levels: Sequence[PriorityLevel]) -> None:
        self._schemas = tuple(sorted(schemas, key=lambda s: (s.precedence, s.name)))
        self._levels = {level.name: level for level in levels}
        missing = {s.priority_level for s in self._schemas} - set(self._levels)
        if missing:
            raise ValueError(f"flow schemas name unknown priority levels: {sorted(missing)}")
        self._classify = functools.lru_cache(maxsize=8192)(self._classify_uncached)

    def classify(self, user: UserInfo, info: RequestInfo) -> Classification:
        # Memoised on what matching reads: clients repeat the same few shapes of request.
        path = "" if info.is_resource else info.path
        return self._classify(user, info.is_resource, info.verb, info.group, info.resource,
                              info.namespace, path)

    def _classify_uncached(self, user: UserInfo, is_resource: bool, verb: str, group: str,
                           resource: str, namespace: str, path: str) -> Classification:
        for schema in self._schemas:
            if _subject_matches(schema, user) and _request_matches(schema, is_resource, verb,
                                                                   f"{group}/{resource}", path):
                flow = _flow_of(schema, user, namespace)
                return Classification(schema, self._levels[schema.priority_level], flow,
                                      flow_hash(schema.name, flow))
        raise LookupError("no flow schema matched: the table must end with a catch-all")


def _subject_matches(schema: FlowSchema, user: UserInfo) -> bool:
    if schema.system_only and user.tenant != SYSTEM_TENANT:
        return False
    if not schema.users and not schema.groups:
        return True
    return user.name in schema.users or not schema.groups.isdisjoint(user.groups)


def _request_matches(schema: FlowSchema, is_resource: bool, verb: str, group_resource: str,
                     path: str) -> bool:
    if schema.verbs and verb not in schema.verbs:
        return False
    if is_resource:
        return schema.resource_requests and (not schema.resources or group_resource in schema.resources)
    if not schema.non_resource_requests:
        return False
    return not schema.paths or any(path == p or path.startswith(p + "/") for p in schema.paths)


def _flow_of(schema: FlowSchema, user: UserInfo, namespace: str) -> str:
    """Arktos: every identity of a tenant other than ``system`` is one flow, its tenant's."""
    if user.tenant != SYSTEM_TENANT:
        return f"tenant:{user.tenant}"
    if schema.distinguisher == "ByUser":
        return f"user:{user.name}"
    if schema.distinguisher == "ByNamespace":
        return f"namespace:{namespace}"
    return ""


def flow_hash(schema_name: str, flow: str) -> int:
    """64 bits that stay the same across restarts (Python's hash() is salted per process)."""
    digest = hashlib.blake2b(f"{schema_name}\0{flow}".encode(), digest_size=8).digest()
    return int.from_bytes(digest, "big")
