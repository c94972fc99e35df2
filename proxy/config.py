"""kube-proxy's command line, upstream's flag names (ISSUE14 contract).

    python -m proxy --kubeconfig K --hostname-override NODE --cluster-cidr POD_CIDR
        [--iptables-chain-prefix KUBE] [--sync-period 30s] [--min-sync-period 1s]
        [--healthz-bind-address ADDR:PORT] [--iptables-masquerade-bit 14] [--network-isolation=true]
        [--cleanup]

``--iptables-chain-prefix`` is ours (upstream hard-codes ``KUBE``): it lets several clusters share
one host's tables. ``--cleanup`` removes the prefix's rules and exits, as upstream's.
``--network-isolation`` (ours, issue 15; default true) refuses pod-to-pod connections across
(tenant, network) pairs (``proxy.isolation``); ``false`` leaves today's flat pod network.
"""

from __future__ import annotations

import argparse
import ipaddress
import socket
from dataclasses import dataclass

from apis.flags import duration as duration_flag
from proxy.chains import ChainNames, ChainPrefixError


@dataclass(frozen=True, slots=True)
class ProxyConfig:
    kubeconfig: str | None
    master: str | None
    hostname: str
    cluster_cidr: str
    chains: ChainNames
    sync_period_s: float = 30.0
    min_sync_period_s: float = 1.0
    healthz_bind_address: str = ""
    masquerade_bit: int = 14
    network_isolation: bool = True
    cleanup: bool = False
    log_level: str = "info"


def _cidr(text: str) -> str:
    if not text:
        return ""
    try:
        return str(ipaddress.IPv4Network(text, strict=False))
    except ValueError as e:
        raise argparse.ArgumentTypeError(f"not an IPv4 CIDR: {text!r}") from e


def _bool(text: str) -> bool:
    """A Go-style boolean flag value (``--flag=false``)."""
    value = text.strip().lower()
    if value in ("1", "t", "true"):
        return True
    if value in ("0", "f", "false"):
        return False
    raise argparse.ArgumentTypeError(f"not a boolean: {text!r}")


def _prefix(text: str) -> ChainNames:
    try:
        return ChainNames(text)
    except ChainPrefixError as e:
        raise argparse.ArgumentTypeError(str(e)) from e


def _bind_address(text: str) -> str:
    _, sep, port = text.rpartition(":")
    if text and (not sep or not port.isdigit()):
        raise argparse.ArgumentTypeError(f"not ADDRESS:PORT: {text!r}")
    return text


def parse_args(argv: list[str] | None = None) -> ProxyConfig:
    parser = argparse.ArgumentParser(prog="python -m proxy", description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--kubeconfig", help="kubeconfig of the system:kube-proxy identity")
    parser.add_argument("--master", help="API server URL (without a kubeconfig: no credentials)")
    parser.add_argument("--hostname-override", default=socket.gethostname(), help="this node's name")
    parser.add_argument("--cluster-cidr", type=_cidr, default="",
                        help="pod CIDR: traffic to a clusterIP from outside it is masqueraded")
    parser.add_argument("--iptables-chain-prefix", type=_prefix, default=ChainNames("KUBE"),
                        help="prefix of every chain (default KUBE; at most 7 characters)")
    parser.add_argument("--sync-period", type=duration_flag, default=30.0, help="full resync interval")
    parser.add_argument("--min-sync-period", type=duration_flag, default=1.0,
                        help="shortest time between syncs (changes within it are batched)")
    parser.add_argument("--healthz-bind-address", type=_bind_address, default="",
                        help="ADDRESS:PORT of /healthz (upstream 0.0.0.0:10256); empty: none")
    parser.add_argument("--iptables-masquerade-bit", type=int, default=14, choices=range(32),
                        metavar="0-31", help="fwmark bit of packets to masquerade")
    parser.add_argument("--network-isolation", type=_bool, nargs="?", const=True, default=True,
                        metavar="true|false",
                        help="refuse pod-to-pod connections across tenants' networks (default true)")
    parser.add_argument("--cleanup", action="store_true", help="remove this prefix's rules and exit")
    parser.add_argument("--v", "--log-level", dest="log_level", default="info")
    args = parser.parse_args(argv)
    if not args.cleanup and not (args.kubeconfig or args.master):
        parser.error("--kubeconfig or --master is required")
    level = args.log_level
    if level.isdigit():  # klog's --v=N
        level = "debug" if int(level) >= 4 else "info"
    return ProxyConfig(kubeconfig=args.kubeconfig, master=args.master, hostname=args.hostname_override,
                       cluster_cidr=args.cluster_cidr, chains=args.iptables_chain_prefix,
                       sync_period_s=args.sync_period, min_sync_period_s=args.min_sync_period,
                       healthz_bind_address=args.healthz_bind_address,
                       masquerade_bit=args.iptables_masquerade_bit,
                       network_isolation=args.network_isolation, cleanup=args.cleanup, log_level=level)
