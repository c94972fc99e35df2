"""Priority levels and flow schemas: who gets which share of the server, upstream's defaults.

API Priority and Fairness (k8s.io/apiserver/pkg/apis/flowcontrol/bootstrap/default.go) sorts every
request into a *flow schema* (first match by precedence), which names a *priority level* and how
to tell flows apart (by user or by namespace). Each limited priority level gets a share of the
server's concurrency (``--max-requests-inflight`` + ``--max-mutating-requests-inflight`` seats,
split by ``nominalConcurrencyShares``) and its own queues, so a flood at one level cannot take the
seats of another: system components (nodes, controller manager, scheduler, their leader election)
keep working while tenants queue at ``global-default``.

We keep upstream's mandatory and suggested objects as a fixed table (there is no
``flowcontrol.apiserver.k8s.io`` API here yet), with two Arktos rules:
- an identity counts as a system component only in tenant ``system``: a tenant user named
  ``system:kube-scheduler`` or carrying ``O=system:masters`` is an ordinary tenant user here;
- a tenant user's flow is its tenant (all users and service accounts of one tenant share one
  flow per priority level), so fairness is between tenants, as hard multi-tenancy promises;
  identities of tenant ``system`` are told apart by user (or namespace) as upstream does.
"""

from __future__ import annotations

import math
import uuid
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from typing import Literal

from server.auth.user import ALL_AUTHENTICATED, ALL_UNAUTHENTICATED, NODES, SERVICE_ACCOUNTS, SYSTEM_MASTERS

_UID_NAMESPACE = uuid.UUID("3f1c3c1e-8f5e-4c55-9a43-0b7d1c2a6e01")

Distinguisher = Literal["ByUser", "ByNamespace", ""]


@dataclass(frozen=True, slots=True)
class PriorityLevel:
    """A PriorityLevelConfiguration: ``queues`` 0 on a limited level means reject when full."""

    name: str
    shares: int = 0  # nominalConcurrencyShares
    queues: int = 0
    hand_size: int = 0
    queue_length_limit: int = 0
    exempt: bool = False
    # Stable per name: upstream sends object UIDs in X-Kubernetes-PF-* headers, never names.
    uid: str = field(init=False, compare=False)

    def __post_init__(self) -> None:
        object.__setattr__(self, "uid", _uid("prioritylevel", self.name))


@dataclass(frozen=True, slots=True)
class FlowSchema:
    """A FlowSchema reduced to what its default objects use.

    Subjects: ``users`` or ``groups`` (both empty: everyone). Requests: resource requests whose
    verb is in ``verbs`` and ``group/resource`` in ``resources`` (empty: all), and non-resource
    requests under one of ``paths`` (empty: all); ``resource_requests``/``non_resource_requests``
    switch either kind off.
    """

    name: str
    priority_level: str
    precedence: int
    distinguisher: Distinguisher = "ByUser"
    users: frozenset[str] = frozenset()
    groups: frozenset[str] = frozenset()
    verbs: frozenset[str] = frozenset()
    resources: frozenset[str] = frozenset()
    paths: tuple[str, ...] = ()
    resource_requests: bool = True
    non_resource_requests: bool = True
    system_only: bool = True  # subjects count only for identities of tenant ``system``
    uid: str = field(init=False, compare=False)

    def __post_init__(self) -> None:
        object.__setattr__(self, "uid", _uid("flowschema", self.name))


def _uid(kind: str, name: str) -> str:
    return str(uuid.uuid5(_UID_NAMESPACE, f"{kind}/{name}"))


EXEMPT = "exempt"
KUBE_CONTROLLER_MANAGER = "system:kube-controller-manager"
KUBE_SCHEDULER = "system:kube-scheduler"
KUBE_SYSTEM_SERVICE_ACCOUNTS = f"{SERVICE_ACCOUNTS}:kube-system"

PRIORITY_LEVELS: tuple[PriorityLevel, ...] = (
    PriorityLevel(EXEMPT, exempt=True),
    PriorityLevel("system", 30, queues=64, hand_size=6, queue_length_limit=50),
    PriorityLevel("node-high", 40, queues=64, hand_size=6, queue_length_limit=50),
    PriorityLevel("leader-election", 10, queues=16, hand_size=4, queue_length_limit=50),
    PriorityLevel("workload-high", 40, queues=128, hand_size=6, queue_length_limit=50),
    PriorityLevel("workload-low", 100, queues=128, hand_size=6, queue_length_limit=50),
    PriorityLevel("global-default", 20, queues=128, hand_size=6, queue_length_limit=50),
    PriorityLevel("catch-all", 5),  # upstream: limitResponse Reject
)

_LEASES = frozenset({"coordination.k8s.io/leases"})
_HEALTH = ("/healthz", "/livez", "/readyz")

FLOW_SCHEMAS: tuple[FlowSchema, ...] = (
    FlowSchema(EXEMPT, EXEMPT, 1, "", groups=frozenset({SYSTEM_MASTERS})),
    FlowSchema("probes", EXEMPT, 2, "", verbs=frozenset({"get"}), paths=_HEALTH, resource_requests=False,
               system_only=False),
    FlowSchema("system-leader-election", "leader-election", 100,
               users=frozenset({KUBE_CONTROLLER_MANAGER, KUBE_SCHEDULER}),
               groups=frozenset({KUBE_SYSTEM_SERVICE_ACCOUNTS}), verbs=frozenset({"get", "create", "update"}),
               resources=_LEASES, non_resource_requests=False),
    FlowSchema("system-node-high", "node-high", 400, groups=frozenset({NODES}),
               resources=frozenset({"/nodes", *_LEASES}), non_resource_requests=False),
    FlowSchema("system-nodes", "system", 500, groups=frozenset({NODES})),
    FlowSchema("kube-controller-manager", "workload-high", 800, "ByNamespace",
               users=frozenset({KUBE_CONTROLLER_MANAGER})),
    FlowSchema("kube-scheduler", "workload-high", 800, "ByNamespace", users=frozenset({KUBE_SCHEDULER})),
    FlowSchema("kube-system-service-accounts", "workload-high", 900, "ByNamespace",
               groups=frozenset({KUBE_SYSTEM_SERVICE_ACCOUNTS})),
    FlowSchema("service-accounts", "workload-low", 9000, groups=frozenset({SERVICE_ACCOUNTS}),
               system_only=False),
    FlowSchema("global-default", "global-default", 9900,
               groups=frozenset({ALL_AUTHENTICATED, ALL_UNAUTHENTICATED}), system_only=False),
    FlowSchema("catch-all", "catch-all", 10000, system_only=False),
)


def nominal_limits(levels: Iterable[PriorityLevel], server_limit: int) -> Mapping[str, int]:
    """Seats of each limited level: ceil(server limit * shares / all shares), at least one
    (upstream's NominalConcurrencyLimit; borrowing between levels is not done here)."""
    limited = [level for level in levels if not level.exempt]
    total = sum(level.shares for level in limited) or 1
    return {level.name: max(1, math.ceil(server_limit * level.shares / total)) for level in limited}
