#!/usr/bin/env bash
# Builds the node's local images (no registry here): busybox (from Debian's busybox-static) and pause
# (a static C binary), as OCI image-layout tars cached under _output/images/. With a containerd socket,
# also imports them into its k8s.io namespace under docker.io/library/busybox:{latest,1.36} and
# registry.k8s.io/pause:3.9.
#   hack/build-images.sh                      # build only
#   hack/build-images.sh /path/containerd.sock
set -euo pipefail
cd "$(dirname "$0")/.."
PY=${PY:-.venv/bin/python}
if [ $# -ge 1 ]; then
    exec "$PY" -m cri.images --import-to "$1"
fi
exec "$PY" -m cri.images
