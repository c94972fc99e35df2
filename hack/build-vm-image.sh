#!/usr/bin/env bash
# Builds the VM image store (no registry here): the Debian cloud kernel plus a busybox-static initramfs
# with Arktos's guest init, and an empty qcow2 base disk, under _output/vm-images/arktos-vm/ (or DIR).
# Installs qemu with apt when missing. The image answers to: arktos-vm, cirros, cirros:0.5.1,
# download.cirros-cloud.net/0.5.1/cirros-0.5.1-x86_64-disk.img, ubuntu, ubuntu:20.04, ubuntu:22.04
# (also with :latest / docker.io/library/ prefixes).
#   hack/build-vm-image.sh [DIR] [--force]
set -euo pipefail
cd "$(dirname "$0")/.."
PY=${PY:-.venv/bin/python}
args=()
if [ $# -ge 1 ] && [ "$1" != "--force" ]; then
    args+=(--image-dir "$1")
    shift
fi
exec "$PY" -m vmruntime.images "${args[@]}" "$@"
