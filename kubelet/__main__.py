"""``python -m kubelet``: the node agent process.

    python -m kubelet --kubeconfig PATH --hostname-override NAME
        [--tenant-server-kubeconfig TP0,TP1,...]
        [--container-runtime-endpoint 'name,workloadType,url;...']
        [--hollow --nodes N --hollow-start-delay S]

Started by ``hack/arktos-up.sh`` with the kubelet kubeconfig (``system:node:<name>``), or by scale
tests in hollow mode. In Arktos's scale-out, ``--kubeconfig`` is the node's resource partition and
``--tenant-server-kubeconfig`` lists the tenant partitions whose pods it runs. SIGTERM/SIGINT stop
it; the runtime's containers keep running (as upstream, a restarted kubelet adopts them).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import signal
import sys

import uvloop

from client.config import KubeconfigError, config_from_flags, load_kubeconfig
from client.rest import ApiClient
from kubelet.config import KubeletConfig, parse_args
from kubelet.kubelet import Kubelet

log = logging.getLogger("kubelet")


async def serve(config: KubeletConfig) -> None:
    # Every kubeconfig is read before any client opens: a bad one stops the start, not a task later.
    own_config = config_from_flags(config.kubeconfig, config.master)
    tenant_configs = [load_kubeconfig(path) for path in config.tenant_server_kubeconfigs]
    async with contextlib.AsyncExitStack() as stack:
        client = await stack.enter_async_context(ApiClient(own_config))
        tenant_clients = [await stack.enter_async_context(ApiClient(c)) for c in tenant_configs]
        kubelet = Kubelet(client, config, tenant_clients=tenant_clients)
        task = asyncio.create_task(kubelet.run())
        loop = asyncio.get_running_loop()
        for sig in (signal.SIGTERM, signal.SIGINT):
            loop.add_signal_handler(sig, task.cancel)
        try:
            with contextlib.suppress(asyncio.CancelledError):
                await task
        finally:
            await kubelet.close()


def main(argv: list[str] | None = None) -> int:
    config = parse_args(argv)
    logging.basicConfig(level=config.log_level.upper(),
                        format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    try:
        uvloop.run(serve(config))
    except KubeconfigError as e:
        log.error("%s", e)
        return 2
    return 0


if __name__ == "__main__":
    sys.exit(main())
