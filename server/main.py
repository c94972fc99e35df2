"""Command line of the API server process: ``python -m server``."""

from __future__ import annotations

import argparse
import asyncio
import gc
import logging
import os
import signal
from pathlib import Path

from aiohttp import web

from apis import flags
from server.app import ApiServer, ServerConfig, build_server
from server.flowcontrol.gate import FlowControlConfig
from server.kubelet_connection import KubeletClientConfig
from server.partition_flags import add_partition_flags, request_header_config, resource_providers
from server.registry.admission.chain import DISABLEABLE_PLUGINS
from server.schema.endpoint_rules import non_special_ip_errors
from server.services.kubernetes_service import ApiEndpoint
from server.services.ranges import (
    DEFAULT_CLUSTER_IP_RANGE,
    DEFAULT_NETWORK_SERVICE_CIDR_POOL,
    DEFAULT_NODE_PORT_RANGE,
    RangeError,
    ServiceRanges,
)
from server.serving import SecurityConfig, default_advertise_address, is_loopback, serving_context
from server.storage import EtcdTLS, StorageError
from server.storage.encryption_config import EncryptionConfig, EncryptionConfigError, load_encryption_config

log = logging.getLogger("server")


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(prog="python -m server", description="Arktos API server")
    parser.add_argument("--data-dir", default=os.environ.get("ARKTOS_DATA_DIR", "/tmp/arktos-data"))
    parser.add_argument("--storage", default="", help="sqlite:///path.db (default: DATA_DIR/arktos.db), "
                                                      "etcd://host:port[,host:port...] or memory://")
    etcd = parser.add_argument_group("etcd (with --storage etcd://...)")
    etcd.add_argument("--etcd-cafile", default="", help="CA that verifies etcd's serving certificates")
    etcd.add_argument("--etcd-certfile", default="", help="client certificate presented to etcd")
    etcd.add_argument("--etcd-keyfile", default="", help="its private key")
    serving = parser.add_argument_group("serving")
    serving.add_argument("--bind-address", default="127.0.0.1", help="address of the secure port")
    serving.add_argument("--secure-port", type=int, default=6443,
                         help="HTTPS port (served when --tls-cert-file is given; 0 disables)")
    serving.add_argument("--tls-cert-file", default="")
    serving.add_argument("--tls-private-key-file", default="")
    serving.add_argument("--advertise-address", default="",
                         help="the address pods reach this server on, published as an endpoint of the "
                              "kubernetes Service; when given, the secure port listens on it too (default: "
                              "the bind address, or the default route's address when that is loopback or "
                              "0.0.0.0)")
    serving.add_argument("--insecure-bind-address", default="127.0.0.1",
                         help="address of the plain port; only loopback is accepted")
    serving.add_argument("--port", type=int, default=0,
                         help="plain HTTP port without TLS (opt-in, loopback only; 0 disables)")
    auth = parser.add_argument_group("authentication and audit")
    auth.add_argument("--client-ca-file", default="", help="CA that signs client certificates")
    auth.add_argument("--token-auth-file", default="",
                      help='static tokens, rows of: token,user,uid,"groups",,tenant')
    auth.add_argument("--service-account-key-file", action="append", default=[],
                      help="public key(s) that verify service-account tokens")
    auth.add_argument("--service-account-signing-key-file", default="",
                      help="private key that signs service-account tokens")
    auth.add_argument("--service-account-issuer", default="https://kubernetes.default.svc")
    auth.add_argument("--audit-log-path", default="", help="JSON lines of mutating requests")
    auth.add_argument("--encryption-provider-config", default="",
                      help="EncryptionConfiguration (apiserver.config.k8s.io/v1): how resources are "
                           "encrypted at rest (default: not encrypted)")
    kubelet = parser.add_argument_group("kubelet connections (logs, exec, attach, port-forward)")
    kubelet.add_argument("--kubelet-client-certificate", default="",
                         help="client certificate the API server presents to kubelets")
    kubelet.add_argument("--kubelet-client-key", default="", help="its private key")
    kubelet.add_argument("--kubelet-certificate-authority", default="",
                         help="CA that verifies kubelets' serving certificates (default: not verified)")
    limits = parser.add_argument_group("overload protection (docs/design/overload.md)")
    limits.add_argument("--max-requests-inflight", type=int, default=400,
                        help="read-only requests in flight (0: no limit); with priority and fairness, "
                             "this plus the mutating limit is the seats shared by the priority levels")
    limits.add_argument("--max-mutating-requests-inflight", type=int, default=200,
                        help="mutating requests in flight (0: no limit)")
    limits.add_argument("--enable-priority-and-fairness", type=flags.boolean, nargs="?", const=True,
                        default=True, metavar="BOOL",
                        help="API Priority and Fairness (default true); false: max-in-flight limits only")
    limits.add_argument("--request-timeout", type=flags.duration, default=60.0, metavar="DURATION",
                        help="504 for a non-long-running request still running after this (default 1m0s)")
    limits.add_argument("--list-memory-budget", type=int, default=64, metavar="MiB",
                        help="memory LIST responses may hold at once, shared by all of them (0: none)")
    services = parser.add_argument_group("services")
    services.add_argument("--service-cluster-ip-range", default=DEFAULT_CLUSTER_IP_RANGE,
                          help="CIDR Service ClusterIPs are allocated from; its first address is the "
                               "kubernetes Service's (default 10.0.0.0/16)")
    services.add_argument("--service-node-port-range", default=DEFAULT_NODE_PORT_RANGE,
                          help="ports NodePort Services get node ports from, inclusive (default 30000-32767)")
    services.add_argument("--network-service-cidr-pool", default=DEFAULT_NETWORK_SERVICE_CIDR_POOL,
                          help="CIDR whose /24s Arktos Networks of ipam Arktos get as their Service "
                               "ranges; must not overlap the cluster IP range (default 10.96.0.0/12)")
    services.add_argument("--service-allocation-repair-interval", type=flags.duration, default=180.0,
                          metavar="DURATION",
                          help="how often allocations are rebuilt from the Services and leaks freed "
                               "(default 3m0s, upstream's)")
    add_partition_flags(parser)
    parser.add_argument("--disable-admission-plugins", type=admission_plugin_list, default=frozenset(),
                        metavar="NAMES", help="comma-separated admission plugins to turn off (every "
                        f"plugin is on by default): {', '.join(DISABLEABLE_PLUGINS)}")
    tuning = parser.add_argument_group("tuning")
    tuning.add_argument("--watch-history", type=int, default=10_000,
                        help="events kept per resource for watch resumption")
    tuning.add_argument("--compaction-interval", type=float, default=300.0)
    tuning.add_argument("--log-level", default="INFO")
    tuning.add_argument("--access-log", action="store_true", help="log every request (costs speed)")
    return parser.parse_args(argv)


