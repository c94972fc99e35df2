"""``python -m controllers``: the controller-manager process.

    python -m controllers --kubeconfig PATH [--controllers tenant,...] [--workers N]

Started by ``hack/arktos-up.sh`` with the controller kubeconfig. SIGTERM/SIGINT stop it
gracefully (reconciles in flight finish); a second signal exits at once.
"""

from __future__ import annotations

import argparse
import asyncio
import logging
import signal
import sys

from client.config import KubeconfigError, config_for_url, load_kubeconfig
from client.controller import RuntimeSettings
from client.rest import ApiClient
from controllers.manager import ControllerManager
from controllers.registry import load_controllers, select_controllers

log = logging.getLogger("controllers")


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(prog="python -m controllers", description="Arktos controller manager")
    source = parser.add_mutually_exclusive_group(required=True)
    source.add_argument("--kubeconfig", help="kubeconfig of the controller-manager identity")
    source.add_argument("--master", help="API server URL (plain HTTP development servers)")
    parser.add_argument("--controllers", default="*",
                        help="comma list; '*' = all, '-name' disables one (default: all)")
    parser.add_argument("--workers", type=int, default=None, help="workers per controller")
    parser.add_argument("--log-level", default="INFO")
    return parser.parse_args(argv)


async def run(args: argparse.Namespace) -> int:
    registry = load_controllers()
    try:
        classes = select_controllers(args.controllers, registry)
        config = load_kubeconfig(args.kubeconfig) if args.kubeconfig else config_for_url(args.master)
    except (KeyError, KubeconfigError) as e:
        log.error("%s", e)
        return 2
    async with ApiClient(config) as client:
        manager = ControllerManager(client, classes, settings=RuntimeSettings(workers=args.workers))
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
