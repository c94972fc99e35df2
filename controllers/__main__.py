"""``python -m controllers``: the controller-manager process.

    python -m controllers --kubeconfig PATH [--controllers tenant,...] [--workers N]
        [--leader-elect=true|false] [--use-service-account-credentials] [--root-ca-file PATH]
        [--node-monitor-grace-period 40s] [--default-unreachable-toleration-seconds 300]
        [--tenant-server-kubeconfig tp0.kubeconfig,...] [--resource-providers rp0.kubeconfig,...]
        [--allocate-node-cidrs] [--cluster-cidr 10.244.0.0/16] [--node-cidr-mask-size 24] ...

Started by ``hack/arktos-up.sh`` with the controller kubeconfig. SIGTERM/SIGINT stop it
gracefully (reconciles in flight finish); a second signal exits at once. With leader election
(the default, as upstream's) the controllers run only while this replica holds the Lease
``kube-system/kube-controller-manager`` of tenant system; losing it exits with status 1, as
kube-controller-manager does ("leaderelection lost"), so a supervisor restarts it as a standby.
The workload controllers (`controllers.manager.REPLICATED`) do not wait for the Lease: as in
Arktos's controller framework every replica runs them on the hashKey range its ControllerInstance
records own (docs/design/replicated-controllers.md), renewed on the ``--leader-elect-*`` timings;
a lost record exits with status 1 too.
With ``--use-service-account-credentials`` (arktos-up passes it) each controller acts as its own
service account in tenant system's kube-system (`controllers.credentials`); the kubeconfig's identity
(``system:kube-controller-manager``) keeps leader election, the shared informers and the accounts'
tokens. Without it (upstream's default) every controller acts as the kubeconfig's identity.

Scale-out (Arktos's flags; both empty by default = the own partition, one cluster as before):
on a resource partition ``--tenant-server-kubeconfig`` names every tenant partition, whose pods the
node lifecycle controller marks and evicts when their node dies (e.g.
``--controllers=nodelifecycle,nodeipam,ttl``); on a tenant partition ``--resource-providers`` names
the resource partitions whose nodes pod GC checks pods against (e.g.
``--controllers=*,-daemonset,-nodelifecycle,-nodeipam,-ttl``). Those clients act as their
kubeconfigs' identities, which need the rights of the controllers using them (node-controller's on
the TPs' pods; pod-garbage-collector's list/watch of the RPs' nodes).
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import dataclasses
import logging
import signal
import sys
from collections.abc import AsyncIterator

from apis.flags import boolean as _boolean
from apis.flags import duration as duration_flag
from client.config import ClientConfig, KubeconfigError, config_for_url, load_kubeconfig
from client.controller import RuntimeSettings
from client.controller_instances import InstanceLost, InstanceTiming
from client.leaderelection import LeadershipLost, LeaseLeaderElection
from client.leaderelection_flags import add_timing_flags, election_config
from client.partitions import (
    RESOURCE_PARTITIONS,
    TENANT_PARTITIONS,
    Partition,
    kubeconfig_list,
    open_partitions,
    partition_configs,
)
from client.rest import ApiClient
from controllers.cidr_set import CIDRSetError
from controllers.credentials import ServiceAccountClients, service_account_of
from controllers.manager import AlwaysLeader, ControllerManager, LeaderElection
from controllers.nodeipam import cidr_sets
from controllers.options import ControllerOptions
from controllers.registry import load_controllers, select_controllers

log = logging.getLogger("controllers")
Sources = dict[str, list[Partition]]


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(prog="python -m controllers", description="Arktos controller manager")
    source = parser.add_mutually_exclusive_group(required=True)
    source.add_argument("--kubeconfig", help="kubeconfig of the controller-manager identity")
    source.add_argument("--master", help="API server URL (plain HTTP development servers)")
    parser.add_argument("--controllers", default="*",
                        help="comma list; '*' = all, '-name' disables one (default: all)")
    parser.add_argument("--workers", type=int, default=None, help="workers per controller")
    parser.add_argument("--log-level", default="INFO")
    parser.add_argument("--use-service-account-credentials", type=_boolean, nargs="?", const=True,
                        default=False, metavar="BOOL",
                        help="run each controller as its own service account (default false)")
    election = parser.add_argument_group("leader election (upstream's --leader-elect-* flags)")
    election.add_argument("--leader-elect", type=_boolean, nargs="?", const=True, default=True,
                          metavar="BOOL", help="run controllers only while holding the Lease (default true)")
    election.add_argument("--leader-elect-lease-name", default="kube-controller-manager")
    election.add_argument("--leader-elect-resource-namespace", default="kube-system")
    add_timing_flags(election)
    knobs = parser.add_argument_group("controller settings")
    knobs.add_argument("--root-ca-file", default=None,
                       help="CA bundle published as ConfigMap kube-root-ca.crt in every namespace "
                            "(default: the kubeconfig's certificate-authority)")
    knobs.add_argument("--node-monitor-grace-period", type=duration_flag, default=40.0, metavar="DURATION")
    knobs.add_argument("--terminated-pod-gc-threshold", type=int, default=12500)
    # Upstream sets this on kube-apiserver (the DefaultTolerationSeconds admission plugin adds the
    # toleration to every pod); here the node lifecycle controller applies it to pods without one.
    knobs.add_argument("--default-unreachable-toleration-seconds", type=int, default=300, metavar="SECONDS",
                       help="how long a pod without its own toleration stays on an unreachable node")
    ipam = parser.add_argument_group("node IPAM (upstream's flags)")
    ipam.add_argument("--allocate-node-cidrs", type=_boolean, nargs="?", const=True, default=False,
                      metavar="BOOL", help="give each node a pod CIDR out of --cluster-cidr (default false)")
    ipam.add_argument("--cluster-cidr", default="", help="CIDR range of pods (one, or IPv4,IPv6)")
    ipam.add_argument("--node-cidr-mask-size", type=int, default=None,
                      help="mask size of a node's pod CIDR (default 24 for IPv4, 64 for IPv6)")
    partitions = parser.add_argument_group("scale-out partitions (Arktos's flags)")
    partitions.add_argument("--tenant-server-kubeconfig", type=kubeconfig_list, default=[],
                            metavar="KUBECONFIGS", help="comma list: the tenant partitions whose pods "
                            "node lifecycle evicts (default: the own partition)")
    partitions.add_argument("--resource-providers", type=kubeconfig_list, default=[], metavar="KUBECONFIGS",
                            help="comma list: the resource partitions whose nodes pod GC checks "
                            "(default: the own partition)")
    return parser.parse_args(argv)


def leader_election_for(args: argparse.Namespace, client: ApiClient) -> LeaderElection:
    if not args.leader_elect:
        return AlwaysLeader()
    config = election_config(args, lease_name=args.leader_elect_lease_name,
                             namespace=args.leader_elect_resource_namespace)
    return LeaseLeaderElection(client, config)


def instance_timing(args: argparse.Namespace) -> InstanceTiming:
    """The workload controllers' instance records renew and expire on the election's timings."""
    return InstanceTiming(lease_duration_s=args.leader_elect_lease_duration,
                          renew_deadline_s=args.leader_elect_renew_deadline,
                          retry_period_s=args.leader_elect_retry_period)


@contextlib.asynccontextmanager
async def _controller_clients(args: argparse.Namespace,
                              client: ApiClient) -> AsyncIterator[ServiceAccountClients | None]:
    """The controllers' own clients with ``--use-service-account-credentials``, closed on exit."""
    if not args.use_service_account_credentials:
        yield None
        return
    accounts = ServiceAccountClients(client)
    try:
        yield accounts
    finally:
        await accounts.close()


