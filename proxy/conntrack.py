"""Clearing UDP conntrack entries that would keep sending datagrams to the wrong place.

UDP has no connection to reset: once conntrack has an entry for client → clusterIP, every later
datagram follows it, even after its endpoint is gone, or — when the Service had no endpoint and the
first datagram was rejected — even after endpoints appear. Upstream's proxier therefore deletes, after
each sync, the entries of UDP service ports whose endpoints went away (``conntrack -D --orig-dst
<clusterIP> --dst-nat <endpointIP> -p udp``) and of those that went from no endpoint to some
(``--orig-dst <clusterIP>``; NodePorts by ``--orig-port-dst``). Without the ``conntrack`` tool this
is skipped with one warning (TCP is unaffected: a dead endpoint's connections reset on their own).
"""

from __future__ import annotations

import asyncio
import logging
import shutil
import subprocess
from collections.abc import Mapping
from dataclasses import dataclass

from proxy.model import ServicePortName

log = logging.getLogger(__name__)


@dataclass(frozen=True, slots=True)
class UdpTarget:
    """What conntrack entries of one UDP service port are matched by."""

    cluster_ip: str
    node_port: int
    endpoint_ips: frozenset[str]


UdpState = Mapping[ServicePortName, UdpTarget]


def stale_deletions(before: UdpState, after: UdpState) -> list[tuple[str, ...]]:
    """The ``conntrack -D`` argument lists that bring conntrack in line with ``after``."""
    commands: list[tuple[str, ...]] = []
    for name, old in sorted(before.items()):
        current = after.get(name)
        kept = current.endpoint_ips if current else frozenset()
        for ip in sorted(old.endpoint_ips - kept):
            commands.append(("-p", "udp", "--orig-dst", old.cluster_ip, "--dst-nat", ip))
    for name, new in sorted(after.items()):
        previous = before.get(name)
        if new.endpoint_ips and not (previous and previous.endpoint_ips):
            commands.append(("-p", "udp", "--orig-dst", new.cluster_ip))
            if new.node_port:
                commands.append(("-p", "udp", "--orig-port-dst", str(new.node_port)))
    return commands


class Conntrack:
    """Runs ``conntrack -D`` (in ``netns`` if given); a no-op when the tool is missing."""

    def __init__(self, *, netns: str | None = None) -> None:
        self._wrapper: tuple[str, ...] = ("ip", "netns", "exec", netns) if netns else ()
        self._available = shutil.which("conntrack") is not None
        if not self._available:
            log.warning("conntrack not found: stale UDP connections to removed endpoints will not be cleared")

    async def delete(self, commands: list[tuple[str, ...]]) -> None:
        if not self._available:
            return
        for args in commands:
            process = await asyncio.create_subprocess_exec(
                *self._wrapper, "conntrack", "-D", *args,
                stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
            # Exit 1 = no entry matched, the common case.
            try:
                await asyncio.wait_for(process.wait(), 10)
            except TimeoutError:
                process.kill()
                await process.wait()
                log.warning("conntrack -D %s took over 10s; killed", " ".join(args))
