"""The node's heartbeat: its Lease in ``kube-node-lease`` (tenant system), renewed every 10 s.

Upstream's node lease controller (``pkg/kubelet/nodelease``): create the Lease named after the
node with ``holderIdentity`` = node name and ``leaseDurationSeconds`` 40, then every renew
interval PUT it back with a fresh ``renewTime`` (MicroTime), starting from the object the last
write returned so one renewal costs one request; a conflict re-reads it. The node lifecycle
controller marks a node Unknown when this stops. The Lease is owned by the Node so it goes with it.
"""

from __future__ import annotations

import asyncio
import logging
from datetime import UTC, datetime
from typing import Any

from client.errors import AlreadyExists, ApiError, Conflict, NotFound
from client.leaderelection import LEASES, micro_time
from client.rest import ApiClient

log = logging.getLogger(__name__)

NODE_LEASE_NAMESPACE = "kube-node-lease"
LEASE_TENANT = "system"


class NodeLease:
    def __init__(self, client: ApiClient, node_name: str, *, duration_s: int = 40,
                 renew_interval_s: float = 10.0) -> None:
        self.client = client
        self.node_name = node_name
        self.duration_s = duration_s
        self.renew_interval_s = renew_interval_s
        self.renewals = 0
        self.node_uid = ""
        self._lease: dict[str, Any] | None = None

    async def run(self, *, first_delay_s: float = 0.0) -> None:
        """Renews until cancelled; ``first_delay_s`` staggers many nodes of one process."""
        await asyncio.sleep(first_delay_s)
        while True:
            try:
                await self.renew()
            except ApiError as e:
                log.warning("node %s: cannot renew lease: %s", self.node_name, e)
                self._lease = None
            await asyncio.sleep(self.renew_interval_s)

    async def renew(self) -> None:
        now = micro_time(datetime.now(UTC))
        if self._lease is None:
            self._lease = await self._get_or_create(now)
            if self._lease.get("spec", {}).get("renewTime") == now:
                self.renewals += 1
                return
        lease = self._lease
        lease["spec"] = {**(lease.get("spec") or {}), "holderIdentity": self.node_name,
                         "leaseDurationSeconds": self.duration_s, "renewTime": now}
        try:
            self._lease = await self.client.update(LEASES, lease, tenant=LEASE_TENANT,
                                                   namespace=NODE_LEASE_NAMESPACE)
        except (Conflict, NotFound):
            self._lease = None
            raise
        self.renewals += 1

    async def _get_or_create(self, now: str) -> dict[str, Any]:
        metadata: dict[str, Any] = {"name": self.node_name, "namespace": NODE_LEASE_NAMESPACE}
        if self.node_uid:
            metadata["ownerReferences"] = [{"apiVersion": "v1", "kind": "Node", "name": self.node_name,
                                            "uid": self.node_uid}]
        body = {"apiVersion": "coordination.k8s.io/v1", "kind": "Lease", "metadata": metadata,
                "spec": {"holderIdentity": self.node_name, "leaseDurationSeconds": self.duration_s,
                         "renewTime": now}}
        try:
            created: dict[str, Any] = await self.client.create(LEASES, body, tenant=LEASE_TENANT,
                                                              namespace=NODE_LEASE_NAMESPACE)
            return created
        except AlreadyExists:
            existing: dict[str, Any] = await self.client.get(LEASES, self.node_name, tenant=LEASE_TENANT,
                                                             namespace=NODE_LEASE_NAMESPACE)
            return existing
