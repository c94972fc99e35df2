"""The ``--leader-elect-*`` timing flags, shared by every leader-elected process.

Upstream's component-base binds the same leader-election flags into kube-controller-manager and
kube-scheduler (lease duration 15 s, renew deadline 10 s, retry period 2 s, each a Go duration);
here `add_timing_flags` does so for ``python -m controllers`` and ``python -m scheduler``, and
`election_config` turns the parsed values into a `LeaderElectionConfig` (durations in Go's syntax,
`apis.flags`). A shorter lease makes a standby take over sooner after a leader dies (fail-over
happens about one lease duration after its last renewal) at the price of more Lease writes and less
patience with a slow API server.
"""

from __future__ import annotations

import argparse

from apis.flags import duration as duration_flag
from client.leaderelection import LeaderElectionConfig


def add_timing_flags(group: argparse._ActionsContainer) -> None:
    for flag, default, meaning in (
            ("lease-duration", 15.0, "how long a standby waits after the leader's last renewal"),
            ("renew-deadline", 10.0, "how long a leader keeps trying to renew before it exits"),
            ("retry-period", 2.0, "between attempts to acquire or renew")):
        group.add_argument(f"--leader-elect-{flag}", type=duration_flag, default=default, metavar="DURATION",
                           help=f"{meaning} (default {default:g}s)")


def election_config(args: argparse.Namespace, *, lease_name: str,
                    namespace: str = "kube-system") -> LeaderElectionConfig:
    """The election on Lease ``namespace/lease_name`` with the timings ``args`` carry."""
    return LeaderElectionConfig(lease_name=lease_name, namespace=namespace,
                                lease_duration_s=args.leader_elect_lease_duration,
                                renew_deadline_s=args.leader_elect_renew_deadline,
                                retry_period_s=args.leader_elect_retry_period)