def service_ranges(args: argparse.Namespace) -> ServiceRanges:
    try:
        return ServiceRanges.parse(args.service_cluster_ip_range, args.service_node_port_range,
                                   args.network_service_cidr_pool)
    except RangeError as e:
        raise SystemExit(f"invalid service range: {e}") from e


def api_endpoint(args: argparse.Namespace) -> ApiEndpoint | None:
    """What the kubernetes Service lists for this server: its advertise address and secure port
    (None when the secure port is not served)."""
    if not (args.secure_port and args.tls_cert_file):
        return None
    address = args.advertise_address or default_advertise_address(args.bind_address)
    for problem in non_special_ip_errors(address, "--advertise-address"):
        log.warning("%s: pods cannot reach the API server there, so the kubernetes Service gets no "
                    "endpoints", problem.message)
    return ApiEndpoint(address, args.secure_port)


def admission_plugin_list(text: str) -> frozenset[str]:
    names = frozenset(n.strip() for n in text.split(",") if n.strip())
    for name in sorted(names - set(DISABLEABLE_PLUGINS)):
        # upstream's options validation text
        raise argparse.ArgumentTypeError(f'disable-admission-plugins plugin "{name}" is unknown')
    return names


def flow_control_config(args: argparse.Namespace) -> FlowControlConfig:
    return FlowControlConfig(
        max_requests_inflight=args.max_requests_inflight,
        max_mutating_requests_inflight=args.max_mutating_requests_inflight,
        enable_priority_and_fairness=args.enable_priority_and_fairness,
        request_timeout=args.request_timeout, list_memory_budget=args.list_memory_budget * 1024 * 1024)


def storage_url(args: argparse.Namespace) -> str:
    """The store to open: ``--storage`` if given, else SQLite in the data directory."""
    if args.storage:
        return str(args.storage)
    data_dir = Path(args.data_dir)
    data_dir.mkdir(parents=True, exist_ok=True)
    return f"sqlite:///{(data_dir / 'arktos.db').resolve()}"


def check_flags(args: argparse.Namespace) -> None:
    """Refuse unsafe or empty serving settings before anything is opened."""
    if args.port and not is_loopback(args.insecure_bind_address):
        raise SystemExit(f"--insecure-bind-address {args.insecure_bind_address} is not a loopback "
                         "address: the plain port has no authentication")
    if not args.port and not (args.secure_port and args.tls_cert_file):
        raise SystemExit("nothing to serve: give --tls-cert-file (secure port) or --port (plain port)")


