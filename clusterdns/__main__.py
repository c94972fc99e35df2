"""``python3 -m clusterdns``: cluster DNS for Arktos (see docs/design/cluster-dns.md).

Flags as CoreDNS's Corefile would set them: ``--domain`` (the kubernetes plugin's zone), ``--ttl``,
``--upstream`` (forward; default: the resolv.conf's nameservers), ``--port``/``--bind`` (53 on
every address), ``--health-port`` 8080 and ``--ready-port`` 8181. The API connection is the
in-cluster config unless ``--server`` (with ``--token-file``/``--ca-file``) or a JSON
``--kubeconfig`` is given.
"""

from __future__ import annotations

import argparse
import asyncio
import logging
import signal
import threading
from collections.abc import Callable
from pathlib import Path

from clusterdns.apiclient import ApiClient, ApiConfig, in_cluster_config, kubeconfig_config
from clusterdns.cache import ClusterCache
from clusterdns.forwarder import Forwarder, Upstream, upstreams_from_resolv_conf
from clusterdns.health import start_probe
from clusterdns.reflector import RESOURCES, Reflector
from clusterdns.resolver import Resolver
from clusterdns.server import DnsHandler, start_dns

log = logging.getLogger("clusterdns")


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(prog="clusterdns", description=__doc__.splitlines()[0])
    parser.add_argument("--port", type=int, default=53)
    parser.add_argument("--bind", action="append", help="DNS address (repeatable; default 0.0.0.0)")
    parser.add_argument("--domain", default="cluster.local")
    parser.add_argument("--ttl", type=int, default=30)
    parser.add_argument("--upstream", action="append", default=[],
                        help="upstream host[:port] (repeatable; default: --resolv-conf's)")
    parser.add_argument("--resolv-conf", type=Path, default=Path("/etc/resolv.conf"))
    parser.add_argument("--upstream-timeout", type=float, default=2.0)
    parser.add_argument("--server", help="API server URL (default: in-cluster config)")
    parser.add_argument("--token-file", type=Path)
    parser.add_argument("--ca-file", type=Path)
    parser.add_argument("--kubeconfig", type=Path, help="a JSON kubeconfig (current context)")
    parser.add_argument("--health-port", type=int, default=8080)
    parser.add_argument("--ready-port", type=int, default=8181)
    parser.add_argument("--probe-bind", default="0.0.0.0", help="address of the /health and /ready listeners")
    parser.add_argument("-v", "--verbose", action="store_true")
    return parser.parse_args(argv)


def api_config(args: argparse.Namespace) -> ApiConfig:
    if args.server:
        return ApiConfig(server=args.server, token_file=args.token_file, ca_file=args.ca_file)
    if args.kubeconfig:
        return kubeconfig_config(args.kubeconfig)
    return in_cluster_config()


async def run(args: argparse.Namespace) -> None:
    loop = asyncio.get_running_loop()
    cache = ClusterCache()
    stop = threading.Event()
    client = ApiClient(api_config(args))
    def deliver(callback: Callable[[], None]) -> None:
        loop.call_soon_threadsafe(callback)

    for resource in RESOURCES:
        Reflector(client, resource, cache, deliver=deliver, stop=stop).start()
    upstreams = [Upstream.parse(u) for u in args.upstream] or upstreams_from_resolv_conf(args.resolv_conf)
    log.info("upstreams: %s", ", ".join(f"{u.host}:{u.port}" for u in upstreams) or "none")
    handler = DnsHandler(Resolver(cache, domain=args.domain, ttl=args.ttl),
                         Forwarder(upstreams, timeout=args.upstream_timeout), scope_of=cache.scope_of)
    servers = []
    for bind in args.bind or ["0.0.0.0"]:
        servers.extend(await start_dns(handler, bind=bind, port=args.port))
    servers.append(await start_probe(bind=args.probe_bind, port=args.health_port, path="/health",
                                     check=lambda: True))
    servers.append(await start_probe(bind=args.probe_bind, port=args.ready_port, path="/ready",
                                     check=lambda: cache.ready))
    done = asyncio.Event()
    for signum in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(signum, done.set)
    await done.wait()
    stop.set()
    for server in servers:
        server.close()


def main(argv: list[str] | None = None) -> None:
    args = parse_args(argv)
    logging.basicConfig(level=logging.DEBUG if args.verbose else logging.INFO,
                        format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    asyncio.run(run(args))


if __name__ == "__main__":
    main()
