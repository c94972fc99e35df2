"""``python -m proxy``: kube-proxy in iptables mode (flags: `proxy.config`).

Started by ``hack/arktos-up.sh`` next to the kubelet with the ``system:kube-proxy`` kubeconfig.
SIGTERM/SIGINT stop it and leave the rules in place (as upstream: Services keep working across a
proxy restart); ``--cleanup`` removes them. Exit 2 on a bad kubeconfig or missing iptables.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import signal
import sys

import uvloop

from client.config import KubeconfigError, config_from_flags
from client.rest import ApiClient
from proxy.config import ProxyConfig, parse_args
from proxy.conntrack import Conntrack
from proxy.iptables import Iptables, IptablesError, ensure_installed
from proxy.proxier import Proxier
from proxy.rules import RuleSettings
from proxy.service import ProxyService

log = logging.getLogger("proxy")


def make_proxier(config: ProxyConfig) -> Proxier:
    settings = RuleSettings(config.chains, cluster_cidr=config.cluster_cidr,
                            masquerade_bit=config.masquerade_bit, network_isolation=config.network_isolation)
    return Proxier(Iptables(), settings, conntrack=Conntrack())


async def serve(config: ProxyConfig) -> None:
    proxier = make_proxier(config)
    if config.cleanup:
        removed = await proxier.cleanup()
        log.info("removed %d chains with prefix %s", removed, config.chains.prefix)
        return
    async with ApiClient(config_from_flags(config.kubeconfig, config.master)) as client:
        task = asyncio.create_task(ProxyService(client, proxier, config).run())
        loop = asyncio.get_running_loop()
        for sig in (signal.SIGTERM, signal.SIGINT):
            loop.add_signal_handler(sig, task.cancel)
        with contextlib.suppress(asyncio.CancelledError):
            await task


def main(argv: list[str] | None = None) -> int:
    config = parse_args(argv)
    logging.basicConfig(level=config.log_level.upper(),
                        format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    try:
        ensure_installed()
        uvloop.run(serve(config))
    except (KubeconfigError, IptablesError) as e:
        log.error("%s", e)
        return 2
    return 0


if __name__ == "__main__":
    sys.exit(main())
