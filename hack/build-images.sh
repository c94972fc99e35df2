#!/usr/bin/env bash
# Builds the node's images from Debian packages - busybox (+ GNU wget), pause, nginx, python (+ the
# kubernetes client and dnslib), arktos/clusterdns - as OCI images cached by content under
# ${XDG_CACHE_HOME:-~/.cache}/arktos/images, and with REGISTRY=host:port pushes them there (registry
# HTTP API, plain HTTP) as library/busybox:{latest,1.36}, pause:3.9, google_containers/pause:{latest,3.9},
# library/nginx:{latest,1.22}, library/python:{latest,3,3.11}, arktos/clusterdns:0.1.
#   hack/build-images.sh                          # build only
#   REGISTRY=127.0.0.1:5000 hack/build-images.sh  # build and push
#   hack/build-images.sh nginx python             # only these
set -euo pipefail
cd "$(dirname "$0")/.."
PY=${PY:-.venv/bin/python}
exec "$PY" -m cri.images ${REGISTRY:+--push "$REGISTRY"} "$@"
