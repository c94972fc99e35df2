"""The ``--leader-elect-*`` timing flags, shared by every leader-elected process.

Upstream's component-base binds the same leader-election flags into kube-controller-manager and
kube-scheduler (lease duration 15 s, renew deadline 10 s, retry period 2 s, each a Go duration);
here `add_timing_flags` does so for ``python -m controllers`` and ``python -m scheduler``, and
`election_config` turns the parsed values into a `LeaderElectionConfig`. A shorter lease makes a
standby take over sooner after a leader dies (fail-over happens about one lease duration after its
last renewal) at the price of more Lease writes and less patience with a slow API server.
"""

from __future__ import annotations

import argparse

from client.leaderelection import LeaderElectionConfig

_UNITS = {"ms": 0.001, "s": 1.0, "m": 60.0, "h": 3600.0}


def duration(text: str) -> float:
    """A Go-style duration (``15s``, ``500ms``, ``1m``) or plain seconds, in seconds."""
    for suffix in ("ms", "s", "m", "h"):
        if text.endswith(suffix):
            try:
                return float(text[: -len(suffix)]) * _UNITS[suffix]
            except ValueError:
                break
    try:
        return float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"not a duration: {text!r}") from None


def add_timing_flags(group: argparse._ActionsContainer) -> None:
    group.add_argument("--leader-elect-lease-duration", type=duration, default=15.0, metavar="DURATION",
                       help="how long a standby waits after the leader's last renewal (default 15s)")
    group.add_argument("--leader-elect-renew-deadline", type=duration, default=10.0, metavar="DURATION",
                       help="how long a leader keeps trying to renew before it exits (default 10s)")
    group.add_argument("--leader-elect-retry-period", type=duration, default=2.0, metavar="DURATION",
                       help="between attempts to acquire or renew (default 2s)")


def election_config(args: argparse.Namespace, *, lease_name: str,
                    namespace: str = "kube-system") -> LeaderElectionConfig:
    """The election on Lease ``namespace/lease_name`` with the timings ``args`` carry."""
    return LeaderElectionConfig(lease_name=lease_name, namespace=namespace,
                                lease_duration_s=args.leader_elect_lease_duration,
                                renew_deadline_s=args.leader_elect_renew_deadline,
                                retry_period_s=args.leader_elect_retry_period)
