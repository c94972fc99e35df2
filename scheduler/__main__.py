"""``python -m scheduler``: the scheduler process.

    python -m scheduler --kubeconfig PATH [--leader-elect true|false] [--leader-elect-lease-duration 15s]
        [--leader-elect-renew-deadline 10s] [--leader-elect-retry-period 2s] [--scoring-strategy ...]
        [--resource-providers rp0.kubeconfig,rp1.kubeconfig]

Started by ``hack/arktos-up.sh`` with the scheduler kubeconfig (``system:kube-scheduler``).
With ``--leader-elect`` (the default, as upstream) it schedules only while it holds the Lease
``kube-system/kube-scheduler`` (tenant system), so two replicas never bind the same pods; losing
the Lease exits with status 1 ("leaderelection lost"), as kube-scheduler does, and hack/arktos-up.sh's
supervisor starts it again as a candidate. SIGTERM/SIGINT stop it.

In a scale-out cluster (Arktos's flag ``--resource-providers``) ``--kubeconfig`` is the scheduler's
tenant partition (pods, namespaces, bindings, events, its Lease) and the nodes come from every
resource partition listed; empty (the default) takes the nodes from ``--kubeconfig`` as before.
"""

from __future__ import annotations

import argparse
import asyncio
import logging
import signal
import sys

from client.config import KubeconfigError, config_for_url, load_kubeconfig
from client.leaderelection import LeadershipLost, LeaseLeaderElection
from client.leaderelection_flags import add_timing_flags, election_config
from client.partitions import kubeconfig_list, open_partitions, partition_configs
from client.rest import ApiClient
from scheduler.scheduler import Scheduler
from scheduler.settings import SchedulerSettings

log = logging.getLogger("scheduler")

LEASE_NAME = "kube-scheduler"


def _flag(text: str) -> bool:
    value = text.strip().lower()
    if value not in ("true", "false", "1", "0"):
        raise argparse.ArgumentTypeError(f"expected true or false, not {text!r}")
    return value in ("true", "1")


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(prog="python -m scheduler", description="Arktos scheduler")
    source = parser.add_mutually_exclusive_group(required=True)
    source.add_argument("--kubeconfig", help="kubeconfig of the scheduler identity")
    source.add_argument("--master", help="API server URL (plain HTTP development servers)")
    parser.add_argument("--leader-elect", type=_flag, default=True, metavar="BOOL",
                        help="schedule only while holding the kube-system/kube-scheduler Lease")
    add_timing_flags(parser)
    parser.add_argument("--scoring-strategy", choices=("LeastAllocated", "MostAllocated"),
                        default="LeastAllocated")
    parser.add_argument("--percentage-of-nodes-to-score", type=int, default=0,
                        help="0 (default): upstream's adaptive percentage")
    parser.add_argument("--bind-concurrency", type=int, default=96)
    parser.add_argument("--record-scheduled-events", type=_flag, default=True, metavar="BOOL")
    parser.add_argument("--resource-providers", type=kubeconfig_list, default=[], metavar="KUBECONFIGS",
                        help="comma list of resource partitions' kubeconfigs to take nodes from "
                             "(default: the nodes of --kubeconfig)")
    parser.add_argument("--log-level", default="INFO")
    return parser.parse_args(argv)


def settings_from(args: argparse.Namespace) -> SchedulerSettings:
    return SchedulerSettings(scoring_strategy=args.scoring_strategy,
                             percentage_of_nodes_to_score=args.percentage_of_nodes_to_score,
                             bind_concurrency=args.bind_concurrency,
                             record_scheduled_events=args.record_scheduled_events)


async def run(args: argparse.Namespace) -> int:
    try:
        config = load_kubeconfig(args.kubeconfig) if args.kubeconfig else config_for_url(args.master)
        provider_configs = partition_configs(args.resource_providers)
    except KubeconfigError as e:
        log.error("%s", e)
        return 2
    async with ApiClient(config) as client, open_partitions(provider_configs) as resource_providers:
        scheduler = Scheduler(client, settings_from(args), resource_providers=resource_providers)
        task = asyncio.current_task()
        loop = asyncio.get_running_loop()
        for sig in (signal.SIGINT, signal.SIGTERM):
            loop.add_signal_handler(sig, lambda: task.cancel() if task is not None else None)
        try:
            if args.leader_elect:
                election = LeaseLeaderElection(client, election_config(args, lease_name=LEASE_NAME))
                await election.run(scheduler.run)
            else:
                await scheduler.run()
        except LeadershipLost:
            log.error("leaderelection lost")  # upstream's words; the supervisor starts us again
            return 1
        except asyncio.CancelledError:
            log.info("stopped")
    return 0


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    logging.basicConfig(level=args.log_level.upper(),
                        format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    try:
        import uvloop
    except ImportError:  # pragma: no cover - uvloop is a dependency; plain asyncio works too
        return asyncio.run(run(args))
    return uvloop.run(run(args))


if __name__ == "__main__":
    sys.exit(main())
