"""cri.hostport_rules: which portmap chains belong to one pod subnet (parsing `iptables -t nat -S`).

Covers the selection of ``CNI-DN-*`` chains by their ``-s <subnet>`` rules, leaving other subnets'
chains alone. Leaves out running iptables itself (test_arktos_up_workloads.py reaches a hostPort,
and arktos-up's shutdown removes the chain).
"""

from __future__ import annotations

from cri.hostport_rules import chains_for_subnet

RULES = [
    "-N CNI-DN-aaa",
    "-N CNI-DN-bbb",
    "-A CNI-DN-aaa -s 10.91.0.0/16 -p tcp -m tcp --dport 18089 -j CNI-HOSTPORT-SETMARK",
    "-A CNI-DN-aaa -p tcp -m tcp --dport 18089 -j DNAT --to-destination 10.91.0.8:8080",
    "-A CNI-DN-bbb -s 10.88.0.0/16 -p tcp -m tcp --dport 80 -j CNI-HOSTPORT-SETMARK",
    '-A CNI-HOSTPORT-DNAT -p tcp -m comment --comment "dnat name: \\"arktos-pods\\" id: \\"x\\"" '
    "-m multiport --dports 18089 -j CNI-DN-aaa",
]


def test_only_the_subnets_own_chains_are_chosen() -> None:
    assert chains_for_subnet(RULES, "10.91.0.0/16") == {"CNI-DN-aaa"}
    assert chains_for_subnet(RULES, "10.88.0.0/16") == {"CNI-DN-bbb"}
    assert chains_for_subnet(RULES, "10.1.0.0/16") == set()
