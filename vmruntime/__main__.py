"""``python -m vmruntime``: Arktos's VM runtime process.

    python -m vmruntime --listen unix:///run/arktos-vm.sock --root DIR [--image-dir DIR]
        [--build-image] [--stop-vms-on-exit] [--log-level info]
        [--cni-conf-dir DIR [--cni-bin-dir /usr/lib/cni]]

``--build-image`` builds the VM image store first when it is empty (Debian packages; qemu is
installed with apt if missing). ``--cni-conf-dir`` puts VM pods on the node's CNI network, the
conf dir containerd uses (so both share one bridge and one host-local pool). Started by
``hack/lib/vmruntime.sh``; the kubelet reaches it with
``--container-runtime-endpoint '...;vmRuntime,vm,unix:///run/arktos-vm.sock'``.
"""

from __future__ import annotations

import argparse
import asyncio
import logging
import sys
from pathlib import Path

from vmruntime.cni import DEFAULT_BIN_DIR
from vmruntime.images import DEFAULT_IMAGE_DIR, build_image
from vmruntime.qemu import QemuUnavailable, ensure_installed
from vmruntime.server import ServerSettings, serve


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(prog="python -m vmruntime", description="Arktos's qemu CRI runtime.")
    parser.add_argument("--listen", required=True, help="unix:///path/arktos-vm.sock")
    parser.add_argument("--root", type=Path, required=True, help="state directory (records, VM disks)")
    parser.add_argument("--image-dir", type=Path, default=DEFAULT_IMAGE_DIR, help="the VM image store")
    parser.add_argument("--build-image", action="store_true", help="build the image store when missing")
    parser.add_argument("--stop-vms-on-exit", action="store_true", help="kill the VMs when stopping")
    parser.add_argument("--log-level", default="info")
    parser.add_argument("--cni-conf-dir", type=Path, default=None,
                        help="the node's CNI conf dir (containerd's); VM pods get pod IPs from it")
    parser.add_argument("--cni-bin-dir", type=Path, default=DEFAULT_BIN_DIR, help="CNI plugin binaries")
    return parser.parse_args(argv)


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    logging.basicConfig(level=args.log_level.upper(),
                        format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    try:
        ensure_installed()
        if args.build_image:
            build_image(args.image_dir)
    except QemuUnavailable as e:
        print(f"arktos-vm-runtime: {e}", file=sys.stderr)
        return 1
    asyncio.run(serve(ServerSettings(listen=args.listen, root=args.root, image_dir=args.image_dir,
                                     stop_vms_on_exit=args.stop_vms_on_exit,
                                     cni_conf_dir=args.cni_conf_dir, cni_bin_dir=args.cni_bin_dir)))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
