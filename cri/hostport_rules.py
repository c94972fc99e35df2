"""Removes the hostPort NAT rules the CNI ``portmap`` plugin left for one pod subnet.

Why this exists: ``portmap`` adds a ``CNI-DN-<hash>`` chain per sandbox with hostPorts and removes it
on the sandbox's CNI DEL. When a node is stopped the hard way — containerd and its shims killed,
as ``hack/arktos-up.sh`` and the tests do on shutdown — no DEL runs, and the stale DNAT rule would
send the next run's traffic for that host port to an address that no longer exists. Our subnets
are private to one containerd instance, so every ``CNI-DN-*`` chain matching ``-s <subnet>`` is
ours to delete, together with the jump to it from ``CNI-HOSTPORT-DNAT``.

    python -m cri.hostport_rules 10.88.0.0/16
"""

from __future__ import annotations

import shlex
import shutil
import subprocess
import sys

_DNAT_CHAIN = "CNI-HOSTPORT-DNAT"


def _iptables(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(["iptables", "-w", "-t", "nat", *args], capture_output=True, text=True, check=False)


def chains_for_subnet(rules: list[str], subnet: str) -> set[str]:
    """The portmap chains (``CNI-DN-*``) whose rules name ``subnet`` as their source."""
    found = set()
    for rule in rules:
        words = rule.split()
        if len(words) > 3 and words[0] == "-A" and words[1].startswith("CNI-DN-") and \
                f"-s {subnet}" in rule:
            found.add(words[1])
    return found


def remove_for_subnet(subnet: str) -> list[str]:
    """Deletes the subnet's chains and the jumps to them; answers the chains removed."""
    if shutil.which("iptables") is None:
        return []
    listed = _iptables("-S")
    if listed.returncode != 0:
        return []
    rules = listed.stdout.splitlines()
    chains = chains_for_subnet(rules, subnet)
    for rule in rules:
        words = shlex.split(rule)  # comments are quoted, with escaped quotes inside
        if words[:2] == ["-A", _DNAT_CHAIN] and "-j" in words and words[words.index("-j") + 1] in chains:
            _iptables("-D", *words[1:])
    for chain in sorted(chains):
        _iptables("-F", chain)
        _iptables("-X", chain)
    return sorted(chains)


def main(argv: list[str]) -> int:
    if len(argv) != 1:
        print("usage: python -m cri.hostport_rules POD_SUBNET", file=sys.stderr)
        return 2
    for chain in remove_for_subnet(argv[0]):
        print(f"removed stale hostPort chain {chain}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main(sys.argv[1:]))