def encryption_config(path: str) -> EncryptionConfig | None:
    """The loaded --encryption-provider-config; a file that cannot be used stops the server."""
    if not path:
        return None
    try:
        return load_encryption_config(path)
    except EncryptionConfigError as e:
        raise SystemExit(f"--encryption-provider-config {path}: {e}") from e


async def serve(args: argparse.Namespace, storage: str, encryption: EncryptionConfig | None = None) -> None:
    server = ApiServer(ServerConfig(
        storage_url=storage, encryption=encryption, watch_history=args.watch_history,
        compaction_interval=args.compaction_interval,
        security=SecurityConfig(
            client_ca_file=args.client_ca_file, token_auth_file=args.token_auth_file,
            service_account_key_files=tuple(args.service_account_key_file),
            service_account_signing_key_file=args.service_account_signing_key_file,
            service_account_issuer=args.service_account_issuer,
            audit_log_path=args.audit_log_path, request_header=request_header_config(args)),
        kubelet=KubeletClientConfig(
            client_cert_file=args.kubelet_client_certificate, client_key_file=args.kubelet_client_key,
            certificate_authority_file=args.kubelet_certificate_authority),
        flow_control=flow_control_config(args),
        etcd_tls=EtcdTLS(ca_file=args.etcd_cafile, cert_file=args.etcd_certfile, key_file=args.etcd_keyfile),
        resource_providers=resource_providers(args), service_ranges=service_ranges(args),
        service_repair_interval=args.service_allocation_repair_interval, api_endpoint=api_endpoint(args),
        disabled_admission_plugins=args.disable_admission_plugins))
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(sig, stop.set)
    async with server.running():
        runner = web.ServerRunner(build_server(server, access_log=args.access_log),
                                  handle_signals=False, shutdown_timeout=5)
        await runner.setup()
        for site in listening_sites(runner, args):
            await site.start()
            log.info("serving on %s (storage %s)", site.name, storage)
        await stop.wait()
        log.info("shutting down")
        await runner.cleanup()


def listening_sites(runner: web.BaseRunner, args: argparse.Namespace) -> list[web.TCPSite]:
    """The secure port (when a serving certificate is configured) and the opt-in plain port."""
    sites = []
    if args.secure_port and args.tls_cert_file:
        context = serving_context(cert_file=args.tls_cert_file, key_file=args.tls_private_key_file,
                                  client_ca_files=(args.client_ca_file, args.requestheader_client_ca_file))
        sites.append(web.TCPSite(runner, args.bind_address, args.secure_port, ssl_context=context,
                                 backlog=1024, reuse_address=True))
        endpoint = api_endpoint(args)
        # Pods reach the server on its advertise address: when one is given, listen there too,
        # unless the bind address covers it already. A server told only to bind loopback stays
        # on loopback (its derived advertise address is listed, as upstream's, but not opened).
        if (args.advertise_address and endpoint is not None
                and args.bind_address not in (endpoint.address, "0.0.0.0", "::")):
            sites.append(web.TCPSite(runner, endpoint.address, args.secure_port, ssl_context=context,
                                     backlog=1024, reuse_address=True))
    elif args.secure_port:
        log.warning("no --tls-cert-file: the secure port %s is not served", args.secure_port)
    if args.port:
        sites.append(web.TCPSite(runner, args.insecure_bind_address, args.port, backlog=1024,
                                 reuse_address=True))
    return sites


def tune_garbage_collector() -> None:
    """The watch cache holds every object: with CPython's default thresholds, full collections
    rescanning them ran often enough to cost a fifth of create throughput. Collect the young
    generation less often and the old one rarely (our code makes few reference cycles)."""
    gc.set_threshold(100_000, 50, 1000)


def main(argv: list[str] | None = None) -> None:
    args = parse_args(argv)
    check_flags(args)
    encryption = encryption_config(args.encryption_provider_config)
    tune_garbage_collector()
    logging.basicConfig(level=args.log_level.upper(),
                        format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    try:
        import uvloop
    except ImportError:  # pragma: no cover - uvloop is a dependency; plain asyncio still works
        run = asyncio.run
    else:
        run = uvloop.run
    try:
        run(serve(args, storage_url(args), encryption))
    except StorageError as e:  # the store cannot be opened (in use, unreachable): say so, no traceback
        raise SystemExit(f"cannot open the storage: {e}") from e
