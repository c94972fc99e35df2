"""A VM sandbox's place on the pod network: a network namespace, CNI ADD/DEL, and the guest's tap.

Per sandbox (when the runtime has a CNI conf dir and the pod is not hostNetwork):

1. ``ip netns add avm-<root digest>-<sandbox id>`` (the name carries the runtime root's digest, so
   runtimes of several clusters on one host only ever touch their own, and the full sandbox id, which
   is the CNI container id, so an orphan can be DELeted from its name alone);
2. CNI ADD in it (`vmruntime.cni`): eth0 on the node's bridge with a pod IP from host-local;
3. ``tap0`` in the namespace and a tc ``mirred`` redirect each way between eth0 and tap0 (ingress
   qdisc + match-all u32 filter), as Kata Containers' "tcfilter" model does. The guest's NIC gets
   eth0's MAC, so the bridge, the neighbours and the IP all see one endpoint: nothing in the namespace
   bridges, routes or answers ARP, eth0 keeps its address only for the record.
   Why not a bridge in the namespace: it would have to take eth0's address off (or answer ARP for it
   twice) and adds a second MAC on the pod network; the redirect is two filters and no addresses.

qemu runs inside the namespace (``nsenter --net=``) and opens tap0 itself. Teardown is CNI DEL (the
IP goes back to host-local) then ``ip netns del`` (the tap and the veth go with it).
"""

from __future__ import annotations

import asyncio
import hashlib
import logging
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from vmruntime.cni import POD_IFNAME, CniError, CniNetwork, PodAddress, pod_address

log = logging.getLogger(__name__)

NETNS_DIR = Path("/run/netns")
TAP = "tap0"
COMMAND_TIMEOUT_S = 15.0


class NetworkSetupError(RuntimeError):
    """The namespace, the CNI ADD or the tap could not be set up (the message says which step)."""


@dataclass(frozen=True, slots=True)
class SandboxNetwork:
    """What a sandbox record keeps of its network."""

    netns: str  # name under /run/netns
    address: PodAddress
    cni_result: dict[str, Any]


def netns_prefix(root: Path) -> str:
    return "avm-" + hashlib.sha256(str(root.resolve()).encode()).hexdigest()[:10] + "-"


def netns_path(name: str) -> str:
    return str(NETNS_DIR / name)


def tap_commands(netns: str, mtu: int) -> list[list[str]]:
    """tap0 up in ``netns`` and the two redirects between it and eth0."""
    redirect = ["protocol", "all", "u32", "match", "u8", "0", "0", "action", "mirred", "egress", "redirect",
                "dev"]
    return [
        ["ip", "-n", netns, "tuntap", "add", TAP, "mode", "tap"],
        ["ip", "-n", netns, "link", "set", TAP, "mtu", str(mtu), "up"],
        ["tc", "-n", netns, "qdisc", "add", "dev", POD_IFNAME, "ingress"],
        ["tc", "-n", netns, "filter", "add", "dev", POD_IFNAME, "parent", "ffff:", *redirect, TAP],
        ["tc", "-n", netns, "qdisc", "add", "dev", TAP, "ingress"],
        ["tc", "-n", netns, "filter", "add", "dev", TAP, "parent", "ffff:", *redirect, POD_IFNAME],
    ]


async def _run(command: list[str]) -> str:
    process = await asyncio.create_subprocess_exec(*command, stdout=asyncio.subprocess.PIPE,
                                                   stderr=asyncio.subprocess.PIPE)
    try:
        stdout, stderr = await asyncio.wait_for(process.communicate(), COMMAND_TIMEOUT_S)
    except TimeoutError:
        process.kill()
        await process.wait()
        raise NetworkSetupError(f"{' '.join(command)} timed out") from None
    if process.returncode != 0:
        raise NetworkSetupError(f"{' '.join(command)}: {stderr.decode(errors='replace').strip()}")
    return stdout.decode(errors="replace")


async def _mtu(netns: str) -> int:
    out = await _run(["ip", "-n", netns, "-o", "link", "show", POD_IFNAME])
    words = out.split()
    return int(words[words.index("mtu") + 1]) if "mtu" in words else 1500


class PodNetworks:
    """Sets up and tears down the networks of one runtime's sandboxes."""

    def __init__(self, cni: CniNetwork, root: Path) -> None:
        self.cni = cni
        self.prefix = netns_prefix(root)

    def netns_name(self, sandbox_id: str) -> str:
        return self.prefix + sandbox_id

    def ready(self) -> str:
        """"" when a network configuration is there, else why not (the NetworkReady condition)."""
        try:
            self.cni.network()
        except CniError as e:
            return str(e)
        return ""

    async def setup(self, sandbox_id: str, args: Mapping[str, str]) -> SandboxNetwork:
        name = self.netns_name(sandbox_id)
        await _run(["ip", "netns", "add", name])
        result: dict[str, Any] | None = None
        try:
            await _run(["ip", "-n", name, "link", "set", "lo", "up"])
            result = await self.cni.add(sandbox_id, netns_path(name), args)
            address = pod_address(result, netns_path(name))
            if not address.mac:
                out = await _run(["ip", "-n", name, "-o", "link", "show", POD_IFNAME])
                words = out.split()
                address = PodAddress(address.ip, address.prefix_length, address.gateway,
                                     words[words.index("link/ether") + 1])
            for command in tap_commands(name, await _mtu(name)):
                await _run(command)
        except (CniError, NetworkSetupError, ValueError) as e:
            await self.teardown(sandbox_id, name, result, args)
            raise NetworkSetupError(f"pod network for sandbox {sandbox_id}: {e}") from e
        return SandboxNetwork(netns=name, address=address, cni_result=result)

    async def teardown(self, sandbox_id: str, netns: str, cni_result: Mapping[str, Any] | None,
                       args: Mapping[str, str]) -> None:
        """CNI DEL (releasing the IP), then the namespace; each step idempotent. A failed DEL is
        raised after the namespace is gone (host-local still holds the IP: the caller retries)."""
        failure: CniError | None = None
        try:
            await self.cni.delete(sandbox_id, netns_path(netns), args, prev_result=cni_result)
        except CniError as e:
            failure = e
        if (NETNS_DIR / netns).exists():
            await _run(["ip", "netns", "del", netns])
        if failure is not None:
            raise NetworkSetupError(f"CNI DEL for sandbox {sandbox_id}: {failure}") from failure

    def namespaces(self) -> list[str]:
        """This runtime's namespaces now present on the host."""
        if not NETNS_DIR.is_dir():
            return []
        return sorted(p.name for p in NETNS_DIR.iterdir() if p.name.startswith(self.prefix))

    async def remove_orphans(self, known_sandboxes: set[str]) -> list[str]:
        """Tear down every namespace of ours whose sandbox no record owns (a crash between setup and
        saving the record, a record deleted by hand); returns their names."""
        removed = []
        for name in self.namespaces():
            sandbox_id = name.removeprefix(self.prefix)
            if sandbox_id in known_sandboxes:
                continue
            try:
                await self.teardown(sandbox_id, name, None, {})
            except NetworkSetupError as e:
                log.warning("orphaned pod network %s: %s", name, e)
            removed.append(name)
        return removed
