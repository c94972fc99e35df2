"""A tenant partition's view of the resource partitions' nodes: where a pod's kubelet is.

In a scale-out cluster (docs/design/partition-server.md) a tenant partition (TP) holds pods but no
nodes; a pod's ``spec.nodeName`` names a Node kept by one of the resource partitions (RPs). Arktos's
TP API server looked the node up only in its own store, so ``kubectl logs/exec/port-forward`` through
a TP could not reach any kubelet (Arktos issue 1155). With ``--resource-providers
rp0.kubeconfig,...`` this server asks the RPs instead: ``GET /api/v1/nodes/{name}`` on every RP at
once, the first that has it wins, and the node is remembered for a short while (the only fields
read are its addresses and kubelet port, which change rarely; a stale entry costs at most one
failed connection until it expires). Nothing is watched: streams are rare next to the node
heartbeats a watch of every node would carry into each TP.

A node in no RP answers what a missing node answers on one server (404 ``nodes "n" not found``);
when some RP could not be asked and none has it, 503 says so, rather than a 404 that may be wrong.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any
from urllib.parse import quote

import aiohttp
import orjson

from apis.kubeconfig import ClientConfig
from server.errors import NotFound, ServiceUnavailable

log = logging.getLogger(__name__)

NODE_TTL_SECONDS = 10.0
REQUEST_TIMEOUT_SECONDS = 5.0
_MAX_CACHED = 65_536


@dataclass(frozen=True, slots=True)
class _Partition:
    name: str  # the kubeconfig it came from, for messages
    config: ClientConfig


@dataclass(frozen=True, slots=True)
class _Remembered:
    node: Mapping[str, Any]
    until: float


class ResourceProviderNodes:
    """Nodes by name from the resource partitions, cached for ``ttl`` seconds."""

    def __init__(self, partitions: Sequence[tuple[str, ClientConfig]], *, ttl: float = NODE_TTL_SECONDS,
                 timeout: float = REQUEST_TIMEOUT_SECONDS) -> None:
        self._partitions = [_Partition(name, config) for name, config in partitions]
        self._ttl = ttl
        self._timeout = timeout
        self._nodes: dict[str, _Remembered] = {}
        self._sessions: list[aiohttp.ClientSession] = []

    async def close(self) -> None:
        sessions, self._sessions = self._sessions, []
        for session in sessions:
            await session.close()

    def _session_list(self) -> list[aiohttp.ClientSession]:
        # Made on first use, inside the running loop (aiohttp sessions belong to one loop).
        if not self._sessions:
            self._sessions = [aiohttp.ClientSession(
                connector=aiohttp.TCPConnector(ssl=p.config.ssl_context() or False, limit=8),
                headers=p.config.auth_headers(),
                timeout=aiohttp.ClientTimeout(total=self._timeout)) for p in self._partitions]
        return self._sessions

    async def node(self, name: str) -> Mapping[str, Any]:
        """Node ``name`` as one of the RPs holds it; NotFound in none; 503 when unsure."""
        now = time.monotonic()
        remembered = self._nodes.get(name)
        if remembered is not None and remembered.until > now:
            return remembered.node
        answers = await asyncio.gather(*(self._get(p, s, name) for p, s in
                                         zip(self._partitions, self._session_list(), strict=True)))
        found = next((a for a in answers if isinstance(a, dict)), None)
        if found is None:
            failures = [a for a in answers if isinstance(a, str)]
            if failures:
                raise ServiceUnavailable(
                    f'node "{name}" is in no reachable resource partition: {"; ".join(failures)}')
            self._nodes.pop(name, None)
            raise NotFound.object("nodes", name)
        if len(self._nodes) >= _MAX_CACHED:
            self._nodes = {k: v for k, v in self._nodes.items() if v.until > now}
        self._nodes[name] = _Remembered(found, now + self._ttl)
        return found

    async def _get(self, partition: _Partition, session: aiohttp.ClientSession,
                   name: str) -> dict[str, Any] | str | None:
        """The node (a dict), None when this RP has none, or why the RP could not answer (a str)."""
        url = f"{partition.config.server}/api/v1/nodes/{quote(name, safe='')}"
        try:
            async with session.get(url, headers={"Accept": "application/json"}) as response:
                body = await response.read()
                if response.status == 404:
                    return None
                if response.status != 200:
                    log.info("resource partition %s answered %s for node %s", partition.name,
                             response.status, name)
                    return f"{partition.name}: HTTP {response.status}"
                node = orjson.loads(body)
        except (aiohttp.ClientError, TimeoutError, orjson.JSONDecodeError) as e:
            log.info("resource partition %s unreachable for node %s: %r", partition.name, name, e)
            return f"{partition.name}: {type(e).__name__}"
        return node if isinstance(node, dict) else f"{partition.name}: not a Node"
