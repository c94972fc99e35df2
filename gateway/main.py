"""Command line of the gateway process: ``python -m gateway``."""

from __future__ import annotations

import asyncio
import logging
import signal
import ssl

from aiohttp import web

from client.config import KubeconfigError, load_kubeconfig
from gateway.app import Gateway, build_app
from gateway.callers import TokenTenants
from gateway.config import GatewayConfig, parse_args
from gateway.partitions import Partitions
from gateway.placement import Placement

log = logging.getLogger("gateway")


def serving_context(config: GatewayConfig) -> ssl.SSLContext:
    """TLS with optional client certificates (kube-apiserver's RequestClientCert): a certificate is
    verified against --client-ca-file when one is sent; tokens and anonymous callers need none."""
    context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    context.minimum_version = ssl.TLSVersion.TLSv1_2
    context.load_cert_chain(config.tls_cert_file, config.tls_private_key_file or None)
    context.set_alpn_protocols(["http/1.1"])
    if config.client_ca_file:
        context.load_verify_locations(cafile=config.client_ca_file)
        context.verify_mode = ssl.CERT_OPTIONAL
    return context


def build_gateway(config: GatewayConfig) -> Gateway:
    partitions = Partitions.from_config(config)
    watch_config = None
    if config.partition_kubeconfig:
        try:
            watch_config = load_kubeconfig(config.partition_kubeconfig)
        except KubeconfigError as e:
            raise SystemExit(f"--partition-kubeconfig: {e}") from e
    else:
        log.warning("no --partition-kubeconfig: tenants and nodes route to tp0/rp0 only")
    placement = Placement(tenant_partitions=partitions.tenant, resource_partitions=partitions.resource,
                          watch_config=watch_config, ca_file=config.partition_ca_file)
    try:
        tokens = TokenTenants.load(token_auth_file=config.token_auth_file,
                                   service_account_key_files=config.service_account_key_files)
    except (OSError, ValueError) as e:
        raise SystemExit(f"cannot read the token file or service-account keys: {e}") from e
    return Gateway(partitions, placement, tokens, config.max_request_body_bytes)


async def serve(config: GatewayConfig) -> None:
    gateway = build_gateway(config)
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(sig, stop.set)
    runner = web.ServerRunner(build_app(gateway, access_log=config.access_log), handle_signals=False,
                              shutdown_timeout=5)
    await runner.setup()
    site = web.TCPSite(runner, config.bind_address, config.secure_port, ssl_context=serving_context(config),
                       backlog=1024, reuse_address=True)
    await site.start()
    log.info("gateway serving on %s: TPs %s, RPs %s", site.name,
             [p.name for p in gateway.partitions.tenant], [p.name for p in gateway.partitions.resource])
    maps = asyncio.create_task(gateway.placement.run(), name="gateway-maps")
    # The maps' watches never end on their own (they retry with back-off); if they do, routing would
    # go stale silently: stop the process instead, so its supervisor restarts it.
    maps.add_done_callback(lambda _: stop.set())
    try:
        await stop.wait()
    finally:
        log.info("shutting down")
        maps.cancel()
        # The maps' own outcome (its CancelledError included); our own cancellation still propagates.
        outcome = (await asyncio.gather(maps, return_exceptions=True))[0]
        await runner.cleanup()
        await gateway.partitions.close()
    if isinstance(outcome, Exception):
        raise SystemExit(f"the tenant/node maps failed: {outcome!r}")


def main(argv: list[str] | None = None) -> None:
    config = parse_args(argv)
    logging.basicConfig(level=config.log_level.upper(),
                        format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    try:
        import uvloop
    except ImportError:  # pragma: no cover - uvloop is a dependency
        asyncio.run(serve(config))
    else:
        uvloop.run(serve(config))