@contextlib.asynccontextmanager
async def _other_partitions(args: argparse.Namespace, tenant_configs: list[ClientConfig],
                            resource_configs: list[ClientConfig]) -> AsyncIterator[Sources]:
    """Clients of the partitions named by the scale-out flags, closed on exit. With
    ``--use-service-account-credentials`` each controller also writes there as its own service
    account of that partition (the kubeconfig's identity only reads and mints the tokens)."""
    async with contextlib.AsyncExitStack() as stack:
        sources: dict[str, list[Partition]] = {}
        for source, configs in ((TENANT_PARTITIONS, tenant_configs), (RESOURCE_PARTITIONS, resource_configs)):
            partitions = await stack.enter_async_context(open_partitions(configs))
            if args.use_service_account_credentials:
                partitions = [_writing_as_accounts(p, stack) for p in partitions]
            sources[source] = partitions
        yield sources


def _writing_as_accounts(partition: Partition, stack: contextlib.AsyncExitStack) -> Partition:
    accounts = ServiceAccountClients(partition.client)
    stack.push_async_callback(accounts.close)
    return dataclasses.replace(partition, writer_for=accounts.client_for)


def controller_options_from(args: argparse.Namespace, config: ClientConfig) -> ControllerOptions:
    return ControllerOptions(root_ca_file=args.root_ca_file, kubeconfig_ca_file=config.ca_file,
                             kubeconfig_ca_data=config.ca_data,
                             node_monitor_grace_period_s=args.node_monitor_grace_period,
                             terminated_pod_gc_threshold=args.terminated_pod_gc_threshold,
                             default_toleration_seconds=args.default_unreachable_toleration_seconds,
                             allocate_node_cidrs=args.allocate_node_cidrs, cluster_cidr=args.cluster_cidr,
                             node_cidr_mask_size=args.node_cidr_mask_size)


async def run(args: argparse.Namespace) -> int:
    registry = load_controllers()
    try:
        classes = select_controllers(args.controllers, registry)
        if args.use_service_account_credentials:
            for cls in classes:
                service_account_of(cls)  # every selected controller must have its account
        config = load_kubeconfig(args.kubeconfig) if args.kubeconfig else config_for_url(args.master)
        options = controller_options_from(args, config)
        if options.allocate_node_cidrs and "nodeipam" in (c.name for c in classes):
            cidr_sets(options)  # a bad --cluster-cidr is a start-up error, as upstream's
        tenant_configs = partition_configs(args.tenant_server_kubeconfig)
        resource_configs = partition_configs(args.resource_providers)
    except (KeyError, KubeconfigError, CIDRSetError) as e:
        log.error("%s", e)
        return 2
    settings = RuntimeSettings(workers=args.workers, controller_options=options)
    async with ApiClient(config) as client, _controller_clients(args, client) as accounts, \
            _other_partitions(args, tenant_configs, resource_configs) as sources:
        manager = ControllerManager(client, classes, settings=settings,
                                    leader_election=leader_election_for(args, client),
                                    client_for=accounts.client_for if accounts is not None else None,
                                    sources=sources, replication=instance_timing(args))
        return await _manage(manager)


async def _manage(manager: ControllerManager) -> int:
    """Runs ``manager`` until a signal (graceful; a second one: at once), a lost Lease or a lost
    controller instance."""
    task = asyncio.current_task()
    loop = asyncio.get_running_loop()

    def on_signal() -> None:
        if manager.stopping and task is not None:
            task.cancel()  # second signal: stop now
        manager.stop()

    for sig in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(sig, on_signal)
    try:
        await manager.run()
    except asyncio.CancelledError:
        log.info("stopped without waiting for reconciles in flight")
    except LeadershipLost:
        log.error("leaderelection lost")
        return 1
    except InstanceLost as e:
        log.error("controller instance lost: %s", e)
        return 1
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
